package engine

import (
	"context"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
)

// A run's status has an entry per backend, in the order the run comes to
// them: waiting, then its phase and counts while it works, then done or
// failed (with why), so that the window can show a bar per backend.
func TestStatusPerBackend(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{})
	w.servers["emby"].Faults().Add(simulate.Fault{Kind: simulate.FaultStatus, Status: 500, After: 2})
	var seen []Status
	_, err := w.eng.Sync(context.Background(), RunOptions{Progress: func(st Status) { seen = append(seen, st) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no progress published")
	}
	first := seen[1].Backends // seen[0]: the run began
	waiting := 0
	for _, b := range first {
		if b.State == BackendWaiting {
			waiting++
		}
	}
	if len(first) != 3 || waiting < 2 {
		t.Errorf("first status lists %+v; want the 3 backends, those not begun waiting", first)
	}
	working := false
	for _, st := range seen {
		for _, b := range st.Backends {
			if b.State == BackendWorking && b.Phase == "import" && b.Done > 0 {
				working = true
			}
		}
	}
	if !working {
		t.Error("no backend was ever shown working on its import with a count")
	}
	last := seen[len(seen)-1].Backends
	if len(last) != 3 {
		t.Fatalf("last status lists %+v; want 3 backends", last)
	}
	for _, b := range last {
		want := BackendDone
		if b.Name == "emby" {
			want = BackendFailed
		}
		if b.State != want || (want == BackendFailed) != (b.Error != "") {
			t.Errorf("%s ended %q (%q); want %q", b.Name, b.State, b.Error, want)
		}
	}
	// Readers get copies: changing one changes nothing else.
	st := w.eng.Status()
	if st.Running || len(st.Backends) != 0 {
		t.Errorf("after the run the status is %+v; want idle and no backends", st)
	}
}

// A dry run's plan says per backend whether the mass-change guard would
// hold it, so that a preview can say so before anyone applies it.
func TestDryRunSaysTheGuardWouldHold(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 120, Seed: 3})
	all := map[string]simulate.Watch{}
	for _, m := range cat.Media {
		all[m.Key] = simulate.Watch{Played: true, PlayCount: 1, LastPlayed: tPlay}
	}
	w := newWorld(t, cat, seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	w.clock.add(time.Hour)
	for _, m := range cat.Media[:40] {
		w.servers["emby"].SetWatch(m.Key, simulate.Watch{})
	}
	w.clock.add(time.Hour)
	rep := w.sync(RunOptions{Full: true, DryRun: true})
	holds := 0
	for _, b := range rep.Backends {
		if b.Phase != "export" {
			continue
		}
		if b.WouldHold != (b.WouldUnwatch > 0) {
			t.Errorf("%s: %d un-watches planned, would hold %v", b.Backend, b.WouldUnwatch, b.WouldHold)
		}
		if b.WouldHold {
			holds++
		}
	}
	if holds != 2 {
		t.Errorf("%d plans would be held; want plex's and jellyfin's", holds)
	}
	if held, _ := w.store.HeldExports(context.Background()); len(held) != 0 {
		t.Errorf("a dry run recorded held exports: %+v", held)
	}
}
