package engine

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// Hostile servers, floods and data that must not be trusted: the cases
// beside the fault matrix (faults_test.go).

// syncBuffer is a bytes.Buffer for a logger written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// withLog replaces the world's engine by one that logs to the returned
// buffer.
func (w *world) withLog() *syncBuffer {
	buf := &syncBuffer{}
	w.eng = New(w.store, slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	w.eng.SetClock(w.clock.now)
	w.eng.SetTransportOptions(backend.TransportOptions{Timeout: 10 * time.Second, MaxRetryWait: 10 * time.Millisecond})
	return buf
}

// TestEventsApplyWithinTwoSecondsUnderAStream: one event every 300 ms
// (each used to restart the 1.5 s wait) must not keep a mark from being
// applied: a batch goes at most ~2 s after its first event.
func TestEventsApplyWithinTwoSecondsUnderAStream(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{})
	w.sync(RunOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	applied := make(chan time.Time, 16)
	go w.eng.RunEvents(ctx, func(r *Report, err error) {
		if err != nil {
			t.Errorf("event run: %v", err)
		}
		applied <- time.Now()
	})
	w.clock.add(time.Hour)
	w.servers["plex"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: w.clock.now()})
	start := time.Now()
	w.eng.Enqueue(Event{Backend: "plex", ItemID: w.servers["plex"].RemoteID("heat"), Kind: EventPlayed})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a steady stream of playback events for another item
		defer close(done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				w.eng.Enqueue(Event{Backend: "jellyfin", ItemID: w.servers["jellyfin"].RemoteID("alien"), Kind: EventProgress})
			}
		}
	}()
	defer func() { close(stop); <-done }()
	select {
	case at := <-applied:
		took := at.Sub(start)
		t.Logf("applied %v after the first event, under a stream", took.Round(time.Millisecond))
		if took > 3500*time.Millisecond {
			t.Errorf("applied %v after the first event, want about 2 s plus the run", took)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("nothing applied within 6 s under a stream of events")
	}
	for _, s := range []string{"jellyfin", "emby"} {
		if !w.watch(s, "heat").Played {
			t.Errorf("%s: heat not played after the first batch", s)
		}
	}
}

// TestDroppedEventsAreLoggedAndImported: past the queue's bound, events
// are dropped with a log line, and their backend gets a quick import
// that finds what they were about.
func TestDroppedEventsAreLoggedAndImported(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{})
	w.sync(RunOptions{})
	logs := w.withLog()
	w.clock.add(time.Hour)
	// The event about heat is one of those dropped.
	w.servers["emby"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: w.clock.now()})
	for range maxPending {
		w.eng.Enqueue(Event{Backend: "jellyfin", ItemID: w.servers["jellyfin"].RemoteID("alien"), Kind: EventProgress})
	}
	w.eng.Enqueue(Event{Backend: "emby", ItemID: w.servers["emby"].RemoteID("heat"), Kind: EventPlayed})
	if !strings.Contains(logs.String(), "dropping") {
		t.Errorf("a dropped event left no log line; log:\n%s", logs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kinds := make(chan string, 4)
	go w.eng.RunEvents(ctx, func(r *Report, err error) {
		if err != nil {
			t.Errorf("event run: %v", err)
		}
		if r != nil {
			kinds <- r.Kind
		}
	})
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case k := <-kinds:
			got = append(got, k)
		case <-timeout:
			t.Fatalf("runs after a flood: %v, want the events' run and a catch-up import", got)
		}
	}
	if got[1] != "import" {
		t.Errorf("runs after a flood: %v, want a catch-up import", got)
	}
	if !w.localItem("heat").Watched {
		t.Error("the catch-up import did not find the play whose event was dropped")
	}
}

// hostile puts a proxy in front of a world's server: f answers the
// requests it wants to (returning true), the rest reach the server. The
// backend is pointed at the proxy.
func (w *world) hostile(name string, f func(w http.ResponseWriter, r *http.Request) bool) {
	w.t.Helper()
	target, _ := url.Parse(w.servers[name].URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	px := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !f(rw, r) {
			rp.ServeHTTP(rw, r)
		}
	}))
	w.t.Cleanup(px.Close)
	w.setBackend(name, func(b *state.Backend) { b.URL = px.URL })
}

// TestTokenEchoedInAnErrorIsRedacted: a server whose error body repeats
// the token does not get it stored or shown: not in the report, the
// run's history, the backend's last error or the log.
func TestTokenEchoedInAnErrorIsRedacted(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{})
	logs := w.withLog()
	token := w.servers["emby"].Token()
	w.hostile("emby", func(rw http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/Items") {
			return false
		}
		rw.WriteHeader(http.StatusBadRequest)
		rw.Write([]byte("Invalid token " + r.Header.Get("X-Emby-Token") + " for " + url.QueryEscape(r.Header.Get("X-Emby-Token"))))
		return true
	})
	rep := w.sync(RunOptions{})
	if len(rep.Failed()) == 0 {
		t.Fatal("the run did not fail")
	}
	var shown []string
	for _, b := range rep.Failed() {
		shown = append(shown, b.Error, b.Err.Error())
	}
	shown = append(shown, rep.FailedReason, w.backend("emby").LastError, logs.String())
	runs, err := w.store.Runs(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		shown = append(shown, r.Message)
		for _, b := range r.Backends {
			shown = append(shown, b.Error)
		}
	}
	for _, s := range shown {
		if strings.Contains(s, token) {
			t.Errorf("the token is shown: %q", s)
		}
	}
	if !strings.Contains(w.backend("emby").LastError, "[redacted]") {
		t.Errorf("the backend's error does not say what was redacted: %q", w.backend("emby").LastError)
	}
}

// TestHungBackendDoesNotHoldTheRun: a server that never answers costs its
// run one timeout, not four tries per request and phase; the others
// complete.
func TestHungBackendDoesNotHoldTheRun(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	const timeout = 400 * time.Millisecond
	w.eng.SetTransportOptions(backend.TransportOptions{Timeout: timeout, MaxRetries: 3, MaxRetryWait: 10 * time.Millisecond})
	w.servers["jellyfin"].Faults().Add(simulate.Fault{Kind: simulate.FaultHang})
	start := time.Now()
	rep := w.sync(RunOptions{})
	took := time.Since(start)
	t.Logf("a sync with one hung backend took %v (timeout %v)", took.Round(time.Millisecond), timeout)
	for _, b := range rep.Backends {
		if b.Backend != "jellyfin" && b.Err != nil {
			t.Errorf("%s %s failed: %v", b.Phase, b.Backend, b.Err)
		}
		if b.Backend == "jellyfin" && (b.Err == nil || !strings.Contains(b.Error, "unreachable")) {
			t.Errorf("%s jellyfin: %q, want unreachable", b.Phase, b.Error)
		}
	}
	if took > 2*timeout {
		t.Errorf("the hung backend held the run %v, want about one timeout (%v)", took, timeout)
	}
	if n := w.servers["jellyfin"].Faults().Hits(); n != 1 {
		t.Errorf("the hung server was asked %d times in one run, want once", n)
	}
	if !w.watch("emby", "heat").Played {
		t.Error("emby did not get heat: the others did not complete")
	}
}

// TestBackendDeadlineBoundsASlowServer: a server that answers, but slowly
// enough that a run would take long, is given up at the backend's
// deadline, with a sentence that says so.
func TestBackendDeadlineBoundsASlowServer(t *testing.T) {
	cat := faultCatalog()
	w := newWorld(t, cat, faultSeed(cat))
	w.eng.SetPageSize(20)
	w.eng.SetBackendDeadline(time.Second)
	w.servers["emby"].Faults().Add(simulate.Fault{Kind: simulate.FaultLatency, Latency: 150 * time.Millisecond})
	start := time.Now()
	rep := w.sync(RunOptions{})
	took := time.Since(start)
	if took > 2500*time.Millisecond {
		t.Errorf("the run took %v with a 1 s deadline per backend", took)
	}
	failed := rep.Failed()
	if len(failed) == 0 {
		t.Fatal("the slow backend did not fail")
	}
	for _, b := range failed {
		if b.Backend != "emby" {
			t.Errorf("%s failed too: %s", b.Backend, b.Error)
		}
		if !strings.Contains(b.Error, "within 1s") {
			t.Errorf("%s %s: %q, want it to say the limit", b.Phase, b.Backend, b.Error)
		}
	}
}
