package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
)

// Scenarios over the simulators in their real-server modes (API-NOTES
// section 7): Jellyfin 10.11 (a replay clears Played), Jellyfin 12.0,
// Emby 4.8 (listings without the play date unless asked). Every sync
// after the first is a plain `playmark sync`: a quick import.

var allServers = []string{"plex", "jellyfin", "emby"}

func watchedEverywhere(keys ...string) seed {
	m := map[string]simulate.Watch{}
	for _, k := range keys {
		m[k] = simulate.Watch{Played: true, PlayCount: 1, LastPlayed: tPlay}
	}
	return seed{"plex": m, "jellyfin": m, "emby": m}
}

func (w *world) quickSync() *Report {
	w.t.Helper()
	rep := w.sync(RunOptions{})
	if f := failedBackends(rep); len(f) > 0 {
		w.t.Fatalf("failed: %v", f)
	}
	for _, b := range rep.Backends {
		if b.Phase == "import" && b.Mode != "quick" {
			w.t.Fatalf("%s imported %s, want a quick import", b.Backend, b.Mode)
		}
	}
	return rep
}

func TestRealUnwatchOnEachServerReachesTheOthersOnThePlainSync(t *testing.T) {
	for _, on := range allServers {
		t.Run(on, func(t *testing.T) {
			w := newWorld(t, scenarioCatalog(), watchedEverywhere("heat", "e3"))
			w.sync(RunOptions{})
			w.clock.add(3 * time.Hour)
			// The user un-marks it in the server's own app.
			if err := simulate.Mark(w.servers[on], "heat", false); err != nil {
				t.Fatal(err)
			}
			w.clock.add(time.Minute)
			rep := w.quickSync()
			for _, s := range allServers {
				if got := w.watch(s, "heat"); got.Played {
					t.Errorf("%s: heat still played after the un-watch on %s: %+v", s, on, got)
				}
				if got := w.watch(s, "e3"); !got.Played {
					t.Errorf("%s: e3 lost its mark", s)
				}
			}
			found := ""
			for _, b := range rep.Backends {
				found += b.Found
			}
			if !strings.Contains(found, "played-id") {
				t.Errorf("the run summary does not say how the un-watch was found: %+v", rep.Backends)
			}
			// And the next sync has nothing to do.
			w.clock.add(time.Minute)
			if rep := w.quickSync(); rep.Changed() != 0 {
				t.Errorf("second sync changed %d", rep.Changed())
			}
		})
	}
}

func TestRealJellyfinReplayLeavesTheOthersWatched(t *testing.T) {
	for _, version := range []string{"10.11.8", "12.0.0"} {
		t.Run(version, func(t *testing.T) {
			w := newWorldVersions(t, scenarioCatalog(), watchedEverywhere("heat"), map[string]string{"jellyfin": version})
			w.sync(RunOptions{})
			w.clock.add(3 * time.Hour)
			// Re-watching from the start, stopped a third of the way in.
			jf := w.servers["jellyfin"]
			if err := simulate.Playback(jf, "heat", simulate.PlaybackStart, 0); err != nil {
				t.Fatal(err)
			}
			w.clock.add(40 * time.Minute)
			if err := simulate.Playback(jf, "heat", simulate.PlaybackStop, 40*time.Minute); err != nil {
				t.Fatal(err)
			}
			if got := jf.Watch("heat"); version == "10.11.8" && got.Played {
				t.Fatalf("the simulated 10.11 replay kept Played: %+v", got)
			}
			w.clock.add(time.Minute)
			w.quickSync()
			for _, s := range []string{"plex", "emby"} {
				if got := w.watch(s, "heat"); !got.Played {
					t.Errorf("%s: heat un-watched by a replay on jellyfin %s: %+v", s, version, got)
				}
			}
			if item := w.localItem("heat"); !item.Watched {
				t.Errorf("local: %+v, want watched", item)
			}
		})
	}
}

func TestRealLongSessionReachesTheOthers(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), nil)
	w.sync(RunOptions{})
	jf := w.servers["jellyfin"]
	w.clock.add(time.Hour)
	if err := simulate.Playback(jf, "alien", simulate.PlaybackStart, 0); err != nil {
		t.Fatal(err)
	}
	w.clock.add(10 * time.Minute)
	if err := simulate.Playback(jf, "alien", simulate.PlaybackProgress, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	// An import while the film plays; it started two hours before the
	// next one.
	w.clock.add(2 * time.Hour)
	w.quickSync()
	w.clock.add(30 * time.Minute)
	if err := simulate.Playback(jf, "alien", simulate.PlaybackStop, 70*time.Minute); err != nil {
		t.Fatal(err)
	}
	w.clock.add(time.Minute)
	w.quickSync()
	for _, s := range []string{"plex", "emby"} {
		if got := w.watch(s, "alien"); got.Position != 70*time.Minute {
			t.Errorf("%s: alien at %v, want 70m from the long session on jellyfin", s, got.Position)
		}
	}
}

func TestRealJellyfinWebMarkWithoutDateReachesTheOthers(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{"jellyfin": {"alien": {Position: 50 * time.Minute, LastPlayed: tPlay, PlayCount: 1}}})
	w.sync(RunOptions{})
	w.clock.add(3 * time.Hour)
	// jellyfin-web sends no date: Jellyfin keeps the old one.
	if err := simulate.Mark(w.servers["jellyfin"], "alien", true); err != nil {
		t.Fatal(err)
	}
	if got := w.watch("jellyfin", "alien"); !got.Played || !got.LastPlayed.Equal(tPlay) {
		t.Fatalf("the simulated web mark: %+v", got)
	}
	w.quickSync()
	for _, s := range []string{"plex", "emby"} {
		if got := w.watch(s, "alien"); !got.Played {
			t.Errorf("%s: alien not played after the web mark on jellyfin", s)
		}
	}
}

func TestRealEmby48PlayReachesTheOthersThroughAQuickImport(t *testing.T) {
	w := newWorldVersions(t, scenarioCatalog(), nil, map[string]string{"emby": "4.8.11.0"})
	w.sync(RunOptions{})
	w.clock.add(3 * time.Hour)
	playedAt := w.clock.now()
	w.servers["emby"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: playedAt})
	w.clock.add(30 * time.Minute)
	rep := w.quickSync()
	for _, s := range []string{"plex", "jellyfin"} {
		if got := w.watch(s, "heat"); !got.Played {
			t.Errorf("%s: heat not played after the play on emby 4.8", s)
		}
	}
	// The listing by date found it, with its date (Jellyfin can take it).
	if got := w.watch("jellyfin", "heat"); !got.LastPlayed.Equal(playedAt) {
		t.Errorf("jellyfin: heat played at %v, want emby's %v", got.LastPlayed, playedAt)
	}
	for _, b := range rep.Backends {
		if b.Backend == "emby" && b.Phase == "import" && (b.Read != 1 || b.Found != "") {
			t.Errorf("emby: read %d, found %q: want the play in the listing by date", b.Read, b.Found)
		}
	}
}

func TestRealEventUnwatchReachesTheOthers(t *testing.T) {
	for _, on := range []string{"jellyfin", "emby"} {
		t.Run(on, func(t *testing.T) {
			w := newWorld(t, scenarioCatalog(), watchedEverywhere("heat"))
			w.sync(RunOptions{})
			w.clock.add(3 * time.Hour)
			if err := simulate.Mark(w.servers[on], "heat", false); err != nil {
				t.Fatal(err)
			}
			rep, err := w.eng.HandleEvents(context.Background(), []Event{{Backend: on, ItemID: w.servers[on].RemoteID("heat"), Kind: EventUnplayed}})
			if err != nil {
				t.Fatal(err)
			}
			if f := failedBackends(rep); len(f) > 0 {
				t.Fatalf("failed: %v", f)
			}
			for _, s := range allServers {
				if got := w.watch(s, "heat"); got.Played {
					t.Errorf("%s: heat still played after the un-watch event from %s: %+v", s, on, got)
				}
			}
		})
	}
}

// TestRealQuickImportStaysCheap counts the requests of a no-change quick
// import at a modest size (3 x 3,000 items), and of one that has an
// un-watch to find on each server.
func TestRealQuickImportStaysCheap(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 3000, Seed: 7})
	s := seed{}
	for i, name := range allServers {
		s[name] = simulate.GenerateWatches(cat, uint64(11*(i+1)), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	}
	w := newWorld(t, cat, s)
	if rep, err := w.eng.Import(context.Background(), RunOptions{}); err != nil || len(rep.Failed()) > 0 {
		t.Fatalf("first import: %v %v", err, failedBackends(rep))
	}
	w.clock.add(time.Hour)
	quick := func() *Report {
		t.Helper()
		rep, err := w.eng.Import(context.Background(), RunOptions{})
		if err != nil || len(rep.Failed()) > 0 {
			t.Fatalf("quick import: %v %v", err, failedBackends(rep))
		}
		return rep
	}
	for _, b := range quick().Backends {
		t.Logf("no change: %s %s import, %d requests", b.Backend, b.Mode, b.Requests)
		if b.Mode != "quick" || b.Requests > 10 || b.Found != "" {
			t.Errorf("%s: %s import with %d requests (found %q), want quick, at most 10, no played-id listing", b.Backend, b.Mode, b.Requests, b.Found)
		}
	}
	// One un-watch on each server, each of another item.
	chosen := map[string]bool{}
	for _, name := range allServers {
		for _, m := range cat.Media {
			if w.watch(name, m.Key).Played && len(m.GUIDs) > 0 && !chosen[m.Key] {
				chosen[m.Key] = true
				if err := simulate.Mark(w.servers[name], m.Key, false); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	w.clock.add(time.Hour)
	for _, b := range quick().Backends {
		t.Logf("one un-watch: %s %s import, %d requests, changed %d: %s", b.Backend, b.Mode, b.Requests, b.Changed, b.Found)
		if b.Changed != 1 || b.Requests > 16 || !strings.Contains(b.Found, "played-id") {
			t.Errorf("%s: changed %d in %d requests (found %q), want the un-watch in a few requests", b.Backend, b.Changed, b.Requests, b.Found)
		}
	}
}

// TestRealExportDoesNotLookLikeAnUnwatch: the marks a sync writes move the
// servers' played counts; the next quick import must not take that for
// something to look for.
func TestRealExportDoesNotLookLikeAnUnwatch(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), watchedEverywhere("heat"))
	w.sync(RunOptions{})
	w.clock.add(time.Hour)
	w.servers["plex"].SetWatch("alien", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: w.clock.now()})
	if err := simulate.Mark(w.servers["emby"], "heat", false); err != nil {
		t.Fatal(err)
	}
	w.clock.add(time.Minute)
	w.quickSync() // alien to jellyfin and emby, heat's un-watch to plex and jellyfin
	for _, s := range allServers {
		if !w.watch(s, "alien").Played || w.watch(s, "heat").Played {
			t.Fatalf("%s: alien %+v, heat %+v", s, w.watch(s, "alien"), w.watch(s, "heat"))
		}
	}
	w.clock.add(time.Minute)
	for _, b := range w.quickSync().Backends {
		if b.Found != "" {
			t.Errorf("%s: %s, after nothing changed but our own writes", b.Backend, b.Found)
		}
	}
}
