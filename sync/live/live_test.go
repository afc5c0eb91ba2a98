package live

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// The tests run the manager against the simulated servers' real
// websockets and a real store. What each server's socket says, and how
// its client reads it, is tested with the client
// (sync/backend/plex/socket_test.go, sync/backend/mediabrowser/socket_test.go);
// here: connections, reconnects, gaps, the throttle.

type recorder struct{ ch chan engine.Event }

func (r *recorder) Enqueue(ev engine.Event) { r.ch <- ev }

func (r *recorder) next(t *testing.T) engine.Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(3 * time.Second):
		t.Fatal("no event within 3 s")
	}
	return engine.Event{}
}

func catalog() *simulate.Catalog {
	added := time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
	return simulate.NewCatalog(
		[]simulate.Show{{Key: "s1", Title: "Northern Lights", Year: 2019, GUIDs: []backend.GUID{{Kind: "tvdb", Value: "81189"}}}},
		[]simulate.Media{
			{Key: "heat", Type: backend.Movie, Title: "Heat", Year: 1995, Duration: 2 * time.Hour, Added: added, GUIDs: []backend.GUID{{Kind: "imdb", Value: "tt0113277"}}},
			{Key: "e1", Type: backend.Episode, Title: "Pilot", ShowKey: "s1", Season: 1, Episode: 1, Duration: 45 * time.Minute, Added: added},
		})
}

type world struct {
	t     *testing.T
	store *state.Store
	rec   *recorder
	m     *Manager
	gaps  chan string
	stop  func()
}

func newWorld(t *testing.T, opt Options) *world {
	t.Helper()
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, store: st, rec: &recorder{ch: make(chan engine.Event, 64)}, gaps: make(chan string, 16)}
	opt.OnGap = func(name string) { w.gaps <- name }
	if opt.MinBackoff == 0 {
		opt.MinBackoff = 20 * time.Millisecond
	}
	if opt.MaxBackoff == 0 {
		opt.MaxBackoff = 200 * time.Millisecond
	}
	w.m = New(st, engine.New(st, nil), w.rec, opt)
	return w
}

func (w *world) add(name string, srv simulate.Server, kind backend.Kind, live bool) {
	w.t.Helper()
	b := state.Backend{Name: name, Kind: kind, URL: srv.URL(), Token: srv.Token(), UserID: srv.UserID(), Import: state.ImportFull}
	b.Options.Live = live
	if _, err := w.store.AddBackend(context.Background(), b); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.m.Run(ctx); err != nil {
			w.t.Errorf("Run: %v", err)
		}
	}()
	w.stop = func() { cancel(); <-done }
	w.t.Cleanup(w.stop)
}

// waitFor polls cond for up to 3 s.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s; status %+v", what, w.m.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *world) status(name string) Status {
	for _, s := range w.m.Status() {
		if s.Backend == name {
			return s
		}
	}
	return Status{}
}

func (w *world) connected(name string) bool { return w.status(name).Connected }

func TestReconnectAfterADropReportsAGap(t *testing.T) {
	srv, err := simulate.NewJellyfin(catalog(), simulate.Options{LegacyAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w := newWorld(t, Options{})
	w.add("attic", srv, backend.Jellyfin, true)
	w.run()
	w.waitFor("the socket", func() bool { return w.connected("attic") && srv.Sockets() == 1 })
	select {
	case g := <-w.gaps:
		t.Fatalf("a gap on the first connection: %s", g)
	default:
	}
	start := time.Now()
	srv.DropSockets()
	select {
	case g := <-w.gaps:
		if g != "attic" {
			t.Errorf("gap for %q", g)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no gap reported after the socket dropped")
	}
	t.Logf("reconnected in %v", time.Since(start).Round(time.Millisecond))
	w.waitFor("the new socket", func() bool { return srv.Sockets() == 1 })
	if s := w.status("attic"); !s.Connected || s.Reconnects != 1 {
		t.Errorf("status %+v", s)
	}
	// And it hears again.
	srv.SetWatch("heat", simulate.Watch{Played: true})
	if ev := w.rec.next(t); ev.Kind != engine.EventPlayed {
		t.Errorf("after the reconnect: %+v", ev)
	}
}

func TestServerDownAtStartIsAGapOnceItAnswers(t *testing.T) {
	srv, err := simulate.NewEmby(catalog(), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.Faults().Add(simulate.Fault{Kind: simulate.FaultStatus, Path: "/embywebsocket", Status: 503, Times: 3})
	w := newWorld(t, Options{})
	w.add("cellar", srv, backend.Emby, true)
	w.run()
	select {
	case <-w.gaps:
	case <-time.After(3 * time.Second):
		t.Fatalf("no gap after the server came back; status %+v", w.m.Status())
	}
	if srv.Faults().Hits() != 3 {
		t.Errorf("%d refused attempts, want 3", srv.Faults().Hits())
	}
}

func TestLiveSwitchStartsAndStopsTheConnection(t *testing.T) {
	srv, err := simulate.NewPlex(catalog(), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w := newWorld(t, Options{Poll: time.Hour})
	w.add("den", srv, backend.Plex, false)
	w.run()
	time.Sleep(100 * time.Millisecond)
	if srv.Sockets() != 0 || len(w.m.Status()) != 0 {
		t.Fatalf("a connection with Live off: %d, %+v", srv.Sockets(), w.m.Status())
	}
	set := func(live bool) {
		b, err := w.store.Backend(context.Background(), "den")
		if err != nil {
			t.Fatal(err)
		}
		b.Options.Live = live
		if err := w.store.UpdateBackend(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		w.m.Reload()
	}
	set(true)
	w.waitFor("the socket", func() bool { return srv.Sockets() == 1 && w.connected("den") })
	set(false)
	w.waitFor("the socket to close", func() bool { return srv.Sockets() == 0 && len(w.m.Status()) == 0 })
	// Stopping the manager ends every connection.
	set(true)
	w.waitFor("the socket", func() bool { return srv.Sockets() == 1 })
	w.stop()
	w.waitFor("the socket to close on stop", func() bool { return srv.Sockets() == 0 })
}

func TestRejectedTokenIsReportedAndRetried(t *testing.T) {
	srv, err := simulate.NewJellyfin(catalog(), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w := newWorld(t, Options{})
	b := state.Backend{Name: "attic", Kind: "jellyfin", URL: srv.URL(), Token: "wrong-token", UserID: srv.UserID(), Import: state.ImportFull}
	b.Options.Live = true
	if _, err := w.store.AddBackend(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	w.run()
	w.waitFor("a failed attempt", func() bool { return strings.Contains(w.status("attic").Err, "token rejected") })
	if s := w.status("attic"); s.Connected || strings.Contains(s.Err, "wrong-token") {
		t.Errorf("status %+v (connected, or the token in the message)", s)
	}
	before := srv.Requests()
	time.Sleep(300 * time.Millisecond)
	if n := srv.Requests() - before; n < 1 || n > 10 {
		t.Errorf("%d attempts in 300 ms with a 20-200 ms backoff", n)
	}
}

func TestThrottleHoldsRepeatedPositions(t *testing.T) {
	var mu sync.Mutex
	var got []engine.Event
	th := &throttle{every: 200 * time.Millisecond, enqueue: func(ev engine.Event) { mu.Lock(); got = append(got, ev); mu.Unlock() },
		last: map[string]time.Time{}, pending: map[string]*time.Timer{}}
	defer th.stop()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	p := engine.Event{Backend: "den", ItemID: "1", Kind: engine.EventProgress}
	for range 5 {
		th.add(p, false) // playing, reported again and again
	}
	if count() != 1 {
		t.Fatalf("%d events at once, want 1", count())
	}
	time.Sleep(300 * time.Millisecond)
	if count() != 2 {
		t.Fatalf("%d events after the window, want 2 (the trailing read)", count())
	}
	th.add(p, false)
	th.add(p, true) // paused: at once, and it replaces the held one
	th.add(engine.Event{Backend: "den", ItemID: "2", Kind: engine.EventProgress}, false)
	th.add(engine.Event{Backend: "den", ItemID: "1", Kind: engine.EventPlayed}, false)
	time.Sleep(300 * time.Millisecond)
	if count() != 5 {
		t.Errorf("%d events, want 5: %+v", count(), got)
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	lo, hi := time.Second, time.Minute
	seen := map[time.Duration]bool{}
	for n := range 20 {
		d := backoff(n, lo, hi)
		want := min(lo<<min(n, 10), hi)
		if d < want/2 || d > want {
			t.Errorf("attempt %d: %v, want within [%v, %v]", n, d, want/2, want)
		}
		seen[d] = true
	}
	if len(seen) < 15 {
		t.Errorf("only %d distinct waits in 20: no jitter?", len(seen))
	}
}

// markPlayed marks an item played for a user through the API, with that
// user's token.
// TestJellyfinAPIKeyIsRefusedNotSilent: Jellyfin sends nothing to a socket
// opened with an API key (it has no user), so live on such a backend says
// why instead of connecting to hear nothing.
func TestJellyfinAPIKeyIsRefusedNotSilent(t *testing.T) {
	srv, err := simulate.NewJellyfin(catalog(), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w := newWorld(t, Options{})
	b := state.Backend{Name: "attic", Kind: "jellyfin", URL: srv.URL(), Token: srv.APIKey(), UserID: srv.UserID(), Import: state.ImportFull}
	b.Options.Live = true
	if _, err := w.store.AddBackend(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := CheckToken(context.Background(), w.m.open, b); !errors.Is(err, backend.ErrAPIKey) || !strings.Contains(err.Error(), "backend set attic --token") {
		t.Errorf("CheckToken with an API key: %v, want ErrAPIKey and what to do", err)
	}
	b.Token = srv.Token()
	if err := CheckToken(context.Background(), w.m.open, b); err != nil {
		t.Errorf("CheckToken with the user's token: %v", err)
	}
	w.run()
	w.waitFor("the refusal in the status", func() bool { return strings.Contains(w.status("attic").Err, "API key") })
	if srv.Sockets() != 0 || w.connected("attic") {
		t.Errorf("a socket was opened with the API key (%d open)", srv.Sockets())
	}
}
