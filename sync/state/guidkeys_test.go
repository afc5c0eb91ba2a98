package state

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// collide makes every external id hash to one of two keys for the test.
func collide(t *testing.T) {
	t.Helper()
	guidKey = func(typ, kind, value string) int64 { return 1000 + int64(len(value)%2) }
	t.Cleanup(func() { guidKey = guidHash })
}

func newMovie(t *testing.T, tx *Tx, title string) int64 {
	t.Helper()
	it := Item{Type: "movie", Title: title}
	if err := tx.CreateItem(&it); err != nil {
		t.Fatal(err)
	}
	return it.ID
}

// Ids whose hashes collide each find their own item, written at once or
// pending, across commits; the first claim of an id still wins; and a
// claim that finds every slot taken fails instead of being lost.
func TestCollidingIDsFindTheirOwnItems(t *testing.T) {
	collide(t)
	ctx := context.Background()
	s, _ := open(t)
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"tt1", "tt22", "tt333", "tt4444", "tt55555"}
	items := map[string]int64{}
	for _, v := range values {
		items[v] = newMovie(t, tx, v)
		if err := tx.AddGUID(items[v], "movie", "imdb", v); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for _, v := range values {
			it, ok, err := tx.GUIDItem("movie", "imdb", v)
			if err != nil || !ok || it.ID != items[v] {
				t.Errorf("%s: GUIDItem(imdb:%s) = %d, %v, %v; want item %d", when, v, it.ID, ok, err, items[v])
			}
		}
		if _, ok, err := tx.GUIDItem("movie", "imdb", "tt666666"); ok || err != nil {
			t.Errorf("%s: an id nobody claimed was found (%v, %v)", when, ok, err)
		}
		if _, ok, _ := tx.GUIDItem("episode", "imdb", "tt1"); ok {
			t.Errorf("%s: an episode id found a movie", when)
		}
	}
	check("pending")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, err = s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	check("written")
	// A second item claiming a taken id does not get it.
	other := newMovie(t, tx, "Other")
	if err := tx.AddGUID(other, "movie", "imdb", "tt333"); err != nil {
		t.Fatal(err)
	}
	if err := tx.flushGUIDs(); err != nil {
		t.Fatal(err)
	}
	check("after a second claim")
	var slots int
	if err := tx.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM guid_keys`).Scan(&slots); err != nil || slots != len(values) {
		t.Errorf("%d slots taken, %v; want %d", slots, err, len(values))
	}
	// Sixteen slots from a key, then an error.
	var failed error
	for i := 0; i < 2*guidProbes && failed == nil; i++ {
		v := "x" + strings.Repeat("y", 2*i)
		failed = tx.AddGUID(newMovie(t, tx, v), "movie", "imdb", v)
		if failed == nil {
			failed = tx.flushGUIDs()
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), "slots from its key are taken") {
		t.Errorf("claims beyond the probe range: %v, want an error", failed)
	}
}

// A database written before 0009 whose ids collide under the new key
// keeps every claim: the migration puts the later ones in later slots.
func TestMigrationPlacesCollidingIDs(t *testing.T) {
	collide(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	path := filepath.Join(mkdir(t, dir), FileName)
	migrateTo(t, path, 8)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO items (id, type, title, created) VALUES (1, 'movie', 'A', 1), (2, 'movie', 'B', 1), (3, 'movie', 'C', 1)`,
		`INSERT INTO guids (type, kind, value, item_id) VALUES ('movie', 'imdb', 'tt1', 1), ('movie', 'imdb', 'tt3', 2), ('movie', 'tmdb', '5', 3), ('movie', 'tmdb', '77', 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, c := range []struct {
		kind, value string
		item        int64
	}{{"imdb", "tt1", 1}, {"imdb", "tt3", 2}, {"tmdb", "5", 3}, {"tmdb", "77", 3}} {
		it, ok, err := tx.GUIDItem("movie", c.kind, c.value)
		if err != nil || !ok || it.ID != c.item {
			t.Errorf("GUIDItem(%s:%s) = %d, %v, %v after the migration; want item %d", c.kind, c.value, it.ID, ok, err, c.item)
		}
	}
}

// An import's batch runs without foreign-key checks, and the connection
// it used has them again afterwards, after a commit as after a rollback.
func TestImportBatchChecksNoForeignKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	s.DB().SetMaxOpenConns(1) // every transaction below gets the same connection
	if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://p", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	b, err := s.Backend(ctx, "plex")
	if err != nil {
		t.Fatal(err)
	}
	orphan := func(tx *Tx, remote string) error {
		return tx.exec(`INSERT INTO remotes (backend_id, remote_id, item_id) VALUES (?, ?, 999)`, b.ID, remote)
	}
	for _, commit := range []bool{false, true} {
		tx, err := s.BeginImport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := orphan(tx, "in-batch"); err != nil {
			t.Errorf("in an import batch: %v, want no foreign-key check", err)
		}
		if err := tx.exec(`DELETE FROM remotes`); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
		tx, err = s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := orphan(tx, "after"); err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("after an import batch (commit %v): %v, want the foreign-key check", commit, err)
		}
		tx.Rollback()
	}
}

// A connection whose transaction is still open when the batch gives it
// back (a commit that failed can leave it so) cannot get its checks back
// (the pragma does nothing in a transaction): it is closed, not pooled.
func TestConnectionLeftInATransactionIsNotPooled(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	s.DB().SetMaxOpenConns(1)
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`PRAGMA foreign_keys=OFF`, `BEGIN IMMEDIATE`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	restoreForeignKeys(conn)
	tx, err := s.Begin(ctx) // waits forever (one connection) if the open one came back
	if err != nil {
		t.Fatalf("after giving back a connection in a transaction: %v", err)
	}
	defer tx.Rollback()
	var on int
	if err := tx.tx.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
		t.Errorf("the next connection's foreign-key checks: %d, %v; want on", on, err)
	}
}
