package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// peopleWorld is the scenario world with emby moved to a second person,
// Ben: plex and jellyfin stay the first person's.
func peopleWorld(t *testing.T, s seed) (*world, state.Person) {
	t.Helper()
	w := newWorld(t, scenarioCatalog(), s)
	ctx := context.Background()
	ben, err := w.store.EnsurePerson(ctx, "Ben")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.LinkBackend(ctx, "emby", ben.ID); err != nil {
		t.Fatal(err)
	}
	return w, ben
}

func TestPeopleSyncKeepsEachPersonsState(t *testing.T) {
	w, ben := peopleWorld(t, seed{
		"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}},
		"emby": {"e3": {Position: 9 * time.Minute, LastPlayed: tPlay}},
	})
	w.sync(RunOptions{})
	if !w.watch("jellyfin", "heat").Played {
		t.Error("the first person's play did not reach their other backend")
	}
	if w.watch("emby", "heat").Played {
		t.Error("the first person's play reached Ben's backend")
	}
	if got := w.watch("jellyfin", "e3"); got.Position != 0 {
		t.Errorf("Ben's position reached the first person's backend: %+v", got)
	}
	// A run for one person touches that person's backends only.
	w.clock.add(time.Hour)
	rep := w.sync(RunOptions{Person: ben.ID})
	for _, br := range rep.Backends {
		if br.Backend != "emby" {
			t.Errorf("a run for Ben touched %s", br.Backend)
		}
	}
	if len(rep.Backends) != 2 {
		t.Errorf("a run for Ben = %d phases, want emby's import and export", len(rep.Backends))
	}
}

func TestPeopleBackupRestoresTheBackendsPerson(t *testing.T) {
	w, _ := peopleWorld(t, seed{
		"plex": {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}},
		"emby": {"e3": {Position: 9 * time.Minute, LastPlayed: tPlay}},
	})
	w.sync(RunOptions{})
	ctx := context.Background()
	var buf bytes.Buffer
	if n, err := w.eng.WriteBackup(ctx, &buf); err != nil || n != 2 {
		t.Fatalf("WriteBackup = %d, %v; want heat (first person) and e3 (Ben)", n, err)
	}
	items, err := ReadBackup(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if ben := it.Person == "Ben"; ben != (it.Type == "episode") || it.Person == "" {
			t.Errorf("backup line %s %q is person %q; want heat the first person's, e3 Ben's", it.Type, it.Title, it.Person)
		}
	}
	// Both lose their marks; a restore onto each takes its person's.
	w.clock.add(time.Hour)
	w.servers["jellyfin"].SetWatch("heat", simulate.Watch{})
	w.servers["emby"].SetWatch("e3", simulate.Watch{})
	for _, name := range []string{"jellyfin", "emby"} {
		if rep, err := w.eng.Restore(ctx, items, name, RunOptions{}); err != nil || len(rep.Failed()) > 0 {
			t.Fatalf("restore %s: %v %v", name, err, failedBackends(rep))
		}
	}
	if !w.watch("jellyfin", "heat").Played || w.watch("jellyfin", "e3").Position != 0 {
		t.Errorf("jellyfin after restore: heat %+v, e3 %+v; want the first person's marks only", w.watch("jellyfin", "heat"), w.watch("jellyfin", "e3"))
	}
	if w.watch("emby", "e3").Position != 9*time.Minute || w.watch("emby", "heat").Played {
		t.Errorf("emby after restore: e3 %+v, heat %+v; want Ben's marks only", w.watch("emby", "e3"), w.watch("emby", "heat"))
	}
}

func TestPeopleEventsReachTheirPersonsBackendsOnly(t *testing.T) {
	w, _ := peopleWorld(t, seed{})
	w.sync(RunOptions{})
	ctx := context.Background()
	w.clock.add(time.Hour)
	at := w.clock.now().Add(-time.Minute).Truncate(time.Second)
	// Ben plays heat on Emby; the server says so.
	w.servers["emby"].SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: at})
	if _, err := w.eng.HandleEvents(ctx, []Event{{Backend: "emby", ItemID: w.servers["emby"].RemoteID("heat"), Kind: EventPlayed, At: at}}); err != nil {
		t.Fatal(err)
	}
	if w.watch("plex", "heat").Played || w.watch("jellyfin", "heat").Played {
		t.Error("Ben's play on Emby reached the first person's backends")
	}
	// The first person plays e3 on Plex: Jellyfin follows, Ben's Emby not.
	w.servers["plex"].SetWatch("e3", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: at})
	if _, err := w.eng.HandleEvents(ctx, []Event{{Backend: "plex", ItemID: w.servers["plex"].RemoteID("e3"), Kind: EventPlayed, At: at}}); err != nil {
		t.Fatal(err)
	}
	if !w.watch("jellyfin", "e3").Played {
		t.Error("the first person's play on Plex did not reach their Jellyfin")
	}
	if w.watch("emby", "e3").Played {
		t.Error("the first person's play on Plex reached Ben's Emby")
	}
}

// A held export is computed for the backend's person: when the backend
// moves to another person it is dropped, with a note in history, and the
// next run decides again for the new person.
func TestHeldExportDoesNotFollowAMovedBackend(t *testing.T) {
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
		if len(m.GUIDs) == 0 && m.Type == "movie" {
			continue
		}
		w.servers["emby"].SetWatch(m.Key, simulate.Watch{})
		gone = append(gone, m.Key)
	}
	w.clock.add(time.Hour)
	if rep := w.sync(RunOptions{Full: true}); len(rep.Held) != 2 {
		t.Fatalf("held %+v: want the exports to plex and jellyfin held", rep.Held)
	}
	ctx := context.Background()
	ben, err := w.store.EnsurePerson(ctx, "Ben")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.LinkBackend(ctx, "jellyfin", ben.ID); err != nil {
		t.Fatal(err)
	}
	held, _ := w.store.HeldExports(ctx)
	if len(held) != 1 || held[0].Backend != "plex" {
		t.Fatalf("held after moving jellyfin to Ben = %+v; want plex's only (jellyfin's was the first person's plan)", held)
	}
	runs, _ := w.store.Runs(ctx, 1)
	if len(runs) != 1 || runs[0].Kind != state.RunPeople || !strings.Contains(runs[0].Message, "jellyfin") || !strings.Contains(runs[0].Message, "Ben") {
		t.Errorf("history after the move = %+v; want a note that jellyfin's held export was dropped", runs)
	}
	// The next run decides for Ben: his state is what jellyfin has, so
	// nothing of the first person's un-watches is held or written there.
	w.clock.add(time.Hour)
	rep := w.sync(RunOptions{})
	for _, h := range rep.Held {
		if h.Backend == "jellyfin" {
			t.Errorf("jellyfin held again after the move: %+v", h)
		}
	}
	if !w.watch("jellyfin", gone[0]).Played {
		t.Error("the first person's un-watch reached Ben's jellyfin")
	}
	if held, _ := w.store.HeldExports(ctx); len(held) != 1 || held[0].Backend != "plex" {
		t.Errorf("held after the next run = %+v; want plex's only", held)
	}
}
