package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// TestConcurrentRunsAndEvents starts a "scheduled" sync, a manual one and
// a stream of events at once: runs take turns (or are refused as busy),
// no database error reaches anyone, and nothing is lost.
func TestConcurrentRunsAndEvents(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 400, Seed: 4})
	w := newWorld(t, cat, faultSeed(cat))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.eng.RunEvents(ctx, nil)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	busy := 0
	var mu sync.Mutex
	run := func(opt RunOptions) {
		defer wg.Done()
		_, err := w.eng.Sync(ctx, opt)
		if errors.Is(err, ErrBusy) && !opt.Wait {
			mu.Lock()
			busy++
			mu.Unlock()
			return
		}
		if err != nil {
			errs <- err
		}
	}
	// Marks made on Plex while all this goes on, each announced by an event.
	var marked []string
	for _, m := range cat.Media[:60] {
		if len(m.GUIDs) > 0 {
			marked = append(marked, m.Key)
		}
	}
	wg.Add(4)
	go run(RunOptions{Trigger: "schedule", Wait: true})
	go run(RunOptions{Trigger: "tray", Wait: true})
	go run(RunOptions{Trigger: "tray"}) // refused or runs: never an error
	go func() {
		defer wg.Done()
		for _, k := range marked {
			w.servers["plex"].SetWatch(k, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: w.clock.now()})
			w.eng.Enqueue(Event{Backend: "plex", ItemID: w.servers["plex"].RemoteID(k), Kind: EventPlayed})
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	// Let the last events settle, then one more sync.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && w.eng.PendingEvents() > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * debounce)
	if _, err := w.eng.Sync(ctx, RunOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "SQLITE_BUSY") {
			t.Errorf("a database lock error reached the caller: %v", err)
		} else {
			t.Errorf("run error: %v", err)
		}
	}
	// No lost update: every mark made on Plex reached the others.
	for _, k := range marked {
		for _, s := range []string{"jellyfin", "emby"} {
			if !w.watch(s, k).Played {
				t.Errorf("%s: %s was marked on plex but never arrived; %s", s, k, w.explain(k))
			}
		}
	}
	runs, _ := w.store.Runs(context.Background(), 100)
	for _, r := range runs {
		if r.Status == state.RunFailed {
			t.Errorf("run %d (%s by %s) failed: %s", r.ID, r.Kind, r.Trigger, r.Message)
		}
	}
	t.Logf("%d runs, %d refused as busy", len(runs), busy)
}

// explain tells what the local state and the history know of media k, for
// a failure message.
func (w *world) explain(k string) string {
	ctx := context.Background()
	it := w.localItem(k)
	out := fmt.Sprintf("local %+v;", it)
	for _, name := range []string{"plex", "jellyfin", "emby"} {
		b := w.backend(name)
		tx, _ := w.store.Begin(ctx)
		r, ok, _ := tx.Remote(b.ID, w.servers[name].RemoteID(k))
		tx.Rollback()
		out += fmt.Sprintf(" %s sub-record %v %+v, server %+v, export cursor %d;", name, ok, r, w.servers[name].Watch(k), b.ExportCursor)
	}
	runs, _ := w.store.Runs(ctx, 100)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		out += fmt.Sprintf(" run %d %s/%s %s:", r.ID, r.Kind, r.Trigger, r.Status)
		for _, b := range r.Backends {
			out += fmt.Sprintf(" [%s %s %s r%d c%d s%d]", b.Phase, b.Backend, b.Mode, b.Read, b.Changed, b.Skipped)
		}
		chs, _ := w.store.Changes(ctx, r.ID, 10000)
		for _, c := range chs {
			if c.ItemID == it.ID {
				out += fmt.Sprintf(" {%s %s->%s %s}", c.Target, c.Before, c.After, c.Reason)
			}
		}
	}
	return out
}
