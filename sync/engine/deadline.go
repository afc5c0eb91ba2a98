package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"playmark/sync/backend"
)

// DefaultBackendDeadline is how long one backend may take over all its
// phases of one run (import, export, events) before it is given up: long
// enough for a full import of a large library, short enough that a
// server that trickles answers cannot hold the run lock for hours.
const DefaultBackendDeadline = 30 * time.Minute

// identifyTimeout bounds a backend's first request of a phase (who are
// you?), which a live server answers in milliseconds: a server that is
// hung from the start costs the run this, not a whole request timeout.
const identifyTimeout = 15 * time.Second

// identify asks the server who it is within identifyTimeout (or the
// engine's shorter transport timeout).
func (r *run) identify(ctx context.Context, client backend.Backend) (backend.ServerInfo, error) {
	d := r.e.identifyTimeout
	if d <= 0 {
		d = identifyTimeout
	}
	if t := r.e.transport.Timeout; t > 0 && t < d {
		d = t
	}
	ictx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	info, err := client.Identify(ictx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: no answer to who it is within %s: %w", backend.ErrUnreachable, d, err)
	}
	return info, err
}

// SetBackendDeadline sets the time one backend may take per run; 0
// restores DefaultBackendDeadline.
func (e *Engine) SetBackendDeadline(d time.Duration) { e.backendDeadline = d }

// budget is one backend's share of a run: its deadline, and the failure
// that made it unreachable, after which its other phases are not tried.
type budget struct {
	deadline time.Time
	down     error
}

type budgets struct {
	mu sync.Mutex
	m  map[string]*budget
}

// backendCtx is the context a phase of backend name runs in: ctx bounded
// by the backend's deadline in this run, which starts with its first
// phase. A backend found unreachable earlier in the run is not tried
// again: its earlier error comes back (a hung server used to cost every
// phase its own timeouts, one backend after the other).
func (r *run) backendCtx(ctx context.Context, name string) (context.Context, context.CancelFunc, error) {
	r.budgets.mu.Lock()
	defer r.budgets.mu.Unlock()
	if r.budgets.m == nil {
		r.budgets.m = map[string]*budget{}
	}
	b := r.budgets.m[name]
	if b == nil {
		d := r.e.backendDeadline
		if d <= 0 {
			d = DefaultBackendDeadline
		}
		b = &budget{deadline: time.Now().Add(d)}
		r.budgets.m[name] = b
	}
	if b.down != nil {
		return nil, nil, fmt.Errorf("not tried again in this run: %w", b.down)
	}
	c, cancel := context.WithDeadline(ctx, b.deadline)
	return c, cancel, nil
}

// phaseFailed notes a phase's failure: past the deadline any failure
// becomes ErrUnreachable saying so; an unreachable backend is marked down for
// the rest of the run.
func (r *run) phaseFailed(name string, err error) error {
	if err == nil {
		return nil
	}
	r.budgets.mu.Lock()
	defer r.budgets.mu.Unlock()
	b := r.budgets.m[name]
	if b == nil {
		return err
	}
	// Past the deadline, whatever the phase stopped on was the deadline's
	// doing: a query cut short by it says "sql: Rows are closed", not
	// context.DeadlineExceeded.
	if !time.Now().Before(b.deadline) && !errors.Is(err, backend.ErrUnreachable) {
		d := r.e.backendDeadline
		if d <= 0 {
			d = DefaultBackendDeadline
		}
		err = fmt.Errorf("%w: no complete answer within %s, the limit per backend and run: %w", backend.ErrUnreachable, d, err)
	}
	if errors.Is(err, backend.ErrUnreachable) && b.down == nil {
		b.down = err
	}
	return err
}

// knownSecrets are every backend's token and webhook secret, for redact.
func (e *Engine) knownSecrets(ctx context.Context) []string {
	bs, err := e.store.Backends(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, b := range bs {
		out = append(out, b.Token, b.Options.WebhookSecret)
	}
	return out
}

// redact is the one place error texts lose their secrets before they are
// stored (history, the backend's last error) or shown (reports, logs): a
// server may echo a token into an error body.
func (r *run) redact(s string) string { return backend.Redact(s, r.secrets...) }

func (r *run) redactErr(err error) error { return backend.RedactError(err, r.secrets...) }
