//go:build !windows

package ui

import "fyne.io/systray"

// trayLoop registers the tray with systray; start exports it (on Linux,
// the StatusNotifierItem on the session bus), end takes it down.
func trayLoop() (start, end func()) { return systray.RunWithExternalLoop(nil, nil) }

// trayIconBytes is the icon as systray wants it: the PNG itself.
func trayIconBytes(png []byte) []byte { return png }
