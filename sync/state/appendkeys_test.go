package state

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// migrateTo applies the embedded migrations up to version n to the
// database at path, as the release of schema n would have left it.
func migrateTo(t *testing.T, path string, n int) {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var have int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&have); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[have:n] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("migration %s: %v", m.name, err)
		}
		if _, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, m.version)); err != nil {
			t.Fatal(err)
		}
	}
}

const allRemoteCols = `backend_id, remote_id, item_id, watched, play_count, played_at, added_at, progress, duration, library, show_id, path, ids_hash, seen`

func remoteRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT ` + allRemoteCols + ` FROM remotes ORDER BY backend_id, remote_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		v := make([]any, 14)
		p := make([]any, 14)
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%#v", v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A database the schema-7 release wrote (the previous release's fixture
// brought to 0007) keeps every sub-record, column for column, when its
// remotes become a rowid table with a unique key (0008), and the key
// still refuses a second row for the same (backend, remote id): the
// upsert updates in place, and a backend's rows are still found and
// deleted by backend.
func TestMigrationToAppendedRemotesKeepsEveryRow(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("testdata", "release-v4.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	migrateTo(t, path, 7)
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	before := remoteRows(t, old)
	old.Close()
	if len(before) < 10 {
		t.Fatalf("the fixture has %d sub-records", len(before))
	}

	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("opening a schema-7 database: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	after := remoteRows(t, s.DB())
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("sub-records after the migration (%d):\n%v\nbefore (%d):\n%v", len(after), after, len(before), before)
	}
	// A rowid table: rows are appended in arrival order.
	var maxRowid int64
	if err := s.DB().QueryRow(`SELECT MAX(rowid) FROM remotes`).Scan(&maxRowid); err != nil || maxRowid != int64(len(before)) {
		t.Fatalf("remotes' rowids: max %d, %v; want a rowid table of %d rows", maxRowid, err, len(before))
	}
	var fkErrors int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM pragma_foreign_key_check('remotes')`).Scan(&fkErrors); err != nil || fkErrors != 0 {
		t.Fatalf("foreign key check of remotes: %d, %v", fkErrors, err)
	}

	// The upsert still finds its row by (backend, remote id).
	var backendID int64
	var remoteID string
	if err := s.DB().QueryRow(`SELECT backend_id, remote_id FROM remotes ORDER BY backend_id, remote_id LIMIT 1`).Scan(&backendID, &remoteID); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, ok, err := tx.Remote(backendID, remoteID)
	if err != nil || !ok {
		t.Fatalf("Remote(%d, %q) = %v, %v", backendID, remoteID, ok, err)
	}
	r.Path, r.Seen = "/moved", time.Unix(1_900_000_000, 0)
	if err := tx.PutRemote(r); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	var gotPath string
	if err := s.DB().QueryRow(`SELECT COUNT(*), MAX(path) FROM remotes WHERE backend_id=? AND remote_id=?`, backendID, remoteID).Scan(&n, &gotPath); err != nil || n != 1 || gotPath != "/moved" {
		t.Fatalf("after the upsert: %d rows, path %q, %v; want one, updated", n, gotPath, err)
	}
	if _, err := s.DB().Exec(`INSERT INTO remotes (backend_id, remote_id, item_id) VALUES (?, ?, ?)`, backendID, remoteID, r.ItemID); err == nil {
		t.Fatal("a second row for the same (backend, remote id) was accepted")
	}

	// Every row of the backend but the one just seen is forgotten.
	tx, _ = s.Begin(ctx)
	gone, err := tx.ForgetUnseen(backendID, time.Unix(1_900_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var left int
	s.DB().QueryRow(`SELECT COUNT(*) FROM remotes WHERE backend_id=?`, backendID).Scan(&left)
	if gone == 0 || left != 1 {
		t.Errorf("ForgetUnseen: %d deleted, %d left; want all but one", gone, left)
	}
}

// TestWatchedCountReadsItsIndex: the watched count that every export's
// mass-change guard takes reads the partial index of watched sub-records
// alone. Without remotes_watched the rowid table's count walked
// remotes_key and read each of the backend's rows at random (a push
// export of 100 items went from 0.15 s to 0.35-0.55 s at 100,000 items).
func TestWatchedCountReadsItsIndex(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+countWatchedSQL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "COVERING INDEX remotes_watched") {
		t.Errorf("the watched count's plan: %q, want a search of the covering index remotes_watched", plan)
	}
}
