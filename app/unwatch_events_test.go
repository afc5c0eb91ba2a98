package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/live"
	"playmark/sync/state"
	"playmark/sync/webhook"
)

// Issue 20: un-watches announced by webhooks and live sockets reach the
// other servers within seconds, with the daemon's event loops running and
// no schedule; a Jellyfin 10.11 replay announced on the socket does not.

// watchedEverywhere marks keys played on Plex and syncs, so that every
// server has them played before the test.
func (w *eventsWorld) watchedEverywhere(keys ...string) {
	w.t.Helper()
	for _, k := range keys {
		w.plex.SetWatch(k, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: time.Now().Add(-time.Hour)})
	}
	rep, err := w.core.Engine.Sync(context.Background(), engine.RunOptions{})
	if err != nil || len(rep.Failed()) > 0 {
		w.t.Fatalf("sync: %v %+v", err, rep.Failed())
	}
	for _, k := range keys {
		for name, srv := range w.byKey {
			if !srv.Watch(k).Played {
				w.t.Fatalf("%s: %s not played before the test", name, k)
			}
		}
	}
}

// webhooksOn starts the listener and gives each server its backend's URL.
func (w *eventsWorld) webhooksOn() {
	w.t.Helper()
	ctx := context.Background()
	st, _ := w.core.Store.Settings(ctx)
	st.WebhookListen = "127.0.0.1:0"
	if err := w.core.Store.SaveSettings(ctx, st); err != nil {
		w.t.Fatal(err)
	}
	w.start()
	addr := w.core.WebhookAddr()
	if addr == "" {
		w.t.Fatal("no webhook listener")
	}
	bs, _ := w.core.Store.Backends(ctx)
	for _, b := range bs {
		b.Options.WebhookSecret = webhook.NewSecret()
		if err := w.core.Store.UpdateBackend(ctx, b); err != nil {
			w.t.Fatal(err)
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
}

func (w *eventsWorld) socketsUp() {
	w.t.Helper()
	w.start()
	w.until("three live sockets", 5*time.Second, func() bool {
		st := w.core.LiveStatus()
		return len(st) == 3 && !slices.ContainsFunc(st, func(s live.Status) bool { return !s.Connected }) &&
			w.plex.Sockets() == 1 && w.jf.Sockets() == 1 && w.emby.Sockets() == 1
	})
}

func (w *eventsWorld) unwatchedOnOthers(from, key string) func() bool {
	return func() bool {
		for name, srv := range w.byKey {
			if name != from && srv.Watch(key).Played {
				return false
			}
		}
		return true
	}
}

func TestWebhookUnmarkOnJellyfinReachesTheOthers(t *testing.T) {
	w := newEventsWorld(t, false)
	w.watchedEverywhere("heat")
	w.webhooksOn()
	// The user un-marks Heat in Jellyfin's web app: the webhook plugin
	// posts UserDataSaved (Played false, PlayCount 0, TogglePlayed).
	if err := simulate.Mark(w.jf, "heat", false); err != nil {
		t.Fatal(err)
	}
	took := w.until("heat unwatched on plex and emby", 5*time.Second, w.unwatchedOnOthers("jellyfin", "heat"))
	t.Logf("jellyfin un-mark -> webhook -> plex, emby: %v", took.Round(time.Millisecond))
	w.noScheduledRuns()
}

func TestLiveSocketUnmarksReachTheOthers(t *testing.T) {
	w := newEventsWorld(t, true)
	w.watchedEverywhere("heat", "alien")
	w.socketsUp()
	// Jellyfin and Emby announce an un-mark as UserDataChanged, Played
	// false, no position.
	if err := simulate.Mark(w.jf, "heat", false); err != nil {
		t.Fatal(err)
	}
	if err := simulate.Mark(w.emby, "alien", false); err != nil {
		t.Fatal(err)
	}
	took := w.until("heat unwatched on plex and emby", 5*time.Second, w.unwatchedOnOthers("jellyfin", "heat"))
	t.Logf("jellyfin un-mark -> socket -> plex, emby: %v", took.Round(time.Millisecond))
	took = w.until("alien unwatched on plex and jellyfin", 5*time.Second, w.unwatchedOnOthers("emby", "alien"))
	t.Logf("emby un-mark -> socket -> plex, jellyfin: %v", took.Round(time.Millisecond))
	w.noScheduledRuns()
}

func TestLiveSocketJellyfinReplayLeavesTheOthersWatched(t *testing.T) {
	w := newEventsWorld(t, true) // Jellyfin 10.11: a start clears Played
	w.watchedEverywhere("matrix")
	w.socketsUp()
	// Re-watching from the start: the socket says Played false, no
	// position, like an un-mark; the re-read shows PlayCount 2 and a
	// fresh date.
	if err := simulate.Playback(w.jf, "matrix", simulate.PlaybackStart, 0); err != nil {
		t.Fatal(err)
	}
	if w.jf.Watch("matrix").Played {
		t.Fatal("the simulated 10.11 start kept Played")
	}
	ctx := context.Background()
	var line string
	w.until("the event run's history line", 5*time.Second, func() bool {
		runs, _ := w.core.Store.Runs(ctx, 20)
		for _, r := range runs {
			chs, _ := w.core.Store.Changes(ctx, r.ID, 50)
			for _, c := range chs {
				if strings.Contains(c.Reason, "replayed on jellyfin") {
					line = c.Reason
					return true
				}
			}
		}
		return false
	})
	t.Logf("history: %s", line)
	for _, name := range []string{"plex", "emby"} {
		if !w.byKey[name].Watch("matrix").Played {
			t.Errorf("%s: matrix un-watched by a replay on jellyfin", name)
		}
	}
	runs, _ := w.core.Store.Runs(ctx, 20)
	if !slices.ContainsFunc(runs, func(r state.Run) bool { return r.Trigger == "webhook" || r.Trigger == "live" }) {
		t.Error("no event run")
	}
}
