package plex

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

var testNow = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)

// recorder is a RoundTripper that keeps every request it forwards.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	base http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) paths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, q.URL.Path)
	}
	return out
}

type testEnv struct {
	srv *simulate.PlexServer
	cat *simulate.Catalog
	rec *recorder
	c   *Client
}

func newEnv(t *testing.T, cat *simulate.Catalog, opt simulate.Options) *testEnv {
	t.Helper()
	if opt.Now == nil {
		opt.Now = func() time.Time { return testNow }
	}
	srv, err := simulate.NewPlex(cat, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e := &testEnv{srv: srv, cat: cat}
	e.c, e.rec = e.client(t, srv.Token(), "")
	return e
}

func (e *testEnv) client(t *testing.T, token, clientID string) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{base: http.DefaultTransport}
	c, err := New(backend.Config{
		Kind: backend.Plex, URL: e.srv.URL() + "/", Token: token, ClientID: clientID,
		Transport: backend.NewTransport(backend.TransportOptions{Base: rec, MaxRetryWait: time.Millisecond}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func (e *testEnv) listAll(t *testing.T, opt backend.ListOptions) map[string]backend.Item {
	t.Helper()
	got := map[string]backend.Item{}
	err := e.c.Items(context.Background(), opt, func(page []backend.Item) error {
		for _, it := range page {
			if _, dup := got[it.ID]; dup {
				t.Errorf("%s listed twice", it.ID)
			}
			got[it.ID] = it
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Items: %v", err)
	}
	return got
}

func TestNewValidatesURL(t *testing.T) {
	for _, u := range []string{
		"", "host:32400", "ftp://host", "http://", "/library", "http//host", "://x",
		"http://host:32400/?X-Plex-Token=secret-token", "http://host/#secret-token", "http://[::1",
	} {
		_, err := New(backend.Config{URL: u, Token: "secret-token"})
		if err == nil {
			t.Errorf("New(%q) accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "secret-token") {
			t.Errorf("New(%q) error leaks the token: %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:32400", "https://plex.example.com/", " http://host:32400/plex/ "} {
		if _, err := New(backend.Config{URL: u}); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
	if _, err := New(backend.Config{Kind: backend.Jellyfin, URL: "http://h"}); err == nil {
		t.Errorf("New accepted a Jellyfin config")
	}
	c, _ := New(backend.Config{URL: "http://h"})
	if c.Kind() != backend.Plex || c.Capabilities().BackdatePlayed {
		t.Errorf("Kind %v, Capabilities %+v", c.Kind(), c.Capabilities())
	}
}

func TestRequestHeaders(t *testing.T) {
	e := newEnv(t, simulate.Generate(simulate.GenerateOptions{Items: 60, Seed: 3}), simulate.Options{})
	ctx := context.Background()
	if _, err := e.c.Identify(ctx); err != nil {
		t.Fatal(err)
	}
	e.listAll(t, backend.ListOptions{PageSize: 7, Since: testNow.Add(-365 * 24 * time.Hour)})
	id := e.srv.RemoteID(e.cat.Media[0].Key)
	if err := e.c.SetProgress(ctx, id, time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.c.MarkPlayed(ctx, id, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	if len(e.rec.reqs) < 8 {
		t.Fatalf("only %d requests", len(e.rec.reqs))
	}
	for _, r := range e.rec.reqs {
		for h, want := range map[string]string{
			"X-Plex-Token":             e.srv.Token(),
			"X-Plex-Client-Identifier": "playmark",
			"X-Plex-Product":           "Playmark",
			"Accept":                   "application/json",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", r.Method, r.URL.Path, h, got, want)
			}
		}
		for _, h := range []string{"X-Plex-Version", "X-Plex-Platform", "X-Plex-Device-Name"} {
			if r.Header.Get(h) == "" {
				t.Errorf("%s %s: no %s", r.Method, r.URL.Path, h)
			}
		}
		if strings.Contains(r.URL.String(), e.srv.Token()) {
			t.Errorf("token in the URL: %s", r.URL)
		}
		if r.URL.Path == "/library/sections/2/all" {
			if !strings.Contains(r.URL.RawQuery, "lastViewedAt%3E%3E=") || r.Header.Get("X-Plex-Container-Size") != "7" {
				t.Errorf("listing query %q, size header %q", r.URL.RawQuery, r.Header.Get("X-Plex-Container-Size"))
			}
		}
	}
}

func TestIdentifyAndUsers(t *testing.T) {
	e := newEnv(t, simulate.Generate(simulate.GenerateOptions{Items: 20, Seed: 1}), simulate.Options{Name: "Den"})
	ctx := context.Background()
	info, err := e.c.Identify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := backend.ServerInfo{Name: "Den", Product: "Plex Media Server", Version: info.Version, ServerID: e.srv.ServerID(), UserID: "1", UserName: "owner"}
	if info != want || info.Version == "" {
		t.Errorf("Identify = %+v, want %+v", info, want)
	}
	users, err := e.c.Users(ctx)
	if err != nil || !slices.Equal(users, []backend.User{{ID: "1", Name: "owner", Admin: true}, {ID: "2", Name: "guest"}}) {
		t.Errorf("Users = %+v, %v", users, err)
	}
	guest, _ := e.client(t, e.srv.GuestToken(), "install-1")
	info, err = guest.Identify(ctx)
	if err != nil || info.UserID != "2" || info.UserName != "guest" {
		t.Errorf("guest Identify = %+v, %v", info, err)
	}
	if users, err := guest.Users(ctx); err != nil || len(users) != 1 || users[0].Admin {
		t.Errorf("guest Users = %+v, %v", users, err)
	}
	bad, _ := e.client(t, "wrong", "")
	if _, err := bad.Identify(ctx); !errors.Is(err, backend.ErrUnauthorized) {
		t.Errorf("bad token: %v", err)
	}
	libs, err := e.c.Libraries(ctx)
	if err != nil || !slices.Equal(libs, []backend.Library{{ID: "1", Title: "Movies", Type: backend.Movie}, {ID: "2", Title: "TV Shows", Type: backend.Episode}}) {
		t.Errorf("Libraries = %+v, %v (the music section must be left out)", libs, err)
	}
}

func TestItemsShowGUIDsAreBatched(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 2000, Seed: 5})
	e := newEnv(t, cat, simulate.Options{})
	got := e.listAll(t, backend.ListOptions{PageSize: 250})
	if len(got) != len(cat.Media) {
		t.Fatalf("listed %d of %d", len(got), len(cat.Media))
	}
	for _, m := range cat.Media {
		if m.Type != backend.Episode {
			continue
		}
		it := got[e.srv.RemoteID(m.Key)]
		show, _ := cat.Show(m.ShowKey)
		for _, g := range show.GUIDs {
			if !slices.Contains(it.ShowGUIDs, g) {
				t.Fatalf("%s: show GUID %v missing from %v", m.Key, g, it.ShowGUIDs)
			}
		}
	}
	// Each show is looked up once, at most showBatch to a request.
	shows := map[string]int{}
	lookups := 0
	e.rec.mu.Lock()
	for _, r := range e.rec.reqs {
		if ids, ok := strings.CutPrefix(r.URL.Path, "/library/metadata/"); ok {
			lookups++
			parts := strings.Split(ids, ",")
			if len(parts) > showBatch {
				t.Errorf("a look-up of %d shows", len(parts))
			}
			for _, id := range parts {
				shows[id]++
			}
		}
	}
	e.rec.mu.Unlock()
	for id, n := range shows {
		if n != 1 {
			t.Errorf("show %s looked up %d times", id, n)
		}
	}
	if len(shows) != len(cat.Shows) {
		t.Errorf("looked up %d shows, the catalog has %d", len(shows), len(cat.Shows))
	}
	t.Logf("%d items, %d shows: %d requests, %d of them show look-ups", len(got), len(cat.Shows), len(e.rec.reqs), lookups)
}

// legacyCatalog is a show scanned entirely by the legacy TheTVDB agent and
// a legacy movie.
func legacyCatalog() *simulate.Catalog {
	added := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	show := simulate.Show{Key: "s1", Title: "The 100", Year: 2014, GUIDs: []backend.GUID{{Kind: "tvdb", Value: "268592"}, {Kind: "tmdb", Value: "48866"}}}
	media := []simulate.Media{
		{Key: "m1", Type: backend.Movie, Title: "Interstate 60", Year: 2002, Duration: 2 * time.Hour, Path: "/m/i60.mkv", Added: added,
			GUIDs: []backend.GUID{{Kind: "imdb", Value: "tt0165832"}}, LegacyPlex: true},
	}
	for ep := 1; ep <= 3; ep++ {
		media = append(media, simulate.Media{
			Key: "e" + strconv.Itoa(ep), Type: backend.Episode, Title: "Episode " + strconv.Itoa(ep), ShowKey: "s1", Season: 2, Episode: ep,
			Duration: 40 * time.Minute, Path: "/tv/x.mkv", Added: added.Add(time.Duration(ep) * time.Hour), LegacyPlex: true,
			GUIDs: []backend.GUID{{Kind: "tvdb", Value: strconv.Itoa(5000 + ep)}},
		})
	}
	return simulate.NewCatalog([]simulate.Show{show}, media)
}

func TestItemsLegacyAgents(t *testing.T) {
	e := newEnv(t, legacyCatalog(), simulate.Options{})
	got := e.listAll(t, backend.ListOptions{})
	movie := got[e.srv.RemoteID("m1")]
	if !slices.Equal(movie.GUIDs, []backend.GUID{{Kind: "imdb", Value: "tt0165832"}}) {
		t.Errorf("legacy movie GUIDs %v", movie.GUIDs)
	}
	for _, k := range []string{"e1", "e2", "e3"} {
		it := got[e.srv.RemoteID(k)]
		// The legacy episode guid names the show, not the episode.
		if len(it.GUIDs) != 0 || !slices.Equal(it.ShowGUIDs, []backend.GUID{{Kind: "tvdb", Value: "268592"}}) || it.Season != 2 || it.Episode != int(k[1]-'0') {
			t.Errorf("%s: %+v", k, it)
		}
	}
}

func TestItemsLibrariesOption(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 100, Seed: 2})
	e := newEnv(t, cat, simulate.Options{})
	for id, it := range e.listAll(t, backend.ListOptions{Libraries: []string{"1"}}) {
		if it.Type != backend.Movie || it.Library != "1" {
			t.Errorf("%s: %s in library %s", id, it.Type, it.Library)
		}
	}
	err := e.c.Items(context.Background(), backend.ListOptions{Libraries: []string{"3"}}, func([]backend.Item) error { return nil })
	if !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("the music library: %v, want ErrNotFound", err)
	}
}

func TestItemsSinceBoundary(t *testing.T) {
	cat := legacyCatalog()
	since := testNow.Add(-24 * time.Hour)
	e := newEnv(t, cat, simulate.Options{Watches: map[string]simulate.Watch{
		"e1": {Played: true, PlayCount: 1, LastPlayed: since},                   // exactly at Since: listed
		"e2": {Played: true, PlayCount: 1, LastPlayed: since.Add(-time.Second)}, // just before: not
		"m1": {LastPlayed: since.Add(time.Hour), Position: time.Minute},         // in progress since: listed
	}})
	got := e.listAll(t, backend.ListOptions{Since: since})
	var keys []string
	for _, k := range []string{"m1", "e1", "e2", "e3"} {
		if _, ok := got[e.srv.RemoteID(k)]; ok {
			keys = append(keys, k)
		}
	}
	if strings.Join(keys, ",") != "m1,e1" {
		t.Errorf("Since listed %v, want m1,e1", keys)
	}
}

func TestWrites(t *testing.T) {
	cat := legacyCatalog()
	e := newEnv(t, cat, simulate.Options{})
	ctx := context.Background()
	id := e.srv.RemoteID("e1")

	// SetProgress with the duration looked up; position to the millisecond.
	if err := e.c.SetProgress(ctx, id, 61500*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Watch("e1"); w.Position != 61500*time.Millisecond || w.Played || !w.LastPlayed.Equal(testNow) {
		t.Errorf("after SetProgress: %+v", w)
	}
	// Zero clears the position (through unscrobble).
	if err := e.c.SetProgress(ctx, id, 0, 40*time.Minute); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Watch("e1"); w != (simulate.Watch{}) {
		t.Errorf("after SetProgress(0): %+v", w)
	}
	// Past 90 %, Plex itself counts a play.
	if err := e.c.SetProgress(ctx, id, 39*time.Minute, 40*time.Minute); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.Watch("e1"); !w.Played || w.Position != 0 {
		t.Errorf("after SetProgress past 90%%: %+v", w)
	}
	// MarkPlayed stamps the server's clock, whatever date is asked for.
	if err := e.c.MarkPlayed(ctx, e.srv.RemoteID("m1"), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	items, err := e.c.Get(ctx, []string{e.srv.RemoteID("m1")})
	if err != nil || len(items) != 1 || !items[0].Played || !items[0].LastPlayed.Equal(testNow) {
		t.Errorf("after MarkPlayed: %+v, %v", items, err)
	}
	if err := e.c.MarkUnplayed(ctx, e.srv.RemoteID("m1")); err != nil || e.srv.Watch("m1").Played {
		t.Errorf("MarkUnplayed: %v, %+v", err, e.srv.Watch("m1"))
	}

	// Another account's writes stay theirs.
	guest, _ := e.client(t, e.srv.GuestToken(), "")
	if err := guest.MarkPlayed(ctx, e.srv.RemoteID("e2"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if e.srv.Watch("e2").Played || !e.srv.GuestWatch("e2").Played {
		t.Errorf("guest write: owner %+v, guest %+v", e.srv.Watch("e2"), e.srv.GuestWatch("e2"))
	}

	// A replaced file has a new id; the old one is gone.
	old := e.srv.RemoteID("e3")
	e.srv.Replace("e3", testNow)
	if err := e.c.MarkPlayed(ctx, old, time.Time{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("MarkPlayed(replaced id) = %v, want ErrNotFound", err)
	}
	if err := e.c.SetProgress(ctx, old, time.Minute, 0); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("SetProgress(replaced id) = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "1,2", "../1", "1/2"} {
		if err := e.c.MarkPlayed(ctx, bad, time.Time{}); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("MarkPlayed(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

func TestGet(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 300, Seed: 9})
	e := newEnv(t, cat, simulate.Options{})
	var ids []string
	for _, m := range cat.Media[:250] {
		ids = append(ids, e.srv.RemoteID(m.Key))
	}
	show := ""
	for _, m := range cat.Media {
		if m.Type == backend.Episode {
			items, _ := e.c.Get(context.Background(), []string{e.srv.RemoteID(m.Key)})
			show = items[0].ShowID
			break
		}
	}
	asked := append(slices.Clone(ids), ids[0], "", "1,2", "77777777", show)
	before := len(e.rec.paths())
	items, err := e.c.Get(context.Background(), asked)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(ids) {
		t.Errorf("Get returned %d items, want %d (no duplicates, no unknown ids, no shows)", len(items), len(ids))
	}
	var metadata int
	for _, p := range e.rec.paths()[before:] {
		if strings.HasPrefix(p, "/library/metadata/") {
			metadata++
		}
	}
	// 252 valid ids in batches of 100, plus the shows of the episodes.
	if metadata > 3+(len(cat.Shows)+showBatch-1)/showBatch {
		t.Errorf("%d metadata requests", metadata)
	}
	for _, it := range items {
		if it.Type == backend.Episode && len(it.ShowGUIDs) == 0 {
			t.Errorf("episode %s without show GUIDs", it.ID)
		}
		if it.Library == "" {
			t.Errorf("item %s without library", it.ID)
		}
	}
	if items, err := e.c.Get(context.Background(), []string{"77777777"}); err != nil || len(items) != 0 {
		t.Errorf("Get(unknown) = %v, %v", items, err)
	}
}
