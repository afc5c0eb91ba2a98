package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// addFor stores a backend on srv for the person named person.
func (e *env) addFor(name, person string, kind backend.Kind, srv interface {
	URL() string
	Token() string
	UserID() string
}) state.Backend {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.st.EnsurePerson(ctx, person)
	if err != nil {
		e.t.Fatal(err)
	}
	b := state.Backend{Name: name, Kind: kind, URL: srv.URL(), Token: srv.Token(), Import: state.ImportFull, PersonID: p.ID}
	if kind != backend.Plex {
		b.UserID = srv.UserID()
	}
	if b, err = e.st.AddBackend(ctx, b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) peopleNames() []string {
	e.t.Helper()
	ps, err := e.st.People(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

func (s *BackendsScreen) card(name string) *PersonCard {
	for _, c := range s.People {
		if c.P.Name == name {
			return c
		}
	}
	return nil
}

// Backends by person: rename a person, move a backend to another person
// or to someone new, merge two people.
func TestPeopleRenameMoveMerge(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	jf := jellyfinServer(t, 5)
	e.addFor("plex-anna", "Anna", backend.Plex, srv)
	e.addFor("jellyfin-ben", "Ben", backend.Jellyfin, jf)
	e.refresh()
	w := e.u.Window
	w.endFirstRun()
	s := w.Backends
	if len(s.People) != 2 || s.card("Anna") == nil || s.card("Ben") == nil {
		t.Fatalf("people shown: %v", s.People)
	}
	mustContain(t, "Anna's card", s.card("Anna").Title.Text, "Anna · 1 backend")
	if rows := e.u.snap.backendRows(); !slices.Equal(rows, []string{"2 people, 2 backends: all fine"}) {
		t.Errorf("the tray's rows for the household: %q", rows)
	}
	if r := s.Row("jellyfin-ben"); r == nil || r.Person.Selected != "Ben" || !slices.Contains(r.Person.Options, "Anna") {
		t.Fatalf("Ben's row: %+v", r)
	}

	// Rename.
	test := func(label string) { tapButton(t, w.win, label) }
	s.card("Ben").Rename.OnTapped()
	s.PersonName.SetText("Benjamin")
	test("Rename")
	e.settle()
	if got := e.peopleNames(); !slices.Equal(got, []string{"Anna", "Benjamin"}) {
		t.Fatalf("people after rename: %v", got)
	}
	if s.card("Benjamin") == nil {
		t.Error("the card still shows the old name")
	}
	// A name someone has: refused, with what to do instead.
	s.card("Benjamin").Rename.OnTapped()
	s.PersonName.SetText("anna")
	test("Rename")
	e.settle()
	mustContain(t, "status line", w.Message.Text, "Merge into")
	if got := e.peopleNames(); !slices.Equal(got, []string{"Anna", "Benjamin"}) {
		t.Fatalf("people after a refused rename: %v", got)
	}

	// Move to someone new, then to Anna.
	s.Row("jellyfin-ben").Person.SetSelected(newPersonLabel)
	s.PersonName.SetText("Carol")
	test("Move")
	e.settle()
	if b := e.backend("jellyfin-ben"); b.Person != "Carol" {
		t.Fatalf("moved to %q, want Carol", b.Person)
	}
	s.Row("jellyfin-ben").Person.SetSelected("Anna")
	e.settle()
	if b := e.backend("jellyfin-ben"); b.Person != "Anna" {
		t.Fatalf("moved to %q, want Anna", b.Person)
	}
	mustContain(t, "status line", w.Message.Text, "Moved jellyfin-ben to Anna")

	// Merge: move one back to Benjamin, merge.
	s.Row("jellyfin-ben").Person.SetSelected("Benjamin")
	e.settle()
	s.card("Benjamin").Merge.OnTapped()
	s.MergeInto.SetSelected("Anna")
	test("Merge")
	e.settle()
	if got := e.peopleNames(); slices.Contains(got, "Benjamin") {
		t.Fatalf("people after merge: %v", got)
	}
	if b := e.backend("jellyfin-ben"); b.Person != "Anna" {
		t.Fatalf("after the merge jellyfin-ben is %q's", b.Person)
	}
	// Carol, whose one backend moved to Anna, stays shown (to be
	// linked a backend again, or removed).
	if len(s.People) != 2 || s.card("Anna") == nil || s.card("Carol") == nil {
		t.Errorf("cards after the merge: %d, want Anna and Carol (no backends)", len(s.People))
	}
}

// Activity's person filter shows one person's runs and changes.
func TestActivityPersonFilter(t *testing.T) {
	e := newEnv(t)
	anna := e.addFor("plex-anna", "Anna", backend.Plex, plexServer(t, 20))
	ben := e.addFor("plex-ben", "Ben", backend.Plex, plexServer(t, 20))
	// Carol's server is read first, alone: the items are then known, so
	// that the next run records both Anna's and Ben's plays as changes.
	carol := e.addFor("jellyfin-carol", "Carol", backend.Jellyfin, jellyfinServer(t, 20))
	ctx := context.Background()
	if _, err := e.eng.Import(ctx, engine.RunOptions{Full: true, Person: carol.PersonID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Import(ctx, engine.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Import(ctx, engine.RunOptions{Full: true, Person: ben.PersonID}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	a := e.u.Window.Activity
	if !a.PersonFilter.Visible() || !slices.Equal(a.PersonFilter.Options, []string{"Everyone", "Anna", "Ben", "Carol"}) {
		t.Fatalf("filter shown %v, options %v", a.PersonFilter.Visible(), a.PersonFilter.Options)
	}
	if len(a.runs) != 3 {
		t.Fatalf("%d runs for everyone", len(a.runs))
	}
	both := a.runs[1] // the older run read both
	selectRun(a, both.ID)
	e.u.Wait()
	all := len(a.changes)
	a.PersonFilter.SetSelected("Anna")
	e.u.Wait()
	if len(a.runs) != 1 || a.runs[0].ID != both.ID || len(a.runs[0].Backends) != 1 || a.runs[0].Backends[0].Backend != "plex-anna" {
		t.Fatalf("Anna's runs: %+v", a.runs)
	}
	annas := len(a.changes)
	if a.Selected != both.ID || annas == 0 || annas >= all {
		t.Errorf("Anna's changes of run %d: %d of %d (selected %d)", both.ID, annas, all, a.Selected)
	}
	a.PersonFilter.SetSelected("Ben")
	e.u.Wait()
	if len(a.runs) != 2 {
		t.Errorf("Ben's runs: %d, want 2", len(a.runs))
	}
	a.PersonFilter.SetSelected("Everyone")
	e.u.Wait()
	if len(a.runs) != 3 || len(a.changes) != all {
		t.Errorf("everyone again: %d runs, %d changes", len(a.runs), len(a.changes))
	}
	_ = anna
}

// A person's Remove asks first, saying what goes: their watch state, and
// their backends when they have some; a person with no backends (after a
// move) is shown, so that they can be removed.
func TestPeopleRemove(t *testing.T) {
	e := newEnv(t)
	e.addFor("plex-anna", "Anna", backend.Plex, plexServer(t, 5))
	e.addFor("jellyfin-ben", "Ben", backend.Jellyfin, jellyfinServer(t, 5))
	if _, err := e.st.EnsurePerson(context.Background(), "Carol"); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	w := e.u.Window
	w.endFirstRun()
	s := w.Backends
	carol := s.card("Carol")
	if carol == nil {
		t.Fatalf("a person with no backends is not shown: %v", e.peopleNames())
	}
	mustContain(t, "Carol's card", carol.Title.Text, "Carol · no backends")
	carol.Remove.OnTapped()
	mustContain(t, "what removing Carol takes", s.RemoveText.Text, "Carol's watch state")
	if strings.Contains(s.RemoveText.Text, "backend") {
		t.Errorf("removing Carol names backends: %q", s.RemoveText.Text)
	}
	tapButton(t, w.win, "Remove")
	e.settle()
	if got := e.peopleNames(); !slices.Equal(got, []string{"Anna", "Ben"}) {
		t.Fatalf("people after removing Carol: %v", got)
	}
	mustContain(t, "status line", w.Message.Text, "Removed Carol")

	// Ben has a backend: the dialog says it goes too; Cancel keeps both.
	s.card("Ben").Remove.OnTapped()
	mustContain(t, "what removing Ben takes", s.RemoveText.Text, "jellyfin-ben")
	tapButton(t, w.win, "Cancel")
	e.settle()
	if e.backend("jellyfin-ben").Person != "Ben" {
		t.Fatal("Cancel removed something")
	}
	s.card("Ben").Remove.OnTapped()
	tapButton(t, w.win, "Remove both")
	e.settle()
	if got := e.peopleNames(); !slices.Equal(got, []string{"Anna"}) {
		t.Fatalf("people after removing Ben: %v", got)
	}
	if bs, _ := e.st.Backends(context.Background()); len(bs) != 1 || bs[0].Name != "plex-anna" {
		t.Errorf("backends after removing Ben: %+v", bs)
	}
	if backups, _ := filepath.Glob(filepath.Join(e.eng.BackupDir(), "*before-person-remove*")); len(backups) == 0 {
		t.Error("no backup before removing a person")
	}
}

// Moving a backend drops the export held for it (planned from its former
// person's state), and the window says so.
func TestPeopleMoveDropsTheHeldExport(t *testing.T) {
	e := newEnv(t)
	e.addFor("plex-anna", "Anna", backend.Plex, plexServer(t, 5))
	e.addFor("jellyfin-ben", "Ben", backend.Jellyfin, jellyfinServer(t, 5))
	if err := e.st.Hold(context.Background(), state.Held{RunID: 1, Backend: "jellyfin-ben", Unwatches: 40, Watched: 50}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	w := e.u.Window
	w.endFirstRun()
	if got := w.Activity.Tabs.Items[2].Text; got != "Held (1)" {
		t.Fatalf("Activity's Held tab before the move: %q", got)
	}
	w.Backends.Row("jellyfin-ben").Person.SetSelected("Anna")
	e.settle()
	mustContain(t, "status line", w.Message.Text, "The export held for it (40 items to mark unwatched, planned for Ben) was dropped")
	e.refresh()
	if got := w.Activity.Tabs.Items[2].Text; got != "Held" {
		t.Errorf("Activity's Held tab after the move: %q, want none held", got)
	}
}

// The status line's counts are one person's when Activity's person filter
// names them, and say "All people" when it does not.
func TestSummaryCountsFollowThePersonFilter(t *testing.T) {
	e := newEnv(t)
	e.addFor("plex-anna", "Anna", backend.Plex, plexServer(t, 20))
	ben := e.addFor("jellyfin-ben", "Ben", backend.Jellyfin, jellyfinServer(t, 20))
	ctx := context.Background()
	if _, err := e.eng.Import(ctx, engine.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	all, _ := e.st.CountsFor(ctx, 0)
	bens, _ := e.st.CountsFor(ctx, ben.PersonID)
	if bens.Watched == 0 || bens.Watched == all.Watched {
		t.Fatalf("counts: everyone %+v, Ben %+v; want Ben's a part", all, bens)
	}
	e.refresh()
	w := e.u.Window
	w.endFirstRun()
	e.refresh()
	mustContain(t, "status line", w.summary.Text, fmt.Sprintf("All people: %d items · %d watched", all.Items, all.Watched))
	w.Activity.PersonFilter.SetSelected("Ben")
	e.settle()
	mustContain(t, "status line for Ben", w.summary.Text, fmt.Sprintf("Ben: %d items · %d watched · %d in progress", bens.Items, bens.Watched, bens.InProgress))
	w.Activity.PersonFilter.SetSelected("Everyone")
	e.settle()
	mustContain(t, "status line for everyone", w.summary.Text, fmt.Sprintf("All people: %d items · %d watched", all.Items, all.Watched))
}

// A note in history (a person removed) is no import: a setup left before
// its first import still resumes at the preview.
func TestFirstRunResumesAfterAPersonIsRemoved(t *testing.T) {
	e := newEnv(t)
	e.addFor("plex-anna", "Anna", backend.Plex, plexServer(t, 5))
	ctx := context.Background()
	carol, err := e.st.EnsurePerson(ctx, "Carol")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.eng.RemovePerson(ctx, carol.ID, false, false); err != nil {
		t.Fatal(err)
	}
	u := New(context.Background(), e.app, e.u.d) // a new start
	if err := u.Refresh(); err != nil {
		t.Fatal(err)
	}
	if f := u.Window.FirstRun; f == nil || f.Step != 2 {
		t.Fatalf("first run after a person was removed, before any import: %+v; want the preview step", f)
	}
}
