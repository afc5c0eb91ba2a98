package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/systray"
)

// SystemTray is the desktop's system tray (a StatusNotifierItem and its
// D-Bus menu on Linux), driven through fyne.io/systray directly rather
// than through Fyne's desktop.App: Fyne's tray opens a hidden GL window
// at once and needs Fyne's loop running, which an app idling in the tray
// should not pay for. It implements TrayDesk.
//
// Menu clicks and clicks on the icon arrive on systray's goroutines; do
// runs them on the UI thread, without waiting.
type SystemTray struct {
	do         func(f func(), wait bool)
	start, end func()
}

// NewSystemTray sets up the tray, titled title, without showing it yet:
// set its menu, icon and tooltip, then Start it. There is one per
// process (systray is), and it needs a session bus. do runs a function
// on the UI thread.
func NewSystemTray(title string, do func(f func(), wait bool)) *SystemTray {
	t := &SystemTray{do: do}
	t.start, t.end = trayLoop() // systray_loop.go, systray_windows.go
	// Set before Start: the item is exported with its title (some hosts
	// drop an item without one), with nothing to race.
	systray.SetTitle(title)
	return t
}

// Start puts the item on the session bus and registers it with the
// tray host. Call it once, after the first menu and icon.
func (t *SystemTray) Start() { t.start() }

// Stop takes the item off the bus (at quit). It closes the session bus
// connection systray shares with the rest of the process.
func (t *SystemTray) Stop() {
	defer func() {
		// systray panics on stop when its start could not export the
		// item (it never got a connection); nothing is left to stop.
		_ = recover()
	}()
	t.end()
}

// SetOnTapped sets what a (left) click on the icon does.
func (t *SystemTray) SetOnTapped(f func()) {
	systray.SetOnTapped(func() { t.do(f, false) })
}

// SetTooltip sets the icon's tooltip.
func (t *SystemTray) SetTooltip(s string) { systray.SetTooltip(s) }

// SetSystemTrayIcon sets the icon (a PNG; in .ico form on Windows).
func (t *SystemTray) SetSystemTrayIcon(r fyne.Resource) { systray.SetIcon(trayIconBytes(r.Content())) }

// SetSystemTrayMenu replaces the whole menu with m. Items keep their
// labels, separators, disabled and checked states and submenus; icons
// and shortcuts are not shown (the tray menu has none).
func (t *SystemTray) SetSystemTrayMenu(m *fyne.Menu) {
	systray.ResetMenu() // closes the old items' ClickedCh, ending their goroutines
	t.addItems(m, nil)
}

// addItems adds m's items under parent (nil: the top level).
func (t *SystemTray) addItems(m *fyne.Menu, parent *systray.MenuItem) {
	if m == nil {
		return
	}
	for _, it := range m.Items {
		if it.IsSeparator {
			if parent == nil {
				systray.AddSeparator()
			} else {
				parent.AddSeparator()
			}
			continue
		}
		var item *systray.MenuItem
		switch {
		case parent == nil && it.Checked:
			item = systray.AddMenuItemCheckbox(it.Label, "", true)
		case parent == nil:
			item = systray.AddMenuItem(it.Label, "")
		case it.Checked:
			item = parent.AddSubMenuItemCheckbox(it.Label, "", true)
		default:
			item = parent.AddSubMenuItem(it.Label, "")
		}
		if it.Disabled {
			item.Disable()
		}
		t.addItems(it.ChildMenu, item)
		if action := it.Action; action != nil {
			go func() {
				for range item.ClickedCh {
					t.do(action, false)
				}
			}()
		}
	}
}
