//go:build !headless

package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// fakeTray is the system tray in the lifecycle tests: it keeps the menu
// the UI sets and records what the desktop does with it.
type fakeTray struct {
	mu     sync.Mutex
	menu   *fyne.Menu
	events []string
	// ctxErr is the desktop's ctx.Err() when the tray was stopped.
	ctx    func() error
	ctxErr error
}

func (f *fakeTray) SetSystemTrayMenu(m *fyne.Menu)  { f.mu.Lock(); f.menu = m; f.mu.Unlock() }
func (f *fakeTray) SetSystemTrayIcon(fyne.Resource) {}
func (f *fakeTray) SetTooltip(string)               {}
func (f *fakeTray) Start()                          { f.record("start") }
func (f *fakeTray) Stop() {
	f.mu.Lock()
	f.ctxErr = f.ctx()
	f.mu.Unlock()
	f.record("stop")
}

func (f *fakeTray) record(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *fakeTray) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// item is the top-level menu item labelled label, once the menu has it
// enabled.
func (f *fakeTray) item(t *testing.T, label string) *fyne.MenuItem {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		m := f.menu
		f.mu.Unlock()
		if m != nil {
			for _, it := range m.Items {
				if it.Label == label && !it.Disabled {
					return it
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("no menu item %q", label)
	return nil
}

// lifecycle is a desktop over dir with Fyne's test app, a fake tray (host
// says whether a tray host shows it; nil: no tray at all) and a fake
// Fyne loop on the test's goroutine.
type lifecycle struct {
	*desktop
	tray      *fakeTray
	loopRan   bool
	loopQuit  bool
	fakeFyne  *fakeFyne
	stderrBuf *bytes.Buffer
}

func newLifecycle(t *testing.T, dir string, hidden bool, host func() bool) *lifecycle {
	t.Helper()
	t.Setenv("PLAYMARK_KEYRING", "off")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	l := &lifecycle{tray: &fakeTray{}, fakeFyne: newFakeFyne(), stderrBuf: &bytes.Buffer{}}
	d := newDesktop(dir, hidden, l.stderrBuf)
	l.desktop = d
	d.newApp = func() fyne.App { return test.NewTempApp(t) }
	d.trayProbe = func() (func() bool, error) {
		if host == nil {
			return nil, errors.New("no session bus")
		}
		return host, nil
	}
	d.newTray = func(func(func(), bool)) trayIcon {
		l.tray.ctx = d.ctx.Err
		return l.tray
	}
	// Fyne's loop: the fake one, which runs what fyne.Do is given.
	d.runLoop = func() {
		l.loopRan = true
		d.started()
		l.fakeFyne.loop(t, func() bool { return l.loopQuit })
	}
	d.quitLoop = func() { l.loopQuit = true }
	return l
}

// startAll runs start and tray and points the UI thread's hand-off at
// the fake loop.
func (l *lifecycle) startAll(t *testing.T) {
	t.Helper()
	if err := l.start(); err != nil {
		t.Fatal(err)
	}
	l.ut.fyneDo = l.fakeFyne.do
	l.desktop.tray()
}

// onUI runs f on the desktop's UI thread and waits for it.
func (l *lifecycle) onUI(f func()) { l.ut.do(f, true) }

// visible says, from the UI thread, whether the window shows.
func (l *lifecycle) visible() bool {
	var v bool
	l.onUI(func() { v = l.u.Window.Visible() })
	return v
}

// quitOnceVisible waits for the window to show, then quits from the UI
// thread; it quits anyway after a while, saying the window never showed.
func (l *lifecycle) quitOnceVisible(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for !l.visible() {
		if time.Now().After(deadline) {
			t.Errorf("the window did not show")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.ut.do(l.quit, false)
}

// Quit while a sync runs (started from the tray, its server hanging):
// shutdown cancels the run and waits for it, so the run is recorded as
// cancelled before the store closes, and the tray is off the bus before
// the loops are cancelled.
func TestDesktopQuitDuringARunCancelsItAndWaits(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Emby, SimOptions{Items: 50, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("PLAYMARK_KEYRING", "off")
	if code, _, stderr := pm(t, dir, "backend", "add", "emby", "--type", "emby", "--url", srv.URL(), "--token", srv.Token(), "--user", srv.UserID()); code != 0 {
		t.Fatal(stderr)
	}
	srv.Faults().Add(simulate.Fault{Kind: simulate.FaultHang, Path: "/Items"})

	l := newLifecycle(t, dir, false, func() bool { return true })
	l.stopWait = 30 * time.Second
	l.startAll(t)
	go func() {
		sync := l.tray.item(t, "Sync now")
		if sync == nil {
			l.ut.do(l.quit, false)
			return
		}
		l.ut.do(sync.Action, false)
		deadline := time.Now().Add(15 * time.Second)
		for {
			runs, err := l.core.Store.Runs(context.Background(), 1)
			if err == nil && len(runs) == 1 && runs[0].Status == state.RunRunning && runs[0].Trigger == "tray" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no sync running: %+v %v", runs, err)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // well into the hanging request
		if quit := l.tray.item(t, "Quit"); quit != nil {
			l.ut.do(quit.Action, false)
		}
	}()
	l.run()
	if !l.loopRan {
		t.Error("the window's loop never ran")
	}
	began := time.Now()
	l.shutdown()
	took := time.Since(began)
	t.Logf("shutdown took %v", took)
	if took > 10*time.Second {
		t.Errorf("shutdown took %v: the run was not cancelled", took)
	}
	if got := l.tray.recorded(); !slices.Equal(got, []string{"start", "stop"}) {
		t.Errorf("tray: %q, want started then stopped", got)
	}
	if l.tray.ctxErr != nil {
		t.Error("the loops were cancelled before the tray was stopped")
	}

	st, err := state.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), 1)
	if err != nil || len(runs) != 1 || runs[0].Status != state.RunCancelled {
		t.Fatalf("runs after quit: %+v %v; want the sync recorded as cancelled", runs, err)
	}
}

// No tray at all (no session bus): the window shows even when started
// hidden, rather than the app running invisible.
func TestDesktopWithoutATrayShowsTheWindow(t *testing.T) {
	l := newLifecycle(t, t.TempDir(), true, nil)
	l.startAll(t)
	go l.quitOnceVisible(t)
	l.run()
	l.shutdown()
	if !l.loopRan {
		t.Error("the window's loop never ran")
	}
	if got := l.tray.recorded(); len(got) != 0 {
		t.Errorf("tray %q with no session bus", got)
	}
}

// A tray that no tray host shows (the host never registers): started
// hidden, the window shows after trayWait.
func TestDesktopHiddenWithoutATrayHostShowsTheWindow(t *testing.T) {
	l := newLifecycle(t, t.TempDir(), true, func() bool { return false })
	l.trayWait = 100 * time.Millisecond
	l.startAll(t)
	go l.quitOnceVisible(t)
	l.run()
	l.shutdown()
	if got := l.tray.recorded(); !slices.Equal(got, []string{"start", "stop"}) {
		t.Errorf("tray: %q, want started then stopped", got)
	}
}

// Started hidden with a tray, Quit from the tray quits without ever
// starting the window's loop (no GL, nothing shown).
func TestDesktopQuitFromTheTrayBeforeTheWindow(t *testing.T) {
	l := newLifecycle(t, t.TempDir(), true, func() bool { return true })
	l.startAll(t)
	ran := make(chan struct{})
	go func() {
		if quit := l.tray.item(t, "Quit"); quit != nil {
			l.ut.do(quit.Action, false)
		} else {
			l.ut.do(l.quit, false)
		}
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Error("Quit from the tray did not end the tray's loop")
			l.ut.do(func() { l.quitting = true }, false)
		}
	}()
	l.run()
	close(ran)
	l.shutdown()
	if l.loopRan {
		t.Error("quitting from the tray started the window's loop")
	}
	if l.u.Window.Visible() {
		t.Error("the window showed")
	}
}

// A database that cannot be opened: the desktop says why, exits 1, and
// lets go of the config dir (another start may claim it).
func TestDesktopStartFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, state.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "wayland-test") // a display, never opened
	t.Setenv("PLAYMARK_KEYRING", "off")
	var stderr bytes.Buffer
	if code := runDesktop(dir, false, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "empty (0 bytes)") {
		t.Errorf("exit %d, stderr %q; want 1 and why", code, stderr.String())
	}
	inst, err := claimInstance(dir)
	if err != nil {
		t.Fatalf("the config dir is still claimed: %v", err)
	}
	inst.Close()
}
