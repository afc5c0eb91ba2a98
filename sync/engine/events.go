package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// EventKind is what a server said happened.
type EventKind int

// Event kinds. Played and Unplayed are the user marking an item; Progress
// covers play, pause, resume and stop, which are "tainted": they may move
// the resume position, never the watched flag; Added is a new item.
const (
	EventPlayed EventKind = iota
	EventUnplayed
	EventProgress
	EventAdded
)

func (k EventKind) String() string {
	return [...]string{"played", "unplayed", "progress", "added"}[k]
}

// Event is a change a backend reported by itself (a webhook or a live
// notification). Only the backend and the item's id are trusted: the
// engine re-reads the item from the server, so a forged or stale payload
// can at worst cause a read.
type Event struct {
	Backend string // the configured backend's name
	ItemID  string // the item's id on that backend
	Kind    EventKind
	At      time.Time // when the server says it happened; zero: now
}

// debounce is how long the engine waits for more events before it acts:
// long enough to batch a season marked at once, short enough to feel
// instant. maxBatchWait caps the wait: a batch is applied at most this
// long after its first event, however many follow (under one event a
// second, each restarting the wait, nothing was ever applied).
const (
	debounce     = 1500 * time.Millisecond
	maxBatchWait = 2 * time.Second
)

// maxPending bounds the queue; events past it are dropped, logged, and
// their backend gets a quick import instead.
const maxPending = 10000

// events queues events for the event loop.
type events struct {
	mu      sync.Mutex
	pending []Event
	dropped map[string]int // backend -> events dropped since the last catch-up
	wake    chan struct{}
}

// Enqueue hands an event to the engine; RunEvents applies it shortly
// after, together with any others that arrive meanwhile. It never blocks.
func (e *Engine) Enqueue(ev Event) {
	e.ev.mu.Lock()
	first := false
	if len(e.ev.pending) < maxPending {
		e.ev.pending = append(e.ev.pending, ev)
	} else {
		// A flood is bounded: the event is dropped, and a quick import of
		// its backend catches up after the batch.
		if e.ev.dropped == nil {
			e.ev.dropped = map[string]int{}
		}
		first = e.ev.dropped[ev.Backend] == 0
		e.ev.dropped[ev.Backend]++
	}
	e.ev.mu.Unlock()
	if first {
		e.log.Warn("too many events queued: dropping them; a quick import will catch up", "backend", ev.Backend, "queued", maxPending)
	}
	select {
	case e.ev.wake <- struct{}{}:
	default:
	}
}

// PendingEvents is the number of events waiting to be applied.
func (e *Engine) PendingEvents() int {
	e.ev.mu.Lock()
	defer e.ev.mu.Unlock()
	return len(e.ev.pending)
}

// RunEvents applies queued events until ctx ends: it waits for a quiet
// moment (debounce) or at most maxBatchWait after the batch's first
// event, then runs one "webhook" run over everything queued. Backends
// whose events were dropped then get a quick import. onReport, when set,
// receives each run's report.
func (e *Engine) RunEvents(ctx context.Context, onReport func(*Report, error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.ev.wake:
		}
		// Let a burst settle, but not for longer than maxBatchWait.
		first := time.Now()
		for settled := false; !settled; {
			wait := min(debounce, maxBatchWait-time.Since(first))
			if wait <= 0 {
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-e.ev.wake:
				t.Stop()
			case <-t.C:
				settled = true
			}
		}
		e.ev.mu.Lock()
		batch := e.ev.pending
		e.ev.pending = nil
		dropped := e.ev.dropped
		e.ev.dropped = nil
		e.ev.mu.Unlock()
		if len(batch) > 0 {
			rep, err := e.HandleEvents(ctx, batch)
			if onReport != nil {
				onReport(rep, err)
			}
		}
		if len(dropped) > 0 {
			rep, err := e.catchUp(ctx, dropped)
			if onReport != nil && (rep != nil || err != nil) {
				onReport(rep, err)
			}
		}
	}
}

// catchUp runs a quick import of the backends whose events were dropped.
func (e *Engine) catchUp(ctx context.Context, dropped map[string]int) (*Report, error) {
	var names []string
	for name, n := range dropped {
		if _, err := e.store.Backend(ctx, name); err != nil {
			continue // removed meanwhile
		}
		e.log.Warn("events were dropped: importing to catch up", "backend", name, "dropped", n)
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.Sort(names)
	return e.Import(ctx, RunOptions{Backends: names, Wait: true, Trigger: "webhook"})
}

// HandleEvents applies events now, as one run: each reported item is
// re-read from its server and merged into the local state (play and
// un-watch marks by the usual rules, playback events for the position
// only), then every backend with export on gets the changes pushed. It
// waits for a running run to finish.
func (e *Engine) HandleEvents(ctx context.Context, evs []Event) (*Report, error) {
	return e.do(ctx, "webhook", RunOptions{Wait: true, Trigger: "webhook"}, func(ctx context.Context, r *run) error {
		byBackend := map[string][]Event{}
		var order []string
		for _, ev := range evs {
			if _, ok := byBackend[ev.Backend]; !ok {
				order = append(order, ev.Backend)
			}
			byBackend[ev.Backend] = append(byBackend[ev.Backend], ev)
		}
		for _, name := range order {
			b, err := e.store.Backend(ctx, name)
			if err != nil {
				r.report.Backends = append(r.report.Backends, BackendReport{RunBackend: state.RunBackend{Phase: "import", Backend: name, Error: err.Error()}, Err: err})
				continue
			}
			if b.Import == state.ImportOff {
				continue
			}
			r.report.Backends = append(r.report.Backends, r.applyEvents(ctx, b, byBackend[name]))
		}
		// Push to every backend with export on. The changed set is small,
		// so this is push mode: a batched re-read and the writes.
		return r.exportAll(ctx)
	})
}

func (r *run) applyEvents(ctx context.Context, b state.Backend, evs []Event) (rep BackendReport) {
	rep.Phase, rep.Backend, rep.Mode = "import", b.Name, "event"
	started := r.e.now()
	var tr *backend.Transport
	defer func() { r.finishPhase(&rep, started, tr, r.e.log.With("backend", b.Name, "phase", "event")) }()
	ctx, done, derr := r.backendCtx(ctx, b.Name)
	if derr != nil {
		rep.Err = derr
		return rep
	}
	defer done()
	client, t, err := r.e.Open(ctx, b)
	if err != nil {
		rep.Err = err
		return rep
	}
	tr = t
	// The last event per item decides how it is treated.
	kind := map[string]EventKind{}
	when := map[string]time.Time{}
	var ids []string
	for _, ev := range evs {
		if !validID(ev.ItemID) {
			// A payload's id goes into a request's path: only ids.
			rep.Skipped++
			r.e.log.Warn("event ignored: its item id is not an id", "backend", b.Name, "id", ev.ItemID)
			continue
		}
		if _, ok := kind[ev.ItemID]; !ok {
			ids = append(ids, ev.ItemID)
		}
		kind[ev.ItemID], when[ev.ItemID] = ev.Kind, ev.At
	}
	items, err := client.Get(ctx, ids)
	if rejected(err) {
		if c2, t2, ok := r.renewAndOpen(ctx, &b); ok { // renew.go
			client, tr = c2, t2
			items, err = client.Get(ctx, ids)
		}
	}
	if err != nil {
		rep.Err = err
		return rep
	}
	tx, finish, err := r.begin(ctx, fmt.Sprintf("events_%d", b.ID), b)
	if err != nil {
		rep.Err = err
		return rep
	}
	now := r.e.now().UTC().Truncate(time.Second)
	for i := range items {
		it := &items[i]
		k, ok := kind[it.ID]
		if !ok {
			// An id spelled differently from the event's: the safe reading
			// is a playback event, which never flips the watched flag.
			k = EventProgress
		}
		// remotes: true, so that the item is matched by this backend's
		// own id first and decide sees what the backend showed last time:
		// without it an un-watch looked like a backend that never had
		// the item played, and was dropped (issue 20).
		im := &importer{r: r, b: b, mode: b.Import, tx: tx, start: now, rep: &rep, tainted: k == EventProgress, remotes: true}
		if k == EventUnplayed {
			// The server just told us: the un-watch is when it was
			// announced (now when the event does not say, or says a time
			// ahead of ours), not some time since the last read.
			im.b.LastImport = time.Time{}
			if at := secs(when[it.ID]); !at.IsZero() && !at.After(now) {
				im.at = at
			}
		}
		if err := im.item(it); err != nil {
			_ = finish(false)
			rep.Err = err
			return rep
		}
	}
	if err := finish(true); err != nil {
		rep.Err = err
	}
	if rep.Err == nil && len(items) < len(ids) {
		rep.Skipped += len(ids) - len(items) // gone from the server
	}
	return rep
}
