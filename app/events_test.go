package app

import (
	"context"
	"slices"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/live"
	"playmark/sync/state"
	"playmark/sync/webhook"
)

// The end-to-end tests of issue 6: a real store in a temp dir, the real
// engine, three simulated servers over real HTTP, every backend with
// export on; after an initial sync, a change made on one server reaches
// the other two within 5 s, with no scheduled run: once through webhooks,
// once through each server's notification socket.

type eventsWorld struct {
	t     *testing.T
	core  *Core
	plex  *simulate.PlexServer
	jf    *simulate.MediaBrowserServer
	emby  *simulate.MediaBrowserServer
	byKey map[string]simulate.Server
}

func eventsCatalog() *simulate.Catalog {
	added := time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
	movie := func(k, title string, year int, ids ...backend.GUID) simulate.Media {
		return simulate.Media{Key: k, Type: backend.Movie, Title: title, Year: year, GUIDs: ids, Duration: 2 * time.Hour, Added: added, Path: "/movies/" + title + ".mkv"}
	}
	g := func(kind, v string) backend.GUID { return backend.GUID{Kind: kind, Value: v} }
	return simulate.NewCatalog(
		[]simulate.Show{{Key: "s1", Title: "Northern Lights", Year: 2019, GUIDs: []backend.GUID{g("tvdb", "81189")}}},
		[]simulate.Media{
			movie("heat", "Heat", 1995, g("imdb", "tt0113277"), g("tmdb", "949")),
			movie("alien", "Alien", 1979, g("imdb", "tt0078748")),
			movie("matrix", "The Matrix", 1999, g("imdb", "tt0133093")),
			{Key: "e1", Type: backend.Episode, Title: "Pilot", ShowKey: "s1", Season: 1, Episode: 1, Duration: 45 * time.Minute, Added: added, Path: "/tv/S01E01.mkv"},
		})
}

// newEventsWorld starts the servers and a Core with one backend each,
// export on, live as asked, and runs the initial sync.
func newEventsWorld(t *testing.T, liveOn bool) *eventsWorld {
	t.Helper()
	ctx := context.Background()
	core, err := OpenCore(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	w := &eventsWorld{t: t, core: core, byKey: map[string]simulate.Server{}}
	cat := eventsCatalog()
	if w.plex, err = simulate.NewPlex(cat, simulate.Options{Name: "den"}); err != nil {
		t.Fatal(err)
	}
	if w.jf, err = simulate.NewJellyfin(cat, simulate.Options{Name: "attic"}); err != nil {
		t.Fatal(err)
	}
	if w.emby, err = simulate.NewEmby(cat, simulate.Options{Name: "cellar"}); err != nil {
		t.Fatal(err)
	}
	for name, srv := range map[string]simulate.Server{"plex": w.plex, "jellyfin": w.jf, "emby": w.emby} {
		t.Cleanup(srv.Close)
		w.byKey[name] = srv
		b := state.Backend{Name: name, Kind: backend.Kind(name), URL: srv.URL(), Token: srv.Token(), UserID: srv.UserID(), Import: state.ImportFull, Export: true}
		b.Options.Live = liveOn
		if _, err := core.Store.AddBackend(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := core.Engine.Sync(ctx, engine.RunOptions{})
	if err != nil || len(rep.Failed()) > 0 {
		t.Fatalf("initial sync: %v %+v", err, rep.Failed())
	}
	return w
}

// start runs StartEvents until the test ends.
func (w *eventsWorld) start() {
	w.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.core.StartEvents(ctx); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		cancel()
		select {
		case <-w.core.EventsDone():
		case <-time.After(10 * time.Second):
			w.t.Error("the event loops did not stop within 10 s")
		}
	})
}

// until polls cond and returns how long it took to hold; it fails the
// test after limit.
func (w *eventsWorld) until(what string, limit time.Duration, cond func() bool) time.Duration {
	w.t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			w.t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// noScheduledRuns checks that every run after the initial sync was
// started by an event (webhook or live), none by a schedule.
func (w *eventsWorld) noScheduledRuns() {
	w.t.Helper()
	runs, err := w.core.Store.Runs(context.Background(), 100)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range runs {
		if r.Trigger == "schedule" {
			w.t.Errorf("a scheduled run: %+v", r)
		}
	}
}

func TestWebhooksCarryAPlexPlayToTheOthersWithinSeconds(t *testing.T) {
	w := newEventsWorld(t, false)
	ctx := context.Background()
	st, _ := w.core.Store.Settings(ctx)
	st.WebhookListen = "127.0.0.1:0"
	if err := w.core.Store.SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	w.start()
	addr := w.core.WebhookAddr()
	if addr == "" {
		t.Fatal("no webhook listener")
	}
	// The user pastes each backend's URL into its server.
	bs, _ := w.core.Store.Backends(ctx)
	for _, b := range bs {
		b.Options.WebhookSecret = webhook.NewSecret()
		if err := w.core.Store.UpdateBackend(ctx, b); err != nil {
			t.Fatal(err)
		}
		u := "http://" + addr + webhook.Path + b.Options.WebhookSecret
		switch b.Kind {
		case "plex":
			w.plex.SetWebhookURL(u)
		case "jellyfin":
			w.jf.SetWebhookURL(u)
		case "emby":
			w.emby.SetWebhookURL(u)
		}
	}
	if w.jf.Watch("heat").Played || w.emby.Watch("heat").Played {
		t.Fatal("heat is played before the test")
	}

	// The user finishes Heat on Plex: Plex posts media.scrobble.
	w.plex.SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: time.Now()})
	took := w.until("heat played on jellyfin and emby", 5*time.Second, func() bool {
		return w.jf.Watch("heat").Played && w.emby.Watch("heat").Played
	})
	t.Logf("plex -> webhook -> jellyfin and emby: %v", took.Round(time.Millisecond))
	if w.plex.WebhooksDelivered() < 1 {
		t.Error("plex's webhook was not answered 2xx")
	}
	w.noScheduledRuns()
	// The writes were made by a run the webhook started (recorded once it
	// finishes, just after its last write).
	w.until("the webhook run's record", 2*time.Second, func() bool {
		runs, _ := w.core.Store.Runs(ctx, 100)
		return slices.ContainsFunc(runs, func(r state.Run) bool {
			return r.Trigger == "webhook" && slices.ContainsFunc(r.Backends, func(b state.RunBackend) bool {
				return b.Phase == "export" && b.Backend == "jellyfin" && b.Changed > 0
			})
		})
	})
}

func TestLiveSocketsCarryChangesToTheOthersWithinSeconds(t *testing.T) {
	w := newEventsWorld(t, true)
	w.start()
	if w.core.WebhookAddr() != "" {
		t.Fatal("a webhook listener although webhooks are off")
	}
	w.until("three live sockets", 5*time.Second, func() bool {
		st := w.core.LiveStatus()
		return len(st) == 3 && !slices.ContainsFunc(st, func(s live.Status) bool { return !s.Connected }) &&
			w.plex.Sockets() == 1 && w.jf.Sockets() == 1 && w.emby.Sockets() == 1
	})

	// Each server is the source of one change at once:
	//   - Jellyfin: Heat marked played (UserDataChanged, Played true);
	//   - Emby: Alien marked played (UserDataChanged, Played true);
	//   - Plex: The Matrix paused at 25 min (PlaySessionStateNotification:
	//     Plex's socket carries playback, not marks).
	now := time.Now()
	w.jf.SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: now})
	w.emby.SetWatch("alien", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: now})
	w.plex.SetWatch("matrix", simulate.Watch{Position: 25 * time.Minute, LastPlayed: now})
	start := time.Now()
	type check struct {
		what string
		ok   func() bool
		took time.Duration
	}
	checks := []*check{
		{what: "jellyfin -> plex, emby (played)", ok: func() bool { return w.plex.Watch("heat").Played && w.emby.Watch("heat").Played }},
		{what: "emby -> plex, jellyfin (played)", ok: func() bool { return w.plex.Watch("alien").Played && w.jf.Watch("alien").Played }},
		{what: "plex -> jellyfin, emby (position)", ok: func() bool {
			return w.jf.Watch("matrix").Position == 25*time.Minute && w.emby.Watch("matrix").Position == 25*time.Minute
		}},
	}
	w.until("every change on the others", 5*time.Second, func() bool {
		all := true
		for _, c := range checks {
			if c.took == 0 && c.ok() {
				c.took = time.Since(start)
			}
			all = all && c.took != 0
		}
		return all
	})
	for _, c := range checks {
		t.Logf("%s: %v", c.what, c.took.Round(time.Millisecond))
	}
	if w.plex.Watch("matrix").Played || w.jf.Watch("matrix").Played {
		t.Error("a playback position made The Matrix played")
	}

	// A gap: Jellyfin's socket drops, the user marks the pilot played
	// while it is down; the reconnect asks for a quick import, which finds
	// it.
	w.jf.DropSockets()
	w.until("jellyfin's socket to drop", 2*time.Second, func() bool { return w.jf.Sockets() == 0 })
	w.jf.SetWatch("e1", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: time.Now()})
	took := w.until("the pilot played on plex and emby after the gap", 5*time.Second, func() bool {
		return w.plex.Watch("e1").Played && w.emby.Watch("e1").Played
	})
	t.Logf("jellyfin gap -> reconnect -> quick import -> plex, emby: %v", took.Round(time.Millisecond))
	var reconnects int
	for _, s := range w.core.LiveStatus() {
		if s.Backend == "jellyfin" {
			reconnects = s.Reconnects
		}
	}
	if reconnects != 1 {
		t.Errorf("jellyfin reconnected %d times, want 1", reconnects)
	}
	runs, _ := w.core.Store.Runs(context.Background(), 100)
	if !slices.ContainsFunc(runs, func(r state.Run) bool { return r.Trigger == "live" && r.Kind == "import" }) {
		t.Error("no catch-up import after the gap")
	}
	w.noScheduledRuns()
}
