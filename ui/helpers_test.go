package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/state"
)

// env is a UI over a real store in a temp dir and the real engine.
type env struct {
	t     *testing.T
	app   fyne.App
	u     *UI
	st    *state.Store
	eng   *engine.Engine
	sched *schedule.Scheduler
	login *fakeLogin
	quits int
}

type fakeLogin struct {
	on  bool
	err error
}

func (f *fakeLogin) Enabled() bool { return f.on }
func (f *fakeLogin) SetEnabled(on bool) error {
	if f.err != nil {
		return f.err
	}
	f.on = on
	return nil
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, app: test.NewTempApp(t), login: &fakeLogin{}}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	e.eng = engine.New(st, nil)
	e.eng.SetTransportOptions(backend.TransportOptions{Timeout: 5 * time.Second, MaxRetries: -1})
	e.sched = schedule.New(func(ctx context.Context) ([]schedule.Task, error) { return nil, nil },
		func(context.Context, string) error { return nil })
	e.u = New(ctx, e.app, Deps{
		Engine: e.eng, Sched: e.sched, Dir: dir, Version: "test",
		Autostart: e.login,
		Quit:      func() { e.quits++ },
	})
	e.u.queue = &callQueue{}
	// Background work must end before the store closes (cleanups run last
	// first).
	t.Cleanup(func() { cancel(); e.u.Wait() })
	e.refresh()
	return e
}

// refresh reads everything and shows it, as the UI's loop does.
func (e *env) refresh() {
	e.t.Helper()
	if err := e.u.Refresh(); err != nil {
		e.t.Fatal(err)
	}
}

// settle waits for background work, then refreshes.
func (e *env) settle() {
	e.t.Helper()
	e.u.Wait()
	e.refresh()
}

// plexServer starts a simulated Plex server with n items.
func plexServer(t *testing.T, n int) simulate.Server {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: n, Seed: 1})
	srv, err := simulate.NewPlex(cat, simulate.Options{Name: "Test Plex",
		Watches: simulate.GenerateWatches(cat, 101, time.Now().UTC().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func jellyfinServer(t *testing.T, n int) *simulate.MediaBrowserServer {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: n, Seed: 1})
	srv, err := simulate.NewJellyfin(cat, simulate.Options{Name: "Test Jellyfin", LegacyAuth: true,
		Watches: simulate.GenerateWatches(cat, 202, time.Now().UTC().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// addBackend stores a backend pointing at srv.
func (e *env) addBackend(name string, kind backend.Kind, srv simulate.Server, export bool) state.Backend {
	e.t.Helper()
	b := state.Backend{Name: name, Kind: kind, URL: srv.URL(), Token: srv.Token(), Import: state.ImportFull, Export: export}
	if kind != backend.Plex {
		b.UserID = srv.UserID()
	}
	b, err := e.st.AddBackend(context.Background(), b)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) backend(name string) state.Backend {
	e.t.Helper()
	b, err := e.st.Backend(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) runs() []state.Run {
	e.t.Helper()
	runs, err := e.st.Runs(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return runs
}

// tapButton taps the visible, enabled button labelled label in the
// window, dialogs included (the newest overlay first).
func tapButton(t *testing.T, w fyne.Window, label string) {
	t.Helper()
	c := w.Canvas()
	var roots []fyne.CanvasObject
	overlays := c.Overlays().List()
	for i := len(overlays) - 1; i >= 0; i-- {
		roots = append(roots, overlays[i])
	}
	roots = append(roots, c.Content())
	for _, root := range roots {
		for _, o := range test.LaidOutObjects(root) {
			if b, ok := o.(*widget.Button); ok && b.Text == label && b.Visible() && !b.Disabled() {
				test.Tap(b)
				return
			}
		}
	}
	t.Fatalf("no enabled button %q on screen", label)
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

// revokeToken gives backend b a token its server rejects, as when the
// user revoked it on the server.
func (e *env) revokeToken(b state.Backend) {
	e.t.Helper()
	b.Token = "revoked"
	if err := e.st.UpdateBackend(context.Background(), b); err != nil {
		e.t.Fatal(err)
	}
}

// selectRun selects a run by id in the Activity list, as a click on its
// row does, and so shows its changes.
func selectRun(s *ActivityScreen, id int64) {
	for i, r := range s.runs {
		if r.ID == id {
			s.Runs.Select(widget.TableCellID{Row: i, Col: 0})
			return
		}
	}
}
