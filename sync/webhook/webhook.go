// Package webhook receives the notifications media servers push when
// something happens (a play, a mark, a new item) and hands them to the
// engine as events, so a change reaches the other servers within seconds
// instead of at the next scheduled import.
//
// Each backend has its own URL, /webhook/<secret>, where secret is the
// backend's Options.WebhookSecret (NewSecret). The URL says which backend
// a request is for; the backend's client then reads the body
// (backend.WebhookReceiver: each server's payloads are its client's
// business, in sync/backend/plex/webhook.go and
// sync/backend/mediabrowser/webhook.go) and says whether it is about the
// backend's server and user. Only the backend and the item's id are taken
// from a payload: the engine re-reads the item from the server with the
// backend's own token, so a forged or misattributed payload can at worst
// cause a read. This package owns what is the same for every server: the
// secrets, the limits and the answers.
//
// Answers: 401 for a missing or unknown secret, 405 for anything but
// POST, 413 for a body over the limit, 429 when a backend's URL is sent
// to too fast (or a source keeps guessing secrets), 503 "busy" when too
// many bodies are being read at once,
// 400 for a body that is not what the server sends, 503 when the backends
// cannot be read, 200 otherwise (also for events that are ignored: the
// server has nothing to retry).
package webhook

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// Path is the prefix of every backend's webhook URL.
const Path = "/webhook/"

// NewSecret returns a new webhook secret: 128 random bits as 32 hex digits.
func NewSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// validSecret says whether s looks like a secret NewSecret makes.
func validSecret(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Backends is where the handler finds the configured backends;
// *state.Store is one. It is read at most once a second (a flood of wrong
// secrets must not turn into a flood of reads), so a new secret or a
// removed backend takes effect within a second.
type Backends interface {
	Backends(ctx context.Context) ([]state.Backend, error)
}

// Enqueuer takes accepted events; *engine.Engine is one. Enqueue must not
// block.
type Enqueuer interface {
	Enqueue(engine.Event)
}

// Options tune a Handler. Zero values pick the defaults.
type Options struct {
	MaxBody int64 // largest body accepted; default 1 MiB
	// MaxReading is how many bodies are read at once; default 8 (with
	// MaxBody, 8 MiB at most). Requests beyond it get 503 and Retry-After.
	MaxReading int
	// Rate and Burst limit each backend's URL (its secret), checked once
	// the secret is known good: requests with a wrong secret never use
	// up a real one's tokens, even when a reverse proxy makes everyone
	// one source. Wrong secrets are limited per source with the same
	// figures. Defaults 10 per second, bursts of 60.
	Rate  float64
	Burst int
	Log   *slog.Logger // nil: discard
	Now   func() time.Time
}

// Handler is the http.Handler for /webhook/<secret>. It is safe for
// concurrent use. Whether a payload is about the backend's server and
// user is its client's Mismatch (the Plex owner rule is in
// sync/backend/plex/webhook.go); whatever slips through, the engine
// re-reads the item with the backend's own token, so another user's play
// can never be synced as this user's.
type Handler struct {
	store   Backends
	open    engine.Opener
	events  Enqueuer
	log     *slog.Logger
	maxBody int64
	reading chan struct{} // one token per body being read
	limit   *limiter      // per secret
	guesses *limiter      // per source, wrong secrets only
	now     func() time.Time

	cacheMu sync.Mutex
	cached  []state.Backend
	readAt  time.Time
}

// cacheFor is how long the backends read for one request serve the next.
const cacheFor = time.Second

// New returns a handler that looks backends up in store, reads their
// payloads with the clients open opens, and hands accepted events to
// events.
func New(store Backends, open engine.Opener, events Enqueuer, opt Options) *Handler {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.Rate <= 0 {
		opt.Rate = 10
	}
	if opt.Burst <= 0 {
		opt.Burst = 60
	}
	if opt.MaxReading <= 0 {
		opt.MaxReading = 8
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Handler{
		store:   store,
		open:    open,
		events:  events,
		log:     opt.Log,
		maxBody: opt.MaxBody,
		reading: make(chan struct{}, opt.MaxReading),
		now:     opt.Now,
		limit:   &limiter{rate: opt.Rate, burst: float64(opt.Burst), now: opt.Now, buckets: map[string]*bucket{}},
		guesses: &limiter{rate: opt.Rate, burst: float64(opt.Burst), now: opt.Now, buckets: map[string]*bucket{}},
	}
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// ServeHTTP answers one webhook. It never panics on any input.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, Path) && r.URL.Path != strings.TrimSuffix(Path, "/") {
		reply(w, http.StatusNotFound, "not found")
		return
	}
	// The secret first: only a good one may use up its backend's tokens.
	secret := strings.Trim(strings.TrimPrefix(r.URL.Path, Path), "/")
	b, ok, err := h.lookup(r.Context(), secret)
	if err != nil {
		h.log.Warn("webhook: reading backends", "err", err)
		reply(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	if !ok {
		if !h.guesses.allow(source(r)) {
			w.Header().Set("Retry-After", "1")
			reply(w, http.StatusTooManyRequests, "too many requests")
			return
		}
		reply(w, http.StatusUnauthorized, "unknown webhook URL")
		return
	}
	if !h.limit.allow(b.Options.WebhookSecret) {
		w.Header().Set("Retry-After", "1")
		reply(w, http.StatusTooManyRequests, "too many requests")
		return
	}
	log := h.log.With("backend", b.Name)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	if r.ContentLength > h.maxBody {
		reply(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	body, status := h.read(w, r)
	if status != 0 {
		msg := map[int]string{http.StatusServiceUnavailable: "busy", http.StatusRequestEntityTooLarge: "body too large"}[status]
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
			// The body is not read: close instead of draining it, or a
			// slow sender would hold the answer back.
			w.Header().Set("Connection", "close")
		}
		if msg == "" {
			msg = "could not read the body"
		}
		reply(w, status, msg)
		return
	}
	client, _, err := h.open.Open(r.Context(), b)
	if err != nil {
		log.Warn("webhook: opening the backend", "err", err)
		reply(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	rc, ok := client.(backend.WebhookReceiver)
	if !ok {
		reply(w, http.StatusBadRequest, string(b.Kind)+" servers send no webhooks")
		return
	}
	n, err := rc.ParseWebhook(r.Header.Get("Content-Type"), body)
	if err != nil {
		log.Debug("webhook refused", "err", err)
		reply(w, http.StatusBadRequest, err.Error())
		return
	}
	if n.Act() {
		n.Reason = rc.Mismatch(n)
	}
	if !n.Act() {
		log.Debug("webhook ignored", "event", n.Event, "reason", n.Reason)
		reply(w, http.StatusOK, "ignored: "+n.Reason)
		return
	}
	ev := engine.NoticeEvent(b.Name, n)
	h.events.Enqueue(ev)
	log.Debug("webhook queued", "event", n.Event, "item", ev.ItemID, "kind", ev.Kind)
	reply(w, http.StatusOK, "queued")
}

// read reads r's body within the cap on bodies read at once; status is
// not 0 when it could not (503 busy, 413 too large, 400 unreadable).
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (body []byte, status int) {
	select {
	case h.reading <- struct{}{}:
	default:
		return nil, http.StatusServiceUnavailable
	}
	defer func() { <-h.reading }()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	return body, 0
}

// lookup finds the backend whose secret is s, comparing in constant time.
func (h *Handler) lookup(ctx context.Context, s string) (state.Backend, bool, error) {
	if !validSecret(s) {
		return state.Backend{}, false, nil
	}
	h.cacheMu.Lock()
	bs := h.cached
	if now := h.now(); bs == nil || now.Sub(h.readAt) >= cacheFor || now.Before(h.readAt) {
		var err error
		if bs, err = h.store.Backends(ctx); err != nil {
			h.cacheMu.Unlock()
			return state.Backend{}, false, err
		}
		h.cached, h.readAt = bs, now
	}
	h.cacheMu.Unlock()
	var found state.Backend
	ok := false
	for _, b := range bs {
		if b.Options.WebhookSecret != "" && subtle.ConstantTimeCompare([]byte(b.Options.WebhookSecret), []byte(s)) == 1 {
			found, ok = b, true
		}
	}
	return found, ok, nil
}

// source is who sent a request, for limiting wrong secrets: the peer's IP
// address (a proxy in front makes everyone one source, which is still
// bounded, and never limits the right secrets).
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter is a token bucket per key (a secret, or a source).
type limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxSources bounds the limiter's memory; idle buckets are dropped first.
const maxSources = 4096

func (l *limiter) allow(src string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[src]
	if !ok {
		if len(l.buckets) >= maxSources {
			l.prune(now)
			if len(l.buckets) >= maxSources {
				return false // a flood of sources: refuse newcomers until some go idle
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[src] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune drops buckets that have refilled completely (their source was
// quiet long enough to be forgotten without changing any answer).
func (l *limiter) prune(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}
