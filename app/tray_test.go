//go:build !headless

package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// TestTrayReal runs the real program in a virtual X server with its own
// session bus, as a desktop would: it starts hidden in the tray, its
// StatusNotifierItem registers with a tray host (this test's), its menu
// shows the status rows and the actions, "Sync now" clicked over D-Bus
// runs a sync that the menu then reports, a second start shows the window
// instead of starting again, and Quit quits. Then (TestTrayHostLight) the
// app in the tray runs without GL until its window is opened.
//
// The checks that need the session bus run in a child test process
// (TestTrayHost) started under xvfb-run and dbus-run-session.
func TestTrayReal(t *testing.T) {
	for _, tool := range []string{"xvfb-run", "dbus-run-session", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install xvfb dbus xdotool): the real tray cannot be tested", tool)
		}
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "playmark")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	srv, err := StartSimulator(backend.Plex, SimOptions{Items: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := filepath.Join(tmp, "config")
	ctx := context.Background()
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddBackend(ctx, state.Backend{Name: "plex", Kind: "plex", URL: srv.URL(), Token: srv.Token(), Import: state.ImportFull}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	ctx, cancel := context.WithTimeout(ctx, 160*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xvfb-run", "-a", "-s", "-screen 0 1024x768x24", "dbus-run-session", "--",
		os.Args[0], "-test.run=^TestTrayHost(Light)?$", "-test.v", "-test.timeout=150s")
	cmd.Env = append(os.Environ(), "PLAYMARK_TRAY_HOST=1", "PLAYMARK_TRAY_BIN="+bin, "PLAYMARK_TRAY_DIR="+dir,
		"LANG=C.UTF-8", "XDG_CONFIG_HOME="+filepath.Join(tmp, "xdg"))
	out, err := cmd.CombinedOutput()
	t.Logf("tray host:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestTrayHost ") || !strings.Contains(string(out), "--- PASS: TestTrayHostLight ") {
		t.Fatalf("tray host failed: %v", err)
	}

	// The click ran a real sync, recorded as started from the tray.
	st, err = state.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(runs, func(r state.Run) bool { return r.Trigger == "tray" && r.Kind == "sync" })
	if i < 0 || runs[i].Status != state.RunOK {
		t.Fatalf("runs %+v: want an ok sync started from the tray", runs)
	}
	if c, _ := st.Counts(context.Background()); c.Items+c.Unmatched != 60 || c.Items < 50 {
		t.Errorf("%d items and %d unmatched after the sync, want the server's 60", c.Items, c.Unmatched)
	}
}

// watcher is a minimal StatusNotifierWatcher: the tray host side of the
// protocol, which items register with.
type watcher struct {
	mu    sync.Mutex
	items []string
}

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.items = append(w.items, string(sender)+service)
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

func (w *watcher) registered() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.items)
}

// menuItem is one entry of a com.canonical.dbusmenu layout.
type menuItem struct {
	id       int32
	label    string
	enabled  bool
	toggle   string
	checked  bool
	children []menuItem
}

func parseMenu(v any) menuItem {
	f := v.([]any)
	it := menuItem{id: f[0].(int32), enabled: true}
	props := f[1].(map[string]dbus.Variant)
	if l, ok := props["label"]; ok {
		it.label, _ = l.Value().(string)
	}
	if e, ok := props["enabled"]; ok {
		it.enabled, _ = e.Value().(bool)
	}
	if tt, ok := props["toggle-type"]; ok {
		it.toggle, _ = tt.Value().(string)
	}
	if ts, ok := props["toggle-state"]; ok {
		n, _ := ts.Value().(int32)
		it.checked = n == 1
	}
	if tp, ok := props["type"]; ok && tp.Value() == "separator" {
		it.label = "---"
	}
	for _, c := range f[2].([]dbus.Variant) {
		it.children = append(it.children, parseMenu(c.Value()))
	}
	return it
}

func (m menuItem) find(label string) (menuItem, bool) {
	for _, c := range m.children {
		if c.label == label {
			return c, true
		}
	}
	return menuItem{}, false
}

func (m menuItem) labels() []string {
	var out []string
	for _, c := range m.children {
		out = append(out, c.label)
	}
	return out
}

// trayHost is the tray host side of the tests run by TestTrayReal: a
// watcher on the private session bus (owned once per process).
var trayHost struct {
	once sync.Once
	conn *dbus.Conn
	w    *watcher
	err  error
}

func ownTrayHost(t *testing.T) (*dbus.Conn, *watcher) {
	t.Helper()
	trayHost.once.Do(func() {
		conn, err := dbus.SessionBus()
		if err != nil {
			trayHost.err = err
			return
		}
		w := &watcher{}
		if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
			trayHost.err = err
			return
		}
		if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
			trayHost.err = fmt.Errorf("owning the watcher name: %v %v", reply, err)
			return
		}
		trayHost.conn, trayHost.w = conn, w
	})
	if trayHost.err != nil {
		t.Fatal(trayHost.err)
	}
	return trayHost.conn, trayHost.w
}

// trayApp is the real app, started by a tray host test.
type trayApp struct {
	t       *testing.T
	cmd     *exec.Cmd
	out     bytes.Buffer
	exited  chan struct{} // closed when the app has exited, with exitErr set
	exitErr error
	name    string // its StatusNotifierItem's bus name
	item    dbus.BusObject
	menu    dbus.BusObject
}

// startTrayApp starts bin with args and waits for its tray item to be
// on the bus and registered with the tray host. The app is killed, if
// still running, and its output logged when the test ends.
func startTrayApp(t *testing.T, bin string, args ...string) *trayApp {
	t.Helper()
	conn, w := ownTrayHost(t)
	registered := len(w.registered())
	a := &trayApp{t: t, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.exitErr = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			a.cmd.Process.Kill()
			<-a.exited
		}
		t.Logf("app %d output:\n%s", a.cmd.Process.Pid, a.out.String())
	})
	a.name = fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", a.cmd.Process.Pid)
	a.item = conn.Object(a.name, "/StatusNotifierItem")
	a.menu = conn.Object(a.name, "/StatusNotifierItem/menu")
	a.waitFor("the tray item on the bus", func() bool {
		var names []string
		_ = conn.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names)
		return slices.Contains(names, a.name)
	})
	a.waitFor("the item to register with the tray host", func() bool { return len(w.registered()) > registered })
	return a
}

// waitFor waits up to 30 s for ok; the app must not exit meanwhile.
func (a *trayApp) waitFor(what string, ok func() bool) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-a.exited:
			a.t.Fatalf("the app exited while waiting for %s: %v", what, a.exitErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// layout reads the tray menu.
func (a *trayApp) layout() menuItem {
	a.t.Helper()
	call := a.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if call.Err != nil || len(call.Body) != 2 {
		a.t.Fatalf("GetLayout: %v", call.Err)
	}
	return parseMenu(call.Body[1])
}

// click clicks the top-level menu item labelled label, once the menu
// has it.
func (a *trayApp) click(label string) {
	a.t.Helper()
	var it menuItem
	a.waitFor("a menu item "+label, func() bool {
		var ok bool
		it, ok = a.layout().find(label)
		return ok
	})
	if call := a.menu.Call("com.canonical.dbusmenu.Event", 0, it.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())); call.Err != nil {
		a.t.Fatalf("click %s: %v", label, call.Err)
	}
}

// quits waits for the app to exit cleanly.
func (a *trayApp) quits() {
	a.t.Helper()
	select {
	case <-a.exited:
		if a.exitErr != nil {
			a.t.Errorf("the app exited with %v", a.exitErr)
		}
	case <-time.After(15 * time.Second):
		a.t.Fatal("the app did not quit")
	}
	if strings.Contains(a.out.String(), "panic") {
		a.t.Error("the app panicked")
	}
	if strings.Contains(a.out.String(), "Fyne error") {
		a.t.Error("the app printed Fyne errors (settings storage, preferences, locale)")
	}
}

// glDriver lists the GL driver libraries the app has mapped: Mesa's
// (with LLVM, for its software renderer under Xvfb) are loaded when a GL
// context is made, which a window's first Show or Fyne's tray does.
func (a *trayApp) glDriver() []string {
	a.t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", a.cmd.Process.Pid))
	if err != nil {
		a.t.Fatal(err)
	}
	var libs []string
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		lib := filepath.Base(f[5])
		if (strings.HasPrefix(lib, "libLLVM") || strings.Contains(lib, "_dri.so") || strings.HasPrefix(lib, "libgallium")) &&
			!slices.Contains(libs, lib) {
			libs = append(libs, lib)
		}
	}
	return libs
}

// rss is the app's resident memory (VmRSS of /proc/PID/status), for the log.
func (a *trayApp) rss() string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(a.cmd.Process.Pid) + "/status")
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// windowVisible says whether a Playmark window is on screen.
func windowVisible() bool {
	return exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Playmark$").Run() == nil
}

// TestTrayHost is the part of TestTrayReal that runs on the private
// session bus. It does nothing unless TestTrayReal started it.
func TestTrayHost(t *testing.T) {
	if os.Getenv("PLAYMARK_TRAY_HOST") != "1" {
		t.Skip("run by TestTrayReal")
	}
	bin, dir := os.Getenv("PLAYMARK_TRAY_BIN"), os.Getenv("PLAYMARK_TRAY_DIR")
	app := startTrayApp(t, bin, "--config-dir", dir, "--hidden")
	layout, waitFor := app.layout, app.waitFor

	// The first GetLayout is cut to one level (a workaround in systray for
	// some hosts); the UI's first refresh follows the start. Wait for the
	// menu built from the store.
	var m menuItem
	waitFor("the status rows", func() bool {
		m = layout()
		_, ok := m.find("plex: never synced")
		return ok
	})
	t.Logf("menu: %q", m.labels())
	want := []string{"Last import: never", "Last export: never", "Next run: none (schedules are off)", "plex: never synced", "---",
		"Sync now", "Import now", "Export now", "Preview (dry run)", "---", "Pause schedules", "---", "Open Playmark", "Start at login", "---", "Quit"}
	if got := m.labels(); !slices.Equal(got, want) {
		t.Errorf("menu labels:\n%q\nwant:\n%q", got, want)
	}
	for _, row := range want[:4] {
		if it, _ := m.find(row); it.enabled {
			t.Errorf("status row %q is clickable", row)
		}
	}
	if it, _ := m.find("Export now"); it.enabled {
		t.Error("Export now is enabled with no backend exporting")
	}
	if it, _ := m.find("Sync now"); !it.enabled {
		t.Error("Sync now is disabled")
	}
	// After a rebuild, systray answers the first GetLayout one level deep
	// (for some hosts); the submenu shows on the next.
	var pause menuItem
	waitFor("the pause submenu", func() bool {
		pause, _ = layout().find("Pause schedules")
		return len(pause.children) > 0
	})
	if got := pause.labels(); !slices.Equal(got, []string{"For 30 minutes", "For 1 hour", "Until resumed"}) {
		t.Errorf("pause submenu %q", got)
	}

	// The app sets the title right after the item registers: read it
	// until it is there (a CI run once read it before it was set).
	var title string
	var terr error
	waitFor("the tray title", func() bool {
		terr = app.item.StoreProperty("org.kde.StatusNotifierItem.Title", &title)
		return terr == nil && title == "Playmark"
	})
	if terr != nil || title != "Playmark" {
		t.Errorf("title %q (%v), want Playmark", title, terr)
	}
	tooltip := func() string {
		v, err := app.item.GetProperty("org.kde.StatusNotifierItem.ToolTip")
		if err != nil {
			t.Fatalf("tooltip: %v", err)
		}
		f, _ := v.Value().([]any)
		if len(f) < 3 {
			t.Fatalf("tooltip %v", v)
		}
		s, _ := f[2].(string)
		return s
	}
	waitFor("the tooltip", func() bool { return tooltip() == "Playmark: Not synced yet" })
	var pixmaps []struct {
		W, H int32
		Pix  []byte
	}
	if err := app.item.StoreProperty("org.kde.StatusNotifierItem.IconPixmap", &pixmaps); err != nil || len(pixmaps) == 0 ||
		pixmaps[0].W != 64 || len(pixmaps[0].Pix) != 64*64*4 {
		t.Errorf("icon pixmap: %v, %d pixmaps", err, len(pixmaps))
	}

	// Started with --hidden: no window on screen.
	if windowVisible() {
		t.Error("--hidden showed the window")
	}

	// Click Sync now; the menu reports the run.
	app.click("Sync now")
	waitFor("the sync to show in the menu", func() bool {
		m = layout()
		_, ok := m.find("plex: ok")
		for _, l := range m.labels() {
			if strings.HasPrefix(l, "Last import: ok, ") && ok {
				return true
			}
		}
		return false
	})
	t.Logf("menu after the sync: %q", m.labels())
	// All that while in the tray only: no GL.
	if libs := app.glDriver(); len(libs) > 0 {
		t.Errorf("hidden in the tray, the app loaded the GL driver %v", libs)
	}
	t.Logf("in the tray after a sync: RSS %s", app.rss())
	// The tooltip follows the menu (the icon is set between them): wait
	// for it rather than read it once (a loaded run read the old one).
	waitFor("the tooltip after the sync", func() bool { return strings.HasPrefix(tooltip(), "Playmark: Last sync ") })

	// A second start shows the first one's window and exits.
	second := exec.Command(bin, "--config-dir", dir)
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second start: %v\n%s", err, out)
	}
	waitFor("the window to show", windowVisible)

	// Quit from the tray: the app exits cleanly.
	app.click("Quit")
	app.quits()
}

// TestTrayHostLight, run by TestTrayReal after TestTrayHost: started in
// the tray, the app runs without Fyne's loop and without GL (no window,
// no GL context, no Mesa or LLVM mapped) until its window is wanted: the
// tray's Quit quits it from there; "Open Playmark" and a click on the
// icon show the window, which draws; Quit then quits.
func TestTrayHostLight(t *testing.T) {
	if os.Getenv("PLAYMARK_TRAY_HOST") != "1" {
		t.Skip("run by TestTrayReal")
	}
	bin, dir := os.Getenv("PLAYMARK_TRAY_BIN"), os.Getenv("PLAYMARK_TRAY_DIR")
	hidden := func(t *testing.T) *trayApp {
		t.Helper()
		app := startTrayApp(t, bin, "--config-dir", dir, "--hidden")
		app.waitFor("the status rows", func() bool {
			_, ok := app.layout().find("plex: ok")
			return ok
		})
		time.Sleep(time.Second) // give a GL driver, if any, time to load
		if windowVisible() {
			t.Fatal("--hidden showed the window")
		}
		if libs := app.glDriver(); len(libs) > 0 {
			t.Errorf("hidden in the tray, the app loaded the GL driver %v", libs)
		}
		t.Logf("in the tray: RSS %s", app.rss())
		return app
	}

	t.Run("quit from the tray", func(t *testing.T) {
		app := hidden(t)
		app.click("Quit")
		app.quits()
		if windowVisible() {
			t.Error("the window showed on the way out")
		}
	})

	t.Run("open from the menu", func(t *testing.T) {
		app := hidden(t)
		app.click("Open Playmark")
		app.waitFor("the window to show", windowVisible)
		libs := app.glDriver()
		t.Logf("window shown: RSS %s, GL driver %v", app.rss(), libs)
		if len(libs) == 0 {
			// Not an error: another GL stack; the checks above then
			// prove less.
			t.Log("no GL driver library recognised in the shown app's maps")
		}
		// Fyne's loop runs now; the tray's clicks go through it.
		app.click("Quit")
		app.quits()
	})

	t.Run("open with a click on the icon", func(t *testing.T) {
		app := hidden(t)
		if call := app.item.Call("org.kde.StatusNotifierItem.Activate", 0, int32(0), int32(0)); call.Err != nil {
			t.Fatalf("Activate: %v", call.Err)
		}
		app.waitFor("the window to show", windowVisible)
		app.click("Quit")
		app.quits()
	})
}
