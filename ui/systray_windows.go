//go:build windows

package ui

import (
	"runtime"
	"time"

	"fyne.io/systray"

	"playmark/assets"
)

// trayLoop runs the tray on an OS thread of its own. On Windows the
// notification icon belongs to a hidden window, whose messages (clicks,
// the menu) reach only the thread that created it. systray's external
// loop creates that window on the caller's thread (the main one) and
// pumps messages on another, which sees none of them; Fyne's loop, which
// would pump the main thread's, does not run while Playmark rests in the
// tray. So one locked goroutine creates the window and serves its
// messages (systray.Run) until end.
func trayLoop() (start, end func()) {
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		systray.Run(func() { close(ready) }, nil)
	}()
	// Not ready (the window could not be made, systray logs why): the
	// app goes on, with an icon that may never show.
	select {
	case <-ready:
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return func() {}, func() {
		systray.Quit()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
}

// trayIconBytes is the icon as the notification area wants it: an .ico
// (the PNG inside it, unchanged).
func trayIconBytes(png []byte) []byte {
	ico, err := assets.ICO(png)
	if err != nil {
		return png
	}
	return ico
}
