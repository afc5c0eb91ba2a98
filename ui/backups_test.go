package ui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
)

// playedKeys are the catalog keys srv has watched (plexServer's catalog).
func playedKeys(srv simulate.Server, n int) []string {
	var out []string
	for _, m := range simulate.Generate(simulate.GenerateOptions{Items: n, Seed: 1}).Media {
		if srv.Watch(m.Key).Played {
			out = append(out, m.Key)
		}
	}
	return out
}

// importAndBackUp imports e's backends and backs the state up by hand:
// the backup's path.
func importAndBackUp(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.eng.Import(ctx, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	path, err := e.eng.Backup(ctx, "manual")
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Settings lists the backups (when, why, how many items); Restore… on
// one reads it, shows the dry run of the chosen backends, and writes it
// only once confirmed, after a backup of the state it starts from.
func TestSettingsRestore(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 30)
	e.addBackend("plex", backend.Plex, srv, false)
	e.addBackend("other", backend.Plex, plexServer(t, 3), false)
	importAndBackUp(t, e)
	// The server loses its marks (a reinstall).
	lost := playedKeys(srv, 30)
	if len(lost) == 0 {
		t.Fatal("the server has nothing watched: the test restores nothing")
	}
	for _, k := range lost {
		srv.SetWatch(k, simulate.Watch{})
	}
	e.settle()
	s := e.u.Window.Settings.Backups
	if len(s.Rows) != 1 {
		t.Fatalf("%d backups listed, want 1", len(s.Rows))
	}
	mustContain(t, "backup row", s.Rows[0].Text.Text, "by hand", " items")

	test.Tap(s.Rows[0].Restore)
	e.settle()
	r := s.dialog
	if r == nil {
		t.Fatal("Restore… opened nothing")
	}
	if !r.Preview.Disabled() || !r.Restore.Disabled() {
		t.Error("Preview or Restore enabled with no backend chosen")
	}
	r.check("plex").SetChecked(true)
	tapButton(t, e.u.Window.win, "Preview")
	e.settle()
	mustContain(t, "preview", r.Report.Summary.Text, "Dry run", "restore")
	if len(r.Report.changes) != len(lost) {
		t.Errorf("preview lists %d changes, want the %d lost marks", len(r.Report.changes), len(lost))
	}
	if srv.Watch(lost[0]).Played {
		t.Fatal("the preview wrote")
	}
	tapButton(t, e.u.Window.win, "Restore")
	e.settle()
	for _, k := range lost {
		if !srv.Watch(k).Played {
			t.Errorf("%s not restored", k)
		}
	}
	mustContain(t, "dialog note", r.Note.Text, "Restored")
	if !r.Restore.Disabled() {
		t.Error("Restore still enabled after the restore")
	}
	// The restore backed up the state it started from: now listed.
	if len(s.Rows) != 2 {
		t.Fatalf("%d backups listed after the restore, want 2", len(s.Rows))
	}
	mustContain(t, "newest backup", s.Rows[0].Text.Text, "before a restore")
}

// A restore asked for while a run is in progress is refused with a
// sentence, and nothing is written.
func TestSettingsRestoreWhileBusy(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 30)
	e.addBackend("plex", backend.Plex, srv, false)
	ctx := context.Background()
	importAndBackUp(t, e)
	lost := playedKeys(srv, 30)
	for _, k := range lost {
		srv.SetWatch(k, simulate.Watch{})
	}
	e.settle()
	s := e.u.Window.Settings.Backups
	test.Tap(s.Rows[0].Restore)
	e.settle()
	r := s.dialog
	r.check("plex").SetChecked(true)
	release, err := e.st.LockRuns(ctx, false) // another run holds the run lock
	if err != nil {
		t.Fatal(err)
	}
	tapButton(t, e.u.Window.win, "Preview")
	e.settle()
	mustContain(t, "dialog note", r.Note.Text, "another sync run is in progress")
	release()
	tapButton(t, e.u.Window.win, "Preview")
	e.settle()
	release, err = e.st.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	tapButton(t, e.u.Window.win, "Restore")
	e.settle()
	release()
	mustContain(t, "dialog note", r.Note.Text, "another sync run is in progress")
	if srv.Watch(lost[0]).Played {
		t.Error("a refused restore wrote")
	}
}

// During a run the window shows a bar per backend: its phase and count,
// waiting, done or failed (with why), as the engine's status lists them.
func TestProgressPerBackend(t *testing.T) {
	e := newEnv(t)
	p := e.u.Window.Progress
	p.set(engine.Status{Running: true, Kind: "sync", Phase: "import", Backend: "jelly", Done: 40, Total: 100,
		Backends: []engine.BackendStatus{
			{Name: "plex", Phase: "import", Done: 8000, State: engine.BackendDone},
			{Name: "jelly", Phase: "import", Done: 40, Total: 100, State: engine.BackendWorking},
			{Name: "emby", Phase: "import", Done: 12, State: engine.BackendFailed, Error: "emby: the server answered 500"},
			{Name: "kodi", State: engine.BackendWaiting},
		}})
	if len(p.Rows) != 4 {
		t.Fatalf("%d rows, want one per backend (4)", len(p.Rows))
	}
	want := []struct{ name, text string }{
		{"plex", "import done"},
		{"jelly", "Importing: 40/100"},
		{"emby", "failed: emby: the server answered 500"},
		{"kodi", "waiting"},
	}
	for i, w := range want {
		r := p.Rows[i]
		if r.Name.Text != w.name {
			t.Errorf("row %d is %q, want %q", i, r.Name.Text, w.name)
		}
		mustContain(t, w.name+" row", r.State.Text, w.text)
	}
	if b := p.Rows[1].Bar; !b.Visible() || b.Value != 40 || b.Max != 100 {
		t.Errorf("jelly's bar %v/%v visible %v", b.Value, b.Max, b.Visible())
	}
	if b := p.Rows[0].Bar; !b.Visible() || b.Value != b.Max {
		t.Errorf("plex's bar %v/%v: a finished backend shows a full bar", b.Value, b.Max)
	}
	if p.Bar.Visible() || p.Infinite.Visible() {
		t.Error("the single bar is shown besides the bars per backend")
	}
	mustContain(t, "headline", p.Label.Text, "import: 1 of 4 backends done", "1 failed")

	// A working backend whose total is unknown: a moving bar and the count.
	p.set(engine.Status{Running: true, Kind: "import", Phase: "import", Backend: "plex", Done: 300,
		Backends: []engine.BackendStatus{{Name: "plex", Phase: "import", Done: 300, State: engine.BackendWorking}}})
	if len(p.Rows) != 1 || !p.Rows[0].Infinite.Visible() || p.Rows[0].Bar.Visible() {
		t.Errorf("rows %d; an unknown total shows a moving bar", len(p.Rows))
	}
	mustContain(t, "plex row", p.Rows[0].State.Text, "Importing: 300 items")
	p.set(engine.Status{})
	if p.content.Visible() {
		t.Error("progress still shown after the run")
	}
}

// A restore preview the mass-change guard would hold says so, and the
// button then says what it does: Restore anyway, which writes it.
func TestSettingsRestorePreviewSaysTheGuardWouldHold(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 30)
	e.addBackend("plex", backend.Plex, srv, false)
	path := importAndBackUp(t, e)
	items, err := engine.ReadBackupFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A backup (version 1: no end marker) in which most watched items
	// were un-watched after the server's plays.
	unwatched := 0
	for i := range items {
		if items[i].Watched && unwatched < 8 {
			items[i].Watched, items[i].Explicit, items[i].Updated = false, true, time.Now().UTC().Add(time.Hour)
			unwatched++
		}
	}
	if unwatched < 8 {
		t.Fatalf("only %d watched items to un-watch", unwatched)
	}
	var b strings.Builder
	json.NewEncoder(&b).Encode(map[string]any{"format": engine.BackupFormat, "version": 1, "created": time.Now().UTC(), "items": len(items)})
	for _, it := range items {
		json.NewEncoder(&b).Encode(it)
	}
	if err := os.WriteFile(filepath.Join(e.eng.BackupDir(), "playmark-20991231-000000-manual.jsonl.gz"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(playedKeys(srv, 30))
	e.settle()
	s := e.u.Window.Settings.Backups
	test.Tap(s.Rows[0].Restore) // the newest: the altered one
	e.settle()
	r := s.dialog
	r.check("plex").SetChecked(true)
	tapButton(t, e.u.Window.win, "Preview")
	e.settle()
	mustContain(t, "dialog note", r.Note.Text, "mass-change guard would hold", "plex", "8 of its")
	if r.Restore.Text != "Restore anyway" || r.Restore.Disabled() {
		t.Fatalf("button %q (disabled %v); want Restore anyway", r.Restore.Text, r.Restore.Disabled())
	}
	tapButton(t, e.u.Window.win, "Restore anyway")
	e.settle()
	mustContain(t, "dialog note", r.Note.Text, "Restored")
	if got := len(playedKeys(srv, 30)); got != before-8 {
		t.Errorf("the server has %d watched after the restore, want %d (8 un-watched)", got, before-8)
	}
}

// Restore from a file… takes a backup from anywhere (here: copied out of
// the backups folder under another name) through the same dialog; a file
// that is not a backup gets a sentence, and no dialog.
func TestSettingsRestoreFromAFile(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 30)
	e.addBackend("plex", backend.Plex, srv, false)
	data, err := os.ReadFile(importAndBackUp(t, e))
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "from the old laptop.jsonl.gz")
	if err := os.WriteFile(elsewhere, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lost := playedKeys(srv, 30)
	for _, k := range lost {
		srv.SetWatch(k, simulate.Watch{})
	}
	e.settle()
	w := e.u.Window
	if w.Settings.RestoreFile.Disabled() {
		t.Fatal("Restore from a file… disabled with a backend configured")
	}
	v := w.Settings.Backups
	v.openRestoreFile(elsewhere) // what the file dialog does with the file chosen
	e.settle()
	r := v.dialog
	if r == nil {
		t.Fatal("no restore dialog for a backup outside the backups folder")
	}
	mustContain(t, "dialog note", r.Note.Text, "The backup is whole")
	r.check("plex").SetChecked(true)
	tapButton(t, w.win, "Preview")
	e.settle()
	if len(r.Report.changes) != len(lost) {
		t.Errorf("preview lists %d changes, want the %d lost marks", len(r.Report.changes), len(lost))
	}
	tapButton(t, w.win, "Restore")
	e.settle()
	for _, k := range lost {
		if !srv.Watch(k).Played {
			t.Errorf("%s not restored from the file", k)
		}
	}
	r.dlg.Hide()
	e.settle()

	junk := filepath.Join(t.TempDir(), "notes.jsonl.gz")
	if err := os.WriteFile(junk, []byte("shopping list\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.openRestoreFile(junk)
	e.settle()
	if v.dialog != nil {
		t.Error("a restore dialog opened on a file that is not a backup")
	}
	mustContain(t, "status line", w.Message.Text, "notes.jsonl.gz is not a backup Playmark can read")
}
