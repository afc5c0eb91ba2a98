package mediabrowser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/emby"
	"playmark/sync/backend/jellyfin"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/simulate"
)

// These tests run the client against the simulated servers over real
// HTTP, through a recording (and, where a test needs it, misbehaving)
// proxy. The conformance suite (backendtest, wired in the jellyfin and
// emby packages) covers the Backend contract; this covers what is
// particular to the flavours and to the paging checks.

var base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	cat   *simulate.Catalog
	srv   *simulate.MediaBrowserServer
	proxy *proxy
}

// proxy records every request and can tamper with requests and answers.
type proxy struct {
	url string
	mu  sync.Mutex
	log []*http.Request
	// intercept answers a request itself when it returns true.
	intercept func(w http.ResponseWriter, r *http.Request) bool
	tamper    func(r *http.Request)
	modify    func(r *http.Response, body map[string]any)
}

func (p *proxy) requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.log...)
}

func (p *proxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = nil
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		if p.tamper != nil {
			p.tamper(r)
		}
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if p.modify == nil || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			return nil
		}
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		var body map[string]any
		if json.Unmarshal(raw, &body) == nil {
			p.modify(resp, body)
			raw, _ = json.Marshal(body)
		}
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.log = append(p.log, r.Clone(context.Background()))
		p.mu.Unlock()
		if p.intercept != nil && p.intercept(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func start(t *testing.T, kind backend.Kind, items int, opt simulate.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, cat: simulate.Generate(simulate.GenerateOptions{Items: items, Seed: 9})}
	if opt.Watches == nil {
		opt.Watches = simulate.GenerateWatches(f.cat, 4, base)
	}
	if opt.Now == nil {
		opt.Now = func() time.Time { return base.Add(time.Hour) }
	}
	var err error
	if kind == backend.Jellyfin {
		f.srv, err = simulate.NewJellyfin(f.cat, opt)
	} else {
		f.srv, err = simulate.NewEmby(f.cat, opt)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	f.proxy = newProxy(t, f.srv.URL())
	return f
}

func flavor(kind backend.Kind) mediabrowser.Flavor {
	if kind == backend.Jellyfin {
		return jellyfin.Flavor()
	}
	return emby.Flavor()
}

// client builds a client through the proxy; fl nil means the kind's own
// flavour.
func (f *fixture) client(kind backend.Kind, token, userID string, fl *mediabrowser.Flavor) *mediabrowser.Client {
	f.t.Helper()
	flv := flavor(kind)
	if fl != nil {
		flv = *fl
	}
	c, err := mediabrowser.New(backend.Config{
		URL: f.proxy.url, Token: token, UserID: userID, ClientID: "install-42",
		Transport: backend.NewTransport(backend.TransportOptions{Timeout: 5 * time.Second, MaxRetries: 1, MaxRetryWait: time.Millisecond}),
	}, flv)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) defaultClient(kind backend.Kind) *mediabrowser.Client {
	return f.client(kind, f.srv.Token(), f.srv.UserID(), nil)
}

func listAll(t *testing.T, c *mediabrowser.Client, opt backend.ListOptions) (map[string]backend.Item, error) {
	t.Helper()
	got := map[string]backend.Item{}
	err := c.Items(context.Background(), opt, func(page []backend.Item) error {
		for _, it := range page {
			if _, dup := got[it.ID]; dup {
				t.Errorf("%s listed twice", it.ID)
			}
			got[it.ID] = it
		}
		return nil
	})
	return got, err
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  backend.Config
	}{
		{"no URL", backend.Config{Token: "t"}},
		{"not http", backend.Config{URL: "ftp://host", Token: "t"}},
		{"no host", backend.Config{URL: "http://", Token: "t"}},
		{"no token", backend.Config{URL: "http://host:8096"}},
		{"wrong kind", backend.Config{Kind: backend.Plex, URL: "http://host:8096", Token: "secret-token"}},
	} {
		if _, err := jellyfin.New(tc.cfg); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		} else if strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s: error %q carries the token", tc.name, err)
		}
	}
	c, err := emby.New(backend.Config{Kind: backend.Emby, URL: "https://host/", Token: "t"})
	if err != nil || c.Kind() != backend.Emby || !c.Capabilities().BackdatePlayed {
		t.Errorf("emby.New = %v, %v", c, err)
	}
}

// TestWireFormat checks what each flavour puts on the wire: how the token
// travels (never in a URL), the routes, and DatePlayed.
func TestWireFormat(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			f := start(t, kind, 120, simulate.Options{})
			c := f.defaultClient(kind)
			ctx := context.Background()
			if _, err := c.Identify(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := listAll(t, c, backend.ListOptions{PageSize: 50}); err != nil {
				t.Fatal(err)
			}
			id := f.srv.RemoteID(f.cat.Media[1].Key)
			at := time.Date(2024, 3, 1, 21, 15, 0, 0, time.FixedZone("CET", 3600))
			if err := c.MarkPlayed(ctx, id, at); err != nil {
				t.Fatal(err)
			}
			if err := c.SetProgress(ctx, id, time.Minute, 0); err != nil {
				t.Fatal(err)
			}
			if err := c.MarkUnplayed(ctx, id); err != nil {
				t.Fatal(err)
			}
			tok := f.srv.Token()
			var sawDate bool
			for _, r := range f.proxy.requests() {
				if strings.Contains(r.URL.String(), tok) {
					t.Errorf("token in URL %s", r.URL)
				}
				if d := r.URL.Query().Get("DatePlayed"); d != "" {
					sawDate = true
					if d != "20240301201500" {
						t.Errorf("DatePlayed=%s, want 20240301201500 (UTC, yyyyMMddHHmmss)", d)
					}
				}
				path := r.URL.Path
				if kind == backend.Jellyfin {
					auth := r.Header.Get("Authorization")
					if !strings.HasPrefix(auth, "MediaBrowser ") || !strings.Contains(auth, `Token="`+tok+`"`) ||
						!strings.Contains(auth, `DeviceId="install-42"`) || !strings.Contains(auth, `Client="Playmark"`) {
						t.Errorf("Authorization %q", auth)
					}
					if r.Header.Get("X-Emby-Token") != "" {
						t.Error("Jellyfin client sent the legacy X-Emby-Token")
					}
					if strings.HasPrefix(path, "/Users/"+f.srv.UserID()+"/") {
						t.Errorf("Jellyfin client used the legacy route %s", path)
					}
				} else {
					if r.Header.Get("X-Emby-Token") != tok || !strings.HasPrefix(r.Header.Get("X-Emby-Authorization"), `Emby UserId="`+f.srv.UserID()+`"`) {
						t.Errorf("Emby headers %v", r.Header)
					}
					if !strings.HasPrefix(path, "/emby/") {
						t.Errorf("Emby path %s without the /emby prefix", path)
					}
				}
			}
			if !sawDate {
				t.Error("no DatePlayed sent")
			}
		})
	}
}

// TestJellyfinLegacyRoutes runs the client with the /Users/{u}/… routes,
// which Jellyfin still serves, to keep them working as a fallback.
func TestJellyfinLegacyRoutes(t *testing.T) {
	f := start(t, backend.Jellyfin, 120, simulate.Options{})
	fl := jellyfin.Flavor()
	fl.Routes = mediabrowser.RoutesLegacy
	c := f.client(backend.Jellyfin, f.srv.Token(), f.srv.UserID(), &fl)
	ctx := context.Background()
	got, err := listAll(t, c, backend.ListOptions{PageSize: 40})
	if err != nil || len(got) != 120 {
		t.Fatalf("listed %d, %v", len(got), err)
	}
	k := f.cat.Media[2].Key
	id := f.srv.RemoteID(k)
	if err := c.SetProgress(ctx, id, 90*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if w := f.srv.Watch(k); w.Position != 90*time.Second {
		t.Errorf("position %v", w.Position)
	}
	if err := c.MarkPlayed(ctx, id, base); err != nil {
		t.Fatal(err)
	}
	if items, err := c.Get(ctx, []string{id}); err != nil || len(items) != 1 || !items[0].Played {
		t.Errorf("Get after MarkPlayed: %v %v", items, err)
	}
	for _, r := range f.proxy.requests() {
		if p := r.URL.Path; !strings.HasPrefix(p, "/Users/") && !strings.HasPrefix(p, "/System/") {
			t.Errorf("legacy flavour used %s", p)
		}
	}
}

// TestJellyfin12Auth shows why the Jellyfin flavour sends the MediaBrowser
// header: 12.0 turns the X-Emby-Token form off.
func TestJellyfin12Auth(t *testing.T) {
	embyStyle := jellyfin.Flavor()
	embyStyle.Auth = mediabrowser.AuthEmby
	for _, legacy := range []bool{false, true} {
		f := start(t, backend.Jellyfin, 50, simulate.Options{LegacyAuth: legacy})
		ctx := context.Background()
		if _, err := f.defaultClient(backend.Jellyfin).Identify(ctx); err != nil {
			t.Errorf("legacy=%v: MediaBrowser header rejected: %v", legacy, err)
		}
		_, err := f.client(backend.Jellyfin, f.srv.Token(), f.srv.UserID(), &embyStyle).Identify(ctx)
		if legacy && err != nil || !legacy && !errors.Is(err, backend.ErrUnauthorized) {
			t.Errorf("legacy=%v: X-Emby-Token: %v", legacy, err)
		}
	}
}

func TestUsersAndAPIKeys(t *testing.T) {
	ctx := context.Background()
	t.Run("jellyfin", func(t *testing.T) {
		f := start(t, backend.Jellyfin, 80, simulate.Options{})
		otherID, otherTok := f.srv.OtherUser()

		// A user token without a configured user: /Users/Me names it.
		c := f.client(backend.Jellyfin, f.srv.Token(), "", nil)
		info, err := c.Identify(ctx)
		if err != nil || info.UserID != f.srv.UserID() || info.UserName != "admin" || info.Product != "Jellyfin Server" || info.Version != "10.11.8" {
			t.Errorf("Identify with a user token: %+v, %v", info, err)
		}
		if libs, err := c.Libraries(ctx); err != nil || len(libs) != 2 {
			t.Errorf("Libraries: %v, %v", libs, err)
		}

		// An API key has no user: Identify says so, user calls need one.
		key := f.client(backend.Jellyfin, f.srv.APIKey(), "", nil)
		info, err = key.Identify(ctx)
		if err != nil || info.UserID != "" || info.ServerID != f.srv.ServerID() {
			t.Errorf("Identify with an API key: %+v, %v", info, err)
		}
		if _, err := key.Libraries(ctx); !errors.Is(err, mediabrowser.ErrNoUser) {
			t.Errorf("Libraries with an API key and no user: %v, want ErrNoUser", err)
		}
		if err := key.MarkPlayed(ctx, f.srv.RemoteID("m1"), base); !errors.Is(err, mediabrowser.ErrNoUser) {
			t.Errorf("MarkPlayed with an API key and no user: %v, want ErrNoUser", err)
		}
		users, err := key.Users(ctx)
		if err != nil || len(users) != 2 || !users[0].Admin || users[1].Admin || users[1].ID != otherID {
			t.Errorf("Users: %+v, %v", users, err)
		}

		// An API key with a user acts for that user (dashed id accepted).
		dashed := otherID[:8] + "-" + otherID[8:12] + "-" + otherID[12:16] + "-" + otherID[16:20] + "-" + otherID[20:]
		as := f.client(backend.Jellyfin, f.srv.APIKey(), dashed, nil)
		if info, err := as.Identify(ctx); err != nil || info.UserID != otherID || info.UserName != "guest" {
			t.Errorf("Identify as the other user: %+v, %v", info, err)
		}
		k := f.cat.Media[3].Key
		f.srv.SetWatch(k, simulate.Watch{})
		if err := as.MarkPlayed(ctx, f.srv.RemoteID(k), base); err != nil {
			t.Fatal(err)
		}
		if !f.srv.WatchOf(otherID, k).Played || f.srv.Watch(k).Played {
			t.Errorf("write went to the wrong user: other %+v, default %+v", f.srv.WatchOf(otherID, k), f.srv.Watch(k))
		}

		// A non-admin token sees only its own account.
		guest := f.client(backend.Jellyfin, otherTok, "", nil)
		if users, err := guest.Users(ctx); err != nil || len(users) != 1 || users[0].ID != otherID {
			t.Errorf("Users as a non-admin: %+v, %v", users, err)
		}

		// A user who may not read /System/Info (403) gets the public one;
		// one who may not list users (403) gets itself.
		f.proxy.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/System/Info" || r.URL.Path == "/Users" {
				http.Error(w, "Forbidden", http.StatusForbidden)
				return true
			}
			return false
		}
		if info, err := guest.Identify(ctx); err != nil || info.ServerID != f.srv.ServerID() || info.UserID != otherID || info.Name == "" {
			t.Errorf("Identify behind a 403: %+v, %v", info, err)
		}
		if users, err := guest.Users(ctx); err != nil || len(users) != 1 || users[0].ID != otherID {
			t.Errorf("Users behind a 403: %+v, %v", users, err)
		}
	})
	t.Run("emby", func(t *testing.T) {
		f := start(t, backend.Emby, 80, simulate.Options{})
		c := f.client(backend.Emby, f.srv.Token(), "", nil)
		info, err := c.Identify(ctx)
		if err != nil || info.UserID != "" || info.Product != "Emby Server" || info.Version != "4.8.11.0" {
			t.Errorf("Identify without a user: %+v, %v", info, err)
		}
		err = c.Items(ctx, backend.ListOptions{}, func([]backend.Item) error { return nil })
		if !errors.Is(err, mediabrowser.ErrNoUser) {
			t.Errorf("Items without a user: %v, want ErrNoUser", err)
		}
		users, err := c.Users(ctx)
		if err != nil || len(users) != 2 {
			t.Fatalf("Users: %v, %v", users, err)
		}
		// Older Emby without /Users/Query: the legacy array.
		f.proxy.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.EqualFold(r.URL.Path, "/emby/Users/Query") {
				http.NotFound(w, r)
				return true
			}
			return false
		}
		f.proxy.reset()
		if fallback, err := c.Users(ctx); err != nil || len(fallback) != 2 || fallback[0] != users[0] {
			t.Errorf("Users after a 404 on /Users/Query: %v, %v", fallback, err)
		}
		if reqs := f.proxy.requests(); len(reqs) != 2 || reqs[1].URL.Path != "/emby/Users" {
			t.Errorf("fallback requests: %d", len(reqs))
		}
	})
}

// TestURLWithPrefix: a URL that already ends in /emby is not doubled.
func TestURLWithPrefix(t *testing.T) {
	f := start(t, backend.Emby, 20, simulate.Options{})
	c, err := emby.New(backend.Config{URL: f.proxy.url + "/emby/", Token: f.srv.Token(), UserID: f.srv.UserID()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Identify(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.proxy.requests() {
		if strings.HasPrefix(r.URL.Path, "/emby/emby") {
			t.Errorf("doubled prefix: %s", r.URL.Path)
		}
	}
}

// TestPagingChecks makes the server misbehave in each way Items must
// catch, and one way (a shift by one item) it must absorb.
func TestPagingChecks(t *testing.T) {
	setQuery := func(k string, f func(string) string) func(*http.Request) {
		return func(r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "Items") || r.URL.Query().Get("ParentId") == "" {
				return
			}
			q := r.URL.Query()
			if v := f(q.Get(k)); v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
			r.URL.RawQuery = q.Encode()
		}
	}
	isPage := func(r *http.Response) bool { return r.Request.URL.Query().Get("ParentId") != "" }
	cases := []struct {
		name   string
		kinds  []backend.Kind
		since  bool
		tamper func(*http.Request)
		modify func(*http.Response, map[string]any)
		want   string // in the error; "" means no error
	}{
		{name: "StartIndex ignored, echoed", kinds: []backend.Kind{backend.Jellyfin},
			tamper: setQuery("StartIndex", func(string) string { return "0" }), want: "got them from 0"},
		{name: "StartIndex ignored, not echoed", kinds: []backend.Kind{backend.Emby},
			tamper: setQuery("StartIndex", func(string) string { return "0" }), want: "ignored StartIndex"},
		{name: "Limit ignored", tamper: setQuery("Limit", func(string) string { return "" }), want: "ignored Limit"},
		{name: "total too high", modify: func(r *http.Response, b map[string]any) {
			if isPage(r) {
				b["TotalRecordCount"] = b["TotalRecordCount"].(float64) + 50
			}
		}, want: "of an announced"},
		{name: "total too low", modify: func(r *http.Response, b map[string]any) {
			if isPage(r) {
				b["TotalRecordCount"] = 1.0
			}
		}, want: "beyond the announced total"},
		{name: "total falls", modify: func(r *http.Response, b map[string]any) {
			if isPage(r) && r.Request.URL.Query().Get("StartIndex") != "0" {
				b["TotalRecordCount"] = b["TotalRecordCount"].(float64) - 10
			}
		}, want: "fell"},
		{name: "DatePlayed order ignored", since: true,
			tamper: setQuery("SortOrder", func(v string) string { return "Ascending" }), want: "not sorted by DatePlayed"},
		// An item added at the front after the first page: every later
		// page starts one item earlier and the total is one more.
		{name: "shift by one absorbed", kinds: []backend.Kind{backend.Emby},
			tamper: func(r *http.Request) {
				q := r.URL.Query()
				if n, _ := strconv.Atoi(q.Get("StartIndex")); n > 0 && q.Get("ParentId") != "" {
					q.Set("StartIndex", strconv.Itoa(n-1))
					r.URL.RawQuery = q.Encode()
					r.Header.Set("X-Test-Shifted", "1")
				}
			},
			modify: func(r *http.Response, b map[string]any) {
				if r.Request.Header.Get("X-Test-Shifted") != "" {
					b["TotalRecordCount"] = b["TotalRecordCount"].(float64) + 1
				}
			}},
	}
	for _, tc := range cases {
		kinds := tc.kinds
		if kinds == nil {
			kinds = []backend.Kind{backend.Jellyfin, backend.Emby}
		}
		for _, kind := range kinds {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				f := start(t, kind, 300, simulate.Options{})
				f.proxy.tamper, f.proxy.modify = tc.tamper, tc.modify
				opt := backend.ListOptions{PageSize: 25}
				if tc.since {
					opt.Since = base.Add(-90 * 24 * time.Hour)
				}
				done := make(chan struct{})
				var got map[string]backend.Item
				var err error
				go func() {
					defer close(done)
					got, err = listAll(t, f.defaultClient(kind), opt)
				}()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatal("Items did not end")
				}
				if tc.want == "" {
					if err != nil || len(got) != 300 {
						t.Fatalf("listed %d of 300: %v", len(got), err)
					}
					return
				}
				if !errors.Is(err, backend.ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Items = %v, want ErrBadResponse mentioning %q", err, tc.want)
				}
			})
		}
	}
}

// TestPageFaults: the simulated servers' paging faults (a page repeated,
// skipped or empty mid-listing) are caught on both flavours, Emby's
// answers carrying no StartIndex included.
func TestPageFaults(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		for _, fk := range []simulate.FaultKind{simulate.FaultRepeatPage, simulate.FaultSkipPage, simulate.FaultEmptyPage} {
			t.Run(fmt.Sprintf("%s/%d", kind, fk), func(t *testing.T) {
				f := start(t, kind, 300, simulate.Options{})
				f.srv.Faults().Add(simulate.Fault{Kind: fk, After: 2, Times: 1})
				_, err := listAll(t, f.defaultClient(kind), backend.ListOptions{PageSize: 25})
				if !errors.Is(err, backend.ErrBadResponse) {
					t.Fatalf("Items = %v, want ErrBadResponse", err)
				}
				if f.srv.Faults().Hits() != 1 {
					t.Errorf("fault hit %d times", f.srv.Faults().Hits())
				}
			})
		}
	}
}

// TestSinceReadsLittle: a quick listing stops at the first play older than
// Since instead of paging through every played item.
func TestSinceReadsLittle(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			f := start(t, kind, 3000, simulate.Options{})
			c := f.defaultClient(kind)
			since := base.Add(-36 * time.Hour)
			watches := simulate.GenerateWatches(f.cat, 4, base)
			want := 0
			for _, w := range watches {
				if !w.LastPlayed.Before(since) {
					want++
				}
			}
			got, err := listAll(t, c, backend.ListOptions{Since: since, PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			for k, w := range watches {
				if !w.LastPlayed.Before(since) {
					if _, ok := got[f.srv.RemoteID(k)]; !ok {
						t.Errorf("%s played %v missing", k, w.LastPlayed)
					}
				}
			}
			var pages, resumable, resumableItems int
			for _, r := range f.proxy.requests() {
				if r.URL.Query().Get("IsPlayed") == "true" {
					pages++
				}
				if r.URL.Query().Get("Filters") == "IsResumable" {
					resumable++
				}
			}
			for _, w := range watches {
				if !w.Played && w.Position > 0 {
					resumableItems++
				}
			}
			// 1200 played items are 12 pages; one per library must do.
			if pages > 2 || want == 0 {
				t.Errorf("%d pages of played items for %d recent plays", pages, want)
			}
			// The resumable items stop at Since too: one page per library,
			// however many there are. Pages of 20 make the old way (every
			// resumable item) several pages per library.
			since = base.Add(-2 * time.Hour)
			if _, err := listAll(t, c, backend.ListOptions{Since: since, PageSize: 20}); err != nil {
				t.Fatal(err)
			}
			recentResumable := 0
			for _, w := range watches {
				if !w.Played && w.Position > 0 && !w.LastPlayed.Before(since) {
					recentResumable++
				}
			}
			resumable = 0
			for _, r := range f.proxy.requests() {
				if r.URL.Query().Get("Filters") == "IsResumable" && (r.URL.Query().Get("Limit") == "20" || r.URL.Query().Get("Limit") == "21") {
					resumable++
				}
			}
			if resumable > 2 || resumableItems < 4*20 || recentResumable > 20 {
				t.Errorf("%d pages of 20 resumable items for %d resumable items (%d recent)", resumable, resumableItems, recentResumable)
			}
		})
	}
}

// TestSeriesReadOnce: the show GUIDs of a listing cost one Ids= request per
// hundred new series, and each series is asked for once.
func TestSeriesReadOnce(t *testing.T) {
	f := start(t, backend.Jellyfin, 1500, simulate.Options{})
	got, err := listAll(t, f.defaultClient(backend.Jellyfin), backend.ListOptions{PageSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string]int{}
	for _, r := range f.proxy.requests() {
		for id := range strings.SplitSeq(r.URL.Query().Get("Ids"), ",") {
			if id != "" {
				asked[id]++
			}
		}
	}
	shows := map[string]bool{}
	for _, it := range got {
		if it.Type == backend.Episode {
			shows[it.ShowID] = true
			if len(it.ShowGUIDs) != 3 {
				t.Fatalf("episode %s show guids %v", it.ID, it.ShowGUIDs)
			}
		}
	}
	if len(asked) != len(shows) {
		t.Errorf("asked for %d series, the listing has %d", len(asked), len(shows))
	}
	for id, n := range asked {
		if n != 1 {
			t.Errorf("series %s asked for %d times", id, n)
		}
	}
}

func TestGetAndWriteEdges(t *testing.T) {
	f := start(t, backend.Jellyfin, 300, simulate.Options{})
	c := f.defaultClient(backend.Jellyfin)
	ctx := context.Background()

	// Malformed ids never reach Jellyfin (it would answer 400).
	items, err := c.Get(ctx, []string{"123", "not-a-guid", ""})
	if err != nil || len(items) != 0 || len(f.proxy.requests()) != 0 {
		t.Errorf("Get(malformed) = %v, %v after %d requests", items, err, len(f.proxy.requests()))
	}
	if err := c.MarkPlayed(ctx, "123", base); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("MarkPlayed(malformed) = %v, want ErrNotFound", err)
	}

	// 250 ids in three requests; dashed and upper-case forms match.
	var ids []string
	for _, m := range f.cat.Media[:250] {
		ids = append(ids, f.srv.RemoteID(m.Key))
	}
	id0 := ids[0]
	ids[0] = strings.ToUpper(id0[:8] + "-" + id0[8:12] + "-" + id0[12:16] + "-" + id0[16:20] + "-" + id0[20:])
	f.proxy.reset()
	items, err = c.Get(ctx, append(ids, ids[5]))
	if err != nil || len(items) != 250 {
		t.Fatalf("Get(250) = %d items, %v", len(items), err)
	}
	var itemReqs int
	for _, r := range f.proxy.requests() {
		if r.URL.Query().Get("Fields") != "ProviderIds" {
			itemReqs++
		}
	}
	if itemReqs != 3 {
		t.Errorf("Get(250) took %d item requests, want 3", itemReqs)
	}

	// Libraries filter; an unknown library is ErrNotFound.
	libs, err := c.Libraries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := listAll(t, c, backend.ListOptions{Libraries: []string{libs[0].ID}})
	if err != nil || len(got) != 60 {
		t.Errorf("one library: %d items, %v", len(got), err)
	}
	for _, it := range got {
		if it.Type != libs[0].Type || it.Library != libs[0].ID {
			t.Fatalf("item %+v outside library %+v", it, libs[0])
		}
	}
	if _, err := listAll(t, c, backend.ListOptions{Libraries: []string{"0123456789abcdef0123456789abcdef"}}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("unknown library: %v", err)
	}
}

// TestSetProgressAnswers: an empty answer is fine; an answer that shows a
// position other than the one sent is not.
func TestSetProgressAnswers(t *testing.T) {
	f := start(t, backend.Jellyfin, 30, simulate.Options{})
	c := f.defaultClient(backend.Jellyfin)
	id := f.srv.RemoteID(f.cat.Media[0].Key)
	ctx := context.Background()
	f.proxy.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/UserData") {
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	}
	if err := c.SetProgress(ctx, id, time.Minute, 0); err != nil {
		t.Errorf("empty answer: %v", err)
	}
	f.proxy.intercept = nil
	f.proxy.modify = func(r *http.Response, b map[string]any) {
		if strings.HasSuffix(r.Request.URL.Path, "/UserData") {
			b["PlaybackPositionTicks"] = 0.0
		}
	}
	if err := c.SetProgress(ctx, id, time.Minute, 0); !errors.Is(err, backend.ErrBadResponse) {
		t.Errorf("answer with another position: %v, want ErrBadResponse", err)
	}
	if err := c.SetProgress(ctx, id, -time.Second, 0); err == nil {
		t.Error("negative position accepted")
	}
}

// TestErrorsCarryNoToken checks a rejected token and a failing write.
func TestErrorsCarryNoToken(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		f := start(t, kind, 20, simulate.Options{})
		bad := f.client(kind, "wrong-token-abc", f.srv.UserID(), nil)
		ctx := context.Background()
		for _, err := range []error{
			func() error { _, err := bad.Identify(ctx); return err }(),
			bad.MarkPlayed(ctx, f.srv.RemoteID("m1"), base),
			bad.SetProgress(ctx, f.srv.RemoteID("m1"), time.Minute, 0),
			func() error { _, err := bad.Users(ctx); return err }(),
		} {
			if !errors.Is(err, backend.ErrUnauthorized) {
				t.Errorf("%s: %v, want ErrUnauthorized", kind, err)
			}
			if err != nil && strings.Contains(err.Error(), "wrong-token-abc") {
				t.Errorf("%s: error %q carries the token", kind, err)
			}
		}
	}
}

func ExampleNew() {
	c, err := mediabrowser.New(backend.Config{
		URL:      "http://jellyfin.local:8096",
		Token:    "0123456789abcdef0123456789abcdef",
		UserID:   "fedcba9876543210fedcba9876543210",
		ClientID: "my-install",
	}, jellyfin.Flavor())
	fmt.Println(c.Kind(), err)
	// Output: jellyfin <nil>
}
