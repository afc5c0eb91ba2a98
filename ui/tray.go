package ui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"playmark/assets"
)

// Tray menu labels; tests and the real-tray test find items by them.
const (
	LabelSync       = "Sync now"
	LabelImport     = "Import now"
	LabelExport     = "Export now"
	LabelPreview    = "Preview (dry run)"
	LabelCancel     = "Cancel run"
	LabelPause      = "Pause schedules"
	LabelPause30    = "For 30 minutes"
	LabelPause1h    = "For 1 hour"
	LabelPauseAll   = "Until resumed"
	LabelResume     = "Resume schedules"
	LabelOpen       = "Open Playmark"
	LabelLogin      = "Start at login"
	LabelQuit       = "Quit"
	pauseShort      = 30 * time.Minute
	pauseLong       = time.Hour
	pauseUntilReady = 0
)

// TrayActions are what the tray menu's items do. Each runs on the UI
// thread and must not block: long work goes to a goroutine.
type TrayActions struct {
	Sync, Import, Export, Preview, Cancel func()
	Pause                                 func(d time.Duration) // 0: until resumed
	Resume                                func()
	Open                                  func()
	ToggleStartAtLogin                    func()
	Quit                                  func()
}

// TrayMenu builds the whole tray menu from one snapshot: the status rows
// (disabled), the run actions, the pause submenu or Resume, Open, Start at
// login and Quit. It is a pure function: the same snapshot gives the same
// menu.
func TrayMenu(s Snapshot, a TrayActions) *fyne.Menu {
	var items []*fyne.MenuItem
	for _, row := range s.StatusRows() {
		it := fyne.NewMenuItem(row, nil)
		it.Disabled = true
		items = append(items, it)
	}
	items = append(items, fyne.NewMenuItemSeparator())

	running := s.Status.Running
	exporting := false
	for _, b := range s.Overview.Backends {
		exporting = exporting || b.Export
	}
	noBackends := len(s.Overview.Backends) == 0
	add := func(label string, fn func(), disabled bool) *fyne.MenuItem {
		it := fyne.NewMenuItem(label, fn)
		it.Disabled = disabled
		items = append(items, it)
		return it
	}
	add(LabelSync, a.Sync, running || noBackends)
	add(LabelImport, a.Import, running || noBackends)
	add(LabelExport, a.Export, running || !exporting)
	add(LabelPreview, a.Preview, running || noBackends)
	if running {
		add(LabelCancel, a.Cancel, false)
	}
	if s.Schedules {
		items = append(items, fyne.NewMenuItemSeparator())
		if s.Paused {
			add(LabelResume, a.Resume, false)
		} else {
			pause := func(d time.Duration) func() { return func() { a.Pause(d) } }
			sub := fyne.NewMenu("",
				fyne.NewMenuItem(LabelPause30, pause(pauseShort)),
				fyne.NewMenuItem(LabelPause1h, pause(pauseLong)),
				fyne.NewMenuItem(LabelPauseAll, pause(pauseUntilReady)))
			it := add(LabelPause, nil, false)
			it.ChildMenu = sub
		}
	}
	items = append(items, fyne.NewMenuItemSeparator())
	add(LabelOpen, a.Open, false)
	if s.Autostart {
		it := add(LabelLogin, a.ToggleStartAtLogin, false)
		it.Checked = s.StartAtLogin
	}
	items = append(items, fyne.NewMenuItemSeparator())
	quit := add(LabelQuit, a.Quit, false)
	quit.IsQuit = true
	return fyne.NewMenu("Playmark", items...)
}

// menuSignature is a menu's labels and flags, to rebuild the tray only
// when something a user can see changed (a rebuild closes an open menu
// on some desktops and renumbers every item).
func menuSignature(m *fyne.Menu) string {
	var b strings.Builder
	var walk func(m *fyne.Menu, depth int)
	walk = func(m *fyne.Menu, depth int) {
		for _, it := range m.Items {
			b.WriteString(strings.Repeat(">", depth))
			switch {
			case it.IsSeparator:
				b.WriteString("---")
			default:
				b.WriteString(it.Label)
				if it.Disabled {
					b.WriteString("[disabled]")
				}
				if it.Checked {
					b.WriteString("[checked]")
				}
			}
			b.WriteByte('\n')
			if it.ChildMenu != nil {
				walk(it.ChildMenu, depth+1)
			}
		}
	}
	walk(m, 0)
	return b.String()
}

// TrayIcon is the icon of a state.
func TrayIcon(s TrayState) fyne.Resource {
	switch s {
	case StateSyncing:
		return fyne.NewStaticResource("tray-syncing.png", assets.TraySyncing)
	case StatePaused:
		return fyne.NewStaticResource("tray-paused.png", assets.TrayPaused)
	case StateWarning:
		return fyne.NewStaticResource("tray-warning.png", assets.TrayWarning)
	case StateError:
		return fyne.NewStaticResource("tray-error.png", assets.TrayError)
	}
	return fyne.NewStaticResource("tray-ok.png", assets.TrayOK)
}

// AppIcon is the application icon.
func AppIcon() fyne.Resource { return fyne.NewStaticResource("icon.png", assets.Icon) }

// TrayDesk is the system tray the UI drives: its menu and its icon
// (SystemTray in the app, a fake in tests). When it also has
// SetOnTapped(func()), a click on the icon opens the window.
type TrayDesk interface {
	SetSystemTrayMenu(m *fyne.Menu)
	SetSystemTrayIcon(r fyne.Resource)
}

// trayTapper is a tray that says when its icon is clicked.
type trayTapper interface {
	SetOnTapped(f func())
}

// tray drives a system tray from snapshots.
type tray struct {
	desk       TrayDesk
	setTooltip func(string) // nil when the toolkit cannot
	menu       string
	state      TrayState
	tooltip    string
	started    bool
}

// apply shows a snapshot, touching the tray only where it changed. UI
// thread only.
func (t *tray) apply(s Snapshot, a TrayActions) {
	m := TrayMenu(s, a)
	if sig := menuSignature(m); !t.started || sig != t.menu {
		t.desk.SetSystemTrayMenu(m)
		t.menu = sig
	}
	if st := s.State(); !t.started || st != t.state {
		t.desk.SetSystemTrayIcon(TrayIcon(st))
		t.state = st
	}
	if tip := s.Tooltip(); t.setTooltip != nil && (!t.started || tip != t.tooltip) {
		t.setTooltip(tip)
		t.tooltip = tip
	}
	t.started = true
}
