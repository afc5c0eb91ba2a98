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
// be read. About the file itself (files.go): ErrDamaged (0 bytes, not
// SQLite, corrupt or cut short; the message names the newest backup),
// ErrGone (deleted or replaced while open, or missing beside a WAL),
// ErrDiskFull (with the folder), ErrUnsafeFile (a symbolic link where a
// file goes) and ErrReadOnly (a write through OpenReadOnly).
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
	db       guardedDB
	path     string
	now      func() time.Time
	readOnly bool      // OpenReadOnly: every write fails with ErrReadOnly
	id       *identity // the file opened, watched by Check

	keyring secret.Keyring         // nil: tokens in the database (secrets.go)
	tokMu   sync.Mutex             // guards tokens
	tokens  map[string]cachedToken // resolved keyring tokens by backend name
}

// CacheKiB is the page cache of a connection (PRAGMA cache_size, in
// KiB); ImportCacheKiB the larger one a full import's batch writes with
// (Tx.SetCacheSize): at 300,000 items a batch's pages outgrow 16 MB, and
// SQLite then spills dirty pages to the log mid-transaction and reads
// them back (a profile: a third of the writer's CPU in page I/O). 24 MB
// saved as much CPU as 32 MB (25.4 s and 25.5 s for 300,000 Plex items,
// 32.9 s with 16 MB) for a lower peak RSS (105 MB, 124 MB; 80 MB).
const (
	CacheKiB       = 16384
	ImportCacheKiB = 24576
)

func dsn(path string, readOnly bool) string {
	if readOnly {
		return "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=cache_size(-" + fmt.Sprint(CacheKiB) + ")"
	}
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-" + fmt.Sprint(CacheKiB) + ")&_pragma=wal_autocheckpoint(8192)&_pragma=journal_size_limit(67108864)&_txlock=immediate"
}

// Open opens (creating if needed) the database in dir, applying pending
// migrations. dir is created 0700 (an existing one open to other users is
// tightened) and the file made 0600.
//
// Before SQLite touches anything, the files are vetted (files.go): a
// symbolic link in the database's place (or its journal's) is refused
// with ErrUnsafeFile; a 0-byte, non-SQLite or corrupt file with
// ErrDamaged, naming the newest backup; a missing database beside a
// write-ahead log with ErrGone (never a fresh database beside another's
// journal). A new database is created whole or not at all.
//
// Open never decides that a run was interrupted: only the holder of the
// run lock may (LockRuns), so that opening the store while another
// process syncs leaves that run alone.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := secureDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	fi, err := checkFiles(path)
	if err != nil {
		return nil, err
	}
	if fi == nil {
		if err := createAtomically(ctx, path); err != nil {
			return nil, err
		}
		if fi, err = checkFiles(path); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, classifyDirErr(dir, fmt.Errorf("securing database: %w", err))
	}
	return openDB(ctx, path, dsn(path, false), fi, false)
}

// OpenReadOnly opens the database in dir for reading only: for status,
// history and backups, which must neither wait for nor disturb another
// process's run, and must work on a read-only database or config dir.
// Every write through it fails with ErrReadOnly. A database that does not
// exist yet or needs a migration is opened with Open instead (which
// writes, and so needs a writable dir).
func OpenReadOnly(ctx context.Context, dir string) (*Store, error) {
	path := filepath.Join(dir, FileName)
	fi, err := checkFiles(path)
	if err != nil {
		return nil, err
	}
	if fi == nil {
		return Open(ctx, dir)
	}
	s, err := openDB(ctx, path, dsn(path, true), fi, true)
	if c := sqliteCode(err); c == codeCantOpen || c == codeIOErr || c == 8 /* READONLY */ {
		// WAL mode needs a shared-memory file beside the database; a
		// read-only folder (or a full disk) cannot hold a new one. With
		// no write-ahead log (or an empty one), nothing is waiting in a
		// log and no one can be writing: read the file as it is.
		if wfi, werr := os.Lstat(path + "-wal"); errors.Is(werr, os.ErrNotExist) || (werr == nil && wfi.Size() == 0) {
			s, err = openDB(ctx, path, "file:"+path+"?immutable=1&_pragma=query_only(1)", fi, true)
		}
	}
	if errors.Is(err, errNeedsMigration) {
		return Open(ctx, dir)
	}
	return s, err
}

var errNeedsMigration = errors.New("needs migration")

func openDB(ctx context.Context, path, dsn string, fi os.FileInfo, readOnly bool) (*Store, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	s := &Store{db: guardedDB{DB: db}, path: path, now: time.Now, readOnly: readOnly, id: &identity{fi: fi}}
	s.db.s = s
	if readOnly {
		err = s.checkVersion(ctx)
	} else {
		err = s.migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, s.classify(err)
	}
	return s, nil
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database, and the keyring given to SetKeyring.
func (s *Store) Close() error {
	s.closeKeyring()
	return s.db.Close()
}

// DB exposes the handle for read-only diagnostics (integrity checks,
// tests). Callers must not write through it.
func (s *Store) DB() *sql.DB { return s.db.DB }

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

// checkVersion refuses a database from a newer Playmark, and reports one
// that needs a migration (which a read-only store cannot apply).
func (s *Store) checkVersion(ctx context.Context) error {
	var have int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if n := SchemaVersion(); have > n {
		return fmt.Errorf("%w: %s has schema version %d, this build knows up to %d; upgrade Playmark or use another --config-dir", ErrTooNew, s.path, have, n)
	} else if have < n {
		return errNeedsMigration
	}
	return nil
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
		if after := migrationAfter[m.version]; after != nil {
			if err := after(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
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

// migrationAfter are steps a migration's SQL cannot take, run in its
// transaction after it.
var migrationAfter = map[int]func(context.Context, *sql.Tx) error{9: placeCollidedGUIDs}

// placeCollidedGUIDs gives each claim that migration 0009 could not put
// at its key (another claim's id has the same hash) the next free slot,
// as a claim made later does (Tx.claimSlot). Two ids of one item sharing
// a slot need nothing: a look-up checks the item's ids.
func placeCollidedGUIDs(ctx context.Context, tx *sql.Tx) error {
	var missing int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM item_ids) - (SELECT COUNT(*) FROM guid_keys)`).Scan(&missing); err != nil || missing == 0 {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT x.item_id, playmark_guid_key(x.type, x.kind, x.value) FROM item_ids x
		WHERE NOT EXISTS (SELECT 1 FROM guid_keys g WHERE g.key = playmark_guid_key(x.type, x.kind, x.value) AND g.item_id = x.item_id)`)
	if err != nil {
		return err
	}
	type lost struct{ item, key int64 }
	var all []lost
	for rows.Next() {
		var l lost
		if err := rows.Scan(&l.item, &l.key); err != nil {
			rows.Close()
			return err
		}
		all = append(all, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range all {
		placed := false
		for slot := l.key + 1; slot < l.key+guidProbes && !placed; slot++ {
			res, err := tx.ExecContext(ctx, `INSERT INTO guid_keys (key, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, slot, l.item)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			placed = n == 1
		}
		if !placed {
			return fmt.Errorf("an external id of item %d: %d slots from its key are taken by other ids", l.item, guidProbes)
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
