package engine

import (
	"context"
	"strconv"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

func TestIDFilterHasNoFalseNegatives(t *testing.T) {
	f := newIDFilter(0)
	const n = 200000
	for i := range n {
		f.add(guidKey("movie", "imdb", "tt"+strconv.Itoa(i)))
	}
	for i := range n {
		if !f.has(guidKey("movie", "imdb", "tt"+strconv.Itoa(i))) {
			t.Fatalf("key %d was added but is not found", i)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if f.has(guidKey("movie", "imdb", "tt"+strconv.Itoa(i))) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.02 {
		t.Errorf("false positive rate %.3f, want about 1 %% at this size", rate)
	}
	if f.has(episodeKey("tvdb", "1", 1, 2)) && f.has(episodeKey("tvdb", "1", 2, 1)) && f.has(episodeKey("tvdb", "12", 1, 1)) {
		t.Error("episode keys collide systematically")
	}
}

// TestIDFilterGrowsPastItsSize: a first import of a million items
// records some five million ids in a filter sized for the empty state
// (a million keys): it must still answer "no" for nearly every id it
// was not given, and "yes" for every one it was.
func TestIDFilterGrowsPastItsSize(t *testing.T) {
	f := newIDFilter(0)
	const n = 4 << 20
	for i := range n {
		f.add(guidKey("episode", "tvdb", strconv.Itoa(i)))
	}
	for i := 0; i < n; i += 97 {
		if !f.has(guidKey("episode", "tvdb", strconv.Itoa(i))) {
			t.Fatalf("key %d was added but is not found", i)
		}
	}
	fp := 0
	const probes = 200000
	for i := n; i < n+probes; i++ {
		if f.has(guidKey("episode", "tvdb", strconv.Itoa(i))) {
			fp++
		}
	}
	if rate := float64(fp) / probes; rate > 0.04 {
		t.Errorf("false positive rate %.3f at four times the filter's first size, want a few %% at most", rate)
	}
}

// TestQuickImportIDsReachTheRunsFilter: in one run, a full import loads
// the filter of recorded ids; a quick import after it creates an item;
// a full import after that must find the item, not make a second one
// because the filter never heard of its ids.
func TestQuickImportIDsReachTheRunsFilter(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), nil)
	ctx := context.Background()
	now := w.clock.now()
	// Plex lists its show library only: its full import loads the filter
	// without the movies.
	w.setBackend("plex", func(b *state.Backend) { b.Options.Libraries = []string{"2"} })
	// Jellyfin's last full import was an hour ago: this run's is quick,
	// and lists what was played since, Heat among it.
	jf := w.backend("jellyfin")
	if err := w.store.ImportDone(ctx, jf.ID, now.Add(-time.Hour), true); err != nil {
		t.Fatal(err)
	}
	w.servers["jellyfin"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: now.Add(-10 * time.Minute)})
	rep, err := w.eng.Import(ctx, RunOptions{Backends: []string{"plex", "jellyfin", "emby"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rep.Backends {
		want := map[string]string{"plex": "full", "jellyfin": "quick", "emby": "full"}[b.Backend]
		if b.Mode != want || b.Err != nil {
			t.Fatalf("%s: mode %s (%v), want %s", b.Backend, b.Mode, b.Err, want)
		}
	}
	tx, err := w.store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ids := map[string]int64{}
	for _, name := range []string{"jellyfin", "emby"} {
		r, ok, err := tx.Remote(w.backend(name).ID, w.servers[name].RemoteID("heat"))
		if err != nil || !ok {
			t.Fatalf("%s has no sub-record of Heat: %v", name, err)
		}
		ids[name] = r.ItemID
	}
	if ids["jellyfin"] != ids["emby"] {
		t.Errorf("Heat is two items: %d from jellyfin's quick import, %d from emby's full import after it", ids["jellyfin"], ids["emby"])
	}
}

// TestIDFilterKnowsRecordedShows: the filter a full import loads answers
// show id look-ups (state.Tx.SetShowFilter), so it must hold every show
// id recorded: a false "no" would make a recorded show look new.
func TestIDFilterKnowsRecordedShows(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), nil)
	w.sync(RunOptions{})
	tx, err := w.store.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	f, err := loadIDFilter(tx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []state.IDPair{{Kind: "tvdb", Value: "81189"}, {Kind: "tmdb", Value: "1396"}} {
		if !f.maybeShow(g) {
			t.Errorf("show id %v is recorded, the filter says not", g)
		}
		if _, ok, err := tx.EpisodeItem(g.Kind, g.Value, 1, 1); err != nil || !ok {
			t.Errorf("show id %v: episode 1x1 not found (%v): the world did not record it", g, err)
		}
	}
}
