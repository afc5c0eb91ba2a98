package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
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
	if err := w.store.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Once the server is quick again, the next syncs converge.
	w.servers["emby"].Faults().Clear()
	for range 2 {
		w.clock.add(time.Minute)
		if rep := w.sync(RunOptions{}); len(rep.Failed()) > 0 {
			t.Fatalf("after the slowness: %v", failedBackends(rep))
		}
	}
}

// rewriting puts a proxy in front of a world's server that passes every
// request on, records its path, and lets edit change a JSON answer.
func (w *world) rewriting(name string, edit func(r *http.Request, body map[string]any) bool) *[]string {
	w.t.Helper()
	var mu sync.Mutex
	paths := &[]string{}
	target, _ := url.Parse(w.servers[name].URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil && edit(resp.Request, m) {
			raw, _ = json.Marshal(m)
		}
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		resp.Header.Set("Content-Length", fmt.Sprint(len(raw)))
		resp.Header.Del("Content-Encoding")
		return nil
	}
	px := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*paths = append(*paths, r.URL.EscapedPath())
		mu.Unlock()
		rp.ServeHTTP(rw, r)
	}))
	w.t.Cleanup(px.Close)
	w.setBackend(name, func(b *state.Backend) { b.URL = px.URL })
	return paths
}

// historyReasons are the reasons of every change the runs recorded.
func (w *world) historyReasons() string {
	w.t.Helper()
	ctx := context.Background()
	runs, err := w.store.Runs(ctx, 50)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, r := range runs {
		cs, err := w.store.Changes(ctx, r.ID, 1000)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, c := range cs {
			out = append(out, c.Item+": "+c.Reason)
		}
	}
	return strings.Join(out, "\n")
}

// TestYear9999PlayIsNotTakenAsNewer: a play dated far in the future on one
// server is not written to the others as newer, the user's un-watch
// elsewhere then sticks, and the history says what was not trusted. (The
// simulated Jellyfin keeps dates in Unix nanoseconds, which end in 2262:
// 2200 stands for 9999.)
func TestYear9999PlayIsNotTakenAsNewer(t *testing.T) {
	far := time.Date(2200, 12, 31, 23, 0, 0, 0, time.UTC)
	w := newWorld(t, scenarioCatalog(), seed{"jellyfin": {"heat": {Played: true, PlayCount: 1, LastPlayed: far}}})
	w.sync(RunOptions{})
	for _, s := range []string{"plex", "emby"} {
		if got := w.watch(s, "heat"); got.LastPlayed.After(w.clock.now().Add(48 * time.Hour)) {
			t.Errorf("%s got heat with play date %v", s, got.LastPlayed)
		}
	}
	if local := w.localItem("heat"); local.Updated.After(w.clock.now().Add(48 * time.Hour)) {
		t.Errorf("the local state took the play date %v", local.Updated)
	}
	if h := w.historyReasons(); !strings.Contains(h, "not trusted from jellyfin") || !strings.Contains(h, "2200-12-31") {
		t.Errorf("the history does not list the absurd date:\n%s", h)
	}
	// The user un-watches it on Emby: that must stick, sync after sync.
	w.clock.add(time.Hour)
	w.servers["emby"].SetWatch("heat", simulate.Watch{})
	for range 2 {
		w.clock.add(time.Minute)
		w.sync(RunOptions{})
	}
	if got := w.watch("emby", "heat"); got.Played {
		t.Errorf("the un-watch on emby was reverted (played %v)", got.LastPlayed)
	}
}

// TestAbsurdPositionIsNotStored: a resume position of 250,000 h on a 2 h
// film is dropped, not stored or sent on.
func TestAbsurdPositionIsNotStored(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"emby": {"alien": {Position: 250000 * time.Hour, LastPlayed: tPlay}}})
	w.sync(RunOptions{})
	if p := w.localItem("alien").Progress; p > 2*time.Hour {
		t.Errorf("stored a resume position of %v on a 2 h film", p)
	}
	for _, s := range []string{"plex", "jellyfin"} {
		if p := w.watch(s, "alien").Position; p > 2*time.Hour {
			t.Errorf("%s got a resume position of %v", s, p)
		}
	}
	if h := w.historyReasons(); !strings.Contains(h, "not trusted from emby") {
		t.Errorf("the history does not list the absurd position:\n%s", h)
	}
}

// TestIDThatIsNotAnIDNeverReachesAWrite: an Emby listing that calls an
// item ".." gets it skipped; no request path ever carries it.
func TestIDThatIsNotAnIDNeverReachesAWrite(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	heat := w.servers["emby"].RemoteID("heat")
	paths := w.rewriting("emby", func(r *http.Request, m map[string]any) bool {
		items, _ := m["Items"].([]any)
		changed := false
		for _, x := range items {
			if it, ok := x.(map[string]any); ok && it["Id"] == heat {
				it["Id"] = ".."
				changed = true
			}
		}
		return changed
	})
	w.sync(RunOptions{})
	for _, p := range *paths {
		if strings.Contains(p, "..") || strings.Contains(strings.ToLower(p), "%2e%2e") {
			t.Errorf("a request went to %s", p)
		}
	}
	if h := w.historyReasons(); !strings.Contains(h, "is not an id") {
		t.Errorf("the history does not list the bad id:\n%s", h)
	}
}

// remoteKnown says whether the local state has backend name's sub-record
// of media k.
func (w *world) remoteKnown(name, k string) bool {
	w.t.Helper()
	tx, err := w.store.Begin(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	defer tx.Rollback()
	_, _, ok, err := tx.RemoteItem(w.backend(name).ID, w.servers[name].RemoteID(k))
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

// TestEmptyObjectIsNotAnEmptyLibrary: a Jellyfin or Emby listing answered
// with {} (Plex: a list of sections with an empty MediaContainer) is a bad
// response, not a library with nothing in it (which dropped every record
// of the backend).
func TestEmptyObjectIsNotAnEmptyLibrary(t *testing.T) {
	for _, victim := range []string{"jellyfin", "emby", "plex"} {
		t.Run(victim, func(t *testing.T) {
			cat := faultCatalog()
			w := newWorld(t, cat, faultSeed(cat))
			w.sync(RunOptions{})
			empty := false
			w.rewriting(victim, func(r *http.Request, m map[string]any) bool {
				if !empty {
					return false
				}
				if victim == "plex" {
					if r.URL.Path != "/library/sections" {
						return false
					}
					m["MediaContainer"] = map[string]any{}
					return true
				}
				if !strings.HasSuffix(r.URL.Path, "/Items") || r.URL.Query().Get("ParentId") == "" {
					return false
				}
				clear(m)
				return true
			})
			empty = true
			w.clock.add(time.Minute)
			rep := w.sync(RunOptions{Full: true})
			failed := failedBackends(rep)
			if len(failed) == 0 || !strings.Contains(strings.Join(failed, " "), "bad response") {
				t.Errorf("a {} listing: failed %v, want %s's import to fail with a bad response", failed, victim)
			}
			lost := 0
			for _, m := range cat.Media {
				if !w.remoteKnown(victim, m.Key) {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("%d of %s's records were dropped after a {} listing", lost, victim)
			}
		})
	}
}

// TestShrunkListingIsHeld: a full listing that suddenly shows far fewer
// items (under half, and at least 100 fewer) is held: nothing forgotten,
// the cursor stays, the run says why; --yes applies it.
func TestShrunkListingIsHeld(t *testing.T) {
	cat := faultCatalog()
	w := newWorld(t, cat, faultSeed(cat))
	w.sync(RunOptions{})
	w.rewriting("jellyfin", func(r *http.Request, m map[string]any) bool {
		if !strings.HasSuffix(r.URL.Path, "/Items") || r.URL.Query().Get("ParentId") == "" {
			return false
		}
		items, _ := m["Items"].([]any)
		if len(items) > 5 {
			m["Items"] = items[:5]
		}
		m["TotalRecordCount"] = len(m["Items"].([]any))
		return true
	})
	before := w.backend("jellyfin").LastFullImport
	w.clock.add(time.Minute)
	rep := w.sync(RunOptions{Full: true})
	failed := strings.Join(failedBackends(rep), " ")
	if !strings.Contains(failed, "jellyfin") || !strings.Contains(failed, "nothing was forgotten") {
		t.Errorf("a shrunk listing: failed %q, want jellyfin's import held with a sentence", failed)
	}
	lost := 0
	for _, m := range cat.Media {
		if w.servers["jellyfin"].RemoteID(m.Key) != "" && !w.remoteKnown("jellyfin", m.Key) {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of jellyfin's records were forgotten after a shrunk listing", lost)
	}
	if got := w.backend("jellyfin").LastFullImport; !got.Equal(before) {
		t.Errorf("the held listing moved the full-import cursor from %v to %v", before, got)
	}
	// The user says the library really shrank.
	w.clock.add(time.Minute)
	rep = w.sync(RunOptions{Full: true, Yes: true})
	if f := failedBackends(rep); len(f) > 0 {
		t.Errorf("with --yes: %v", f)
	}
	if w.remoteKnown("jellyfin", cat.Media[len(cat.Media)-1].Key) && w.remoteKnown("jellyfin", cat.Media[len(cat.Media)-2].Key) {
		t.Error("with --yes the shrunk listing was not applied")
	}
}

// TestServerHungFromTheStartCostsLittle: a server that never answers its
// first request costs the run the short identity timeout, not a whole
// request timeout, and the others complete.
func TestServerHungFromTheStartCostsLittle(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	w.eng.SetTransportOptions(backend.TransportOptions{Timeout: 10 * time.Second, MaxRetryWait: 10 * time.Millisecond})
	w.eng.identifyTimeout = 300 * time.Millisecond
	w.servers["emby"].Faults().Add(simulate.Fault{Kind: simulate.FaultHang})
	start := time.Now()
	rep := w.sync(RunOptions{})
	took := time.Since(start)
	t.Logf("a sync with a server hung from the start took %v", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("the run took %v: the hung server held it for its whole request timeout", took)
	}
	for _, b := range rep.Backends {
		if b.Backend == "emby" && (b.Err == nil || !strings.Contains(b.Error, "unreachable")) {
			t.Errorf("%s emby: %q, want unreachable", b.Phase, b.Error)
		}
		if b.Backend != "emby" && b.Err != nil {
			t.Errorf("%s %s: %v", b.Phase, b.Backend, b.Err)
		}
	}
	if !w.watch("jellyfin", "heat").Played {
		t.Error("jellyfin did not get heat")
	}
}

// TestEventWithAnIDThatIsNotAnID: an event (a webhook, a socket message)
// naming an item "../.." is ignored with a log line, before any client
// sees it (the Plex client filters such ids too, the engine does not rely
// on it), and never reaches a request's path.
func TestEventWithAnIDThatIsNotAnID(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{})
	w.sync(RunOptions{})
	logs := w.withLog()
	paths := w.rewriting("plex", func(*http.Request, map[string]any) bool { return false })
	rep, err := w.eng.HandleEvents(context.Background(), []Event{
		{Backend: "plex", ItemID: "../../accounts", Kind: EventPlayed},
		{Backend: "plex", ItemID: w.servers["plex"].RemoteID("heat"), Kind: EventPlayed},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f := failedBackends(rep); len(f) > 0 {
		t.Errorf("failed: %v", f)
	}
	for _, p := range *paths {
		if strings.Contains(p, "..") || strings.Contains(strings.ToLower(p), "%2e%2e") {
			t.Errorf("a request went to %s", p)
		}
	}
	if !strings.Contains(logs.String(), "not an id") {
		t.Errorf("the ignored event left no log line:\n%s", logs)
	}
}

// Point 17 of issue 14: a run that never finishes (killed while one
// backend hangs) already shows the figures of the phases that ended.
func TestUnfinishedRunShowsItsFiguresSoFar(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	w.eng.SetTransportOptions(backend.TransportOptions{Timeout: 3 * time.Second, MaxRetries: 0})
	w.servers["jellyfin"].Faults().Add(simulate.Fault{Kind: simulate.FaultHang})
	done := make(chan *Report, 1)
	go func() { done <- w.sync(RunOptions{}) }()
	deadline := time.Now().Add(5 * time.Second)
	for w.servers["jellyfin"].Faults().Hits() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the run never reached the hung server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// While the run hangs on jellyfin, as a kill at this moment would
	// leave it: the run is still running, and the import of the backends
	// read before jellyfin is already on record.
	runs, err := w.store.Runs(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != state.RunRunning {
		t.Fatalf("runs %+v; want one, running", runs)
	}
	var recorded []string
	for _, b := range runs[0].Backends {
		recorded = append(recorded, b.Phase+" "+b.Backend)
		if b.Backend == "emby" && b.Phase == "import" && b.Read == 0 {
			t.Errorf("emby's import is on record with nothing read: %+v", b)
		}
	}
	if !slices.Contains(recorded, "import emby") {
		t.Errorf("figures on record during the run: %v; want emby's import (read before jellyfin)", recorded)
	}
	<-done
}
