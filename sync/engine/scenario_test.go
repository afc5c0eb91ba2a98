package engine

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// The scenarios run three simulated servers over real HTTP against a real
// SQLite file, and check what the servers hold afterwards.

var (
	tAdded = time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
	tPlay  = time.Date(2024, 6, 1, 20, 30, 0, 0, time.UTC)
)

func g(kind, value string) backend.GUID { return backend.GUID{Kind: kind, Value: value} }

// scenarioCatalog is a small library with every matching case in it.
func scenarioCatalog() *simulate.Catalog {
	shows := []simulate.Show{{Key: "s1", Title: "Northern Lights", Year: 2019, GUIDs: []backend.GUID{g("tvdb", "81189"), g("tmdb", "1396")}}}
	movie := func(k, title string, year int, legacy bool, ids ...backend.GUID) simulate.Media {
		return simulate.Media{Key: k, Type: backend.Movie, Title: title, Year: year, GUIDs: ids, LegacyPlex: legacy,
			Duration: 2 * time.Hour, Added: tAdded, Path: "/movies/" + title + ".mkv"}
	}
	ep := func(k string, se, e int, ids ...backend.GUID) simulate.Media {
		return simulate.Media{Key: k, Type: backend.Episode, Title: "Episode", ShowKey: "s1", Season: se, Episode: e, GUIDs: ids,
			Duration: 45 * time.Minute, Added: tAdded, Path: "/tv/Northern Lights/S01E0" + string(rune('0'+e)) + ".mkv"}
	}
	media := []simulate.Media{
		movie("heat", "Heat", 1995, false, g("imdb", "tt0113277"), g("tmdb", "949")),
		movie("matrix", "The Matrix", 1999, true, g("imdb", "tt0133093"), g("tmdb", "603")),
		movie("home-video", "Holiday 2019", 2019, false),
		movie("alien", "Alien", 1979, false, g("imdb", "tt0078748")),
		ep("e1", 1, 1), // no id of its own: only the show's id + numbers
		ep("e2", 1, 2),
		ep("e3", 1, 3, g("tvdb", "349232"), g("imdb", "tt2707408")),
	}
	return simulate.NewCatalog(shows, media)
}

// clock is a settable clock shared by the engine and the servers.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type world struct {
	t       *testing.T
	cat     *simulate.Catalog
	clock   *testClock
	servers map[string]simulate.Server
	store   *state.Store
	eng     *Engine
}

type seed map[string]map[string]simulate.Watch // server name -> media key -> watch

func newWorld(t *testing.T, cat *simulate.Catalog, s seed) *world {
	t.Helper()
	return newWorldVersions(t, cat, s, nil)
}

// newWorldVersions is newWorld with the servers' versions by name ("" or
// absent: the simulator's default, the current release).
func newWorldVersions(t *testing.T, cat *simulate.Catalog, s seed, versions map[string]string) *world {
	t.Helper()
	w := &world{t: t, cat: cat, clock: &testClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}, servers: map[string]simulate.Server{}}
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetClock(w.clock.now)
	w.store = st
	w.eng = New(st, nil)
	w.eng.SetClock(w.clock.now)
	w.eng.SetTransportOptions(backend.TransportOptions{Timeout: 10 * time.Second, MaxRetryWait: 10 * time.Millisecond})
	for _, name := range []string{"plex", "jellyfin", "emby"} {
		opt := simulate.Options{Name: name + " server", Watches: s[name], Now: w.clock.now, Version: versions[name]}
		srv, err := simulate.New(backend.Kind(name), cat, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		w.servers[name] = srv
		if _, err := st.AddBackend(ctx, state.Backend{Name: name, Kind: backend.Kind(name), URL: srv.URL(), Token: srv.Token(), UserID: srv.UserID(),
			Import: state.ImportFull, Export: true}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) sync(opt RunOptions) *Report {
	w.t.Helper()
	rep, err := w.eng.Sync(context.Background(), opt)
	if err != nil {
		w.t.Fatalf("sync: %v", err)
	}
	w.checkForeignKeys()
	return rep
}

// checkForeignKeys fails the test when a row names a parent that is not
// there: imports write without the checks (state.Store.BeginImport).
func (w *world) checkForeignKeys() {
	w.t.Helper()
	rows, err := w.store.DB().Query(`PRAGMA foreign_key_check`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			w.t.Fatal(err)
		}
		w.t.Errorf("foreign key: a row of %s (rowid %v) names a %s that is not there", table, rowid, parent)
	}
}

func (w *world) watch(server, key string) simulate.Watch { return w.servers[server].Watch(key) }

func (w *world) backend(name string) state.Backend {
	b, err := w.store.Backend(context.Background(), name)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) setBackend(name string, f func(*state.Backend)) {
	b := w.backend(name)
	f(&b)
	if err := w.store.UpdateBackend(context.Background(), b); err != nil {
		w.t.Fatal(err)
	}
}

func failedBackends(rep *Report) []string {
	var out []string
	for _, b := range rep.Failed() {
		out = append(out, b.Phase+" "+b.Backend+": "+b.Error)
	}
	return out
}

func TestScenarioMovieWatchedOnPlexReachesOthersWithItsDate(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	rep := w.sync(RunOptions{})
	if f := failedBackends(rep); len(f) > 0 {
		t.Fatalf("failed: %v", f)
	}
	for _, s := range []string{"jellyfin", "emby"} {
		got := w.watch(s, "heat")
		if !got.Played || !got.LastPlayed.Equal(tPlay) {
			t.Errorf("%s: heat = %+v, want played at %v", s, got, tPlay)
		}
	}
	if got := w.watch("plex", "alien"); got.Played {
		t.Errorf("an unwatched movie became watched on plex: %+v", got)
	}
}

func TestScenarioEpisodeMatchedOnlyThroughItsShow(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"jellyfin": {"e2": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	w.sync(RunOptions{})
	for _, s := range []string{"plex", "emby"} {
		if got := w.watch(s, "e2"); !got.Played {
			t.Errorf("%s: S01E02 = %+v, want played", s, got)
		}
		if got := w.watch(s, "e1"); got.Played {
			t.Errorf("%s: S01E01 was marked too (matched on something other than its numbers)", s)
		}
	}
	c, _ := w.store.Counts(context.Background())
	// 6 items with ids (the home video has none); each exists once.
	if c.Items != 6 {
		t.Errorf("local items = %d, want 6: an episode was not matched across servers", c.Items)
	}
}

func TestScenarioLegacyPlexGUIDMatchesProviderIds(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"jellyfin": {"matrix": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	w.sync(RunOptions{})
	if got := w.watch("plex", "matrix"); !got.Played {
		t.Errorf("plex (legacy imdb agent): matrix = %+v, want played", got)
	}
}

func TestScenarioUnwatchReachesTheOthers(t *testing.T) {
	all := map[string]simulate.Watch{"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}
	w := newWorld(t, scenarioCatalog(), seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	w.clock.add(time.Hour)
	w.servers["emby"].SetWatch("heat", simulate.Watch{})
	w.clock.add(time.Hour)
	// Only a full reconcile sees an un-watch: servers forget the play
	// date, so a quick import cannot ask for it.
	rep := w.sync(RunOptions{Full: true})
	if f := failedBackends(rep); len(f) > 0 {
		t.Fatalf("failed: %v", f)
	}
	for _, s := range []string{"plex", "jellyfin", "emby"} {
		if got := w.watch(s, "heat"); got.Played {
			t.Errorf("%s: heat still played after the un-watch on emby: %+v", s, got)
		}
	}
}

func TestScenarioReplacedFileDoesNotUnwatch(t *testing.T) {
	all := map[string]simulate.Watch{"alien": {Played: true, PlayCount: 1, LastPlayed: tPlay}}
	w := newWorld(t, scenarioCatalog(), seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	oldID := w.servers["jellyfin"].RemoteID("alien")
	w.clock.add(time.Hour)
	w.servers["jellyfin"].Replace("alien", w.clock.now())
	if w.servers["jellyfin"].RemoteID("alien") == oldID {
		t.Fatal("the simulated replace kept the id")
	}
	w.clock.add(time.Hour)
	rep := w.sync(RunOptions{Full: true})
	if f := failedBackends(rep); len(f) > 0 {
		t.Fatalf("failed: %v", f)
	}
	for _, s := range []string{"plex", "emby"} {
		if got := w.watch(s, "alien"); !got.Played {
			t.Errorf("%s: alien un-watched because jellyfin's file was replaced", s)
		}
	}
	if got := w.watch("jellyfin", "alien"); !got.Played {
		t.Errorf("jellyfin: the replaced file should get the watched mark back, got %+v", got)
	}
}

func TestScenarioResumePositionInTheRightUnits(t *testing.T) {
	pos := 12*time.Minute + 34*time.Second + 567*time.Millisecond
	w := newWorld(t, scenarioCatalog(), seed{"emby": {"e3": {Position: pos, LastPlayed: tPlay}}})
	rep := w.sync(RunOptions{})
	if f := failedBackends(rep); len(f) > 0 {
		t.Fatalf("failed: %v", f)
	}
	for _, s := range []string{"plex", "jellyfin"} {
		got := w.watch(s, "e3")
		if got.Position != pos || got.Played {
			t.Errorf("%s: e3 = %+v, want unplayed, resume at %v", s, got, pos)
		}
	}
}

func TestScenarioTieKeepsLocal(t *testing.T) {
	all := map[string]simulate.Watch{"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}
	w := newWorld(t, scenarioCatalog(), seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	w.clock.add(time.Hour)
	// Un-watched on jellyfin, seen at the engine's clock: the local state's
	// time is now exactly unwatchAt.
	w.servers["jellyfin"].SetWatch("heat", simulate.Watch{})
	unwatchAt := w.clock.now()
	w.sync(RunOptions{Full: true})
	// Emby then reports a play at exactly that second: a tie.
	w.servers["emby"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 2, LastPlayed: unwatchAt})
	w.clock.add(time.Minute)
	w.sync(RunOptions{})
	item := w.localItem("heat")
	if item.Watched || !item.Updated.Equal(unwatchAt) {
		t.Errorf("local = %+v, want unwatched at %v (a tie keeps local)", item, unwatchAt)
	}
}

func (w *world) localItem(key string) state.Item {
	w.t.Helper()
	ctx := context.Background()
	b := w.backend("plex")
	tx, err := w.store.Begin(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	defer tx.Rollback()
	_, it, ok, err := tx.RemoteItem(b.ID, w.servers["plex"].RemoteID(key))
	if err != nil || !ok {
		w.t.Fatalf("no local item for %s: %v", key, err)
	}
	return it
}

func TestScenarioItemWithoutIDsIsLeftAloneAndListed(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"home-video": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	rep := w.sync(RunOptions{})
	if rep.Unmatched != 3 {
		t.Errorf("unmatched = %d, want 3 (one per server)", rep.Unmatched)
	}
	for _, s := range []string{"jellyfin", "emby"} {
		if got := w.watch(s, "home-video"); got.Played {
			t.Errorf("%s: an item without ids was changed: %+v", s, got)
		}
	}
	list, err := w.store.UnmatchedItems(context.Background(), 10)
	if err != nil || len(list) != 3 || list[0].Title != "Holiday 2019" {
		t.Errorf("UnmatchedItems = %+v, %v", list, err)
	}
}

func TestScenarioSecondSyncWritesNothing(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{
		"plex":     {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}},
		"jellyfin": {"matrix": {Played: true, PlayCount: 1, LastPlayed: tPlay.Add(-48 * time.Hour)}, "e1": {Played: true, PlayCount: 1, LastPlayed: tPlay}},
		"emby":     {"e3": {Position: 20 * time.Minute, LastPlayed: tPlay}},
	})
	first := w.sync(RunOptions{})
	if first.Changed() == 0 {
		t.Fatal("the first sync changed nothing")
	}
	w.clock.add(10 * time.Minute)
	second := w.sync(RunOptions{})
	if n := second.Changed(); n != 0 {
		t.Errorf("second sync changed %d things: %+v", n, second.Changes)
	}
	w.clock.add(10 * time.Minute)
	third := w.sync(RunOptions{Full: true})
	if n := third.Changed(); n != 0 {
		t.Errorf("a full sync after that changed %d things (echo or ping-pong): %+v", n, third.Changes)
	}
	// Plex stamped "now" on the matrix scrobble; that must not have come
	// back as a newer play.
	if got := w.watch("jellyfin", "matrix"); !got.LastPlayed.Equal(tPlay.Add(-48 * time.Hour)) {
		t.Errorf("jellyfin's matrix play date moved to %v", got.LastPlayed)
	}
}

func TestScenarioDryRunWritesNothing(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	rep := w.sync(RunOptions{DryRun: true})
	if rep.Changed() == 0 || len(rep.Changes) == 0 {
		t.Fatal("the dry run planned nothing")
	}
	var planned bool
	for _, c := range rep.Changes {
		if c.Target == "jellyfin" && strings.HasPrefix(c.After, "watched") && strings.Contains(c.Item, "Heat") {
			planned = true
		}
	}
	if !planned {
		t.Errorf("the plan does not show Heat going to jellyfin: %+v", rep.Changes)
	}
	for _, s := range []string{"jellyfin", "emby"} {
		if got := w.watch(s, "heat"); got.Played {
			t.Errorf("%s was written by a dry run", s)
		}
	}
	c, _ := w.store.Counts(context.Background())
	if c.Items != 0 {
		t.Errorf("the dry run left %d items in the local state", c.Items)
	}
	for _, name := range []string{"plex", "jellyfin", "emby"} {
		b := w.backend(name)
		if !b.LastImport.IsZero() || b.ExportCursor != 0 || !b.ImportCursor.IsZero() {
			t.Errorf("%s: a dry run moved a cursor: %+v", name, b)
		}
	}
}

func TestScenarioMassUnwatchIsHeld(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 120, Seed: 3})
	all := map[string]simulate.Watch{}
	for _, m := range cat.Media {
		all[m.Key] = simulate.Watch{Played: true, PlayCount: 1, LastPlayed: tPlay}
	}
	w := newWorld(t, cat, seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	w.clock.add(time.Hour)
	var gone []string
	for _, m := range cat.Media[:40] {
		if len(m.GUIDs) == 0 && m.Type == backend.Movie {
			continue
		}
		w.servers["emby"].SetWatch(m.Key, simulate.Watch{})
		gone = append(gone, m.Key)
	}
	w.clock.add(time.Hour)
	rep := w.sync(RunOptions{Full: true})
	if rep.Status != state.RunHeld || len(rep.Held) != 2 {
		t.Fatalf("status %s, held %+v: want the exports to plex and jellyfin held", rep.Status, rep.Held)
	}
	if got := w.watch("plex", gone[0]); !got.Played {
		t.Fatal("a held export was written to plex")
	}
	held, _ := w.store.HeldExports(context.Background())
	if len(held) != 2 {
		t.Errorf("held exports recorded = %+v", held)
	}
	// The user confirms.
	w.clock.add(time.Minute)
	if _, err := w.eng.Export(context.Background(), RunOptions{Yes: true}); err != nil {
		t.Fatal(err)
	}
	for _, k := range gone {
		if got := w.watch("plex", k); got.Played {
			t.Fatalf("after confirming, plex still has %s played", k)
		}
	}
	if held, _ := w.store.HeldExports(context.Background()); len(held) != 0 {
		t.Errorf("still held after applying: %+v", held)
	}
}

func TestScenarioRejectedTokenFailsAlone(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}}})
	w.setBackend("jellyfin", func(b *state.Backend) { b.Token = "revoked" })
	rep := w.sync(RunOptions{})
	if rep.Status != state.RunFailed {
		t.Errorf("status = %s, want failed", rep.Status)
	}
	f := failedBackends(rep)
	if len(f) != 2 || !strings.Contains(f[0], "token rejected by jellyfin") {
		t.Errorf("failed = %v, want jellyfin's import and export, saying its token was rejected", f)
	}
	if got := w.watch("emby", "heat"); !got.Played {
		t.Error("emby did not sync while jellyfin failed")
	}
	b := w.backend("jellyfin")
	if !b.LastImport.IsZero() || b.ExportCursor != 0 || !strings.Contains(b.LastError, "token rejected") {
		t.Errorf("jellyfin after failing: cursors moved or error not shown: %+v", b)
	}
}

func TestScenarioMetadataOnlyNeverChangesPlayState(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{
		"emby": {"alien": {Played: true, PlayCount: 1, LastPlayed: tPlay}, "e3": {Position: 10 * time.Minute, LastPlayed: tPlay}},
	})
	w.setBackend("emby", func(b *state.Backend) { b.Import = state.ImportMetadata })
	rep := w.sync(RunOptions{})
	if f := failedBackends(rep); len(f) > 0 {
		t.Fatalf("failed: %v", f)
	}
	for _, s := range []string{"plex", "jellyfin"} {
		if got := w.watch(s, "alien"); got.Played || w.watch(s, "e3").Position != 0 {
			t.Errorf("%s got play state from a metadata-only backend", s)
		}
	}
	if got := w.watch("emby", "alien"); !got.Played {
		t.Error("emby's own mark was undone")
	}
	if w.localItem("alien").Watched {
		t.Error("the local state took a metadata-only backend's play")
	}
}

func TestScenarioEventsReachTheOthersWithinSeconds(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{})
	w.sync(RunOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports := make(chan *Report, 4)
	go w.eng.RunEvents(ctx, func(r *Report, err error) {
		if err != nil {
			t.Errorf("event run: %v", err)
		}
		reports <- r
	})
	// The user marks Heat played on Plex; Plex tells us.
	w.clock.add(time.Hour)
	w.servers["plex"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: w.clock.now()})
	w.eng.Enqueue(Event{Backend: "plex", ItemID: w.servers["plex"].RemoteID("heat"), Kind: EventPlayed})
	// A playback event for an item the user is watching on Jellyfin: it
	// may move the position, never the flag, even if the server says played.
	w.servers["jellyfin"].SetWatch("alien", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: w.clock.now(), Position: 0})
	w.servers["jellyfin"].SetWatch("e3", simulate.Watch{Position: 7 * time.Minute, LastPlayed: w.clock.now()})
	w.eng.Enqueue(Event{Backend: "jellyfin", ItemID: w.servers["jellyfin"].RemoteID("alien"), Kind: EventProgress})
	w.eng.Enqueue(Event{Backend: "jellyfin", ItemID: w.servers["jellyfin"].RemoteID("e3"), Kind: EventProgress})
	start := time.Now()
	select {
	case rep := <-reports:
		if f := failedBackends(rep); len(f) > 0 {
			t.Fatalf("failed: %v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event run within 5 s")
	}
	t.Logf("events applied and pushed in %v", time.Since(start).Round(time.Millisecond))
	for _, s := range []string{"jellyfin", "emby"} {
		if got := w.watch(s, "heat"); !got.Played {
			t.Errorf("%s: heat not played after the event", s)
		}
	}
	for _, s := range []string{"plex", "emby"} {
		if got := w.watch(s, "alien"); got.Played {
			t.Errorf("%s: a playback event flipped alien to played", s)
		}
		if got := w.watch(s, "e3"); got.Position != 7*time.Minute {
			t.Errorf("%s: e3 position %v, want 7m from the playback event", s, got.Position)
		}
	}
}

// TestScenarioIDsFromEveryServerAreIndexed: Plex's legacy agent knows The
// Matrix by its IMDb id only; Jellyfin adds its TMDB id. An import that
// skips ids already indexed from the same set must still index the new
// one, so that a server knowing only the TMDB id matches the same item.
func TestScenarioIDsFromEveryServerAreIndexed(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), nil)
	for _, name := range []string{"plex", "jellyfin"} { // Plex creates the item
		rep, err := w.eng.Import(context.Background(), RunOptions{Backends: []string{name}})
		if err != nil || len(rep.Failed()) > 0 {
			t.Fatalf("import %s: %v %v", name, err, failedBackends(rep))
		}
	}
	tx, err := w.store.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	it, ok1, err1 := tx.GUIDItem("movie", "imdb", "tt0133093")
	byTMDB, ok2, err2 := tx.GUIDItem("movie", "tmdb", "603")
	if err1 != nil || err2 != nil || !ok1 || !ok2 || it.ID != byTMDB.ID {
		t.Fatalf("The Matrix by IMDb: %d %v %v; by TMDB: %d %v %v; want the same item", it.ID, ok1, err1, byTMDB.ID, ok2, err2)
	}
	if it.IDsHash == 0 {
		t.Errorf("the item's ids hash was not recorded")
	}
}

// A backend's first import after its sub-records went (moved to another
// person) skips looking for unseen sub-records, as it has none; its
// unmatched items that the listing did not show are still forgotten.
func TestFirstImportStillForgetsUnlistedUnmatchedItems(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), nil)
	ctx := context.Background()
	if rep := w.sync(RunOptions{}); rep.Unmatched != 3 {
		t.Fatalf("unmatched = %d, want 3 (one per server)", rep.Unmatched)
	}
	ben, err := w.store.EnsurePerson(ctx, "Ben")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.LinkBackend(ctx, "plex", ben.ID); err != nil {
		t.Fatal(err)
	}
	// Plex now lists its show library only: the home video is not shown.
	w.setBackend("plex", func(b *state.Backend) { b.Options.Libraries = []string{"2"} })
	w.clock.add(time.Hour)
	w.sync(RunOptions{})
	list, err := w.store.UnmatchedItems(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range list {
		if u.Backend == "plex" {
			t.Errorf("plex's unlisted unmatched item %q is still kept", u.Title)
		}
	}
	if len(list) != 2 {
		t.Errorf("unmatched items = %+v, want jellyfin's and emby's", list)
	}
}
