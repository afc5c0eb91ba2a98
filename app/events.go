package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"playmark/sync/engine"
	"playmark/sync/live"
	"playmark/sync/webhook"
)

// eventLoops is what StartEvents started: the engine's event loop, the
// webhook listener (when on) and the live connections.
type eventLoops struct {
	addr string // the webhook listener's address; "" when off
	live *live.Manager
	done chan struct{} // closed when every loop has stopped
}

// StartEvents starts what makes a change on one server reach the others
// within seconds, until ctx ends:
//
//   - the engine's event loop (Engine.RunEvents), which applies what the
//     two sources below enqueue;
//   - the webhook listener on Settings.WebhookListen, when set: an
//     http.Server with timeouts serving /webhook/<secret> (package
//     webhook), shut down gracefully when ctx ends;
//   - the live notification sockets of backends with Live on (package
//     live); a socket that reconnects after a gap asks for a quick import
//     of its backend followed by an export, so nothing missed is lost.
//
// It returns at once. An error means the webhook listener could not
// start (its address is taken, say); the other loops run anyway. Call it
// once per Core; EventsDone says when everything it started has stopped.
func (c *Core) StartEvents(ctx context.Context) error {
	if c.events != nil {
		return errors.New("events already started")
	}
	ev := &eventLoops{done: make(chan struct{})}
	c.events = ev
	log := c.Log.With("unit", "events")
	var wg sync.WaitGroup

	wg.Go(func() {
		c.Engine.RunEvents(ctx, func(rep *engine.Report, err error) {
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("event run failed", "err", err)
			case rep != nil && rep.FailedReason != "":
				log.Warn("event run failed on a backend", "why", rep.FailedReason)
			}
		})
	})

	gaps := &gapQueue{wake: make(chan struct{}, 1), names: map[string]bool{}}
	wg.Go(func() { c.catchUp(ctx, gaps) })
	ev.live = live.New(c.Store, c.Engine, c.Engine, live.Options{OnGap: gaps.add, Log: log.With("part", "live")})
	wg.Go(func() { _ = ev.live.Run(ctx) })

	err := c.startWebhooks(ctx, ev, &wg)
	go func() {
		wg.Wait()
		close(ev.done)
	}()
	return err
}

// startWebhooks binds the webhook listener when the settings ask for one.
func (c *Core) startWebhooks(ctx context.Context, ev *eventLoops, wg *sync.WaitGroup) error {
	st, err := c.Store.Settings(ctx)
	if err != nil {
		return err
	}
	if st.WebhookListen == "" {
		return nil
	}
	log := c.Log.With("unit", "webhooks")
	ln, err := net.Listen("tcp", st.WebhookListen)
	if err != nil {
		return fmt.Errorf("webhook listener: %w", err)
	}
	ev.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle(webhook.Path, webhook.New(c.Store, c.Engine, c.Engine, webhook.Options{Log: log}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	log.Info("webhook listener started", "addr", ev.addr)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("webhook listener stopped", "err", err)
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return nil
}

// WebhookAddr is the address the webhook listener is bound to, or "" when
// it is off (or StartEvents was not called).
func (c *Core) WebhookAddr() string {
	if c.events == nil {
		return ""
	}
	return c.events.addr
}

// LiveStatus lists the live connections and their state.
func (c *Core) LiveStatus() []live.Status {
	if c.events == nil {
		return nil
	}
	return c.events.live.Status()
}

// EventsDone is closed once everything StartEvents started has stopped
// (after its context ended); nil before StartEvents.
func (c *Core) EventsDone() <-chan struct{} {
	if c.events == nil {
		return nil
	}
	return c.events.done
}

// gapQueue collects the backends whose live socket missed events; bursts
// (every socket dropping with the network) coalesce into one catch-up.
type gapQueue struct {
	mu    sync.Mutex
	names map[string]bool
	wake  chan struct{}
}

func (q *gapQueue) add(name string) {
	q.mu.Lock()
	q.names[name] = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *gapQueue) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for n := range q.names {
		out = append(out, n)
	}
	clear(q.names)
	return out
}

// catchUp runs a quick import of the backends that had a gap, then an
// export to every backend with export on, until ctx ends. A backend never
// imported is left to its first import, which the user starts.
func (c *Core) catchUp(ctx context.Context, q *gapQueue) {
	log := c.Log.With("unit", "live")
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		var names []string
		for _, n := range q.take() {
			if b, err := c.Store.Backend(ctx, n); err == nil && !b.LastImport.IsZero() {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
		}
		log.Info("catching up after a gap", "backends", names)
		if _, err := c.Engine.Import(ctx, engine.RunOptions{Backends: names, Wait: true, Trigger: "live"}); err != nil {
			if ctx.Err() == nil {
				log.Warn("catch-up import failed", "err", err)
			}
			continue
		}
		if _, err := c.Engine.Export(ctx, engine.RunOptions{Wait: true, Trigger: "live"}); err != nil && ctx.Err() == nil {
			log.Warn("catch-up export failed", "err", err)
		}
	}
}
