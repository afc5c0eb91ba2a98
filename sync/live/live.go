// Package live keeps a notification websocket open to each backend whose
// Options.Live is on and turns what the server says into engine events,
// so changes arrive within seconds without the server having to reach
// Playmark (no inbound port, unlike webhooks).
//
// What each server's socket speaks (the URL, the handshake, keep-alives,
// which messages mean what) is its client's business: a client that
// implements backend.Listener dials, greets and parses, and hands back
// backend.Notices (sync/backend/plex/socket.go,
// sync/backend/mediabrowser/socket.go). This package owns what is the
// same for every server: one connection per backend, reconnecting with
// capped exponential backoff and jitter when it drops, a connection that
// stayed up StableAfter resetting the backoff, and OnGap after a
// reconnect (or a first connection that needed retries), since whatever
// happened in between was not heard, so the app can run a quick import.
//
// Only the item id is taken from a notice: the engine re-reads the item.
// A playing item is reported over and over (Plex every few seconds):
// positions of one item are passed on at most once per ProgressEvery,
// the latest one always last; played, unplayed and a final position (a
// stopped or paused playback) go through at once.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// Store is where the manager reads the backends; *state.Store is one.
type Store interface {
	Backends(ctx context.Context) ([]state.Backend, error)
}

// Enqueuer takes events; *engine.Engine is one. Enqueue must not block.
type Enqueuer interface {
	Enqueue(engine.Event)
}

// Options tune a Manager. Zero values pick the defaults.
type Options struct {
	// OnGap is called (from the connection's goroutine; it should not
	// block for long) with a backend's name when its socket connects after
	// a drop or after failed attempts: events may have been missed.
	OnGap func(backend string)
	Log   *slog.Logger

	MinBackoff  time.Duration // first wait before reconnecting; default 1 s
	MaxBackoff  time.Duration // cap on the wait; default 5 min
	StableAfter time.Duration // a connection up this long resets the backoff; default 1 min
	Ping        time.Duration // websocket ping interval (a dead peer is noticed within Ping+15 s); default 30 s
	KeepAlive   time.Duration // the keep-alive message interval of a server that wants one (Jellyfin, Emby), until it names one; default 30 s
	Poll        time.Duration // re-read the backends this often, besides Reload; default 30 s
	// ProgressEvery is the least time between two Progress events of one
	// item; default 30 s.
	ProgressEvery time.Duration
	// HTTPClient carries the handshakes; nil: each client's own, verifying
	// TLS as the backend's requests do (its TrustCert pin, if any).
	HTTPClient *http.Client
}

// Status is one live connection's state.
type Status struct {
	Backend    string
	Connected  bool
	Since      time.Time // when it connected, or when it last failed
	Reconnects int       // connections made after the first
	Err        string    // why the last attempt or connection ended
}

// Manager owns the live connections: Run starts one goroutine per backend
// with Live on, and stops it when Live goes off, the backend changes or is
// removed, or Run's context ends.
type Manager struct {
	store  Store
	open   engine.Opener
	events Enqueuer
	opt    Options
	log    *slog.Logger
	reload chan struct{}
	thr    *throttle

	mu     sync.Mutex
	status map[string]*Status
}

// New returns a Manager that reads the backends from store, opens their
// clients with open and hands events to events; Run starts it.
func New(store Store, open engine.Opener, events Enqueuer, opt Options) *Manager {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.MinBackoff, time.Second)
	def(&opt.MaxBackoff, 5*time.Minute)
	def(&opt.StableAfter, time.Minute)
	def(&opt.Ping, 30*time.Second)
	def(&opt.KeepAlive, 30*time.Second)
	def(&opt.Poll, 30*time.Second)
	def(&opt.ProgressEvery, 30*time.Second)
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{store: store, open: open, events: events, opt: opt, log: opt.Log, reload: make(chan struct{}, 1), status: map[string]*Status{}}
	m.thr = &throttle{every: opt.ProgressEvery, enqueue: events.Enqueue, last: map[string]time.Time{}, pending: map[string]*time.Timer{}}
	return m
}

// Reload makes Run re-read the backends now (a Live switch or a backend
// changed). It never blocks.
func (m *Manager) Reload() {
	select {
	case m.reload <- struct{}{}:
	default:
	}
}

// Status lists the live connections, by backend name.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.status))
	for _, s := range m.status {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Backend, b.Backend) })
	return out
}

func (m *Manager) setStatus(name string, f func(*Status)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.status[name]
	if !ok {
		s = &Status{Backend: name}
		m.status[name] = s
	}
	f(s)
}

type running struct {
	key    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Run keeps the connections in step with the backends until ctx ends,
// then stops them all and returns once every goroutine it started has.
func (m *Manager) Run(ctx context.Context) error {
	conns := map[string]*running{}
	stop := func(name string) {
		c := conns[name]
		c.cancel()
		<-c.done
		delete(conns, name)
		m.mu.Lock()
		delete(m.status, name)
		m.mu.Unlock()
	}
	defer func() {
		for name := range conns {
			stop(name)
		}
		m.thr.stop()
	}()
	update := func() {
		bs, err := m.store.Backends(ctx)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("live: reading backends", "err", err)
			}
			return
		}
		want := map[string]state.Backend{}
		for _, b := range bs {
			if b.Options.Live {
				want[b.Name] = b
			}
		}
		for name, c := range conns {
			if b, ok := want[name]; !ok || connKey(b) != c.key {
				stop(name)
			}
		}
		for name, b := range want {
			if _, ok := conns[name]; ok {
				continue
			}
			cctx, cancel := context.WithCancel(ctx)
			c := &running{key: connKey(b), cancel: cancel, done: make(chan struct{})}
			conns[name] = c
			m.setStatus(name, func(*Status) {})
			go func() {
				defer close(c.done)
				m.keep(cctx, b)
			}()
		}
	}
	update()
	tick := time.NewTicker(m.opt.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.reload:
			update()
		case <-tick.C:
			update()
		}
	}
}

// connKey is what a connection depends on: when it changes, reconnect.
func connKey(b state.Backend) string {
	return strings.Join([]string{string(b.Kind), b.URL, b.Token, b.UserID, b.Options.TrustCert}, "\x00")
}

// keep holds backend b's connection open until ctx ends.
func (m *Manager) keep(ctx context.Context, b state.Backend) {
	log := m.log.With("backend", b.Name)
	attempt := 0
	first := true // the first connection of this loop, made at once, is no gap
	for {
		started := time.Now()
		opened := false
		err := m.session(ctx, b, func() {
			opened = true
			gap := !first
			first = false
			m.setStatus(b.Name, func(s *Status) {
				if gap {
					s.Reconnects++
				}
				s.Connected, s.Since, s.Err = true, time.Now(), ""
			})
			log.Info("live: connected", "gap", gap)
			if gap && m.opt.OnGap != nil {
				m.opt.OnGap(b.Name)
			}
		})
		if ctx.Err() != nil {
			return
		}
		first = false
		m.setStatus(b.Name, func(s *Status) { s.Connected, s.Since, s.Err = false, time.Now(), err.Error() })
		if opened && time.Since(started) >= m.opt.StableAfter {
			attempt = 0
		}
		wait := backoff(attempt, m.opt.MinBackoff, m.opt.MaxBackoff)
		if attempt == 0 {
			log.Warn("live: connection lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		} else {
			log.Debug("live: reconnecting", "err", err, "in", wait.Round(time.Millisecond), "attempt", attempt)
		}
		attempt++
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt n (from 0): min doubled n times,
// capped at max, then a random point in its upper half.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for range n {
		if d >= hi/2 {
			d = hi
			break
		}
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// session opens b's client and serves its notification socket until it
// fails or ctx ends; onOpen is called once the handshake succeeded.
func (m *Manager) session(ctx context.Context, b state.Backend, onOpen func()) error {
	client, _, err := m.open.Open(ctx, b)
	if err != nil {
		return err
	}
	l, ok := client.(backend.Listener)
	if !ok {
		<-ctx.Done() // nothing to connect to; wait to be stopped
		return fmt.Errorf("%s servers have no notification socket", b.Kind)
	}
	log := m.log.With("backend", b.Name)
	opt := backend.ListenOptions{Ping: m.opt.Ping, KeepAlive: m.opt.KeepAlive, HTTPClient: m.opt.HTTPClient}
	err = l.Listen(ctx, opt, onOpen, func(n backend.Notice) {
		if !n.Act() {
			log.Debug("live: notice ignored", "event", n.Event, "reason", n.Reason)
			return
		}
		m.thr.add(engine.NoticeEvent(b.Name, n), n.Final)
	})
	return explain(b, err)
}

// explain turns a refusal to listen into what to do about it.
func explain(b state.Backend, err error) error {
	if errors.Is(err, backend.ErrAPIKey) {
		return fmt.Errorf("%s: %w; set that user's own token (playmark backend set %s --token USER_TOKEN) or keep live off and rely on schedules or webhooks", b.Name, err, b.Name)
	}
	return err
}

// CheckToken says whether b's token can hear b's user's changes on the
// server's socket (backend.Listener.CheckListen). It fails with
// backend.ErrAPIKey, in one sentence saying what to do, for a Jellyfin
// API key; other servers, and a server that cannot be asked right now,
// pass.
func CheckToken(ctx context.Context, open engine.Opener, b state.Backend) error {
	client, _, err := open.Open(ctx, b)
	if err != nil {
		return nil // the socket will say what is wrong
	}
	if l, ok := client.(backend.Listener); ok {
		return explain(b, l.CheckListen(ctx, nil))
	}
	return nil
}

// --- Helpers -------------------------------------------------------------

// throttle passes events on, holding back repeated positions of one item:
// at most one Progress per item per every, with a trailing one so the
// latest position is always read. Anything else (and a final Progress: a
// pause or stop) goes at once and replaces a held one.
type throttle struct {
	every   time.Duration
	enqueue func(engine.Event)

	mu      sync.Mutex
	last    map[string]time.Time
	pending map[string]*time.Timer
	stopped bool
}

func (t *throttle) add(ev engine.Event, final bool) {
	key := ev.Backend + "\x00" + ev.ItemID
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if ev.Kind != engine.EventProgress || final || now.Sub(t.last[key]) >= t.every {
		if p, ok := t.pending[key]; ok {
			p.Stop()
			delete(t.pending, key)
		}
		t.last[key] = now
		t.enqueue(ev)
		t.prune(now)
		return
	}
	if _, ok := t.pending[key]; ok {
		return // a trailing read is already due; it will see this position
	}
	var tm *time.Timer
	tm = time.AfterFunc(t.last[key].Add(t.every).Sub(now), func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped || t.pending[key] != tm {
			return // stopped, or replaced by a newer event
		}
		delete(t.pending, key)
		t.last[key] = time.Now()
		t.enqueue(ev)
	})
	t.pending[key] = tm
}

// prune forgets items not reported for a while, so the map stays small.
func (t *throttle) prune(now time.Time) {
	if len(t.last) < 1024 {
		return
	}
	for k, at := range t.last {
		if now.Sub(at) >= t.every && t.pending[k] == nil {
			delete(t.last, k)
		}
	}
}

// stop cancels held events; nothing is enqueued after it returns.
func (t *throttle) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	for k, p := range t.pending {
		p.Stop()
		delete(t.pending, k)
	}
}
