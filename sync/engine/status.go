package engine

import (
	"context"
	"slices"
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
	// Backends is every backend of the run so far, in the order the run
	// came to them: its phase, its counts and how its last phase ended,
	// for a progress bar per backend.
	Backends []BackendStatus
}

// BackendStatus is one backend's part of the run in progress.
type BackendStatus struct {
	Name  string
	Phase string // import, export, restore; "" while it waits its turn
	Done  int
	Total int    // 0 when unknown
	State string // BackendWaiting, BackendWorking, BackendDone, BackendFailed
	Error string // why it failed, in words
}

// The states of a BackendStatus.
const (
	BackendWaiting = "waiting"
	BackendWorking = "working"
	BackendDone    = "done"
	BackendFailed  = "failed"
)

// copyStatus is st with its own Backends slice (readers get copies).
func copyStatus(st Status) Status {
	st.Backends = slices.Clone(st.Backends)
	return st
}

// Status returns the current snapshot.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return copyStatus(e.status)
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
	if backend != "" {
		b := e.status.backend(backend)
		b.Phase, b.Done, b.Total, b.State, b.Error = phase, done, total, BackendWorking, ""
	}
	e.signal()
	st := copyStatus(e.status)
	e.mu.Unlock()
	if r.opt.Progress != nil {
		r.opt.Progress(st)
	}
}

// backend is the entry of the backend called name, added (waiting) when
// it has none yet. With e.mu held.
func (st *Status) backend(name string) *BackendStatus {
	for i := range st.Backends {
		if st.Backends[i].Name == name {
			return &st.Backends[i]
		}
	}
	st.Backends = append(st.Backends, BackendStatus{Name: name, State: BackendWaiting})
	return &st.Backends[len(st.Backends)-1]
}

// expect lists the backends a phase is about to work on, waiting their
// turn (those listed already keep their entry).
func (r *run) expect(names []string) {
	e := r.e
	e.mu.Lock()
	for _, n := range names {
		e.status.backend(n)
	}
	e.signal()
	st := copyStatus(e.status)
	e.mu.Unlock()
	if r.opt.Progress != nil {
		r.opt.Progress(st)
	}
}

// phaseEnded marks how a backend's phase ended: done, or failed with why.
func (r *run) phaseEnded(name, phase, why string, failed bool) {
	e := r.e
	e.mu.Lock()
	b := e.status.backend(name)
	b.Phase, b.State, b.Error = phase, BackendDone, ""
	if failed {
		b.State, b.Error = BackendFailed, why
	}
	e.signal()
	st := copyStatus(e.status)
	e.mu.Unlock()
	if r.opt.Progress != nil {
		r.opt.Progress(st)
	}
}
