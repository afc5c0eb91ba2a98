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
