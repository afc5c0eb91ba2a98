package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oldDatabase makes a database with the migrations before people (0001 to
// 0004) and real rows of one person's state in every table, as the
// previous release left it.
func oldDatabase(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cfg")
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(mkdir(t, dir), FileName)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, m := range ms {
		if m.version >= 5 {
			break
		}
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	stmts := []string{
		`PRAGMA user_version = 4`,
		`INSERT INTO backends (id, name, kind, url, token, user_id, user_name, server_id, server_name, export, import_cursor, last_full_import, export_cursor, created)
			VALUES (1, 'plex', 'plex', 'http://p', 'tok-p', '', 'Anna', 'm1', 'Living room', 1, 500, 400, 7, 100),
			       (2, 'jelly', 'jellyfin', 'http://j', 'tok-j', 'u1', 'anna', 's2', 'Den', 1, 600, 600, 7, 101)`,
		`INSERT INTO items (id, type, title, year, show_title, season, episode, watched, updated, via, explicit, progress, progress_at, duration, created, seq, ids_hash)
			VALUES (1, 'movie', 'Heat', 1995, '', 0, 0, 1, 1000, 'plex', 1, 0, 0, 6000000, 900, 5, 11),
			       (2, 'episode', 'Pilot', 0, 'Show', 1, 1, 0, 1100, 'jelly', 0, 540000, 1150, 2400000, 901, 6, 12),
			       (3, 'movie', 'Never', 2001, '', 0, 0, 0, 902, '', 0, 0, 0, 0, 902, 2, 0)`,
		`INSERT INTO guids (type, kind, value, item_id) VALUES ('movie', 'imdb', 'tt1', 1), ('movie', 'tmdb', '949', 1), ('movie', 'imdb', 'tt3', 3)`,
		`INSERT INTO episode_ids (kind, value, season, episode, item_id) VALUES ('tvdb', '77', 1, 1, 2)`,
		`INSERT INTO remotes (backend_id, remote_id, item_id, watched, play_count, played_at, progress, library, seen)
			VALUES (1, 'r1', 1, 1, 2, 1000, 0, 'Movies', 1200), (2, 'j2', 2, 0, 0, 0, 540000, 'Shows', 1200)`,
		`INSERT INTO unmatched (backend_id, remote_id, type, title, seen) VALUES (1, 'u9', 'movie', 'Home video', 1200)`,
		`INSERT INTO runs (id, kind, started, finished, status) VALUES (1, 'sync', 1000, 1001, 'ok')`,
		`INSERT INTO run_backends (run_id, phase, backend, read) VALUES (1, 'import', 'plex', 3)`,
		`INSERT INTO changes (id, run_id, at, item_id, item, target, before, after, reason) VALUES (1, 1, 1000, 1, 'Heat (1995)', 'local', 'unwatched', 'watched', 'played on plex')`,
		`INSERT INTO held (run_id, backend, created, unwatches, watched) VALUES (1, 'jelly', 1000, 40, 50)`,
		`INSERT INTO played_counts (backend_id, library, played) VALUES (1, 'Movies', 1)`,
		`INSERT INTO accounts (id, name, kind, url, user_name, token, created) VALUES (1, 'plextv-anna', 'plextv', 'https://plex.tv', 'Anna', 'acct', 100)`,
		`INSERT INTO account_backends (backend_id, account_id, server_id, relation) VALUES (1, 1, 'm1', 'self')`,
		`UPDATE settings SET value='7' WHERE key='seq'`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return dir
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMigrationKeepsOnePersonsStateAsTheFirstPerson(t *testing.T) {
	ctx := context.Background()
	dir := oldDatabase(t)
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open on the previous schema: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var fk int
	if rows, err := s.DB().Query(`PRAGMA foreign_key_check`); err != nil {
		t.Fatal(err)
	} else {
		for rows.Next() {
			fk++
		}
		rows.Close()
	}
	if fk != 0 {
		t.Errorf("%d foreign key violations after the migration", fk)
	}
	people, err := s.People(ctx)
	if err != nil || len(people) != 1 || people[0].ID != 1 || people[0].Name != "Anna" {
		t.Fatalf("people = %+v, %v; want the first backend's user as the one person", people, err)
	}
	bs, err := s.Backends(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("backends = %+v, %v", bs, err)
	}
	for _, b := range bs {
		if b.PersonID != 1 || b.Person != "Anna" || b.ExportCursor != 7 || b.LastFullImport.IsZero() {
			t.Errorf("backend %s after the migration = person %d %q, cursor %d", b.Name, b.PersonID, b.Person, b.ExportCursor)
		}
	}

	// Every item, its identity and its play state, exactly.
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	heat, ok, err := tx.GUIDItem("movie", "tmdb", "949")
	want := Item{ID: 1, Type: "movie", Title: "Heat", Year: 1995, Watched: true, Updated: time.Unix(1000, 0).UTC(), Via: "plex", Explicit: true,
		Duration: 6000 * time.Second, Created: time.Unix(900, 0).UTC(), Seq: 5, IDsHash: 11}
	if !ok || err != nil || heat != want {
		t.Errorf("Heat after the migration = %+v (%v %v)\nwant %+v", heat, ok, err, want)
	}
	pilot, ok, err := tx.EpisodeItem("tvdb", "77", 1, 1)
	want = Item{ID: 2, Type: "episode", Title: "Pilot", ShowTitle: "Show", Season: 1, Episode: 1, Updated: time.Unix(1100, 0).UTC(), Via: "jelly",
		Progress: 9 * time.Minute, ProgressAt: time.Unix(1150, 0).UTC(), Duration: 40 * time.Minute, Created: time.Unix(901, 0).UTC(), Seq: 6, IDsHash: 12}
	if !ok || err != nil || pilot != want {
		t.Errorf("Pilot after the migration = %+v (%v %v)\nwant %+v", pilot, ok, err, want)
	}
	never, ok, err := tx.GUIDItem("movie", "imdb", "tt3")
	if !ok || err != nil || never.Updated != time.Unix(902, 0).UTC() || never.Seq != 2 || never.Watched {
		t.Errorf("Never after the migration = %+v (%v %v)", never, ok, err)
	}
	if r, it, ok, err := tx.RemoteItem(1, "r1"); !ok || err != nil || it.ID != 1 || !r.Watched || r.PlayCount != 2 || r.Library != "Movies" {
		t.Errorf("sub-record r1 = %+v %+v %v %v", r, it, ok, err)
	}
	if n, _ := tx.CountIDs(); n != 4 {
		t.Errorf("ids after the migration = %d, want 4", n)
	}
	if pc, _ := tx.PlayedCounts(1); pc["Movies"] != 1 {
		t.Errorf("played counts = %v", pc)
	}
	if seq, _ := tx.MaxSeq(); seq != 7 {
		t.Errorf("seq = %d, want 7", seq)
	}
	// The export cursor (7) has seen everything: nothing to export again.
	if n, _ := tx.CountChanged(1, 7); n != 0 {
		t.Errorf("changed since the cursor = %d", n)
	}
	if n, _ := tx.CountChanged(1, 5); n != 1 {
		t.Errorf("changed since 5 = %d, want 1 (Pilot)", n)
	}
	tx.Rollback()

	c, err := s.Counts(ctx)
	if err != nil || c.Items != 3 || c.Watched != 1 || c.InProgress != 1 || c.Unmatched != 1 || c.Held != 1 || c.Plays != 3 {
		t.Errorf("counts = %+v, %v", c, err)
	}
	changes, err := s.Changes(ctx, 1, 10)
	if err != nil || len(changes) != 1 || changes[0].Item != "Heat (1995)" || changes[0].PersonID != 1 {
		t.Errorf("history = %+v, %v", changes, err)
	}
	runs, err := s.Runs(ctx, 10)
	if err != nil || len(runs) != 1 {
		t.Errorf("runs = %+v, %v", runs, err)
	}
	if a, err := s.Account(ctx, "plextv-anna"); err != nil || a.Token != "acct" {
		t.Errorf("account = %+v, %v", a, err)
	}
	if l, err := s.BackendLink(ctx, 1); err != nil || l.AccountID != 1 {
		t.Errorf("account link = %+v, %v", l, err)
	}
	// The play state left items: the identity alone is shared.
	var cols int
	s.DB().QueryRow(`SELECT COUNT(*) FROM pragma_table_info('items') WHERE name IN ('watched', 'seq', 'progress')`).Scan(&cols)
	if cols != 0 {
		t.Errorf("items still has %d play-state columns", cols)
	}
}

func TestFreshDatabaseHasNoPersonUntilABackend(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	if p, err := s.People(ctx); err != nil || len(p) != 0 {
		t.Fatalf("people of a new database = %+v, %v", p, err)
	}
	b, err := s.AddBackend(ctx, Backend{Name: "p", Kind: "plex", URL: "http://u", Token: "t", UserName: "Dora"})
	if err != nil || b.PersonID == 0 || b.Person != "Dora" {
		t.Fatalf("first backend = person %d %q, %v", b.PersonID, b.Person, err)
	}
	// A second backend without a person joins the first person: one
	// person's setup stays one person whatever the user names.
	b2, err := s.AddBackend(ctx, Backend{Name: "j", Kind: "jellyfin", URL: "http://u", Token: "t", UserName: "dora.k"})
	if err != nil || b2.PersonID != b.PersonID {
		t.Fatalf("second backend = person %d, %v", b2.PersonID, err)
	}
	if _, err := s.AddBackend(ctx, Backend{Name: "x", Kind: "emby", URL: "http://u", Token: "t", PersonID: 99}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a backend of no such person: %v", err)
	}
}

// play gives person's play state of a new movie with imdb id.
func play(t *testing.T, s *Store, person int64, imdb string, it Item) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	tx.SetPerson(person)
	found, ok, err := tx.GUIDItem("movie", "imdb", imdb)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		it.ID, it.Type, it.Title, it.Created = found.ID, found.Type, found.Title, found.Created
		err = tx.SavePlay(&it)
	} else {
		it.Type, it.Title = "movie", imdb
		if err = tx.CreateItem(&it); err == nil {
			err = tx.AddGUID(it.ID, "movie", "imdb", imdb)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return it.ID
}

func stateOf(t *testing.T, s *Store, person int64, imdb string) Item {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	tx.SetPerson(person)
	it, ok, err := tx.GUIDItem("movie", "imdb", imdb)
	if !ok || err != nil {
		t.Fatalf("%s: %v %v", imdb, ok, err)
	}
	return it
}

func TestPlayStateIsPerPersonIdentityShared(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	anna, _ := s.EnsurePerson(ctx, "Anna")
	ben, _ := s.EnsurePerson(ctx, "Ben")
	if again, err := s.EnsurePerson(ctx, " anna "); err != nil || again.ID != anna.ID {
		t.Fatalf("EnsurePerson(anna) = %+v, %v; want Anna", again, err)
	}
	id := play(t, s, anna.ID, "tt1", Item{Watched: true, Explicit: true, Updated: time.Unix(1000, 0)})
	if got := stateOf(t, s, ben.ID, "tt1"); got.ID != id || got.Watched || got.Explicit || got.Seq != 0 {
		t.Errorf("Ben sees Anna's play: %+v", got)
	}
	if got := stateOf(t, s, anna.ID, "tt1"); !got.Watched {
		t.Errorf("Anna's play lost: %+v", got)
	}
	var items int
	s.DB().QueryRow(`SELECT COUNT(*) FROM items`).Scan(&items)
	if items != 1 {
		t.Errorf("%d items for one film", items)
	}
	a, _ := s.CountsFor(ctx, anna.ID)
	b, _ := s.CountsFor(ctx, ben.ID)
	if a.Watched != 1 || b.Watched != 0 || a.Items != 1 || b.Items != 1 {
		t.Errorf("counts: Anna %+v, Ben %+v", a, b)
	}
}

func TestPeopleRenameMergeLink(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	anna, _ := s.EnsurePerson(ctx, "Anna")
	ben, _ := s.EnsurePerson(ctx, "Ben")
	annaPlex, err := s.AddBackend(ctx, Backend{Name: "plex-anna", Kind: "plex", URL: "http://u", Token: "t", PersonID: anna.ID})
	if err != nil || annaPlex.Person != "Anna" {
		t.Fatalf("AddBackend = %+v, %v", annaPlex, err)
	}
	benJelly, err := s.AddBackend(ctx, Backend{Name: "jelly-ben", Kind: "jellyfin", URL: "http://u", Token: "t", PersonID: ben.ID})
	if err != nil {
		t.Fatal(err)
	}

	// Rename; a name someone else has is refused (merge instead).
	if err := s.RenamePerson(ctx, ben.ID, "Benjamin"); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Backend(ctx, "jelly-ben"); b.Person != "Benjamin" {
		t.Errorf("backend's person after rename = %q", b.Person)
	}
	if err := s.RenamePerson(ctx, ben.ID, "ANNA"); !errors.Is(err, ErrExists) {
		t.Errorf("rename to another's name: %v", err)
	}
	if err := s.RenamePerson(ctx, 99, "X"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rename of no one: %v", err)
	}

	// Link: the backend moves, forgetting what it knew for Ben.
	tx, _ := s.Begin(ctx)
	tx.SetPerson(ben.ID)
	it := Item{Type: "movie", Title: "m", Watched: true, Explicit: true, Updated: time.Unix(10, 0)}
	if err := tx.CreateItem(&it); err != nil {
		t.Fatal(err)
	}
	if err := tx.PutRemote(Remote{BackendID: benJelly.ID, RemoteID: "r", ItemID: it.ID, Watched: true}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	if err := s.ImportDone(ctx, benJelly.ID, time.Unix(50, 0), true); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkBackend(ctx, "jelly-ben", anna.ID); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Backend(ctx, "jelly-ben")
	if b.PersonID != anna.ID || b.Person != "Anna" || !b.LastFullImport.IsZero() || b.ExportCursor != 0 {
		t.Errorf("linked backend = %+v", b)
	}
	tx, _ = s.Begin(ctx)
	if has, _ := tx.HasRemotes(b.ID); has {
		t.Error("the moved backend kept the sub-records read for its former person")
	}
	tx.Rollback()
	if err := s.LinkBackend(ctx, "nope", anna.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("link of no backend: %v", err)
	}
	if err := s.LinkBackend(ctx, "jelly-ben", 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("link to no person: %v", err)
	}
	if err := s.LinkBackend(ctx, "jelly-ben", ben.ID); err != nil {
		t.Fatal(err)
	}

	// Merge: newer wins, per item; what only one had is kept.
	play(t, s, anna.ID, "tt-both", Item{Watched: true, Explicit: true, Updated: time.Unix(1000, 0)})
	play(t, s, ben.ID, "tt-both", Item{Watched: false, Explicit: true, Updated: time.Unix(2000, 0)}) // Ben's later un-watch
	play(t, s, anna.ID, "tt-anna-newer", Item{Watched: true, Explicit: true, Updated: time.Unix(3000, 0)})
	play(t, s, ben.ID, "tt-anna-newer", Item{Watched: false, Explicit: true, Updated: time.Unix(100, 0), Progress: time.Minute, ProgressAt: time.Unix(4000, 0)})
	play(t, s, ben.ID, "tt-ben-only", Item{Watched: true, Explicit: true, Updated: time.Unix(500, 0)})
	tx, _ = s.Begin(ctx)
	before, _ := tx.MaxSeq()
	tx.Rollback()
	if err := s.MergePeople(ctx, ben.ID, anna.ID); err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, s, anna.ID, "tt-both"); got.Watched || got.Updated != time.Unix(2000, 0).UTC() || got.Seq <= before {
		t.Errorf("tt-both merged = %+v; want Ben's newer un-watch, with a new sequence", got)
	}
	if got := stateOf(t, s, anna.ID, "tt-anna-newer"); !got.Watched || got.Updated != time.Unix(3000, 0).UTC() || got.Progress != time.Minute {
		t.Errorf("tt-anna-newer merged = %+v; want Anna's play and Ben's newer position", got)
	}
	if got := stateOf(t, s, anna.ID, "tt-ben-only"); !got.Watched || got.Seq <= before {
		t.Errorf("tt-ben-only merged = %+v", got)
	}
	if got := stateOf(t, s, anna.ID, "tt-anna-newer"); got.Seq <= before {
		t.Errorf("a merged position took no new sequence: %+v", got)
	}
	people, _ := s.People(ctx)
	if len(people) != 1 || people[0].ID != anna.ID {
		t.Errorf("people after merge = %+v", people)
	}
	if b, _ := s.Backend(ctx, "jelly-ben"); b.PersonID != anna.ID || b.ExportCursor != 0 {
		t.Errorf("Ben's backend after merge = %+v", b)
	}
	var plays int
	s.DB().QueryRow(`SELECT COUNT(*) FROM plays WHERE person_id=?`, ben.ID).Scan(&plays)
	if plays != 0 {
		t.Errorf("%d plays left for the merged person", plays)
	}
	if err := s.MergePeople(ctx, anna.ID, anna.ID); err == nil {
		t.Error("merged a person with themselves")
	}
	if err := s.MergePeople(ctx, 99, anna.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("merge of no one: %v", err)
	}
}

// testdata/release-v4.db was written by the release before people
// (schema 4): `playmark demo --headless --keep --items 12`, three
// simulated servers synced three times (backends, items, ids, sub-records,
// played counts, runs and history).
func TestMigrationOfThePreviousReleasesDatabase(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("testdata", "release-v4.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), src, 0o600); err != nil {
		t.Fatal(err)
	}
	type play struct {
		watched, explicit              bool
		updated, progress, pat, seq    int64
		via                            string
		typ, title, show               string
		year, season, episode, dur, cr int64
	}
	read := func(db *sql.DB, q string) map[int64]play {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]play{}
		for rows.Next() {
			var id int64
			var p play
			if err := rows.Scan(&id, &p.watched, &p.explicit, &p.updated, &p.progress, &p.pat, &p.seq, &p.via,
				&p.typ, &p.title, &p.show, &p.year, &p.season, &p.episode, &p.dur, &p.cr); err != nil {
				t.Fatal(err)
			}
			out[id] = p
		}
		return out
	}
	tables := []string{"backends", "items", "remotes", "unmatched", "runs", "run_backends", "changes", "held", "played_counts", "settings", "tasks"}
	count := func(db *sql.DB) map[string]int {
		out := map[string]int{}
		for _, tb := range tables {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM ` + tb).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[tb] = n
		}
		return out
	}
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var v int
	old.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != 4 {
		t.Fatalf("the fixture is schema %d, want 4", v)
	}
	// Every relative id of an episode (show id, season, episode) finds
	// the same item after the migration (0006: show ids stored once per
	// show), and no other.
	relIDs := func(db *sql.DB, q string) []string {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var kind, value string
			var season, episode, item int64
			if err := rows.Scan(&kind, &value, &season, &episode, &item); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s:%s/%d/%d=%d", kind, value, season, episode, item))
		}
		return out
	}
	relBefore := relIDs(old, `SELECT kind, value, season, episode, item_id FROM episode_ids ORDER BY 1, 2, 3, 4`)
	// Every external id stays its item's (0009: item_ids and guid_keys).
	claims := func(db *sql.DB, table string) []string {
		rows, err := db.Query(`SELECT type, kind, value, item_id FROM ` + table + ` ORDER BY 1, 2, 3`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var typ, kind, value string
			var item int64
			if err := rows.Scan(&typ, &kind, &value, &item); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s\x00%s\x00%s\x00%d", typ, kind, value, item))
		}
		return out
	}
	claimsBefore := claims(old, "guids")
	before := read(old, `SELECT id, watched, explicit, updated, progress, progress_at, seq, via, type, title, show_title, year, season, episode, duration, created FROM items`)
	beforeCounts := count(old)
	old.Close()
	if len(before) == 0 || beforeCounts["remotes"] == 0 || beforeCounts["changes"] == 0 {
		t.Fatalf("the fixture is empty: %v", beforeCounts)
	}

	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("opening the previous release's database: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	after := read(s.DB(), `SELECT i.id, p.watched, p.explicit, p.updated, p.progress, p.progress_at, p.seq, p.via, i.type, i.title, i.show_title, i.year, i.season, i.episode, i.duration, i.created
		FROM items i JOIN plays p ON p.item_id=i.id AND p.person_id=1`)
	if len(after) != len(before) {
		t.Fatalf("%d items with the first person's play state, want %d", len(after), len(before))
	}
	for id, p := range before {
		if after[id] != p {
			t.Errorf("item %d: %+v after the migration, was %+v", id, after[id], p)
		}
	}
	if len(relBefore) == 0 {
		t.Fatal("the fixture has no relative episode ids")
	}
	relAfter := relIDs(s.DB(), `SELECT s.kind, s.value, e.season, e.episode, e.item_id FROM episodes e JOIN show_ids s ON s.show_id=e.show_id ORDER BY 1, 2, 3, 4`)
	if fmt.Sprint(relAfter) != fmt.Sprint(relBefore) {
		t.Errorf("relative ids after the migration:\n%v\nbefore:\n%v", relAfter, relBefore)
	}
	if len(claimsBefore) == 0 {
		t.Fatal("the fixture has no external ids")
	}
	if got := claims(s.DB(), "item_ids"); fmt.Sprint(got) != fmt.Sprint(claimsBefore) {
		t.Errorf("external ids after the migration:\n%q\nbefore:\n%q", got, claimsBefore)
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claimsBefore {
		f := strings.Split(c, "\x00")
		it, ok, err := tx.GUIDItem(f[0], f[1], f[2])
		if err != nil || !ok || fmt.Sprint(it.ID) != f[3] {
			t.Errorf("GUIDItem(%s %s:%s) = item %d, %v, %v after the migration; want item %s", f[0], f[1], f[2], it.ID, ok, err, f[3])
		}
	}
	tx.Rollback()
	if got := count(s.DB()); fmt.Sprint(got) != fmt.Sprint(beforeCounts) {
		t.Errorf("rows after the migration %v, before %v", got, beforeCounts)
	}
	bs, err := s.Backends(ctx)
	if err != nil || len(bs) != beforeCounts["backends"] {
		t.Fatalf("backends = %d, %v", len(bs), err)
	}
	for _, b := range bs {
		if b.PersonID != 1 || b.Person == "" {
			t.Errorf("backend %s is person %d %q, want the first", b.Name, b.PersonID, b.Person)
		}
	}
}

func TestRemovePerson(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	anna, _ := s.EnsurePerson(ctx, "Anna")
	ben, _ := s.EnsurePerson(ctx, "Ben")
	if _, err := s.AddBackend(ctx, Backend{Name: "plex-anna", Kind: "plex", URL: "http://u", Token: "t", PersonID: anna.ID}); err != nil {
		t.Fatal(err)
	}
	play(t, s, anna.ID, "tt1", Item{Watched: true, Explicit: true, Updated: time.Unix(1000, 0)})
	play(t, s, ben.ID, "tt1", Item{Watched: true, Explicit: true, Updated: time.Unix(1000, 0)})
	play(t, s, ben.ID, "tt2", Item{Progress: time.Minute, ProgressAt: time.Unix(1000, 0), Updated: time.Unix(1000, 0)})
	if err := s.Hold(ctx, Held{RunID: 1, Backend: "plex-anna", Unwatches: 40, Watched: 50}); err != nil {
		t.Fatal(err)
	}

	// Ben has no backends: he goes, with his play state; the films stay.
	got, err := s.RemovePerson(ctx, ben.ID, false)
	if err != nil || got.Plays != 2 || got.Person.Name != "Ben" || len(got.Backends) != 0 {
		t.Fatalf("RemovePerson(Ben) = %+v, %v; want his 2 play states", got, err)
	}
	var plays, items int
	s.DB().QueryRow(`SELECT COUNT(*) FROM plays WHERE person_id=?`, ben.ID).Scan(&plays)
	s.DB().QueryRow(`SELECT COUNT(*) FROM items`).Scan(&items)
	if plays != 0 || items != 2 {
		t.Errorf("after removing Ben: %d of his plays left, %d items (want 0, and both films kept)", plays, items)
	}
	if _, err := s.PersonByName(ctx, "Ben"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ben after removal: %v", err)
	}
	if a := stateOf(t, s, anna.ID, "tt1"); !a.Watched {
		t.Errorf("Anna's play lost with Ben: %+v", a)
	}
	runs, _ := s.Runs(ctx, 5)
	if len(runs) == 0 || runs[0].Kind != RunPeople || !strings.Contains(runs[0].Message, "Ben") {
		t.Errorf("history after removing Ben = %+v; want a note naming him", runs)
	}
	if _, err := s.RemovePerson(ctx, ben.ID, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing Ben twice: %v", err)
	}

	// Anna has a backend: refused, naming it, nothing removed.
	_, err = s.RemovePerson(ctx, anna.ID, false)
	var hb *HasBackendsError
	if !errors.Is(err, ErrHasBackends) || !errors.As(err, &hb) || len(hb.Backends) != 1 || hb.Backends[0] != "plex-anna" {
		t.Fatalf("RemovePerson(Anna) with a backend = %v; want ErrHasBackends naming plex-anna", err)
	}
	if a := stateOf(t, s, anna.ID, "tt1"); !a.Watched {
		t.Errorf("a refused removal changed Anna's play: %+v", a)
	}
	// With her backends: all of it goes, and her held export with it.
	got, err = s.RemovePerson(ctx, anna.ID, true)
	if err != nil || len(got.Backends) != 1 || got.Plays != 1 {
		t.Fatalf("RemovePerson(Anna, with backends) = %+v, %v", got, err)
	}
	if _, err := s.Backend(ctx, "plex-anna"); !errors.Is(err, ErrNotFound) {
		t.Errorf("plex-anna after removing Anna with her backends: %v", err)
	}
	if h, _ := s.HeldExports(ctx); len(h) != 0 {
		t.Errorf("held exports of a removed backend: %+v", h)
	}
}

// A merge changes both people's watch state: the exports held for their
// backends were planned from the old states, so they are dropped, with a
// note in history; someone else's stays.
func TestMergeDropsTheHeldExportsOfBoth(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	for _, p := range []struct{ person, backend string }{{"Anna", "plex-anna"}, {"Ben", "jelly-ben"}, {"Carol", "emby-carol"}} {
		who, _ := s.EnsurePerson(ctx, p.person)
		if _, err := s.AddBackend(ctx, Backend{Name: p.backend, Kind: "plex", URL: "http://u", Token: "t", PersonID: who.ID}); err != nil {
			t.Fatal(err)
		}
		if err := s.Hold(ctx, Held{RunID: 1, Backend: p.backend, Unwatches: 40, Watched: 50}); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := s.HeldExports(ctx); len(h) != 3 {
		t.Fatalf("held before the merge = %+v", h)
	}
	anna, _ := s.PersonByName(ctx, "Anna")
	ben, _ := s.PersonByName(ctx, "Ben")
	if err := s.MergePeople(ctx, ben.ID, anna.ID); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.HeldExports(ctx); len(h) != 1 || h[0].Backend != "emby-carol" {
		t.Errorf("held after merging Ben into Anna = %+v; want Carol's only", h)
	}
	runs, _ := s.Runs(ctx, 1)
	if len(runs) != 1 || runs[0].Kind != RunPeople || !strings.Contains(runs[0].Message, "jelly-ben") || !strings.Contains(runs[0].Message, "plex-anna") {
		t.Errorf("history after the merge = %+v; want a note naming both dropped exports", runs)
	}
}
