package engine

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
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
