// Package live keeps a notification websocket open to each backend whose
// Options.Live is on and turns what the server says into engine events,
// so changes arrive within seconds without the server having to reach
// Playmark (no inbound port, unlike webhooks).
//
// The sockets and what they carry:
//
//   - Jellyfin: GET /socket?api_key=TOKEN&deviceId=ID, also sending the
//     token in the Authorization header (12.0 accepts only the header).
//   - Emby: GET /embywebsocket?api_key=TOKEN&deviceId=ID, with X-Emby-Token.
//     Both greet with {"MessageType":"ForceKeepAlive","Data":SECONDS}; the
//     client then sends {"MessageType":"KeepAlive"} every SECONDS/2. A
//     {"MessageType":"UserDataChanged","Data":{"UserId":…,"UserDataList":
//     [{"ItemId","Played","PlaybackPositionTicks",…}]}} for the backend's
//     user becomes, per entry: Played when played; Progress when unplayed
//     with a resume position; Unplayed when unplayed without one (the
//     engine's re-read tells an un-mark from a Jellyfin 10.x replay).
//     Entries of folders (with UnplayedItemCount: the series Jellyfin
//     sends along with each episode) and other users' changes are
//     ignored. Jellyfin sends nothing to a socket opened with an API key,
//     so live on such a backend is refused (CheckToken).
//   - Plex: GET /:/websockets/notifications with X-Plex-Token. Only
//     {"NotificationContainer":{"type":"playing","PlaySessionStateNotification":
//     [{"ratingKey","state","viewOffset"}]}} is used: each is Progress.
//     Plex has no notification for marking an item played or unplayed
//     (nor an un-watch webhook), so live Plex carries positions only; a
//     finished playback is a play through its webhook (media.scrobble), a
//     mark made by hand reaches Playmark at the next import. "timeline"
//     and "activity" notifications are ignored. The owner's socket reports
//     every account's sessions without saying whose: each only makes the
//     engine re-read the item with the backend's own token, so another
//     user's playback changes nothing here.
//
// Only the item id is taken from a message: the engine re-reads the item.
// Each connection pings the server and reconnects with capped exponential
// backoff and jitter when it drops; after a reconnect (or a first
// connection that needed retries) it calls OnGap, since whatever happened
// in between was not heard, so the app can run a quick import.
//
// A playing item is reported over and over (Plex every few seconds):
// positions of one item are passed on at most once per ProgressEvery,
// the latest one always last; played, unplayed and a stopped or paused
// playback go through at once.
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// Store is where the manager reads the backends and this install's client
// id; *state.Store is one.
type Store interface {
	Backends(ctx context.Context) ([]state.Backend, error)
	Settings(ctx context.Context) (state.Settings, error)
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
	KeepAlive   time.Duration // Jellyfin/Emby KeepAlive interval until the server sets one; default 30 s
	Poll        time.Duration // re-read the backends this often, besides Reload; default 30 s
	// ProgressEvery is the least time between two Progress events of one
	// item; default 30 s.
	ProgressEvery time.Duration
	// HTTPClient carries the handshakes; nil: one per backend, verifying
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
	events Enqueuer
	opt    Options
	log    *slog.Logger
	reload chan struct{}
	thr    *throttle

	mu     sync.Mutex
	status map[string]*Status
}

// New returns a Manager; Run starts it.
func New(store Store, events Enqueuer, opt Options) *Manager {
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
	m := &Manager{store: store, events: events, opt: opt, log: opt.Log, reload: make(chan struct{}, 1), status: map[string]*Status{}}
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
		clientID := "playmark"
		if st, err := m.store.Settings(ctx); err == nil && st.ClientID != "" {
			clientID = st.ClientID
		}
		want := map[string]state.Backend{}
		for _, b := range bs {
			if b.Options.Live {
				want[b.Name] = b
			}
		}
		for name, c := range conns {
			if b, ok := want[name]; !ok || connKey(b, clientID) != c.key {
				stop(name)
			}
		}
		for name, b := range want {
			if _, ok := conns[name]; ok {
				continue
			}
			cctx, cancel := context.WithCancel(ctx)
			c := &running{key: connKey(b, clientID), cancel: cancel, done: make(chan struct{})}
			conns[name] = c
			m.setStatus(name, func(*Status) {})
			go func() {
				defer close(c.done)
				m.keep(cctx, b, clientID)
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
func connKey(b state.Backend, clientID string) string {
	return strings.Join([]string{string(b.Kind), b.URL, b.Token, b.UserID, b.Options.TrustCert, clientID}, "\x00")
}

// client is the HTTP client for backend b's handshakes.
func (m *Manager) client(b state.Backend) *http.Client {
	if m.opt.HTTPClient != nil {
		return m.opt.HTTPClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The same rule as the backend's requests: the pinned certificate, or
	// a chain and name that verify as usual.
	if cfg := backend.PinnedTLSConfig(b.Options.TrustCert); cfg != nil {
		t.TLSClientConfig = cfg
	}
	// No credential goes to another address, and no Referer (which would
	// carry the URL's api_key) goes anywhere.
	return &http.Client{Transport: t, CheckRedirect: backend.CheckRedirect}
}

// keep holds backend b's connection open until ctx ends.
func (m *Manager) keep(ctx context.Context, b state.Backend, clientID string) {
	log := m.log.With("backend", b.Name)
	attempt := 0
	first := true // the first connection of this loop, made at once, is no gap
	for {
		started := time.Now()
		opened := false
		err := m.session(ctx, b, clientID, func() {
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

// session dials b's notification socket and serves it until it fails or
// ctx ends; onOpen is called once the handshake succeeded.
func (m *Manager) session(ctx context.Context, b state.Backend, clientID string, onOpen func()) error {
	switch b.Kind {
	case backend.Plex:
		return m.plexSession(ctx, b, clientID, onOpen)
	case backend.Jellyfin, backend.Emby:
		// Never a silent socket: an API key's would hear nothing.
		if err := CheckToken(ctx, b, m.client(b)); err != nil {
			return err
		}
		return m.mbSession(ctx, b, clientID, onOpen)
	}
	<-ctx.Done() // nothing to connect to; wait to be stopped
	return fmt.Errorf("unknown backend type %q", b.Kind)
}

// dial opens a websocket; a refused token wraps backend.ErrUnauthorized.
func (m *Manager) dial(ctx context.Context, b state.Backend, u string, h http.Header) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: m.client(b)})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, fmt.Errorf("opening the notification socket: %w (%d)", backend.ErrUnauthorized, resp.StatusCode)
		}
		return nil, fmt.Errorf("opening the notification socket: %w", redact(err, u))
	}
	c.SetReadLimit(1 << 20)
	return c, nil
}

// redact keeps the token in a socket URL out of an error message.
func redact(err error, u string) error {
	if i := strings.IndexByte(u, '?'); i >= 0 && strings.Contains(err.Error(), u[i:]) {
		return errors.New(strings.ReplaceAll(err.Error(), u[i:], "?…"))
	}
	return err
}

// serve runs a connected socket: handle gets each text message, with a
// send function for answers; every tick of keepAlive (when not nil) sends
// keepAliveMsg; pings run throughout. It returns why the socket ended.
func (m *Manager) serve(ctx context.Context, c *websocket.Conn, handle func(msg []byte, send func([]byte)),
	keepAlive <-chan time.Duration, keepAliveMsg []byte) error {
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		c.CloseNow()
		wg.Wait()
	}()
	errc := make(chan error, 1)
	fail := func(err error) { // the first reason wins; never blocks
		select {
		case errc <- err:
		default:
		}
	}
	send := func(b []byte) {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.Write(wctx, websocket.MessageText, b); err != nil {
			fail(fmt.Errorf("writing: %w", err))
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				fail(fmt.Errorf("reading: %w", err))
				return
			}
			if typ == websocket.MessageText {
				handle(msg, send)
			}
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(m.opt.Ping)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err := c.Ping(pctx)
				cancel()
				if err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("no answer to a ping: %w", err))
					return
				}
			}
		}
	}()
	var tick <-chan time.Time
	var ticker *time.Ticker
	if keepAlive != nil {
		ticker = time.NewTicker(m.opt.KeepAlive)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return ctx.Err()
		case err := <-errc:
			return err
		case d := <-keepAlive:
			ticker.Reset(d)
			send(keepAliveMsg)
		case <-tick:
			send(keepAliveMsg)
		}
	}
}

// --- Jellyfin and Emby ---------------------------------------------------

var keepAliveMsg = []byte(`{"MessageType":"KeepAlive"}`)

func (m *Manager) mbSession(ctx context.Context, b state.Backend, clientID string, onOpen func()) error {
	path := "/socket"
	if b.Kind == backend.Emby {
		path = "/embywebsocket"
	}
	u := strings.TrimRight(b.URL, "/") + path + "?" + url.Values{"api_key": {b.Token}, "deviceId": {clientID}}.Encode()
	device, err := os.Hostname()
	if err != nil || device == "" {
		device = "Playmark"
	}
	q := func(k, v string) string { return k + `="` + url.QueryEscape(v) + `"` }
	h := http.Header{}
	h.Set("Authorization", "MediaBrowser "+strings.Join([]string{q("Client", "Playmark"), q("Device", device),
		q("DeviceId", clientID), q("Version", "1"), q("Token", b.Token)}, ", "))
	if b.Kind == backend.Emby {
		h.Set("X-Emby-Token", b.Token)
	}
	c, err := m.dial(ctx, b, u, h)
	if err != nil {
		return err
	}
	onOpen()
	keepAlive := make(chan time.Duration, 1)
	user := backend.NormalizeID(b.UserID)
	guid := b.Kind == backend.Jellyfin
	log := m.log.With("backend", b.Name)
	return m.serve(ctx, c, func(msg []byte, send func([]byte)) {
		var env struct {
			MessageType string
			Data        json.RawMessage
		}
		if json.Unmarshal(msg, &env) != nil {
			return
		}
		switch env.MessageType {
		case "ForceKeepAlive":
			var secs float64
			if json.Unmarshal(env.Data, &secs) != nil || secs <= 0 || secs > 3600 {
				return
			}
			select {
			case keepAlive <- max(time.Duration(secs*float64(time.Second))/2, 100*time.Millisecond):
			default:
			}
		case "UserDataChanged":
			var d struct {
				UserID       string `json:"UserId"`
				UserDataList []struct {
					ItemID                string `json:"ItemId"`
					Played                bool
					PlaybackPositionTicks int64
					UnplayedItemCount     *int // only folders have it
				}
			}
			if json.Unmarshal(env.Data, &d) != nil {
				return
			}
			if user == "" || backend.NormalizeID(d.UserID) != user {
				log.Debug("live: another user's change ignored")
				return
			}
			for _, e := range d.UserDataList {
				if e.UnplayedItemCount != nil {
					// A series or season: Jellyfin sends the parent of
					// every changed episode along; it is not an item.
					continue
				}
				id := strings.TrimSpace(e.ItemID)
				if guid {
					id = backend.NormalizeID(id)
				}
				if !backend.ValidItemID(id) {
					continue
				}
				kind := engine.UserDataKind(e.Played, e.PlaybackPositionTicks)
				m.thr.add(engine.Event{Backend: b.Name, ItemID: id, Kind: kind}, false)
			}
		}
	}, keepAlive, keepAliveMsg)
}

// --- Plex ----------------------------------------------------------------

func (m *Manager) plexSession(ctx context.Context, b state.Backend, clientID string, onOpen func()) error {
	h := http.Header{}
	h.Set("X-Plex-Token", b.Token)
	h.Set("X-Plex-Client-Identifier", clientID)
	h.Set("X-Plex-Product", "Playmark")
	h.Set("Accept", "application/json")
	c, err := m.dial(ctx, b, strings.TrimRight(b.URL, "/")+"/:/websockets/notifications", h)
	if err != nil {
		return err
	}
	onOpen()
	return m.serve(ctx, c, func(msg []byte, _ func([]byte)) {
		var n struct {
			NotificationContainer struct {
				Type                         string `json:"type"`
				PlaySessionStateNotification []struct {
					RatingKey string `json:"ratingKey"`
					State     string `json:"state"`
				}
			}
		}
		if json.Unmarshal(msg, &n) != nil || n.NotificationContainer.Type != "playing" {
			return // timeline, activity, status…: nothing about this user's play state
		}
		for _, p := range n.NotificationContainer.PlaySessionStateNotification {
			if !backend.ValidItemID(p.RatingKey) {
				continue
			}
			final := p.State == "paused" || p.State == "stopped"
			m.thr.add(engine.Event{Backend: b.Name, ItemID: p.RatingKey, Kind: engine.EventProgress}, final)
		}
	}, nil, nil)
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
