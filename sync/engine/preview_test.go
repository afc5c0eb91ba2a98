package engine

import (
	"context"
	"testing"
	"time"

	"playmark/sync/state"
)

// The first import's preview says, per server, what would change there
// once its export is on: what the user fears. Export is off everywhere
// (as after a first sign-in); the plan covers every server all the same,
// and nothing is written or recorded.
func TestFirstImportPreviewPlansEachServersChanges(t *testing.T) {
	w := newWorld(t, scenarioCatalog(), seed{
		"plex":     {"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay}},
		"jellyfin": {"e3": {Position: 9 * time.Minute, LastPlayed: tPlay}},
	})
	for _, name := range []string{"plex", "jellyfin", "emby"} {
		w.setBackend(name, func(b *state.Backend) { b.Export = false })
	}
	rep, err := w.eng.Import(context.Background(), RunOptions{DryRun: true, Full: true, PlanExports: true})
	if err != nil {
		t.Fatal(err)
	}
	plans := map[string]BackendReport{}
	for _, b := range rep.Backends {
		if b.Phase == "export" {
			plans[b.Backend] = b
		}
	}
	want := map[string][3]int{ // watch, unwatch, resume
		"plex":     {0, 0, 1}, // e3's position from jellyfin
		"jellyfin": {1, 0, 0}, // heat from plex
		"emby":     {1, 0, 1}, // both
	}
	for name, wt := range want {
		p, ok := plans[name]
		if !ok {
			t.Errorf("no plan for %s: %+v", name, rep.Backends)
			continue
		}
		if got := [3]int{p.WouldWatch, p.WouldUnwatch, p.WouldResume}; got != wt || !p.ExportOff || p.Err != nil {
			t.Errorf("%s's plan: watch/unwatch/resume %v, export off %v, err %v; want %v, export off", name, got, p.ExportOff, p.Err, wt)
		}
	}
	if got := plans["emby"].PlanText(); got != "1 marked watched, 1 resume position" {
		t.Errorf("emby's plan in words: %q", got)
	}
	if got := plans["plex"].PlanText(); got != "1 resume position" {
		t.Errorf("plex's plan in words: %q", got)
	}
	planned := 0
	for _, c := range rep.Changes {
		if c.Target == "emby" {
			planned++
		}
	}
	if planned != 2 {
		t.Errorf("planned changes listed for emby: %d, want 2 (%+v)", planned, rep.Changes)
	}
	if got := w.watch("emby", "heat"); got.Played {
		t.Error("the preview wrote to emby")
	}
	if c, _ := w.store.Counts(context.Background()); c.Items != 0 {
		t.Errorf("the preview left %d items", c.Items)
	}
	if b := w.backend("emby"); b.ExportCursor != 0 || !b.LastImport.IsZero() {
		t.Errorf("the preview moved emby's cursors: %+v", b)
	}
	// Without PlanExports, an import's dry run plans no export.
	rep, err = w.eng.Import(context.Background(), RunOptions{DryRun: true, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rep.Backends {
		if b.Phase != "import" {
			t.Errorf("an import's dry run without PlanExports has a %s phase", b.Phase)
		}
	}
}
