//go:build !windows && !darwin && !headless

package app

import "github.com/godbus/dbus/v5"

// desktopTray says how to tell whether the desktop shows a tray: on Linux
// and the BSDs, whether a StatusNotifier host is on the session bus. An
// error means there is no session bus, so no tray at all.
func desktopTray() (func() bool, error) {
	conn, err := dbus.SessionBus()
	if err != nil {
		return nil, err
	}
	return func() bool { return hasTrayHost(conn) }, nil
}

// hasTrayHost says whether a StatusNotifier host (a tray) is on the bus.
func hasTrayHost(conn *dbus.Conn) bool {
	var has bool
	err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
