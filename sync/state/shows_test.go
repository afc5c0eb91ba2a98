package state

import (
	"context"
	"testing"
)

// A show's ids are stored once per show: the ids an episode lists join
// one show; each finds the episode; first claim wins; ids seen apart
// (two shows) still each find the episodes recorded under both.
func TestShowIDsStoredOncePerShow(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	newEp := func(se, ep int) int64 {
		t.Helper()
		it := Item{Type: "episode", ShowTitle: "Show", Season: se, Episode: ep}
		must(tx.CreateItem(&it))
		return it.ID
	}
	ids := []IDPair{{"tvdb", "1"}, {"tmdb", "2"}, {"imdb", "tt3"}}
	var eps []int64
	for ep := 1; ep <= 10; ep++ {
		id := newEp(1, ep)
		eps = append(eps, id)
		must(tx.AddEpisode(id, ids, 1, ep))
	}
	rows := func(q string) int {
		t.Helper()
		var n int
		must(tx.tx.QueryRowContext(ctx, q).Scan(&n))
		return n
	}
	if n := rows(`SELECT COUNT(*) FROM show_ids`); n != 3 {
		t.Errorf("%d show ids stored, want 3 (once per show)", n)
	}
	if n := rows(`SELECT COUNT(*) FROM episodes`); n != 10 {
		t.Errorf("%d episode rows, want 10 (one per episode)", n)
	}
	for _, g := range ids {
		for i, want := range eps {
			if it, ok, err := tx.EpisodeItem(g.Kind, g.Value, 1, i+1); err != nil || !ok || it.ID != want {
				t.Errorf("EpisodeItem %v 1x%d = %d %v %v, want %d", g, i+1, it.ID, ok, err, want)
			}
		}
	}
	// First claim wins: another item offering the same episode does not
	// take it; a new id of the show joins it.
	dup := newEp(1, 1)
	must(tx.AddEpisode(dup, []IDPair{{"tmdb", "2"}, {"tvrage", "9"}}, 1, 1))
	if it, _, _ := tx.EpisodeItem("tvrage", "9", 1, 1); it.ID != eps[0] {
		t.Errorf("a show's new id finds %d, want the first claimant %d", it.ID, eps[0])
	}
	// Ids seen apart: two shows; an episode listing both is recorded
	// under each, so that either id finds it.
	must(tx.AddEpisode(newEp(1, 1), []IDPair{{"tvdb", "50"}}, 1, 1))
	must(tx.AddEpisode(newEp(1, 1), []IDPair{{"tmdb", "60"}}, 1, 1))
	both := newEp(2, 1)
	must(tx.AddEpisode(both, []IDPair{{"tvdb", "50"}, {"tmdb", "60"}}, 2, 1))
	for _, g := range []IDPair{{"tvdb", "50"}, {"tmdb", "60"}} {
		if it, ok, _ := tx.EpisodeItem(g.Kind, g.Value, 2, 1); !ok || it.ID != both {
			t.Errorf("EpisodeItem %v 2x1 = %d %v, want %d", g, it.ID, ok, both)
		}
	}
	if _, ok, _ := tx.EpisodeItem("tvdb", "1", 2, 1); ok {
		t.Error("an episode found under a show it is not of")
	}
}

// A show claimed after a savepoint that is rolled back is gone: the
// transaction must not keep believing in it (an episode recorded under
// a show no id names could never be found).
func TestShowClaimRolledBackToSavepoint(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tx.Savepoint("sp"))
	a := Item{Type: "episode", Season: 1, Episode: 1}
	must(tx.CreateItem(&a))
	must(tx.AddEpisode(a.ID, []IDPair{{"tvdb", "7"}}, 1, 1))
	must(tx.RollbackTo("sp"))
	b := Item{Type: "episode", Season: 1, Episode: 1}
	must(tx.CreateItem(&b))
	must(tx.AddEpisode(b.ID, []IDPair{{"tvdb", "7"}}, 1, 1))
	if it, ok, err := tx.EpisodeItem("tvdb", "7", 1, 1); err != nil || !ok || it.ID != b.ID {
		t.Errorf("EpisodeItem = %d %v %v, want %d", it.ID, ok, err, b.ID)
	}
	must(tx.Commit())
	tx, _ = s.Begin(ctx)
	defer tx.Rollback()
	if it, ok, err := tx.EpisodeItem("tvdb", "7", 1, 1); err != nil || !ok || it.ID != b.ID {
		t.Errorf("after commit: EpisodeItem = %d %v %v, want %d", it.ID, ok, err, b.ID)
	}
}

// A batch that follows a committed one knows the shows it knew
// (Continue), and a show filter answers the look-ups it rules out: a
// filter that denies a recorded show id hides it from a transaction that
// did not carry the show over, which is why the engine's filter must
// have no false negatives.
func TestShowsCarriedToTheNextBatchAndFiltered(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tx1, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it := Item{Type: "episode", ShowTitle: "Show", Season: 1, Episode: 1}
	if err := tx1.CreateItem(&it); err != nil {
		t.Fatal(err)
	}
	if err := tx1.AddEpisode(it.ID, []IDPair{{"tvdb", "1"}}, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	never := func(IDPair) bool { return false }
	tx2, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx2.Continue(tx1)
	tx2.SetShowFilter(never)
	if got, ok, err := tx2.EpisodeItem("tvdb", "1", 1, 1); err != nil || !ok || got.ID != it.ID {
		t.Errorf("after Continue: EpisodeItem = %d %v %v, want %d (the show carried over)", got.ID, ok, err, it.ID)
	}
	if err := tx2.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx3, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx3.Rollback()
	tx3.SetShowFilter(never)
	if _, ok, err := tx3.EpisodeItem("tvdb", "1", 1, 1); err != nil || ok {
		t.Errorf("a filter that denies the show: found %v (%v), want the look-up answered by the filter", ok, err)
	}
	tx3.SetShowFilter(nil)
	if got, ok, err := tx3.EpisodeItem("tvdb", "1", 1, 1); err != nil || !ok || got.ID != it.ID {
		t.Errorf("without the filter: EpisodeItem = %d %v %v, want %d", got.ID, ok, err, it.ID)
	}
}

// External id claims wait in the transaction until it commits (written
// in key order): meanwhile GUIDItem sees them, the first claim wins
// (a written claim over a pending one), a rollback to a savepoint or of
// the transaction drops what it covers, and the id counts include them.
func TestGUIDClaimsPendingUntilCommit(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	begin := func() *Tx {
		t.Helper()
		tx, err := s.Begin(ctx)
		must(err)
		return tx
	}
	newMovie := func(tx *Tx) int64 {
		t.Helper()
		it := Item{Type: "movie", Title: "M"}
		must(tx.CreateItem(&it))
		return it.ID
	}
	owner := func(tx *Tx, value string) int64 {
		t.Helper()
		it, ok, err := tx.GUIDItem("movie", "imdb", value)
		must(err)
		if !ok {
			return 0
		}
		return it.ID
	}

	tx := begin()
	a, b := newMovie(tx), newMovie(tx)
	must(tx.AddGUID(a, "movie", "imdb", "tt1"))
	must(tx.AddGUID(b, "movie", "imdb", "tt1"))
	must(tx.AddGUID(b, "movie", "imdb", "tt2"))
	if got := owner(tx, "tt1"); got != a {
		t.Errorf("pending: tt1 is item %d's, want the first claim's, %d", got, a)
	}
	if n, err := tx.CountIDs(); err != nil || n != 2 {
		t.Errorf("CountIDs = %d %v, want 2", n, err)
	}
	must(tx.Savepoint("sp"))
	c := newMovie(tx)
	must(tx.AddGUID(c, "movie", "imdb", "tt3"))
	must(tx.AddGUID(c, "movie", "imdb", "tt2"))
	if got := owner(tx, "tt3"); got != c {
		t.Errorf("after the savepoint: tt3 is item %d's, want %d", got, c)
	}
	must(tx.RollbackTo("sp"))
	must(tx.AddGUID(a, "movie", "imdb", "tt4"))
	must(tx.Commit())

	tx = begin()
	for v, want := range map[string]int64{"tt1": a, "tt2": b, "tt3": 0, "tt4": a} {
		if got := owner(tx, v); got != want {
			t.Errorf("committed: %s is item %d's, want %d", v, got, want)
		}
	}
	// Keys that joined by NULs would read alike stay apart.
	e, f := newMovie(tx), newMovie(tx)
	must(tx.AddGUID(e, "movie", "x", "y\x00z"))
	must(tx.AddGUID(f, "movie", "x\x00y", "z"))
	for _, c := range []struct {
		kind, value string
		want        int64
	}{{"x", "y\x00z", e}, {"x\x00y", "z", f}} {
		if it, ok, err := tx.GUIDItem("movie", c.kind, c.value); err != nil || !ok || it.ID != c.want {
			t.Errorf("GUIDItem(movie, %q, %q) = %d %v %v, want %d", c.kind, c.value, it.ID, ok, err, c.want)
		}
	}
	must(tx.AddGUID(e, "movie", "p", "q\x00r"))
	if it, ok, err := tx.GUIDItem("movie", "p\x00q", "r"); err != nil || ok {
		t.Errorf("GUIDItem(movie, \"p\\x00q\", r) = %d %v %v, want none", it.ID, ok, err)
	}
	d := newMovie(tx)
	must(tx.AddGUID(d, "movie", "imdb", "tt1")) // written already: a keeps it
	must(tx.AddGUID(d, "movie", "imdb", "tt5"))
	if got := owner(tx, "tt1"); got != a {
		t.Errorf("a written claim and a pending one: tt1 is item %d's, want %d", got, a)
	}
	must(tx.Rollback())

	tx = begin()
	defer tx.Rollback()
	if got := owner(tx, "tt5"); got != 0 {
		t.Errorf("a rolled-back claim was written: tt5 is item %d's", got)
	}
	if got := owner(tx, "tt1"); got != a {
		t.Errorf("after a rollback: tt1 is item %d's, want %d", got, a)
	}
}
