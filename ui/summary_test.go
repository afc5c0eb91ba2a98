package ui

import (
	"context"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// The status line's "last import" is the filtered person's: the newest
// import that covered one of their backends, ok or failed as their part
// of it went (another person's failing server is not theirs).
func TestSummaryLastImportFollowsThePersonFilter(t *testing.T) {
	e := newEnv(t)
	anna := e.addFor("plex-anna", "Anna", backend.Plex, plexServer(t, 20))
	ben := e.addFor("jellyfin-ben", "Ben", backend.Jellyfin, jellyfinServer(t, 20))
	ctx := context.Background()
	if _, err := e.eng.Import(ctx, engine.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	e.revokeToken(ben) // Ben's next import fails; Anna's goes well
	if _, err := e.eng.Import(ctx, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// Then Anna alone: the newest import is none of Ben's.
	if _, err := e.eng.Import(ctx, engine.RunOptions{Backends: []string{anna.Name}}); err != nil {
		t.Fatal(err)
	}
	e.revokeToken(anna)
	if _, err := e.eng.Import(ctx, engine.RunOptions{Backends: []string{ben.Name}, Full: true}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	w := e.u.Window
	w.endFirstRun()
	e.refresh()
	// Everyone: the newest import (Ben's, failed).
	mustContain(t, "status line", w.summary.Text, "last import failed")
	w.Activity.PersonFilter.SetSelected("Anna")
	e.settle()
	mustContain(t, "status line for Anna", w.summary.Text, "Anna: ", "last import ok")
	w.Activity.PersonFilter.SetSelected("Ben")
	e.settle()
	mustContain(t, "status line for Ben", w.summary.Text, "Ben: ", "last import failed")
}

// The first import's preview says which server's planned changes the
// mass-change guard would hold, and what to do then.
func TestFirstRunPreviewSaysTheGuardWouldHold(t *testing.T) {
	rep := &engine.Report{Kind: "import", DryRun: true, Backends: []engine.BackendReport{
		{RunBackend: state.RunBackend{Phase: "import", Backend: "plex", Read: 100}, Watched: 60},
		{RunBackend: state.RunBackend{Phase: "import", Backend: "emby", Read: 100}, Watched: 50},
		{RunBackend: state.RunBackend{Phase: "export", Backend: "plex", Mode: "plan", Changed: 40}, WouldUnwatch: 40, WouldHold: true, WouldOf: 60, ExportOff: true},
		{RunBackend: state.RunBackend{Phase: "export", Backend: "emby", Mode: "plan", Changed: 2}, WouldWatch: 2, ExportOff: true},
	}}
	msg := previewVerdict(rep)
	mustContain(t, "verdict", msg, "the mass-change guard would hold the export to plex", "40 of its 60 watched items",
		"Activity → Held", "Settings")
	if strings.Contains(msg, "hold the export to emby") {
		t.Errorf("verdict %q: emby's plan would not be held", msg)
	}
	rows := FoundRows(rep, map[string]string{})
	mustContain(t, "plex's row", strings.Join(rows[0], " | "), "40 marked unwatched", "held by the guard")
	if strings.Contains(strings.Join(rows[1], " | "), "held") {
		t.Errorf("emby's row %v says held", rows[1])
	}
}
