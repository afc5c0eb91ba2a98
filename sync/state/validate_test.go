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
)

func TestBackendValidate(t *testing.T) {
	good := Backend{Name: "living-room.1", Kind: "jellyfin", URL: "http://192.168.1.10:8096", Import: ImportMetadata}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for name, b := range map[string]Backend{
		"empty name":      {Name: "", Kind: "plex", URL: "http://h:1"},
		"name with space": {Name: "living room", Kind: "plex", URL: "http://h:1"},
		"leading dot":     {Name: ".x", Kind: "plex", URL: "http://h:1"},
		"unknown kind":    {Name: "x", Kind: "kodi", URL: "http://h:1"},
		"no kind":         {Name: "x", URL: "http://h:1"},
		"ftp url":         {Name: "x", Kind: "emby", URL: "ftp://h:1"},
		"url with user":   {Name: "x", Kind: "emby", URL: "http://u:p@h:1"},
		"url with query":  {Name: "x", Kind: "emby", URL: "http://h:1?a=b"},
		"trailing slash":  {Name: "x", Kind: "emby", URL: "http://h:1/"},
		"unknown import":  {Name: "x", Kind: "emby", URL: "http://h:1", Import: "some"},
	} {
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want ErrInvalid", name, err)
		}
	}
	if u, err := NormalizeURL(" https://h.example/jf/ "); err != nil || u != "https://h.example/jf" {
		t.Errorf("NormalizeURL = %q, %v", u, err)
	}
}

// TestStoreRefusesInvalidBackend: what does not validate is not saved,
// by add or by update.
func TestStoreRefusesInvalidBackend(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	if _, err := s.AddBackend(ctx, Backend{Name: "bad name", Kind: "plex", URL: "http://h:1", Token: "t"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("AddBackend with a bad name: %v, want ErrInvalid", err)
	}
	b, err := s.AddBackend(ctx, Backend{Name: "ok", Kind: "plex", URL: "http://h:1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	b.Kind = "kodi"
	if err := s.UpdateBackend(ctx, b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UpdateBackend with an unknown kind: %v, want ErrInvalid", err)
	}
	all, err := s.Backends(ctx)
	if err != nil || len(all) != 1 || all[0].Kind != "plex" {
		t.Fatalf("after the refusals: %+v, %v", all, err)
	}
}

// TestMigrationMarksRejectedTokens: rows written before the rejected flag
// get it once, from the words the window used to look for; afterwards the
// flag alone says it.
func TestMigrationMarksRejectedTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, m := range ms {
		if strings.HasSuffix(m.name, "_house.sql") {
			break
		}
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		last = m.version
	}
	for _, q := range []string{
		fmt.Sprintf(`PRAGMA user_version = %d`, last),
		`INSERT INTO backends (id, name, kind, url, token, export, created, last_error, last_error_at)
			VALUES (1, 'plex', 'plex', 'http://p', 'tok-p', 0, 100, 'token rejected by plex', 200),
			       (2, 'jelly', 'jellyfin', 'http://j', 'tok-j', 0, 101, 'jelly is unreachable: dial tcp: refused', 200)`,
		`INSERT INTO runs (id, kind, started, finished, status) VALUES (1, 'import', 1000, 1001, 'failed')`,
		`INSERT INTO run_backends (run_id, phase, backend, read, error) VALUES (1, 'import', 'plex', 0, 'token rejected by plex'),
			(1, 'import', 'jelly', 0, 'jelly is unreachable: dial tcp: refused')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bs, err := s.Backends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, b := range bs {
		got[b.Name] = b.LastErrorRejected
	}
	if !got["plex"] || got["jelly"] {
		t.Errorf("rejected after the migration: %v, want plex only", got)
	}
	runs, err := s.Runs(ctx, 5)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v, %v", runs, err)
	}
	for _, rb := range runs[0].Backends {
		if rb.Rejected != (rb.Backend == "plex") {
			t.Errorf("run backend %s: rejected %v", rb.Backend, rb.Rejected)
		}
	}
	// From now on the flag, not the words: a run that says it sets it,
	// and a good run clears it.
	if err := s.SetBackendError(ctx, 2, "jelly: some other words", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBackendError(ctx, 1, "", true); err != nil {
		t.Fatal(err)
	}
	plex, _ := s.Backend(ctx, "plex")
	jelly, _ := s.Backend(ctx, "jelly")
	if plex.LastErrorRejected || !jelly.LastErrorRejected {
		t.Errorf("after new errors: plex rejected %v (want false: it went well), jelly %v (want true)", plex.LastErrorRejected, jelly.LastErrorRejected)
	}
}
