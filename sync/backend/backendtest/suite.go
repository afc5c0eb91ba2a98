// Package backendtest is the conformance suite every backend passes: the
// same checks, run by each client against its simulated server over real
// HTTP. A client that passes here keeps the contract documented on
// backend.Backend; a simulated server that passes here behaves, as far as
// the client can tell, like the real one the client was written for.
package backendtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// Harness connects the suite to one backend kind.
type Harness struct {
	Kind backend.Kind
	// NewServer starts a simulated server of this kind over c.
	NewServer func(c *simulate.Catalog, opt simulate.Options) (simulate.Server, error)
	// NewClient builds a client from cfg.
	NewClient func(cfg backend.Config) (backend.Backend, error)
}

// fixture is one server with a client for its default user.
type fixture struct {
	cat    *simulate.Catalog
	srv    simulate.Server
	client backend.Backend
	now    time.Time
}

// catalogItems is large enough for several pages at the page size the
// suite uses, and small enough to keep the suite fast.
const (
	catalogItems = 600
	pageSize     = 97 // deliberately not a divisor of anything
)

var base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func (h Harness) start(t *testing.T, opt simulate.Options) *fixture {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: catalogItems, Seed: 7})
	if opt.Watches == nil {
		opt.Watches = simulate.GenerateWatches(cat, 11, base)
	}
	f := &fixture{cat: cat, now: base.Add(48 * time.Hour)}
	if opt.Now == nil {
		opt.Now = func() time.Time { return f.now }
	}
	srv, err := h.NewServer(cat, opt)
	if err != nil {
		t.Fatalf("starting simulated %s: %v", h.Kind, err)
	}
	t.Cleanup(srv.Close)
	f.srv = srv
	f.client = h.client(t, srv, srv.Token())
	return f
}

func (h Harness) client(t *testing.T, srv simulate.Server, token string) backend.Backend {
	t.Helper()
	return h.clientWith(t, srv, token, backend.TransportOptions{
		Timeout:      5 * time.Second,
		MaxRetryWait: 20 * time.Millisecond,
		MaxRetries:   3,
	})
}

func (h Harness) clientWith(t *testing.T, srv simulate.Server, token string, opt backend.TransportOptions) backend.Backend {
	t.Helper()
	c, err := h.NewClient(backend.Config{
		Kind:      h.Kind,
		URL:       srv.URL(),
		Token:     token,
		UserID:    srv.UserID(),
		ClientID:  "backendtest",
		Transport: backend.NewTransport(opt),
	})
	if err != nil {
		t.Fatalf("new %s client: %v", h.Kind, err)
	}
	return c
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("Identify", h.testIdentify)
	t.Run("Unauthorized", h.testUnauthorized)
	t.Run("UsersAndLibraries", h.testUsersAndLibraries)
	t.Run("ListEverything", h.testListEverything)
	t.Run("ListSince", h.testListSince)
	t.Run("QuickChecks", h.testQuickChecks)
	t.Run("Get", h.testGet)
	t.Run("WriteRoundTrips", h.testWrites)
	t.Run("WriteUnknownItem", h.testWriteUnknown)
	t.Run("Faults", h.testFaults)
	t.Run("Cancel", h.testCancel)
}

func (h Harness) testIdentify(t *testing.T) {
	f := h.start(t, simulate.Options{Name: "Conformance"})
	info, err := f.client.Identify(context.Background())
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	if info.ServerID != f.srv.ServerID() {
		t.Errorf("ServerID = %q, want %q", info.ServerID, f.srv.ServerID())
	}
	if info.UserID != f.srv.UserID() {
		t.Errorf("UserID = %q, want %q", info.UserID, f.srv.UserID())
	}
	if info.Name != "Conformance" {
		t.Errorf("Name = %q, want the configured server name", info.Name)
	}
	if info.Version == "" || info.UserName == "" {
		t.Errorf("Version %q and UserName %q must be set", info.Version, info.UserName)
	}
	if f.client.Kind() != h.Kind {
		t.Errorf("Kind = %q, want %q", f.client.Kind(), h.Kind)
	}
}

func (h Harness) testUnauthorized(t *testing.T) {
	f := h.start(t, simulate.Options{})
	bad := h.client(t, f.srv, "not-a-valid-token")
	ctx := context.Background()
	if _, err := bad.Identify(ctx); !errors.Is(err, backend.ErrUnauthorized) {
		t.Errorf("Identify with a bad token: err = %v, want ErrUnauthorized", err)
	}
	err := bad.Items(ctx, backend.ListOptions{}, func([]backend.Item) error { return nil })
	if !errors.Is(err, backend.ErrUnauthorized) {
		t.Errorf("Items with a bad token: err = %v, want ErrUnauthorized", err)
	}
	if err := bad.MarkPlayed(ctx, f.srv.RemoteID(f.cat.Media[0].Key), base); !errors.Is(err, backend.ErrUnauthorized) {
		t.Errorf("MarkPlayed with a bad token: err = %v, want ErrUnauthorized", err)
	}
	if w := f.srv.Watch(f.cat.Media[0].Key); w.Played && w.LastPlayed.Equal(base) {
		t.Errorf("a rejected write changed the state: %+v", w)
	}
}

func (h Harness) testUsersAndLibraries(t *testing.T) {
	f := h.start(t, simulate.Options{})
	ctx := context.Background()
	users, err := f.client.Users(ctx)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if !slices.ContainsFunc(users, func(u backend.User) bool { return u.ID == f.srv.UserID() && u.Name != "" }) {
		t.Errorf("Users = %+v, want one with id %q and a name", users, f.srv.UserID())
	}
	libs, err := f.client.Libraries(ctx)
	if err != nil {
		t.Fatalf("Libraries: %v", err)
	}
	var movies, shows int
	for _, l := range libs {
		switch l.Type {
		case backend.Movie:
			movies++
		case backend.Episode:
			shows++
		default:
			t.Errorf("library %+v has type %q: only movie and show libraries are listed", l, l.Type)
		}
		if l.ID == "" || l.Title == "" {
			t.Errorf("library %+v lacks an id or title", l)
		}
	}
	if movies == 0 || shows == 0 {
		t.Errorf("Libraries = %+v, want a movie and a show library", libs)
	}
}

func (h Harness) listAll(t *testing.T, b backend.Backend, opt backend.ListOptions) map[string]backend.Item {
	t.Helper()
	got := map[string]backend.Item{}
	seen := map[string]string{} // each item as it was handed over
	pages := 0
	err := b.Items(context.Background(), opt, func(page []backend.Item) error {
		pages++
		for _, it := range page {
			if _, dup := got[it.ID]; dup {
				t.Errorf("item %s listed twice", it.ID)
			}
			got[it.ID] = it
			seen[it.ID] = fmt.Sprintf("%+v", it)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Items(%+v): %v", opt, err)
	}
	// The engine keeps items past their page (it writes one page while
	// the next is fetched): a client may reuse the page slice, never the
	// items' own slices.
	for id, it := range got {
		if now := fmt.Sprintf("%+v", it); now != seen[id] {
			t.Errorf("item %s changed after its page was handed over:\n was %s\n now %s", id, seen[id], now)
		}
	}
	return got
}

func hasGUID(gs []backend.GUID, want backend.GUID) bool { return slices.Contains(gs, want) }

func (h Harness) testListEverything(t *testing.T) {
	f := h.start(t, simulate.Options{})
	watches := simulate.GenerateWatches(f.cat, 11, base)
	got := h.listAll(t, f.client, backend.ListOptions{PageSize: pageSize})
	if len(got) != len(f.cat.Media) {
		t.Fatalf("listed %d items, the server has %d", len(got), len(f.cat.Media))
	}
	checked := map[string]int{}
	for _, m := range f.cat.Media {
		id := f.srv.RemoteID(m.Key)
		it, ok := got[id]
		if !ok {
			t.Errorf("%s (id %s) not listed", m.Key, id)
			continue
		}
		if it.Type != m.Type || it.Title != m.Title {
			t.Errorf("%s: type/title = %s/%q, want %s/%q", m.Key, it.Type, it.Title, m.Type, m.Title)
		}
		if it.Library == "" {
			t.Errorf("%s: no library", m.Key)
		}
		if it.Duration != m.Duration {
			t.Errorf("%s: duration %v, want %v", m.Key, it.Duration, m.Duration)
		}
		if !it.Added.Equal(m.Added.Truncate(time.Second)) && !it.Added.Equal(m.Added) {
			t.Errorf("%s: added %v, want %v", m.Key, it.Added, m.Added)
		}
		if it.Path != m.Path {
			t.Errorf("%s: path %q, want %q", m.Key, it.Path, m.Path)
		}
		// External ids: every catalog id, except where the server's own
		// metadata cannot carry it (a legacy Plex agent keeps one id).
		switch {
		case len(m.GUIDs) == 0 && m.Type == backend.Movie:
			if len(it.GUIDs) != 0 {
				t.Errorf("%s: has no ids on the server, client parsed %v", m.Key, it.GUIDs)
			}
			checked["no-id"]++
		case m.LegacyPlex && h.Kind == backend.Plex:
			if !hasGUID(it.GUIDs, m.GUIDs[0]) {
				t.Errorf("%s: legacy guid %v not parsed, got %v", m.Key, m.GUIDs[0], it.GUIDs)
			}
			checked["legacy"]++
		default:
			for _, g := range m.GUIDs {
				if !hasGUID(it.GUIDs, g) {
					t.Errorf("%s: guid %v missing from %v", m.Key, g, it.GUIDs)
				}
			}
		}
		if m.Type == backend.Episode {
			show, _ := f.cat.Show(m.ShowKey)
			if it.ShowTitle != show.Title || it.Season != m.Season || it.Episode != m.Episode || it.ShowID == "" {
				t.Errorf("%s: show %q S%dE%d (id %q), want %q S%dE%d", m.Key, it.ShowTitle, it.Season, it.Episode, it.ShowID, show.Title, m.Season, m.Episode)
			}
			if !hasGUID(it.ShowGUIDs, show.GUIDs[0]) {
				t.Errorf("%s: show guid %v missing from %v", m.Key, show.GUIDs[0], it.ShowGUIDs)
			}
			checked["episode"]++
		}
		w := watches[m.Key]
		if it.Played != w.Played || it.PlayCount != w.PlayCount {
			t.Errorf("%s: played %v count %d, want %v %d", m.Key, it.Played, it.PlayCount, w.Played, w.PlayCount)
		}
		if !it.LastPlayed.Equal(w.LastPlayed.Truncate(time.Second)) && !it.LastPlayed.Equal(w.LastPlayed) {
			t.Errorf("%s: last played %v, want %v", m.Key, it.LastPlayed, w.LastPlayed)
		}
		if it.Progress != w.Position {
			t.Errorf("%s: progress %v, want %v", m.Key, it.Progress, w.Position)
		}
		if w.Played {
			checked["played"]++
		}
		if w.Position > 0 {
			checked["progress"]++
		}
		if it.LastPlayed.Location() != time.UTC {
			t.Errorf("%s: last played not in UTC: %v", m.Key, it.LastPlayed)
		}
	}
	// The catalog must have exercised every case above.
	for _, k := range []string{"no-id", "episode", "played", "progress"} {
		if checked[k] == 0 {
			t.Errorf("no %s item was checked: the generated catalog is too small", k)
		}
	}
	if h.Kind == backend.Plex && checked["legacy"] == 0 {
		t.Errorf("no legacy Plex guid was checked")
	}
}

func (h Harness) testListSince(t *testing.T) {
	f := h.start(t, simulate.Options{})
	since := base.Add(-10 * 24 * time.Hour)
	watches := simulate.GenerateWatches(f.cat, 11, base)
	var recent []string
	for k, w := range watches {
		if !w.LastPlayed.Before(since) {
			recent = append(recent, k)
		}
	}
	if len(recent) == 0 {
		t.Fatal("no recent plays in the generated states")
	}
	before := f.srv.Requests()
	got := h.listAll(t, f.client, backend.ListOptions{Since: since, PageSize: pageSize})
	for _, k := range recent {
		if _, ok := got[f.srv.RemoteID(k)]; !ok {
			t.Errorf("%s played at %v is missing from Since %v", k, watches[k].LastPlayed, since)
		}
	}
	if len(got) >= len(f.cat.Media)/2 {
		t.Errorf("Since listed %d of %d items: a quick listing must not read the library", len(got), len(f.cat.Media))
	}
	t.Logf("Since: %d items (%d recent) in %d requests", len(got), len(recent), f.srv.Requests()-before)
}

// testQuickChecks: the played counts, played ids and items in progress
// agree with a full listing (quick.go in package backend).
func (h Harness) testQuickChecks(t *testing.T) {
	f := h.start(t, simulate.Options{})
	all := h.listAll(t, f.client, backend.ListOptions{PageSize: pageSize})
	played := map[string]map[string]bool{}
	inProgress := map[string]time.Duration{}
	for _, it := range all {
		if played[it.Library] == nil {
			played[it.Library] = map[string]bool{}
		}
		if it.Played {
			played[it.Library][it.ID] = true
		} else if it.Progress > 0 {
			inProgress[it.ID] = it.Progress
		}
	}
	ctx := context.Background()
	if pc, ok := f.client.(backend.PlayedChecker); ok {
		before := f.srv.Requests()
		counts, err := pc.PlayedCounts(ctx, backend.ListOptions{})
		if err != nil {
			t.Fatalf("PlayedCounts: %v", err)
		}
		t.Logf("PlayedCounts: %v in %d requests", counts, f.srv.Requests()-before)
		for lib, ids := range played {
			if counts[lib] != len(ids) {
				t.Errorf("library %s: PlayedCounts says %d, the listing has %d played", lib, counts[lib], len(ids))
			}
			got := map[string]bool{}
			if err := pc.PlayedIDs(ctx, lib, func(page []string) error {
				for _, id := range page {
					got[id] = true
				}
				return nil
			}); err != nil {
				t.Fatalf("PlayedIDs(%s): %v", lib, err)
			}
			if !maps.Equal(got, ids) {
				t.Errorf("library %s: PlayedIDs has %d ids, the listing %d played, or other ones", lib, len(got), len(ids))
			}
		}
	}
	if pl, ok := f.client.(backend.ProgressLister); ok {
		marks, err := pl.InProgress(ctx, backend.ListOptions{})
		if err != nil {
			t.Fatalf("InProgress: %v", err)
		}
		got := map[string]time.Duration{}
		for _, m := range marks {
			got[m.ID] = m.Progress
			if it := all[m.ID]; m.Library != it.Library || !m.LastPlayed.Equal(it.LastPlayed) || m.PlayCount != it.PlayCount {
				t.Errorf("InProgress %+v, the listing %+v", m, it)
			}
		}
		if len(inProgress) == 0 || !maps.Equal(got, inProgress) {
			t.Errorf("InProgress lists %d items, the listing has %d in progress (or other positions)", len(got), len(inProgress))
		}
	}
}

func (h Harness) testGet(t *testing.T) {
	f := h.start(t, simulate.Options{})
	var ids []string
	for _, m := range f.cat.Media[:150] {
		ids = append(ids, f.srv.RemoteID(m.Key))
	}
	unknown := "999999999"
	if h.Kind == backend.Jellyfin {
		unknown = "0123456789abcdef0123456789abcdef"
	}
	items, err := f.client.Get(context.Background(), append(ids, unknown))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if len(items) != len(ids) {
		t.Fatalf("Get returned %d items, want %d", len(items), len(ids))
	}
	for _, it := range items {
		if it.ID == unknown || !slices.Contains(ids, it.ID) {
			t.Errorf("Get returned %s, which was not asked for", it.ID)
		}
		if it.Type == backend.Episode && len(it.ShowGUIDs) == 0 {
			t.Errorf("Get: episode %s has no show guids", it.ID)
		}
	}
	if items, err := f.client.Get(context.Background(), nil); err != nil || len(items) != 0 {
		t.Errorf("Get(nil) = %d items, %v; want none and no error", len(items), err)
	}
}

func (h Harness) getOne(t *testing.T, f *fixture, id string) backend.Item {
	t.Helper()
	items, err := f.client.Get(context.Background(), []string{id})
	if err != nil || len(items) != 1 {
		t.Fatalf("Get(%s) = %v, %v", id, items, err)
	}
	return items[0]
}

func (h Harness) testWrites(t *testing.T) {
	f := h.start(t, simulate.Options{Watches: map[string]simulate.Watch{}})
	ctx := context.Background()
	m := f.cat.Media[3]
	id := f.srv.RemoteID(m.Key)
	caps := f.client.Capabilities()

	// Resume position, with millisecond precision.
	pos := 12*time.Minute + 34*time.Second + 500*time.Millisecond
	if err := f.client.SetProgress(ctx, id, pos, 0); err != nil {
		t.Fatalf("SetProgress: %v", err)
	}
	if it := h.getOne(t, f, id); it.Progress != pos || it.Played {
		t.Errorf("after SetProgress: progress %v played %v, want %v false", it.Progress, it.Played, pos)
	}
	if w := f.srv.Watch(m.Key); w.Position != pos {
		t.Errorf("server position %v, want %v", w.Position, pos)
	}

	// Played, with a date where the server can keep it.
	at := time.Date(2024, 3, 1, 20, 15, 0, 0, time.UTC)
	if err := f.client.MarkPlayed(ctx, id, at); err != nil {
		t.Fatalf("MarkPlayed: %v", err)
	}
	it := h.getOne(t, f, id)
	if !it.Played || it.PlayCount < 1 || it.Progress != 0 {
		t.Errorf("after MarkPlayed: %+v, want played, count >= 1, no progress", it)
	}
	want := at
	if !caps.BackdatePlayed {
		want = f.now
	}
	if !it.LastPlayed.Equal(want) {
		t.Errorf("after MarkPlayed: last played %v, want %v (backdate %v)", it.LastPlayed, want, caps.BackdatePlayed)
	}

	// Unplayed clears everything.
	if err := f.client.MarkUnplayed(ctx, id); err != nil {
		t.Fatalf("MarkUnplayed: %v", err)
	}
	it = h.getOne(t, f, id)
	if it.Played || it.Progress != 0 || !it.LastPlayed.IsZero() {
		t.Errorf("after MarkUnplayed: %+v, want unplayed, no progress, no date", it)
	}
	if w := f.srv.Watch(m.Key); w.Played {
		t.Errorf("server still has it played: %+v", w)
	}
	// The other user's state is untouched by all this.
	if other := f.srv.Watch(f.cat.Media[4].Key); other.Played || other.Position != 0 {
		t.Errorf("a neighbour item changed: %+v", other)
	}
}

func (h Harness) testWriteUnknown(t *testing.T) {
	f := h.start(t, simulate.Options{})
	ctx := context.Background()
	unknown := "987654321"
	if h.Kind == backend.Jellyfin {
		unknown = "fedcba9876543210fedcba9876543210"
	}
	if err := f.client.MarkPlayed(ctx, unknown, base); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("MarkPlayed(unknown) = %v, want ErrNotFound", err)
	}
	if err := f.client.MarkUnplayed(ctx, unknown); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("MarkUnplayed(unknown) = %v, want ErrNotFound", err)
	}
	if err := f.client.SetProgress(ctx, unknown, time.Minute, time.Hour); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("SetProgress(unknown) = %v, want ErrNotFound", err)
	}
}

func (h Harness) testFaults(t *testing.T) {
	list := func(b backend.Backend) error {
		return b.Items(context.Background(), backend.ListOptions{PageSize: pageSize}, func([]backend.Item) error { return nil })
	}
	cases := []struct {
		name  string
		fault simulate.Fault
		want  error // nil: the retry must hide the fault
	}{
		{"503 twice then fine", simulate.Fault{Kind: simulate.FaultStatus, Status: 503, Times: 2}, nil},
		{"429 with Retry-After then fine", simulate.Fault{Kind: simulate.FaultStatus, Status: 429, RetryAfter: "0", Times: 1}, nil},
		{"500 for good", simulate.Fault{Kind: simulate.FaultStatus, Status: 500}, backend.ErrBadResponse},
		{"429 for good", simulate.Fault{Kind: simulate.FaultStatus, Status: 429, RetryAfter: "0"}, backend.ErrRateLimited},
		{"401 mid-run", simulate.Fault{Kind: simulate.FaultStatus, Status: 401}, backend.ErrUnauthorized},
		{"invalid JSON", simulate.Fault{Kind: simulate.FaultInvalidJSON}, backend.ErrBadResponse},
		{"HTML instead of JSON", simulate.Fault{Kind: simulate.FaultWrongType}, backend.ErrBadResponse},
		{"server hangs", simulate.Fault{Kind: simulate.FaultHang}, backend.ErrUnreachable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := h.start(t, simulate.Options{})
			// Let the first request through so that the fault hits mid-run.
			f.srv.Faults().Add(simulate.Fault{Kind: simulate.FaultLatency, Times: 1})
			f.srv.Faults().Add(tc.fault)
			client := f.client
			if tc.fault.Kind == simulate.FaultHang {
				// A short timeout and one retry keep the test quick.
				client = h.clientWith(t, f.srv, f.srv.Token(), backend.TransportOptions{
					Timeout: 300 * time.Millisecond, MaxRetries: 1, MaxRetryWait: time.Millisecond,
				})
			}
			err := list(client)
			if tc.want == nil && err != nil {
				t.Fatalf("Items = %v, want the retries to hide the fault", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Items = %v, want %v", err, tc.want)
			}
			if f.srv.Faults().Hits() < 2 {
				t.Errorf("the fault was never hit")
			}
		})
	}
	for _, pf := range []struct {
		name string
		kind simulate.FaultKind
	}{{"a page repeats", simulate.FaultRepeatPage}, {"a page is skipped", simulate.FaultSkipPage}, {"an empty page before the end", simulate.FaultEmptyPage}} {
		t.Run(pf.name, func(t *testing.T) {
			f := h.start(t, simulate.Options{})
			f.srv.Faults().Add(simulate.Fault{Kind: pf.kind, After: 1, Times: 1})
			err := list(f.client)
			if !errors.Is(err, backend.ErrBadResponse) {
				t.Fatalf("Items = %v, want ErrBadResponse: broken paging must not pass for a whole listing", err)
			}
			if f.srv.Faults().Hits() != 1 {
				t.Errorf("the paging fault was hit %d times", f.srv.Faults().Hits())
			}
		})
	}
	t.Run("truncated body", func(t *testing.T) {
		f := h.start(t, simulate.Options{})
		f.srv.Faults().Add(simulate.Fault{Kind: simulate.FaultTruncate})
		err := list(f.client)
		if !errors.Is(err, backend.ErrBadResponse) && !errors.Is(err, backend.ErrUnreachable) {
			t.Fatalf("Items = %v, want ErrBadResponse or ErrUnreachable", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		f := h.start(t, simulate.Options{})
		f.srv.Close()
		err := list(f.client)
		if !errors.Is(err, backend.ErrUnreachable) {
			t.Fatalf("Items = %v, want ErrUnreachable", err)
		}
	})
	t.Run("errors carry no token", func(t *testing.T) {
		f := h.start(t, simulate.Options{})
		f.srv.Faults().Add(simulate.Fault{Kind: simulate.FaultStatus, Status: 500})
		_, err := f.client.Identify(context.Background())
		if err == nil {
			t.Fatal("Identify succeeded through a 500")
		}
		if tok := f.srv.Token(); len(tok) > 0 && strings.Contains(err.Error(), tok) {
			t.Errorf("error %q contains the token", err)
		}
	})
}

func (h Harness) testCancel(t *testing.T) {
	f := h.start(t, simulate.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	err := f.client.Items(ctx, backend.ListOptions{PageSize: pageSize}, func([]backend.Item) error {
		pages++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Items after cancel = %v, want context.Canceled", err)
	}
	if pages != 1 {
		t.Errorf("Items went on for %d pages after cancel", pages)
	}
	stop := errors.New("stop")
	err = f.client.Items(context.Background(), backend.ListOptions{PageSize: pageSize}, func([]backend.Item) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Items = %v, want the callback's error back", err)
	}
}
