//go:build !headless

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"playmark/ui"
)

// appID is the desktop app's id (FyneApp.toml, the desktop entry).
const appID = "io.playmark.Playmark"

// headlessBuild says whether this binary was built with -tags headless
// (desktop_headless.go): this one has the window and the tray.
const headlessBuild = false

// runDesktop runs the desktop app on the config dir dir until the user
// quits: the window, the tray (when the session has one) and the
// schedules. hidden starts it in the tray without the window (launch at
// login). A second desktop Playmark on the same dir shows the first one's
// window and exits.
func runDesktop(dir string, hidden bool, stderr io.Writer) int {
	if noDisplay() {
		// GLFW would panic; say what to do instead.
		fmt.Fprintln(stderr, "playmark: no graphical display (DISPLAY and WAYLAND_DISPLAY are not set): use the commands (playmark help), or playmark daemon for schedules without a window")
		return exitUsage
	}
	if d := os.Getenv("DISPLAY"); d != "" && runtime.GOOS == "linux" {
		// Set but unusable (a stale SSH display, refused authorisation):
		// GLFW would panic.
		x, err := probeX11(d)
		if err != nil {
			why := err.Error()
			var de *displayError
			if errors.As(err, &de) {
				why = de.why
			}
			fmt.Fprintf(stderr, "playmark: no graphical display (%v): use the commands (playmark help), or playmark daemon for schedules without a window\n", why)
			return exitUsage
		}
		if x != nil {
			defer x.Close()
		}
	}
	inst, err := claimInstance(dir)
	switch {
	case errors.Is(err, errAlreadyRunning):
		fmt.Fprintf(stderr, "playmark: already running on %s; showed its window\n", dir)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "playmark: warning: %v; a second Playmark on this dir would not be noticed\n", err)
	}
	if inst != nil {
		defer inst.Close()
	}

	// ctx owns every background loop: the scheduler, the UI's refresh,
	// runs started from the window or the tray, the instance listener.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core, err := openCore(ctx, dir, coreOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "playmark: %v\n", err)
		return exitFailed
	}
	defer core.Close()

	// What Fyne and systray log (through the standard logger) goes to
	// playmark.log, from the start: their watchers outlive and race the
	// loop ("Preferences load error: EOF" when a preferences save and the
	// file watcher cross under load, "Unable to create settings storage"
	// when the demo's throwaway dir goes), and a desktop app has no
	// terminal to read them on. Playmark's own sentences still go to
	// stderr.
	stdlog.SetOutput(core.LogFile())
	fyneapp.SetMetadata(fyne.AppMetadata{ID: appID, Name: "Playmark", Version: Version, Build: 1, Icon: ui.AppIcon(),
		Migrations: map[string]bool{"fyneDo": true}})
	a := fyneapp.NewWithID(appID)
	a.SetIcon(ui.AppIcon())

	// The UI thread is the main goroutine. Started in the tray (light
	// mode), the app does not run Fyne's loop, which ticks 60 times a
	// second and, with Fyne's tray, keeps a GL context: the main goroutine
	// serves the UI's calls itself (ut.serve) until the window is first
	// wanted, then hands the UI thread to Fyne and runs its loop. The
	// variables below are the UI thread's.
	ut := newUIThread()
	fyneStarted := false // Fyne's loop runs: its Quit quits
	quitting := false    // quit before Fyne's loop ran
	quit := func() {
		if !fyneStarted {
			quitting = true
			return
		}
		// The driver's Quit, as Fyne's own tray and SIGTERM do: a.Quit
		// closes the windows first, and a pointer event on a closed
		// window before the loop ends crashes Fyne (seen in the tray
		// tests, quitting just after the window opened).
		a.Driver().Quit()
	}
	a.Lifecycle().SetOnStarted(func() { fyneStarted = true })
	u := ui.New(ctx, a, ui.Deps{
		Engine:     core.Engine,
		Sched:      core.Sched,
		Dir:        dir,
		Version:    Version,
		Autostart:  newLoginEntry(dir),
		OpenFolder: openFolder,
		Quit:       quit,
		Dispatch:   ut.do,
		LazyWindow: true,
	})

	var wg sync.WaitGroup
	wg.Go(func() { _ = core.Sched.Run(ctx) })
	wg.Go(func() { u.Run(ctx) })
	// Webhooks and live connections: changes within seconds.
	if err := core.StartEvents(ctx); err != nil {
		core.Log.Warn("events", "err", err)
		fmt.Fprintf(stderr, "playmark: warning: %v\n", err)
	}
	wg.Go(func() {
		if done := core.EventsDone(); done != nil {
			<-done
		}
	})
	if inst != nil {
		wg.Go(func() { inst.serve(ctx, func() { ut.do(u.ShowWindow, false) }) })
	}
	// Ctrl+C and SIGTERM quit cleanly, in either mode (Fyne's loop
	// catches them too once it runs).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-sigs:
			ut.do(quit, false)
		}
	})

	// The tray: our own over fyne.io/systray (Fyne's would start its
	// loop's GL window), when the desktop has one: on Linux when there is
	// a session bus (systray panics on quit without one; tray_dbus.go),
	// on Windows and macOS always (tray_native.go).
	var st *ui.SystemTray
	if host, err := desktopTray(); err == nil {
		st = ui.NewSystemTray("Playmark", ut.do)
		u.AttachTray(st, st.SetTooltip, host)
		st.Start()
		if hidden {
			// At login the tray may come up after us; if none has
			// shown up after a while, show the window rather than
			// run invisible.
			wg.Go(func() {
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
					if !host() {
						core.Log.Info("no tray host: showing the window")
						ut.do(u.ShowWindow, false)
					}
				}
			})
		}
	} else {
		core.Log.Info("no tray: running without one", "err", err)
		u.NoTray()
	}
	light := hidden && st != nil
	core.Log.Info("desktop app started", "dir", dir, "tray", st != nil, "hidden", light)

	if light {
		// In the tray until the window is wanted or the user quits.
		ut.serve(func() bool { return quitting || u.Window.Visible() })
		if !quitting {
			core.Log.Info("window opened: starting the window's loop")
		}
	} else {
		u.ShowWindow()
	}
	if !quitting {
		ut.handOff() // may run a quit that was queued
	}
	if !quitting {
		a.Run()
	}

	// Quit: stop the tray, the loops and any run (a cancelled run rolls
	// back the batch it was writing), then let them finish.
	ut.close()
	if st != nil {
		st.Stop()
	}
	cancel()
	core.Engine.Cancel()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		u.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		core.Log.Warn("quit: background work did not stop in time")
	}
	core.Log.Info("desktop app quit")
	return exitOK
}

// noDisplay says whether this is an X11/Wayland system with no display to
// open a window on (a server, an SSH session).
func noDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin", "android", "ios":
		return false
	}
	return os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == ""
}
