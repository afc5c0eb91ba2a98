package ui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// menuLines renders a menu as lines: "label", "label [disabled]",
// "label [checked]", "---", and "parent > child" for a submenu.
func menuLines(m *fyne.Menu) []string {
	var out []string
	for _, it := range m.Items {
		if it.IsSeparator {
			out = append(out, "---")
			continue
		}
		l := it.Label
		if it.Disabled {
			l += " [disabled]"
		}
		if it.Checked {
			l += " [checked]"
		}
		out = append(out, l)
		if it.ChildMenu != nil {
			for _, c := range it.ChildMenu.Items {
				out = append(out, it.Label+" > "+c.Label)
			}
		}
	}
	return out
}

func TestTrayMenu(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.Local)
	next := time.Date(2026, 3, 10, 18, 0, 0, 0, time.Local)
	ok := engine.Overview{
		LastImport: engine.RunInfo{ID: 5, Kind: "import", Status: "ok", Changed: 3, Finished: now.Add(-2 * time.Hour)},
		LastExport: engine.RunInfo{ID: 6, Kind: "export", Status: "ok", Changed: 1, Finished: now.Add(-90 * time.Minute)},
		Tasks: []engine.TaskInfo{
			{Name: "import", Cron: "0 */6 * * *", Enabled: true, Next: &next},
			{Name: "export", Cron: "0 1-23/6 * * *", Enabled: false},
		},
		Backends: []engine.BackendInfo{
			{Name: "plex", Type: "plex", Health: "ok", OK: true, Export: true},
			{Name: "jelly", Type: "jellyfin", Health: "token rejected by jelly", OK: false},
		},
	}
	tests := []struct {
		name string
		snap Snapshot
		want []string
	}{{
		name: "first start, nothing set up",
		snap: Snapshot{Now: now, Schedules: true, Autostart: true},
		want: []string{
			"Last import: never [disabled]",
			"Last export: never [disabled]",
			"Next run: none (schedules are off) [disabled]",
			"No backends yet: open Playmark to add one [disabled]",
			"---",
			"Sync now [disabled]", "Import now [disabled]", "Export now [disabled]", "Preview (dry run) [disabled]",
			"---",
			"Pause schedules", "Pause schedules > For 30 minutes", "Pause schedules > For 1 hour", "Pause schedules > Until resumed",
			"---",
			"Open Playmark", "Start at login",
			"---",
			"Quit",
		},
	}, {
		name: "synced, one backend failing, start at login on",
		snap: Snapshot{Now: now, Overview: ok, Schedules: true, Autostart: true, StartAtLogin: true},
		want: []string{
			"Last import: ok, 3 changes, 2 h ago [disabled]",
			"Last export: ok, 1 change, 1 h ago [disabled]",
			"Next run: import 18:00 [disabled]",
			"plex: ok [disabled]",
			"jelly: token rejected by jelly [disabled]",
			"---",
			"Sync now", "Import now", "Export now", "Preview (dry run)",
			"---",
			"Pause schedules", "Pause schedules > For 30 minutes", "Pause schedules > For 1 hour", "Pause schedules > Until resumed",
			"---",
			"Open Playmark", "Start at login [checked]",
			"---",
			"Quit",
		},
	}, {
		name: "running, paused until 15:00, no autostart",
		snap: Snapshot{Now: now, Overview: ok, Schedules: true, Paused: true, PausedUntil: now.Add(time.Hour),
			Status: engine.Status{Running: true, Kind: "sync", Phase: "import", Backend: "plex", Done: 10, Total: 100}},
		want: []string{
			"Importing plex… [disabled]",
			"Last import: ok, 3 changes, 2 h ago [disabled]",
			"Last export: ok, 1 change, 1 h ago [disabled]",
			"Schedules paused until 15:00 [disabled]",
			"plex: ok [disabled]",
			"jelly: token rejected by jelly [disabled]",
			"---",
			"Sync now [disabled]", "Import now [disabled]", "Export now [disabled]", "Preview (dry run) [disabled]", "Cancel run",
			"---",
			"Resume schedules",
			"---",
			"Open Playmark",
			"---",
			"Quit",
		},
	}, {
		name: "paused until resumed, no scheduler: no pause items",
		snap: Snapshot{Now: now, Overview: ok, Paused: true},
		want: []string{
			"Last import: ok, 3 changes, 2 h ago [disabled]",
			"Last export: ok, 1 change, 1 h ago [disabled]",
			"Schedules paused until resumed [disabled]",
			"plex: ok [disabled]",
			"jelly: token rejected by jelly [disabled]",
			"---",
			"Sync now", "Import now", "Export now", "Preview (dry run)",
			"---",
			"Open Playmark",
			"---",
			"Quit",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := TrayMenu(tt.snap, TrayActions{})
			got := menuLines(m)
			if !slices.Equal(got, tt.want) {
				t.Errorf("menu:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if last := m.Items[len(m.Items)-1]; !last.IsQuit {
				t.Error("the last item is not marked IsQuit")
			}
		})
	}
}

func TestTrayMenuActions(t *testing.T) {
	var called []string
	var paused []time.Duration
	rec := func(name string) func() { return func() { called = append(called, name) } }
	a := TrayActions{Sync: rec("sync"), Import: rec("import"), Export: rec("export"), Preview: rec("preview"),
		Cancel: rec("cancel"), Resume: rec("resume"), Open: rec("open"), ToggleStartAtLogin: rec("login"), Quit: rec("quit"),
		Pause: func(d time.Duration) { paused = append(paused, d) }}
	snap := Snapshot{Now: time.Now(), Schedules: true, Autostart: true, Overview: engine.Overview{
		Backends: []engine.BackendInfo{{Name: "plex", OK: true, Health: "ok", Export: true}}}}
	m := TrayMenu(snap, a)
	find := func(m *fyne.Menu, label string) *fyne.MenuItem {
		for _, it := range m.Items {
			if it.Label == label {
				return it
			}
		}
		t.Fatalf("no item %q", label)
		return nil
	}
	for _, l := range []string{LabelSync, LabelImport, LabelExport, LabelPreview, LabelOpen, LabelLogin, LabelQuit} {
		find(m, l).Action()
	}
	sub := find(m, LabelPause).ChildMenu
	find(sub, LabelPause30).Action()
	find(sub, LabelPause1h).Action()
	find(sub, LabelPauseAll).Action()
	if want := []string{"sync", "import", "export", "preview", "open", "login", "quit"}; !slices.Equal(called, want) {
		t.Errorf("called %v, want %v", called, want)
	}
	if want := []time.Duration{30 * time.Minute, time.Hour, 0}; !slices.Equal(paused, want) {
		t.Errorf("paused %v, want %v", paused, want)
	}
}

func TestSnapshotStateAndTooltip(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 2, 0, 0, time.Local)
	good := engine.Overview{
		LastImport: engine.RunInfo{ID: 1, Kind: "import", Status: "ok", Changed: 3, Finished: now.Add(-time.Minute)},
		Backends:   []engine.BackendInfo{{Name: "plex", Health: "ok", OK: true}},
	}
	bad := good
	bad.Backends = []engine.BackendInfo{{Name: "plex", Health: "token rejected by plex", OK: false}}
	warn := good
	warn.Held = 1
	warn.Unmatched = 12
	tests := []struct {
		name  string
		snap  Snapshot
		state TrayState
		tip   string
	}{
		{"never synced", Snapshot{Now: now}, StateOK, "Playmark: Not synced yet"},
		{"ok", Snapshot{Now: now, Overview: good}, StateOK, "Playmark: Last import 14:01 · 3 changes"},
		{"running wins over everything", Snapshot{Now: now, Overview: bad, Paused: true,
			Status: engine.Status{Running: true, Kind: "import", Phase: "import", Backend: "plex", Done: 1240, Total: 8000}},
			StateSyncing, "Playmark: Importing plex: 1,240/8,000"},
		{"a failing backend is an error", Snapshot{Now: now, Overview: bad, Paused: true}, StateError, "Playmark: plex: token rejected by plex"},
		{"held and unmatched warn", Snapshot{Now: now, Overview: warn, Paused: true}, StateWarning,
			"Playmark: Last import 14:01 · 3 changes · 1 held export to check · 12 unmatched · schedules paused until resumed"},
		{"paused", Snapshot{Now: now, Overview: good, Paused: true, PausedUntil: now.Add(30 * time.Minute)}, StatePaused,
			"Playmark: Last import 14:01 · 3 changes · schedules paused until 14:32"},
		{"dry run progress", Snapshot{Now: now, Overview: good, Status: engine.Status{Running: true, Kind: "sync", DryRun: true}},
			StateSyncing, "Playmark: Previewing (syncing): starting…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.snap.State(); got != tt.state {
				t.Errorf("State() = %v, want %v", got, tt.state)
			}
			if got := tt.snap.Tooltip(); got != tt.tip {
				t.Errorf("Tooltip() = %q, want %q", got, tt.tip)
			}
		})
	}
}

// fakeDesk records what the UI does to the system tray.
type fakeDesk struct {
	menus  []*fyne.Menu
	icons  []fyne.Resource
	tapped func() // a click on the icon
}

func (f *fakeDesk) SetSystemTrayMenu(m *fyne.Menu)    { f.menus = append(f.menus, m) }
func (f *fakeDesk) SetSystemTrayIcon(r fyne.Resource) { f.icons = append(f.icons, r) }
func (f *fakeDesk) SetOnTapped(fn func())             { f.tapped = fn }

func (f *fakeDesk) prefixed(t *testing.T, prefix string) *fyne.MenuItem {
	t.Helper()
	m := f.menus[len(f.menus)-1]
	for _, it := range m.Items {
		if strings.HasPrefix(it.Label, prefix) {
			return it
		}
	}
	t.Fatalf("tray menu has no item starting %q:\n%s", prefix, strings.Join(menuLines(m), "\n"))
	return nil
}

func (f *fakeDesk) item(t *testing.T, label string) *fyne.MenuItem {
	t.Helper()
	m := f.menus[len(f.menus)-1]
	for _, it := range m.Items {
		if it.Label == label {
			return it
		}
	}
	t.Fatalf("tray menu has no %q:\n%s", label, strings.Join(menuLines(m), "\n"))
	return nil
}

// The tray follows the store: a click on Sync now runs a sync with the
// tray as its trigger, the menu and icon are rebuilt from the result, and
// unchanged snapshots do not rebuild the menu.
func TestTrayDrivesEngine(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 30)
	e.addBackend("plex", backend.Plex, srv, false)
	desk := &fakeDesk{}
	var tips []string
	e.u.AttachTray(desk, func(s string) { tips = append(tips, s) }, func() bool { return true })
	e.refresh()
	if desk.tapped == nil {
		t.Error("a click on the tray icon does nothing")
	} else if desk.tapped(); !e.u.Window.Visible() {
		t.Error("a click on the tray icon did not show the window")
	}
	before := len(desk.menus)
	e.refresh()
	if len(desk.menus) != before {
		t.Errorf("an unchanged snapshot rebuilt the menu (%d -> %d)", before, len(desk.menus))
	}
	desk.item(t, "plex: never synced")
	desk.item(t, LabelSync).Action()
	e.settle()
	runs := e.runs()
	if len(runs) != 1 || runs[0].Trigger != "tray" || runs[0].Kind != "sync" || runs[0].Status != state.RunOK {
		t.Fatalf("runs after Sync now = %+v, want one ok sync by the tray", runs)
	}
	desk.item(t, "plex: ok")
	last := desk.prefixed(t, "Last import: ok, ")
	mustContain(t, "last import row", last.Label, "changes, just now")
	if !last.Disabled {
		t.Error("status rows must not be clickable")
	}
	if got := desk.icons[len(desk.icons)-1].Name(); got != "tray-ok.png" {
		t.Errorf("icon = %s, want tray-ok.png", got)
	}
	mustContain(t, "tooltip", tips[len(tips)-1], "Playmark: Last sync ", " changes")

	// A rejected token turns the icon to error and shows on the row.
	if err := e.st.SetBackendError(context.Background(), e.backend("plex").ID, "token rejected by plex", true); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	desk.item(t, "plex: token rejected by plex")
	if got := desk.icons[len(desk.icons)-1].Name(); got != "tray-error.png" {
		t.Errorf("icon = %s, want tray-error.png", got)
	}

	// Pause and resume.
	desk.item(t, LabelPause).ChildMenu.Items[0].Action()
	e.refresh()
	if p, until := e.sched.Paused(); !p || time.Until(until) < 29*time.Minute {
		t.Errorf("paused = %v until %v, want 30 min", p, until)
	}
	desk.item(t, LabelResume).Action()
	e.refresh()
	if p, _ := e.sched.Paused(); p {
		t.Error("still paused after Resume")
	}
	desk.item(t, LabelPause)

	// Start at login is a check item that follows the login entry.
	desk.item(t, LabelLogin).Action()
	e.refresh()
	if !e.login.on || !desk.item(t, LabelLogin).Checked {
		t.Errorf("start at login = %v, checked = %v; want both on", e.login.on, desk.item(t, LabelLogin).Checked)
	}
	desk.item(t, LabelQuit).Action()
	if e.quits != 1 {
		t.Errorf("Quit called quit %d times", e.quits)
	}
}

// A run refused because another holds the run lock is said in a
// notification, not a crash.
func TestTrayBusyNotifies(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	e.addBackend("plex", backend.Plex, srv, false)
	desk := &fakeDesk{}
	e.u.AttachTray(desk, nil, nil)
	e.refresh()
	release, err := e.st.LockRuns(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	test.AssertNotificationSent(t, fyne.NewNotification("Playmark is busy", "Another sync run is in progress; try again when it has finished."), func() {
		desk.item(t, LabelImport).Action()
		e.u.Wait()
	})
	mustContain(t, "status line", e.u.Window.Message.Text, "not started", "another sync run")
	if n := len(e.runs()); n != 0 {
		t.Errorf("%d runs recorded, want none", n)
	}
}

// A household's status rows stay short: one row per person with a
// problem, not one per backend; one row when all is well. One person
// keeps a row per backend.
func TestTrayRowsPerPerson(t *testing.T) {
	backends := []engine.BackendInfo{
		{Name: "plex-anna", Person: "Anna", Health: "ok", OK: true},
		{Name: "plex-ben", Person: "Ben", Health: "token rejected by plex-ben", OK: false},
		{Name: "jellyfin-ben", Person: "Ben", Health: "cannot reach jellyfin-ben: connection refused", OK: false},
		{Name: "jellyfin-anna", Person: "Anna", Health: "ok", OK: true},
		{Name: "emby-carol", Person: "Carol", Health: "ok", OK: true},
	}
	s := Snapshot{Now: time.Now(), Overview: engine.Overview{Backends: backends}}
	got := s.backendRows()
	want := []string{"Ben: token rejected by plex-ben (and 1 more)"}
	if !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	for i := range backends {
		backends[i].OK, backends[i].Health = true, "ok"
	}
	if got := s.backendRows(); !slices.Equal(got, []string{"3 people, 5 backends: all fine"}) {
		t.Errorf("all fine: rows %q", got)
	}
	two := []engine.BackendInfo{backends[0], backends[3]} // both Anna's
	one := Snapshot{Overview: engine.Overview{Backends: two}}
	if got := one.backendRows(); !slices.Equal(got, []string{"plex-anna: ok", "jellyfin-anna: ok"}) {
		t.Errorf("one person: rows %q", got)
	}
}
