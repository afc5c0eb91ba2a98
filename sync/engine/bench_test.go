package engine

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// The benchmarks run the engine against simulated servers over loopback
// and a real SQLite file, like the scale driver (./bench, make bench), but
// small enough to run often:
//
//	go test -run '^$' -bench . -benchmem ./sync/engine/
//	go test -run '^$' -bench ImportFull -bench.items 20000 ./sync/engine/
//
// They are skipped by a plain go test (no -bench), so the suite stays fast.

var benchItems = flag.Int("bench.items", 2000, "items per simulated server in the engine benchmarks")

var benchKinds = []string{"plex", "jellyfin", "emby"}

// benchServer starts a simulated server of kind with the catalog and its
// own play states (a seed per kind, as playmark simulate does).
func benchServer(b *testing.B, kind string, cat *simulate.Catalog, watchSeed uint64) simulate.Server {
	b.Helper()
	opt := simulate.Options{Name: kind + " bench",
		Watches: simulate.GenerateWatches(cat, watchSeed, time.Now().UTC().Add(-time.Hour))}
	srv, err := simulate.New(backend.Kind(kind), cat, opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	return srv
}

func benchCatalog(n int) *simulate.Catalog {
	return simulate.Generate(simulate.GenerateOptions{Items: n, Seed: 1})
}

// benchEngine opens a fresh store in a temp dir with the servers added.
func benchEngine(b *testing.B, servers map[string]simulate.Server, export bool) *Engine {
	b.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(b.TempDir(), "cfg"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for _, kind := range benchKinds {
		srv, ok := servers[kind]
		if !ok {
			continue
		}
		if _, err := st.AddBackend(ctx, state.Backend{Name: kind, Kind: backend.Kind(kind), URL: srv.URL(), Token: srv.Token(),
			UserID: srv.UserID(), Import: state.ImportFull, Export: export}); err != nil {
			b.Fatal(err)
		}
	}
	return New(st, nil)
}

func benchRun(b *testing.B, f func() (*Report, error)) *Report {
	b.Helper()
	rep, err := f()
	if err != nil {
		b.Fatal(err)
	}
	if rep.Status != state.RunOK {
		b.Fatalf("run %s: %s", rep.Status, rep.FailedReason)
	}
	return rep
}

func reportFigures(b *testing.B, reps []*Report, items int) {
	var req int64
	for _, rep := range reps {
		for _, br := range rep.Backends {
			req += br.Requests
		}
	}
	n := float64(len(reps))
	b.ReportMetric(float64(req)/n, "requests/op")
	if items > 0 {
		b.ReportMetric(float64(items)*n/b.Elapsed().Seconds(), "items/s")
	}
}

// BenchmarkImportFull is a full import of one backend into an empty
// database.
func BenchmarkImportFull(b *testing.B) {
	cat := benchCatalog(*benchItems)
	for i, kind := range benchKinds {
		b.Run(kind, func(b *testing.B) {
			srv := benchServer(b, kind, cat, uint64(101*(i+1)))
			benchFullImports(b, map[string]simulate.Server{kind: srv}, *benchItems)
		})
	}
}

// BenchmarkImportFull3 is the full import of three backends (the same
// library, different play states) into an empty database.
func BenchmarkImportFull3(b *testing.B) {
	cat := benchCatalog(*benchItems)
	servers := map[string]simulate.Server{}
	for i, kind := range benchKinds {
		servers[kind] = benchServer(b, kind, cat, uint64(101*(i+1)))
	}
	benchFullImports(b, servers, 3**benchItems)
}

// benchFullImports times full imports of servers, each into an empty
// database, and reports their figures (items: listed per import).
func benchFullImports(b *testing.B, servers map[string]simulate.Server, items int) {
	var reps []*Report
	var size int64
	for b.Loop() {
		b.StopTimer()
		e := benchEngine(b, servers, false)
		b.StartTimer()
		reps = append(reps, benchRun(b, func() (*Report, error) { return e.Import(context.Background(), RunOptions{Full: true}) }))
		size = dbBytes(e.store.Path())
	}
	reportFigures(b, reps, items)
	b.ReportMetric(float64(size), "db-bytes")
}

// dbBytes is the size of the database at path with its write-ahead log.
func dbBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// BenchmarkFloor is the least any import can cost: the same clients page
// through the same listings and throw the items away.
func BenchmarkFloor(b *testing.B) {
	cat := benchCatalog(*benchItems)
	for i, kind := range benchKinds {
		b.Run(kind, func(b *testing.B) {
			srv := benchServer(b, kind, cat, uint64(101*(i+1)))
			e := benchEngine(b, map[string]simulate.Server{kind: srv}, false)
			ctx := context.Background()
			bk, err := e.Store().Backend(ctx, kind)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				client, _, err := e.Open(ctx, bk)
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				if err := client.Items(ctx, backend.ListOptions{}, func(p []backend.Item) error { n += len(p); return nil }); err != nil {
					b.Fatal(err)
				}
			}
			if n < *benchItems*9/10 {
				b.Fatalf("listed %d items, want about %d", n, *benchItems)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkImportQuick is a quick import of three backends where nothing
// changed since the last one.
func BenchmarkImportQuick(b *testing.B) {
	cat := benchCatalog(*benchItems)
	servers := map[string]simulate.Server{}
	for i, kind := range benchKinds {
		servers[kind] = benchServer(b, kind, cat, uint64(101*(i+1)))
	}
	e := benchEngine(b, servers, false)
	ctx := context.Background()
	benchRun(b, func() (*Report, error) { return e.Import(ctx, RunOptions{Full: true}) })
	var reps []*Report
	for b.Loop() {
		rep := benchRun(b, func() (*Report, error) { return e.Import(ctx, RunOptions{}) })
		for _, br := range rep.Backends {
			if br.Mode != "quick" {
				b.Fatalf("%s: %s import, want quick", br.Backend, br.Mode)
			}
		}
		reps = append(reps, rep)
	}
	reportFigures(b, reps, 0)
}

// BenchmarkSyncPush is 100 plays made on Plex, imported quickly and
// pushed to Jellyfin and Emby: a sync, so requests/op counts the import's
// requests too.
func BenchmarkSyncPush(b *testing.B) {
	const changes = 100
	cat := benchCatalog(max(*benchItems, 5000))
	servers := map[string]simulate.Server{}
	for _, kind := range benchKinds {
		servers[kind] = benchServer(b, kind, cat, 7) // the same play states: the first sync writes nothing
	}
	e := benchEngine(b, servers, true)
	ctx := context.Background()
	benchRun(b, func() (*Report, error) { return e.Sync(ctx, RunOptions{Full: true, Yes: true}) })
	var reps []*Report
	next := 0
	for b.Loop() {
		b.StopTimer()
		if got := changeWatches(servers["plex"], cat, &next, changes, time.Now().UTC()); got < changes {
			b.Fatalf("only %d unplayed items left to play: use a larger -bench.items", got)
		}
		b.StartTimer()
		rep := benchRun(b, func() (*Report, error) { return e.Sync(ctx, RunOptions{}) })
		pushed := 0
		for _, br := range rep.Backends {
			if br.Phase == "export" {
				if br.Mode != "push" {
					b.Fatalf("%s: %s export, want push", br.Backend, br.Mode)
				}
				pushed += br.Changed
			}
		}
		if pushed != 2*changes {
			b.Fatalf("pushed %d writes, want %d (%d to each of Jellyfin and Emby)", pushed, 2*changes, changes)
		}
		reps = append(reps, rep)
	}
	reportFigures(b, reps, 0)
}

// changeWatches plays n items of the catalog on srv now: items unplayed
// there (the servers share their play states here, so unplayed
// everywhere) and matchable, so that each is a change to sync. *next is
// where the walk through the catalog goes on from.
func changeWatches(srv simulate.Server, cat *simulate.Catalog, next *int, n int, now time.Time) int {
	done := 0
	for tries := 0; done < n && tries < len(cat.Media); tries++ {
		m := cat.Media[(*next*7919)%len(cat.Media)]
		*next++
		if srv.Watch(m.Key).Played || (m.Type == backend.Movie && len(m.GUIDs) == 0) {
			continue
		}
		srv.SetWatch(m.Key, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: now})
		done++
	}
	return done
}

// BenchmarkIDsHash and BenchmarkDecide are the engine's per-item pure work.
func BenchmarkIDsHash(b *testing.B) {
	it := backend.Item{ID: "1", Type: backend.Episode, Season: 2, Episode: 7,
		GUIDs:     []backend.GUID{{Kind: "tvdb", Value: "8012345"}, {Kind: "imdb", Value: "tt6012345"}},
		ShowGUIDs: []backend.GUID{{Kind: "tvdb", Value: "70012"}, {Kind: "tmdb", Value: "900012"}, {Kind: "imdb", Value: "tt5000012"}}}
	for b.Loop() {
		_ = idsHash(&it)
	}
}

func BenchmarkDecide(b *testing.B) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	local := state.Item{ID: 1, Type: "movie", Title: "Heat", Updated: at.Add(-48 * time.Hour), Explicit: true, Watched: true}
	prev := &state.Remote{RemoteID: "1", Watched: true, PlayedAt: at.Add(-48 * time.Hour)}
	it := backend.Item{ID: "1", Type: backend.Movie, Played: true, LastPlayed: at.Add(-time.Hour), PlayCount: 2}
	dc := decideContext{backend: "plex", now: at, lastImport: at.Add(-24 * time.Hour), progressMin: time.Minute}
	for b.Loop() {
		_ = decide(local, prev, &it, dc)
	}
}

// BenchmarkImportHousehold is the full import of a household into an
// empty database: three servers with four users each (each user their
// own play states) over a library a quarter of -bench.items, so that it
// lists as many items as BenchmarkImportFull3. The media identity is
// shared: compare its items/s with ImportFull3's.
func BenchmarkImportHousehold(b *testing.B) {
	const users = 4
	n := *benchItems / users
	cat := benchCatalog(n)
	type member struct {
		kind, token, userID string
		person              int
	}
	var members []member
	for i, kind := range benchKinds {
		srv := benchServer(b, kind, cat, uint64(101*(i+1)))
		for u := 0; u < users; u++ {
			m := member{kind: kind, token: srv.Token(), userID: srv.UserID(), person: u}
			if u > 0 {
				watches := simulate.GenerateWatches(cat, uint64(1000*(i+1)+u), time.Now().UTC().Add(-time.Hour))
				switch s := srv.(type) {
				case *simulate.PlexServer:
					m.token = fmt.Sprintf("bench-user-%d", u)
					id, err := s.AddAccount(fmt.Sprintf("user%d", u), m.token)
					if err != nil {
						b.Fatal(err)
					}
					for k, w := range watches {
						s.SetAccountWatch(id, k, w)
					}
				case *simulate.MediaBrowserServer:
					m.userID = s.AddUser(fmt.Sprintf("user%d", u), "", false)
					for k, w := range watches {
						s.SetWatchOf(m.userID, k, w)
					}
				}
			}
			m.kind = kind + "|" + srv.URL()
			members = append(members, m)
		}
	}
	var reps []*Report
	var size int64
	for b.Loop() {
		b.StopTimer()
		ctx := context.Background()
		st, err := state.Open(ctx, filepath.Join(b.TempDir(), "cfg"))
		if err != nil {
			b.Fatal(err)
		}
		var people []int64
		for u := 0; u < users; u++ {
			p, err := st.EnsurePerson(ctx, fmt.Sprintf("person%d", u))
			if err != nil {
				b.Fatal(err)
			}
			people = append(people, p.ID)
		}
		for i, m := range members {
			kind, url, _ := strings.Cut(m.kind, "|")
			if _, err := st.AddBackend(ctx, state.Backend{Name: fmt.Sprintf("%s-%d", kind, i), Kind: backend.Kind(kind), URL: url, Token: m.token,
				UserID: m.userID, Import: state.ImportFull, PersonID: people[m.person]}); err != nil {
				b.Fatal(err)
			}
		}
		e := New(st, nil)
		b.StartTimer()
		reps = append(reps, benchRun(b, func() (*Report, error) { return e.Import(ctx, RunOptions{Full: true}) }))
		b.StopTimer()
		size = dbBytes(st.Path())
		st.Close()
		b.StartTimer()
	}
	reportFigures(b, reps, len(members)*n)
	b.ReportMetric(float64(size), "db-bytes")
}
