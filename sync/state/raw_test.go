package state

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// An import's batch runs its statements below database/sql (raw.go):
// the same calls through Begin and through BeginImport leave the same
// rows and read back the same values.
func TestImportBatchWritesAndReadsAsDatabaseSQLDoes(t *testing.T) {
	ctx := context.Background()
	run := func(begin func(*Store) (*Tx, error)) (reads []string, dump string) {
		s, _ := open(t)
		s.SetClock(func() time.Time { return time.Unix(1_750_000_000, 0) })
		if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://p", Token: "t"}); err != nil {
			t.Fatal(err)
		}
		b, err := s.Backend(ctx, "plex")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := begin(s)
		if err != nil {
			t.Fatal(err)
		}
		read := func(what string, it Item, ok bool, err error) {
			reads = append(reads, fmt.Sprintf("%s: %+v %v %v", what, it, ok, err))
		}
		for i := range 40 {
			it := Item{Type: "episode", Title: fmt.Sprint("E", i), Year: 2000 + i, ShowTitle: "Show", Season: 1 + i/10, Episode: 1 + i%10,
				Duration: time.Duration(i) * time.Minute, IDsHash: uint32(i) * 2654435761}
			if i%3 == 0 {
				it.Watched, it.Explicit, it.Updated = true, true, time.Unix(int64(1_700_000_000+i), 0)
			} else if i%3 == 1 {
				it.Progress, it.ProgressAt = time.Duration(i)*time.Second, time.Unix(int64(1_700_000_000+i), 0)
			}
			if err := tx.CreateItem(&it); err != nil {
				t.Fatal(err)
			}
			if err := tx.AddGUID(it.ID, "episode", "tvdb", fmt.Sprint(9000+i)); err != nil {
				t.Fatal(err)
			}
			if err := tx.AddEpisode(it.ID, []IDPair{{"tvdb", "77"}, {"imdb", "tt77"}}, it.Season, it.Episode); err != nil {
				t.Fatal(err)
			}
			if err := tx.PutRemote(Remote{BackendID: b.ID, RemoteID: fmt.Sprint("r", i), ItemID: it.ID, Watched: it.Watched, PlayCount: i % 4,
				PlayedAt: it.Updated, Progress: it.Progress, Duration: it.Duration, Library: "2", ShowID: "s1", Path: "/tv/e.mkv",
				IDsHash: it.IDsHash, Seen: time.Unix(1_750_000_000, 0)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 42 {
			it, ok, err := tx.GUIDItem("episode", "tvdb", fmt.Sprint(9000+i))
			read("guid", it, ok, err)
			it, ok, err = tx.EpisodeItem("imdb", "tt77", 1+i/10, 1+i%10)
			read("episode", it, ok, err)
			r, it, ok, err := tx.RemoteItem(b.ID, fmt.Sprint("r", i))
			read(fmt.Sprintf("remote %+v", r), it, ok, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for _, table := range []string{"items", "plays", "item_ids", "guid_keys", "show_ids", "episodes", "remotes"} {
			rows, err := s.DB().Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				v := make([]any, len(cols))
				p := make([]any, len(cols))
				for i := range v {
					p[i] = &v[i]
				}
				if err := rows.Scan(p...); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&sb, "%s %v\n", table, v)
			}
			rows.Close()
		}
		return reads, sb.String()
	}
	viaSQL, dumpSQL := run(func(s *Store) (*Tx, error) { return s.Begin(ctx) })
	viaRaw, dumpRaw := run(func(s *Store) (*Tx, error) { return s.BeginImport(ctx) })
	if dumpRaw != dumpSQL {
		t.Errorf("an import batch wrote\n%s\ndatabase/sql wrote\n%s", dumpRaw, dumpSQL)
	}
	if len(viaRaw) != len(viaSQL) {
		t.Fatalf("%d reads, want %d", len(viaRaw), len(viaSQL))
	}
	found := 0
	for i := range viaSQL {
		if viaRaw[i] != viaSQL[i] {
			t.Errorf("an import batch read %s\ndatabase/sql read  %s", viaRaw[i], viaSQL[i])
		}
		if strings.Contains(viaSQL[i], " true <nil>") {
			found++
		}
	}
	if found < 3*40 {
		t.Errorf("only %d of the reads found their item", found)
	}
}
