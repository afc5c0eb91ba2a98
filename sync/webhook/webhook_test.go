package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bt "playmark/sync/backend/backendtest"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// recorder is an Enqueuer that keeps what it is given.
type recorder struct {
	mu  sync.Mutex
	evs []engine.Event
}

func (r *recorder) Enqueue(ev engine.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) take() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.evs
	r.evs = nil
	return out
}

type fixture struct {
	store   *state.Store
	h       *Handler
	rec     *recorder
	secrets map[string]string // backend name -> secret
}

// newFixture is a real store with four backends: the Plex owner, a Plex
// home user (local id 5402), Jellyfin and Emby.
func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, rec: &recorder{}, secrets: map[string]string{}}
	for _, b := range []state.Backend{
		{Name: "den", Kind: "plex", UserID: "1", ServerID: bt.PlexServer},
		{Name: "kid", Kind: "plex", UserID: "5402", ServerID: bt.PlexServer},
		{Name: "attic", Kind: "jellyfin", UserID: bt.JFUser, ServerID: bt.JFServer},
		{Name: "cellar", Kind: "emby", UserID: bt.EmbyUser, ServerID: bt.EmbyServer},
		{Name: "fresh", Kind: "jellyfin", UserID: bt.JFUser}, // never imported: no server id yet
	} {
		b.URL, b.Token, b.Import, b.Export = "http://192.0.2.1", "t", state.ImportFull, true
		b.Options.WebhookSecret = NewSecret()
		f.secrets[b.Name] = b.Options.WebhookSecret
		if _, err := st.AddBackend(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	f.h = New(st, engine.New(st, nil), f.rec, opt)
	return f
}

func (f *fixture) post(path, ct string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if !validSecret(a) || a == b || strings.ToLower(a) != a {
		t.Errorf("secrets %q %q", a, b)
	}
}

func TestHandlerRefusesAndIgnores(t *testing.T) {
	f := newFixture(t, Options{})
	url := func(name string) string { return Path + f.secrets[name] }
	owner := bt.PlexArgs{Event: "media.scrobble", Account: 31000001, User: true, Owner: true, Server: bt.PlexServer, RatingKey: "1042"}
	plex := func(a bt.PlexArgs) (string, []byte) { return bt.PlexMultipart(bt.PlexJSON(a), false) }
	ctGood, good := plex(owner)
	other := owner
	other.Server = "ffffffffffffffffffffffffffffffffffffffff"
	ctOther, otherServer := plex(other)
	member := owner
	member.User, member.Account = false, 5402 // a home member playing on the owner's server
	ctMember, memberPlay := plex(member)
	jfOtherUser := bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true, "UserId": "11111111111111111111111111111111"})
	huge := bytes.Repeat([]byte("x"), 10<<20)

	cases := []struct {
		name   string
		path   string
		ct     string
		body   []byte
		status int
		says   string
	}{
		{"no secret", Path, ctGood, good, 401, "unknown"},
		{"no secret, no slash", "/webhook", ctGood, good, 401, "unknown"},
		{"wrong secret", Path + NewSecret(), ctGood, good, 401, "unknown"},
		{"not even a secret", Path + "admin", ctGood, good, 401, "unknown"},
		{"a secret with a path after it", url("den") + "/x", ctGood, good, 401, "unknown"},
		{"another path", "/metrics", ctGood, good, 404, "not found"},
		{"unknown server", url("den"), ctOther, otherServer, 200, "another server"},
		{"a household member on the owner's webhook", url("den"), ctMember, memberPlay, 200, "another plex account"},
		{"the owner on the member's backend", url("kid"), ctGood, good, 200, "another plex account"},
		{"another jellyfin user", url("attic"), "text/plain", jfOtherUser, 200, "another user"},
		{"another emby user", url("cellar"), "application/json", bt.EmbyJSON("item.markplayed", map[string]any{"User": map[string]any{"Id": bt.JFUser}}), 200, "another user"},
		{"a backend never imported", url("fresh"), "text/plain", bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true}), 200, "not known yet"},
		{"truncated multipart", url("den"), ctGood, good[:len(good)/2], 400, "multipart"},
		{"non-JSON", url("attic"), "text/plain", []byte("<html>502 Bad Gateway</html>"), 400, "JSON"},
		{"a plex body on the jellyfin URL", url("attic"), ctGood, good, 400, "JSON"},
		{"an event not used", url("cellar"), "application/json", bt.EmbyJSON("item.rate", nil), 200, "not used"},
		{"10 MB body", url("den"), ctGood, huge, 413, "too large"},
	}
	for _, c := range cases {
		w := f.post(c.path, c.ct, c.body)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.name, w.Code, w.Body.String(), c.status, c.says)
		}
		if evs := f.rec.take(); len(evs) > 0 {
			t.Errorf("%s: enqueued %+v", c.name, evs)
		}
	}

	// A 10 MB body without a Content-Length (chunked) is cut off too.
	req := httptest.NewRequest(http.MethodPost, url("den"), io.MultiReader(bytes.NewReader(huge)))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	if w.Code != 413 || len(f.rec.take()) > 0 {
		t.Errorf("chunked 10 MB: %d", w.Code)
	}
	// GET on a good URL.
	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, url("den"), nil))
	if w.Code != 405 {
		t.Errorf("GET: %d", w.Code)
	}
}

func TestHandlerAccepts(t *testing.T) {
	f := newFixture(t, Options{})
	url := func(name string) string { return Path + f.secrets[name] }
	send := func(name, ct string, body []byte) {
		t.Helper()
		if w := f.post(url(name), ct, body); w.Code != 200 || !strings.Contains(w.Body.String(), "queued") {
			t.Fatalf("%s: %d %q", name, w.Code, w.Body.String())
		}
	}
	ct, body := bt.PlexMultipart(bt.PlexJSON(bt.PlexArgs{Event: "media.scrobble", Account: 31000001, User: true, Owner: true, Server: strings.ToUpper(bt.PlexServer), RatingKey: "1042"}), false)
	send("den", ct, body)
	// The home member's own play, on either webhook: Account.id is their id.
	ct, body = bt.PlexMultipart(bt.PlexJSON(bt.PlexArgs{Event: "media.pause", Account: 5402, Owner: true, Server: bt.PlexServer, RatingKey: "1043"}), false)
	send("kid", ct, body)
	send("attic", "text/plain", bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": false, "SaveReason": "TogglePlayed"}))
	ct, body = bt.EmbyMultipart(bt.EmbyJSON("item.markplayed", nil))
	send("cellar", ct, body)
	// A new item is nobody's play: no user needed.
	send("attic", "text/plain", bt.JellyfinJSON(map[string]any{"NotificationType": "ItemAdded", "UserId": nil, "ItemId": "00112233445566778899aabbccddeeff"}))

	got := f.rec.take()
	want := []engine.Event{
		{Backend: "den", ItemID: "1042", Kind: engine.EventPlayed},
		{Backend: "kid", ItemID: "1043", Kind: engine.EventProgress},
		{Backend: "attic", ItemID: "6f1d0a9c2b3e4d5f8a7b6c5d4e3f2a1b", Kind: engine.EventUnplayed, At: time.Date(2025, 3, 1, 12, 0, 0, 123456700, time.UTC)},
		{Backend: "cellar", ItemID: "24017", Kind: engine.EventPlayed, At: time.Date(2025, 3, 1, 12, 0, 0, 123456700, time.UTC)},
		{Backend: "attic", ItemID: "00112233445566778899aabbccddeeff", Kind: engine.EventAdded, At: time.Date(2025, 3, 1, 12, 0, 0, 123456700, time.UTC)},
	}
	if len(got) != len(want) {
		t.Fatalf("enqueued %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestHandlerRateLimitsEachSecret: the limit is per backend URL, checked
// after the secret, so wrong secrets (from the same reverse proxy, say)
// never use up a real backend's tokens; wrong secrets are limited per
// source.
func TestHandlerRateLimitsEachSecret(t *testing.T) {
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := newFixture(t, Options{Rate: 2, Burst: 5, Now: now})
	body := bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true})
	send := func(secret, addr string) int {
		req := httptest.NewRequest(http.MethodPost, Path+secret, bytes.NewReader(body))
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		return w.Code
	}
	const proxy = "192.0.2.10:5000" // everyone, behind a reverse proxy
	// Someone guesses through the proxy, far past the burst.
	guesses := map[int]int{}
	for range 50 {
		guesses[send(NewSecret(), proxy)]++
	}
	if guesses[429] == 0 || guesses[200] > 0 {
		t.Errorf("50 wrong secrets from one source: %v, want 401s then 429s", guesses)
	}
	// The real webhooks through the same proxy still get in.
	for i := range 5 {
		if c := send(f.secrets["attic"], proxy); c != 200 {
			t.Fatalf("real webhook %d after the guesses: %d, want 200", i, c)
		}
	}
	if c := send(f.secrets["attic"], "192.0.2.11:1"); c != 429 {
		t.Errorf("past attic's burst, from another source: %d, want 429 (the limit is per secret)", c)
	}
	if c := send(f.secrets["fresh"], proxy); c != 200 {
		t.Errorf("another backend's URL is not limited by attic's: %d", c)
	}
	mu.Lock()
	clock = clock.Add(time.Second) // two tokens back
	mu.Unlock()
	if a, b, c := send(f.secrets["attic"], proxy), send(f.secrets["attic"], proxy), send(f.secrets["attic"], proxy); a != 200 || b != 200 || c != 429 {
		t.Errorf("after 1 s at 2/s: %d %d %d, want 200 200 429", a, b, c)
	}
	if n := len(f.rec.take()); n != 7 {
		t.Errorf("enqueued %d, want 7 (the refused ones are not)", n)
	}
}

// TestHandlerCapsBodiesReadAtOnce: with a good secret, bodies past the cap
// of concurrent reads are refused at once (503, Retry-After) instead of
// each holding up to MaxBody (300 concurrent 1 MiB POSTs took 669 MB).
func TestHandlerCapsBodiesReadAtOnce(t *testing.T) {
	f := newFixture(t, Options{Burst: 100}) // MaxReading: the default, 8
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	const reading, n = 8, 12
	var writers []*io.PipeWriter
	defer func() { // before srv.Close, which waits for the handlers
		for _, pw := range writers {
			pw.Close()
		}
	}()
	codes := make(chan int, n)
	for range n {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+Path+f.secrets["attic"], pr)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
		pw.Write([]byte(`{"NotificationType":`)) // a body that is slow to finish
	}
	// The extra requests are answered while the first ones still send.
	busy := 0
	timeout := time.After(5 * time.Second)
	for busy < n-reading {
		select {
		case c := <-codes:
			if c != http.StatusServiceUnavailable {
				t.Fatalf("a request answered %d while %d bodies were being read, want 503", c, reading)
			}
			busy++
		case <-timeout:
			t.Fatalf("%d of %d requests past the cap were refused within 5 s; the rest are all being read", busy, n-reading)
		}
	}
	for _, pw := range writers {
		pw.Close()
	}
	for range reading {
		<-codes
	}
}

// TestHandlerOverHTTP runs the handler behind a real listener, as the app
// does, with the bodies a real client sends.
func TestHandlerOverHTTP(t *testing.T) {
	f := newFixture(t, Options{})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ct, body := bt.EmbyMultipart(bt.EmbyJSON("item.markunplayed", nil))
	resp, err := http.Post(srv.URL+Path+f.secrets["cellar"], ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+Path+NewSecret(), ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong secret: %d", resp.StatusCode)
	}
	got := f.rec.take()
	if len(got) != 1 || got[0].Kind != engine.EventUnplayed || got[0].Backend != "cellar" {
		t.Errorf("enqueued %+v", got)
	}
}
