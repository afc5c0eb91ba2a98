// Package state is Playmark's local state: one SQLite file (modernc.org/
// sqlite, pure Go) holding the configured backends, the canonical play
// state of every item, what each backend knows of it, the schedules, and
// the history of runs and changes.
//
// The schema lives in numbered migrations (migrations/NNNN_*.sql, embedded)
// applied at Open inside one transaction each; a database written by a
// newer Playmark is refused, never touched. The file is opened in WAL mode
// with foreign keys on and a busy timeout, readable by the user alone.
//
// Backend tokens live in the operating system's keyring when the store is
// given one (SetKeyring), else in the database (secrets.go).
//
// Errors: ErrNotFound and ErrExists classify look-ups and inserts;
// ErrTooNew is returned by Open for a database from a newer version;
// ErrTokenUnavailable says a backend's token is in a keyring that cannot
// be read.
package state

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"playmark/sync/secret"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database's name inside the config dir.
const FileName = "playmark.db"

// Errors callers classify with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrTooNew   = errors.New("database is from a newer Playmark")
)

// Store is the open database. It is safe for concurrent use; writes are
// serialised by SQLite (one writer at a time, readers never blocked).
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time

	keyring secret.Keyring         // nil: tokens in the database (secrets.go)
	tokMu   sync.Mutex             // guards tokens
	tokens  map[string]cachedToken // resolved keyring tokens by backend name
}

// Open opens (creating if needed) the database in dir, applying pending
// migrations. dir is created 0700 and the file made 0600.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating config dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// Create the file ourselves so that it is 0600 from the start.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("securing database: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(8192)&_pragma=journal_size_limit(67108864)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Runs left "running" by a crash or a kill were never finished.
	if _, err := db.ExecContext(ctx, `UPDATE runs SET status='interrupted', finished=? WHERE status='running'`, s.now().Unix()); err != nil {
		db.Close()
		return nil, fmt.Errorf("closing interrupted runs: %w", err)
	}
	return s, nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database, and the keyring given to SetKeyring.
func (s *Store) Close() error {
	s.closeKeyring()
	return s.db.Close()
}

// DB exposes the handle for read-only diagnostics (integrity checks,
// tests). Callers must not write through it.
func (s *Store) DB() *sql.DB { return s.db }

// SetClock replaces the store's clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	var have int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("%w: %s has schema version %d, this build knows up to %d; upgrade Playmark or use another --config-dir", ErrTooNew, s.path, have, len(ms))
	}
	for _, m := range ms[have:] {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil when it
// reports "ok".
func (s *Store) IntegrityCheck(ctx context.Context) error {
	var res string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity check: %s", res)
	}
	return nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}
