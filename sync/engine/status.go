package engine

import (
	"context"
	"time"
)

// Status is a snapshot of what the engine is doing, for the tray, the
// window and the CLI's progress line. Readers get copies.
type Status struct {
	Running bool
	Kind    string // import, export, sync
	DryRun  bool
	Trigger string
	Started time.Time
	Phase   string // import or export
	Backend string // the backend being worked on
	Done    int    // items done in this phase on this backend
	Total   int    // items expected; 0 when unknown
}

// Status returns the current snapshot.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// Subscribe returns a channel that receives a value after the status
// changes. Bursts coalesce: the channel holds at most one pending signal,
// so a slow reader sees the latest state, not every step. cancel stops
// the subscription.
func (e *Engine) Subscribe() (ch <-chan struct{}, cancel func()) {
	c := make(chan struct{}, 1)
	e.mu.Lock()
	e.subs = append(e.subs, c)
	e.mu.Unlock()
	return c, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, s := range e.subs {
			if s == c {
				e.subs = append(e.subs[:i], e.subs[i+1:]...)
				return
			}
		}
	}
}

// Notify tells subscribers that something besides a run changed (a
// backend was added, a setting saved), so that views refresh.
func (e *Engine) Notify() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.signal()
}

// Cancel cancels the run in progress, if any. A cancelled run rolls back
// the batch it was writing; what it had committed is consistent.
func (e *Engine) Cancel() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running == nil {
		return false
	}
	e.running()
	return true
}

// signal must be called with e.mu held.
func (e *Engine) signal() {
	for _, c := range e.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func (e *Engine) begin(kind string, opt RunOptions, cancel context.CancelFunc) {
	e.mu.Lock()
	e.status = Status{Running: true, Kind: kind, DryRun: opt.DryRun, Trigger: opt.Trigger, Started: e.now()}
	e.running = cancel
	e.signal()
	st := e.status
	e.mu.Unlock()
	if opt.Progress != nil {
		opt.Progress(st)
	}
}

func (e *Engine) end() {
	e.mu.Lock()
	e.status = Status{}
	e.running = nil
	e.signal()
	e.mu.Unlock()
}

// progress publishes the phase, backend and counts of the running run.
func (r *run) progress(phase, backend string, done, total int) {
	e := r.e
	e.mu.Lock()
	e.status.Phase, e.status.Backend, e.status.Done, e.status.Total = phase, backend, done, total
	e.signal()
	st := e.status
	e.mu.Unlock()
	if r.opt.Progress != nil {
		r.opt.Progress(st)
	}
}
