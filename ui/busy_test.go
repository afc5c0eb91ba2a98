package ui

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// holdWriteLock opens the store's file on a connection of its own and
// holds its write lock in an open transaction, as a run writing a batch
// (or a Preview, for its whole run) does; release ends it.
func holdWriteLock(t *testing.T, dir string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, state.FileName)+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE runs SET message = message"); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Error(err)
		}
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// With another connection holding the store's write lock, every control
// of the window answers at once (the store waits up to 10 s for a lock):
// what it writes is written once the lock is free.
func TestWindowAnswersWhileTheStoreIsLocked(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 10)
	h := newHousehold(t, simulate.PlexTVOptions{})
	e.useAccounts(h.tv.URL())
	e.addBackend("plex", backend.Plex, srv, false)
	e.addBackend("spare", backend.Plex, plexServer(t, 3), false)
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{Trigger: "cli"}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	w := e.u.Window
	test.Tap(w.FirstRun.Skip) // the env started with no backend
	if _, err := e.eng.Backup(context.Background(), "manual"); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	before := task(t, e.st, "import")

	release := holdWriteLock(t, e.u.d.Dir)
	// Proof that the lock holds: a write from the store waits for it.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if err := e.st.SetTask(ctx, before); err == nil {
		t.Fatal("a store write went through the held lock: the test holds nothing")
	}
	cancel()

	click := func(what string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("%s took %v with the store locked: the UI thread waited for the store", what, d)
		}
	}
	row := w.Backends.Row("plex")
	click("Export switch", func() { test.Tap(row.Export) })
	click("Import mode", func() { row.Import.SetSelected("Metadata only") })
	click("Remove spare", func() {
		test.Tap(w.Backends.Row("spare").Remove)
		tapButton(t, w.win, "Remove")
	})
	click("Test", func() { test.Tap(row.Test) })
	tr := w.Tasks.Import
	click("task switch", func() { test.Tap(tr.Enabled) })
	click("task how often", func() { tr.Often.SetSelected("Hourly") })
	click("task daily at", func() {
		tr.Often.SetSelected("Daily at a time")
		tr.At.SetText("")
		test.Type(tr.At, "04:15")
	})
	click("task Run now", func() { test.Tap(w.Tasks.Export.RunNow) })
	s := w.Settings
	click("notifications", func() { test.Tap(s.Notifications) })
	click("notify success", func() { test.Tap(s.NotifySuccess) })
	click("replay", func() { test.Tap(s.Replay) })
	click("guard percent", func() {
		s.GuardPercent.SetText("")
		test.Type(s.GuardPercent, "30")
		test.Tap(s.Save)
	})
	click("Back up now", func() { test.Tap(s.Backup) })
	click("start at login", func() { test.Tap(s.StartAtLogin) })
	click("Activity run", func() { w.Activity.Runs.Select(widget.TableCellID{Row: 0, Col: 0}) })
	click("Rename a person", func() {
		w.Backends.People[0].Rename.OnTapped()
		w.Backends.PersonName.SetText("Sam")
		tapButton(t, w.win, "Rename")
	})
	click("Move a backend to someone new", func() {
		row.Person.SetSelected(newPersonLabel)
		w.Backends.PersonName.SetText("Zoe")
		tapButton(t, w.win, "Move")
	})
	click("Add backend", func() { test.Tap(w.Backends.Add) })
	click("Sign in with Plex", func() { test.Tap(w.Backends.SignIn.PlexBtn) })
	click("Preview", func() { test.Tap(w.Preview) })
	click("Sync now", func() { test.Tap(w.Sync) })
	click("Restore… of a backup", func() {
		test.Tap(s.Backups.Rows[0].Restore)
		s.Backups.dialog.check("plex").SetChecked(true)
		s.Backups.dialog.dlg.Hide()
	})
	click("Cancel", func() { e.eng.Cancel() })
	click("pause", func() { e.u.trayActions().Pause(time.Hour) })
	click("resume", func() { e.u.trayActions().Resume() })

	time.Sleep(200 * time.Millisecond)
	release()
	// The sign-in went on once the store was free: its code is shown.
	// (Cancelled here: nobody approves it.)
	si := w.Backends.SignIn
	e.pumpUntil("the sign-in code", func() bool { return si.Code.Text != "" })
	si.stopWaiting()
	e.settle()

	if b := e.backend("plex"); !b.Export || b.Import != state.ImportMetadata || b.Person != "Zoe" {
		t.Errorf("plex: export %v import %s person %q; want the switches' export on, metadata, moved to Zoe", b.Export, b.Import, b.Person)
	}
	if names := e.peopleNames(); !slices.Contains(names, "Sam") {
		t.Errorf("people %v: the rename to Sam was lost", names)
	}

	if _, err := e.st.Backend(context.Background(), "spare"); err == nil {
		t.Error("spare not removed")
	}
	if got := task(t, e.st, "import"); got.Enabled == before.Enabled || got.Cron != "15 4 * * *" {
		t.Errorf("import task %+v: want enabled toggled and cron 15 4 * * *", got)
	}
	set, err := e.st.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if set.Notifications || !set.NotifySuccess || set.GuardPercent != 30 {
		t.Errorf("settings %+v: want notifications off, notify success on, guard 30 %%", set)
	}
}
