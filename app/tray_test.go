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
// instead of starting again, and Quit quits.
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

	ctx, cancel := context.WithTimeout(ctx, 100*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xvfb-run", "-a", "-s", "-screen 0 1024x768x24", "dbus-run-session", "--",
		os.Args[0], "-test.run=^TestTrayHost$", "-test.v", "-test.timeout=90s")
	cmd.Env = append(os.Environ(), "PLAYMARK_TRAY_HOST=1", "PLAYMARK_TRAY_BIN="+bin, "PLAYMARK_TRAY_DIR="+dir,
		"LANG=en_US.UTF-8", "XDG_CONFIG_HOME="+filepath.Join(tmp, "xdg"))
	out, err := cmd.CombinedOutput()
	t.Logf("tray host:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: TestTrayHost") {
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

// TestTrayHost is the part of TestTrayReal that runs on the private
// session bus. It does nothing unless TestTrayReal started it.
func TestTrayHost(t *testing.T) {
	if os.Getenv("PLAYMARK_TRAY_HOST") != "1" {
		t.Skip("run by TestTrayReal")
	}
	bin, dir := os.Getenv("PLAYMARK_TRAY_BIN"), os.Getenv("PLAYMARK_TRAY_DIR")
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning the watcher name: %v %v", reply, err)
	}

	var appOut bytes.Buffer
	app := exec.Command(bin, "--config-dir", dir, "--hidden")
	app.Stdout, app.Stderr = &appOut, &appOut
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when the app has exited, with exitErr set
	var exitErr error
	go func() {
		exitErr = app.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			app.Process.Kill()
			<-exited
		}
		t.Logf("app output:\n%s", appOut.String())
	}()

	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", app.Process.Pid)
	item := conn.Object(name, "/StatusNotifierItem")
	menuObj := conn.Object(name, "/StatusNotifierItem/menu")
	layout := func() menuItem {
		t.Helper()
		call := menuObj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
		if call.Err != nil || len(call.Body) != 2 {
			t.Fatalf("GetLayout: %v", call.Err)
		}
		return parseMenu(call.Body[1])
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			select {
			case <-exited:
				t.Fatalf("the app exited while waiting for %s: %v", what, exitErr)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	waitFor("the tray item on the bus", func() bool {
		var names []string
		_ = conn.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names)
		return slices.Contains(names, name)
	})
	waitFor("the item to register with the tray host", func() bool { return len(w.registered()) > 0 })

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
		terr = item.StoreProperty("org.kde.StatusNotifierItem.Title", &title)
		return terr == nil && title == "Playmark"
	})
	if terr != nil || title != "Playmark" {
		t.Errorf("title %q (%v), want Playmark", title, terr)
	}
	tooltip := func() string {
		v, err := item.GetProperty("org.kde.StatusNotifierItem.ToolTip")
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
	if err := item.StoreProperty("org.kde.StatusNotifierItem.IconPixmap", &pixmaps); err != nil || len(pixmaps) == 0 ||
		pixmaps[0].W != 64 || len(pixmaps[0].Pix) != 64*64*4 {
		t.Errorf("icon pixmap: %v, %d pixmaps", err, len(pixmaps))
	}

	// Started with --hidden: no window on screen.
	visible := func() bool {
		return exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Playmark$").Run() == nil
	}
	if visible() {
		t.Error("--hidden showed the window")
	}

	// Click Sync now; the menu reports the run.
	sync, _ := m.find("Sync now")
	if call := menuObj.Call("com.canonical.dbusmenu.Event", 0, sync.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())); call.Err != nil {
		t.Fatalf("click: %v", call.Err)
	}
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
	if tip := tooltip(); !strings.HasPrefix(tip, "Playmark: Last sync ") {
		t.Errorf("tooltip after the sync: %q", tip)
	}

	// A second start shows the first one's window and exits.
	second := exec.Command(bin, "--config-dir", dir)
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second start: %v\n%s", err, out)
	}
	waitFor("the window to show", visible)

	// Quit from the tray: the app exits cleanly.
	quit, ok := m.find("Quit")
	if !ok {
		t.Fatal("no Quit")
	}
	if call := menuObj.Call("com.canonical.dbusmenu.Event", 0, quit.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())); call.Err != nil {
		t.Fatalf("click Quit: %v", call.Err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Errorf("the app exited with %v", exitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the app did not quit")
	}
	if strings.Contains(appOut.String(), "panic") {
		t.Error("the app panicked")
	}
}
