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
	d := newDesktop(dir, hidden, stderr)
	if code, ok := d.preflight(); !ok {
		return code
	}
	if err := d.start(); err != nil {
		d.shutdown()
		fmt.Fprintf(stderr, "playmark: %v\n", err)
		return exitFailed
	}
	d.tray()
	d.run()
	d.shutdown()
	return exitOK
}

// desktop is the desktop app's life, one step per method, called in this
// order by runDesktop:
//
//   - preflight: a display to open a window on, and no other desktop
//     Playmark on this config dir (else it says so and stops);
//   - start: the config dir (openCore), Fyne's log into playmark.log, the
//     toolkit, the window (not shown yet), and the background loops: the
//     scheduler, the window's refresh, webhooks and live sockets, the
//     single-instance listener, Ctrl+C and SIGTERM;
//   - tray: the system tray when the desktop has one; else the window
//     says so, shows even when hidden, and closing it quits;
//   - run: the UI thread until quit: served here while in the tray (no
//     Fyne loop, no GL) until the window is first wanted, then Fyne's
//     loop;
//   - quit (from the tray, the window, Ctrl+Q, a signal) ends run;
//   - shutdown: the tray off the bus, the loops and any run cancelled (a
//     run rolls back the batch it was writing) and waited for, at most
//     stopWait, then the config dir and the instance guard let go.
//
// shutdown also undoes a start that failed half-way.
type desktop struct {
	dir    string
	hidden bool
	stderr io.Writer

	// The parts, replaced by tests.
	newApp    func() fyne.App                             // the toolkit (Fyne's GL driver)
	trayProbe func() (host func() bool, err error)        // desktopTray: is there a tray, and a host showing it
	newTray   func(do func(f func(), wait bool)) trayIcon // the system tray over fyne.io/systray
	runLoop   func()                                      // Fyne's loop (fyne.App.Run), until quitLoop
	quitLoop  func()                                      // ends runLoop
	trayWait  time.Duration                               // hidden: how long to wait for a tray host before showing the window
	stopWait  time.Duration                               // shutdown: how long to wait for the loops and runs

	xconn io.Closer // the probed X display, held until the window has its own
	inst  *instance // the single-instance guard; nil when it could not be claimed

	// ctx owns every background loop: the scheduler, the UI's refresh,
	// runs started from the window or the tray, the instance listener.
	ctx    context.Context
	cancel context.CancelFunc
	core   *Core
	app    fyne.App
	ut     *uiThread
	u      *ui.UI
	st     trayIcon // nil: no tray
	sigs   chan os.Signal
	wg     sync.WaitGroup

	// The UI thread's.
	loopStarted bool // Fyne's loop runs: quitLoop quits it
	quitting    bool // quit before Fyne's loop ran
}

// trayIcon is the system tray as the desktop drives it (ui.SystemTray).
type trayIcon interface {
	ui.TrayDesk
	SetTooltip(string)
	Start() // on the bus, registered with the tray host
	Stop()  // off the bus
}

func newDesktop(dir string, hidden bool, stderr io.Writer) *desktop {
	d := &desktop{dir: dir, hidden: hidden, stderr: stderr, trayWait: 10 * time.Second, stopWait: 15 * time.Second}
	d.newApp = func() fyne.App {
		fyneapp.SetMetadata(fyne.AppMetadata{ID: appID, Name: "Playmark", Version: Version, Build: 1, Icon: ui.AppIcon(),
			Migrations: map[string]bool{"fyneDo": true}})
		return fyneapp.NewWithID(appID)
	}
	d.trayProbe = desktopTray
	d.newTray = func(do func(f func(), wait bool)) trayIcon { return ui.NewSystemTray("Playmark", do) }
	d.runLoop = func() { d.app.Run() }
	// The driver's Quit, as Fyne's own tray and SIGTERM do: a.Quit
	// closes the windows first, and a pointer event on a closed window
	// before the loop ends crashes Fyne (seen in the tray tests, quitting
	// just after the window opened).
	d.quitLoop = func() { d.app.Driver().Quit() }
	return d
}

// preflight checks that there is a display to open a window on and
// claims the config dir for this process. ok false: stop with code (a
// display that cannot be used: 2; another Playmark runs on the dir and
// was asked to show its window: 0).
func (d *desktop) preflight() (code int, ok bool) {
	const what = "use the commands (playmark help), or playmark daemon for schedules without a window"
	if noDisplay() {
		// GLFW would panic; say what to do instead.
		fmt.Fprintln(d.stderr, "playmark: no graphical display (DISPLAY and WAYLAND_DISPLAY are not set): "+what)
		return exitUsage, false
	}
	if disp := os.Getenv("DISPLAY"); disp != "" && runtime.GOOS == "linux" {
		// Set but unusable (a stale SSH display, refused authorisation):
		// GLFW would panic.
		x, err := probeX11(disp)
		if err != nil {
			why := err.Error()
			var de *displayError
			if errors.As(err, &de) {
				why = de.why
			}
			fmt.Fprintf(d.stderr, "playmark: no graphical display (%v): %s\n", why, what)
			return exitUsage, false
		}
		d.xconn = x
	}
	inst, err := claimInstance(d.dir)
	switch {
	case errors.Is(err, errAlreadyRunning):
		d.release()
		fmt.Fprintf(d.stderr, "playmark: already running on %s; showed its window\n", d.dir)
		return exitOK, false
	case err != nil:
		fmt.Fprintf(d.stderr, "playmark: warning: %v; a second Playmark on this dir would not be noticed\n", err)
	}
	d.inst = inst
	return exitOK, true
}

// start opens the config dir and starts the toolkit, the window (not
// shown) and the background loops. An error (the database cannot be
// opened) leaves what it started for shutdown to stop.
func (d *desktop) start() error {
	d.ctx, d.cancel = context.WithCancel(context.Background())
	core, err := openCore(d.ctx, d.dir, coreOptions{})
	if err != nil {
		return err
	}
	d.core = core

	// What Fyne and systray log (through the standard logger) goes to
	// playmark.log, from the start: their watchers outlive and race the
	// loop ("Preferences load error: EOF" when a preferences save and the
	// file watcher cross under load, "Unable to create settings storage"
	// when the demo's throwaway dir goes), and a desktop app has no
	// terminal to read them on. Playmark's own sentences still go to
	// stderr.
	stdlog.SetOutput(core.LogFile())
	d.app = d.newApp()
	d.app.SetIcon(ui.AppIcon())

	// The UI thread is the main goroutine. Started in the tray (light
	// mode), the app does not run Fyne's loop, which ticks 60 times a
	// second and, with Fyne's tray, keeps a GL context: the main goroutine
	// serves the UI's calls itself (ut.serve) until the window is first
	// wanted, then hands the UI thread to Fyne and runs its loop.
	d.ut = newUIThread()
	d.app.Lifecycle().SetOnStarted(d.started)
	d.u = ui.New(d.ctx, d.app, ui.Deps{
		Engine:     core.Engine,
		Sched:      core.Sched,
		Dir:        d.dir,
		Version:    Version,
		Autostart:  newLoginEntry(d.dir),
		OpenFolder: openFolder,
		Quit:       d.quit,
		Dispatch:   d.ut.do,
		LazyWindow: true,
	})

	d.wg.Go(func() { _ = core.Sched.Run(d.ctx) })
	d.wg.Go(func() { d.u.Run(d.ctx) })
	// Webhooks and live connections: changes within seconds.
	if err := core.StartEvents(d.ctx); err != nil {
		core.Log.Warn("events", "err", err)
		fmt.Fprintf(d.stderr, "playmark: warning: %v\n", err)
	}
	d.wg.Go(func() {
		if done := core.EventsDone(); done != nil {
			<-done
		}
	})
	if d.inst != nil {
		d.wg.Go(func() { d.inst.serve(d.ctx, func() { d.ut.do(d.u.ShowWindow, false) }) })
	}
	// Ctrl+C and SIGTERM quit cleanly, in either mode (Fyne's loop
	// catches them too once it runs).
	d.sigs = make(chan os.Signal, 1)
	signal.Notify(d.sigs, os.Interrupt, syscall.SIGTERM)
	d.wg.Go(func() {
		select {
		case <-d.ctx.Done():
		case <-d.sigs:
			d.ut.do(d.quit, false)
		}
	})
	return nil
}

// tray puts Playmark in the system tray: our own over fyne.io/systray
// (Fyne's would start its loop's GL window), when the desktop has one:
// on Linux when there is a session bus (systray panics on quit without
// one; tray_dbus.go), on Windows and macOS always (tray_native.go).
// Without one the window says so (and closing it quits). Started hidden
// with a tray but no tray host showing it after trayWait (at login the
// tray may come up after us), the window shows rather than the app run
// invisible.
func (d *desktop) tray() {
	host, err := d.trayProbe()
	if err != nil {
		d.core.Log.Info("no tray: running without one", "err", err)
		d.u.NoTray()
		return
	}
	d.st = d.newTray(d.ut.do)
	d.u.AttachTray(d.st, d.st.SetTooltip, host)
	d.st.Start()
	if d.hidden {
		d.wg.Go(func() {
			select {
			case <-d.ctx.Done():
			case <-time.After(d.trayWait):
				if !host() {
					d.core.Log.Info("no tray host: showing the window")
					d.ut.do(d.u.ShowWindow, false)
				}
			}
		})
	}
}

// run is the UI thread until quit. Hidden with a tray (light), it serves
// the UI's calls itself until the window is wanted or the user quits;
// otherwise it shows the window. Then it hands the UI thread to Fyne and
// runs Fyne's loop until quit.
func (d *desktop) run() {
	light := d.hidden && d.st != nil
	d.core.Log.Info("desktop app started", "dir", d.dir, "tray", d.st != nil, "hidden", light)
	if light {
		d.ut.serve(func() bool { return d.quitting || d.u.Window.Visible() })
		if !d.quitting {
			d.core.Log.Info("window opened: starting the window's loop")
		}
	} else {
		d.u.ShowWindow()
	}
	if !d.quitting {
		d.ut.handOff() // may run a quit that was queued
	}
	if !d.quitting {
		d.runLoop()
	}
}

// started is Fyne's loop starting (its Lifecycle's OnStarted). UI thread.
func (d *desktop) started() { d.loopStarted = true }

// quit ends run: Fyne's loop when it runs, else the UI thread's serving.
// UI thread (the tray's and the window's Quit, Ctrl+Q, a signal).
func (d *desktop) quit() {
	if !d.loopStarted {
		d.quitting = true
		return
	}
	d.quitLoop()
}

// shutdown stops, in order: the UI thread (calls still queued are
// dropped), the tray, the loops and any run (cancelled: a run rolls back
// the batch it was writing and is recorded as cancelled), then waits for
// them, at most stopWait, and lets go of the config dir, the instance
// guard and the X display. It stops only what was started, so it also
// undoes a start that failed.
func (d *desktop) shutdown() {
	if d.ut != nil {
		d.ut.close()
	}
	if d.st != nil {
		d.st.Stop()
	}
	if d.cancel != nil {
		d.cancel()
	}
	if d.core != nil {
		d.core.Engine.Cancel()
		done := make(chan struct{})
		go func() {
			d.wg.Wait()
			if d.u != nil {
				d.u.Wait()
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(d.stopWait):
			d.core.Log.Warn("quit: background work did not stop in time")
		}
		d.core.Log.Info("desktop app quit")
	}
	if d.sigs != nil {
		signal.Stop(d.sigs)
	}
	if d.core != nil {
		d.core.Close()
	}
	d.release()
}

// release lets go of what preflight claimed: the instance guard and the
// probed X display.
func (d *desktop) release() {
	if d.inst != nil {
		d.inst.Close()
		d.inst = nil
	}
	if d.xconn != nil {
		d.xconn.Close()
		d.xconn = nil
	}
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
