package ui

import (
	"context"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/engine"
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
