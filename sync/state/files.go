package state

// The database file and its neighbours: what Open checks before SQLite
// touches anything, how a deleted or replaced file is noticed while
// running, and how a full disk and a damaged file are told apart from
// other errors.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// Errors about the database file itself, classified with errors.Is.
var (
	// ErrDamaged: the file is not a usable database (0 bytes, not SQLite,
	// or corrupt). Nothing was changed; the message says how to recover.
	ErrDamaged = errors.New("the database is damaged")
	// ErrGone: the file was deleted or replaced while this process had it
	// open, or is missing beside another process's write-ahead log.
	// Nothing more is written.
	ErrGone = errors.New("the database file was deleted or replaced")
	// ErrDiskFull: the disk holding the config dir is full; what was
	// being written was rolled back.
	ErrDiskFull = errors.New("disk full")
	// ErrUnsafeFile: a file Playmark opens in the config dir is a
	// symbolic link (or not a regular file); it is not followed.
	ErrUnsafeFile = errors.New("not a regular file")
	// ErrReadOnly: the store was opened read-only (OpenReadOnly).
	ErrReadOnly = errors.New("opened read-only")
)

// sqliteMagic opens every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// SQLite result codes (the low byte of an extended code).
const (
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeIOErr    = 10
	codeNotADB   = 26
)

// codeConstraintUnique is SQLITE_CONSTRAINT_UNIQUE, an extended code: a
// UNIQUE index refused the row.
const codeConstraintUnique = 2067

// isUnique says whether err is a UNIQUE constraint refusing a row.
func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == codeConstraintUnique
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// lowSpace is how little free space makes an I/O error a full disk:
// SQLite needs 32 KiB for a new shared-memory file and a page or more for
// any write.
const lowSpace = 1 << 20

// classify turns SQLite's "database or disk is full" (and an I/O error on
// a disk with next to no space left) into ErrDiskFull naming the folder,
// and a corrupt file into ErrDamaged. Other errors are returned as they
// are.
func (s *Store) classify(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrGone) {
		return err
	}
	return classifyAt(filepath.Dir(s.path), err)
}

// Classify is classify for an error met outside the store's own calls
// (a read through a row or a transaction): with dir the config dir, a
// full disk becomes ErrDiskFull and a corrupt file ErrDamaged, each with
// its sentence.
func Classify(dir string, err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrGone) {
		return err
	}
	return classifyAt(dir, err)
}

func classifyAt(dir string, err error) error {
	switch sqliteCode(err) {
	case codeFull:
		return diskFull(dir, err)
	case codeIOErr, codeCantOpen:
		if free, ok := freeBytes(dir); ok && free < lowSpace {
			return diskFull(dir, err)
		}
	case codeCorrupt, codeNotADB:
		return damaged(filepath.Join(dir, FileName), "is corrupt ("+err.Error()+")")
	}
	return err
}

type fileError struct {
	kind error
	msg  string
	err  error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Is(target error) bool {
	return target == e.kind
}
func (e *fileError) Unwrap() error { return e.err }

func diskFull(dir string, err error) error {
	return &fileError{kind: ErrDiskFull, err: err, msg: fmt.Sprintf(
		"disk full: no space left on the disk holding %s; nothing more was written (what was being written was rolled back). Free some space and run again", dir)}
}

// damaged says that path is not a usable database, and how to recover:
// the newest automatic backup by name, and what to do with it.
func damaged(path, what string) error {
	dir := filepath.Dir(path)
	msg := fmt.Sprintf("%s %s: it is not a usable Playmark database, and nothing was changed. ", path, what)
	msg += fmt.Sprintf("To start again: move it aside (mv %s %s.broken), then add your backends again and import (the servers still hold your marks)", path, path)
	if b := NewestBackup(dir); b != "" {
		msg += fmt.Sprintf("; the newest backup is %s, and `playmark restore %s --backend NAME` puts its marks back on a server", b, b)
	} else {
		msg += fmt.Sprintf("; there is no backup in %s", filepath.Join(dir, "backups"))
	}
	return &fileError{kind: ErrDamaged, msg: msg}
}

// NewestBackup is the path of the newest automatic backup in the backups
// folder of the config dir, or "" when there is none.
func NewestBackup(dir string) string {
	entries, err := os.ReadDir(filepath.Join(dir, "backups"))
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "playmark-") && strings.HasSuffix(e.Name(), ".jsonl.gz") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return ""
	}
	// Names carry the UTC time: the greatest is the newest.
	return filepath.Join(dir, "backups", slices.Max(names))
}

// secureDir makes the config dir, or tightens an existing one that other
// users may enter or write (a 0777 folder lets anyone plant a symbolic
// link where the log or the database goes).
func secureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return classifyDirErr(dir, fmt.Errorf("creating config dir: %w", err))
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("config dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("config dir %s is not a folder", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("config dir %s can be read or written by other users (mode %04o) and could not be made private: %w", dir, fi.Mode().Perm(), err)
		}
	}
	return nil
}

func classifyDirErr(dir string, err error) error {
	if free, ok := freeBytes(dir); ok && free < lowSpace {
		return diskFull(dir, err)
	}
	return err
}

// checkRegular refuses a path that exists and is a symbolic link or not a
// regular file. A missing file is fine.
func checkRegular(path string) (os.FileInfo, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		if fi.Mode()&os.ModeSymlink != 0 {
			what = "a symbolic link"
		}
		return nil, &fileError{kind: ErrUnsafeFile, msg: fmt.Sprintf("%s is %s; Playmark does not follow it. Remove it (or put the real file there) and run again", path, what)}
	}
	return fi, nil
}

// checkFiles vets the database and its journal files before SQLite opens
// them: no symbolic links, no 0-byte or non-SQLite database, and no
// missing database beside a write-ahead log (another process's, or one
// whose database was deleted). It returns the database's FileInfo, nil
// when there is no database yet.
func checkFiles(path string) (os.FileInfo, error) {
	fi, err := checkRegular(path)
	if err != nil {
		return nil, err
	}
	var journal []string
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		jfi, err := checkRegular(path + suffix)
		if err != nil {
			return nil, err
		}
		if jfi != nil && suffix == "-wal" && jfi.Size() > 0 { // an empty log holds nothing
			journal = append(journal, path+suffix)
		}
	}
	if fi == nil {
		if len(journal) > 0 {
			return nil, &fileError{kind: ErrGone, msg: fmt.Sprintf(
				"%s is missing, but its write-ahead log %s is there: the database was deleted while a Playmark was using it. Nothing was created. Stop every Playmark on this config dir; if one saved a copy (playmark.db.saved-*), rename it to %s, else move %s aside to start afresh", path, journal[0], path, journal[0])}
		}
		return nil, nil
	}
	if fi.Size() == 0 {
		return nil, damaged(path, "is empty (0 bytes)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 100) // the database header
	if _, err := io.ReadFull(f, head); err != nil || string(head[:len(sqliteMagic)]) != sqliteMagic {
		return nil, damaged(path, "is not an SQLite database")
	}
	// A file shorter than its header says was cut (by a copy, a full disk
	// or a bad restore). The header's size is only valid when its
	// "valid-for" counter matches the change counter, and the file may be
	// behind while a write-ahead log holds the rest.
	pageSize := int64(binary.BigEndian.Uint16(head[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(head[28:32]))
	valid := binary.BigEndian.Uint32(head[92:96]) == binary.BigEndian.Uint32(head[24:28])
	if valid && len(journal) == 0 && pages*pageSize > fi.Size() {
		return nil, damaged(path, fmt.Sprintf("is cut short (%d bytes of %d)", fi.Size(), pages*pageSize))
	}
	return fi, nil
}

// createAtomically creates a new database at path: made and migrated
// under a temporary name, then linked into place, so that a kill during
// creation never leaves a 0-byte or half-made database behind (which the
// next Open would refuse as damaged). Another process creating it at the
// same time wins harmlessly.
func createAtomically(ctx context.Context, path string) error {
	dir := filepath.Dir(path)
	cleanTemps(dir, ".playmark-new-*")
	f, err := os.CreateTemp(dir, ".playmark-new-*")
	if err != nil {
		return classifyDirErr(dir, fmt.Errorf("creating database: %w", err))
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	db, err := sql.Open("sqlite", dsn(tmp, false))
	if err != nil {
		return err
	}
	s := &Store{db: guardedDB{DB: db}, path: tmp, now: time.Now}
	s.db.s = s
	err = s.migrate(ctx)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return classifyAt(dir, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		// A file system without hard links: rename, unless another
		// process made the database meanwhile.
		if _, serr := os.Lstat(path); !errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		if err := os.Rename(tmp, path); err != nil {
			return classifyDirErr(dir, fmt.Errorf("creating database: %w", err))
		}
	}
	return nil
}

// cleanTemps removes temporary files matching pattern in dir that are
// older than a minute (a younger one may be another process's, in use).
func cleanTemps(dir, pattern string) {
	matches, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && time.Since(fi.ModTime()) > time.Minute {
			_ = os.Remove(m)
		}
	}
}

// identity watches the database file: the file this store opened must
// still be the one at its path. Once it is not (deleted, or another file
// put in its place), the store stops writing for good.
type identity struct {
	mu   sync.Mutex
	fi   os.FileInfo
	gone error
}

// Check reports ErrGone when the database file was deleted or replaced
// since Open; after that, every write fails with it. A daemon calls it
// now and then, so that it notices even when idle. The first time, it
// saves what this process can still read into playmark.db.saved-TIME
// beside it, and says so.
func (s *Store) Check() error {
	if s.id == nil {
		return nil
	}
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	if s.id.gone != nil {
		return s.id.gone
	}
	fi, err := os.Lstat(s.path)
	what := ""
	switch {
	case errors.Is(err, os.ErrNotExist):
		what = "was deleted"
	case err != nil:
		return nil // cannot tell: let SQLite's own error speak
	case !os.SameFile(fi, s.id.fi):
		what = "was replaced by another file"
	default:
		return nil
	}
	msg := fmt.Sprintf("%s %s while Playmark was running; nothing more is written to it", s.path, what)
	saved := fmt.Sprintf("%s.saved-%s", s.path, time.Now().UTC().Format("20060102-150405"))
	// VACUUM INTO reads through this process's still-open file.
	if _, err := s.db.DB.ExecContext(context.Background(), `VACUUM INTO ?`, saved); err == nil {
		msg += fmt.Sprintf(". Its last state is saved in %s: stop every Playmark on this config dir and rename that file to %s to keep it", saved, FileName)
	} else {
		msg += ". Stop every Playmark on this config dir and start again"
	}
	s.id.gone = &fileError{kind: ErrGone, msg: msg}
	return s.id.gone
}

// guardedDB is the handle the store writes through: every write first
// checks that the database file is still the one opened (Check), and a
// full disk or a corrupt file comes back classified.
type guardedDB struct {
	*sql.DB
	s *Store
}

func (g guardedDB) writable() error {
	if g.s == nil {
		return nil
	}
	if g.s.readOnly {
		return fmt.Errorf("%s: %w", g.s.path, ErrReadOnly)
	}
	return g.s.Check()
}

func (g guardedDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := g.writable(); err != nil {
		return nil, err
	}
	r, err := g.DB.ExecContext(ctx, q, args...)
	if g.s != nil {
		err = g.s.classify(err)
	}
	return r, err
}

// QueryContext classifies a corrupt file (and a full disk) met by a read.
func (g guardedDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := g.DB.QueryContext(ctx, q, args...)
	if g.s != nil {
		err = g.s.classify(err)
	}
	return rows, err
}

func (g guardedDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if opts == nil || !opts.ReadOnly {
		if err := g.writable(); err != nil {
			return nil, err
		}
	}
	tx, err := g.DB.BeginTx(ctx, opts)
	if g.s != nil {
		err = g.s.classify(err)
	}
	return tx, err
}

// OpenAppend opens a file in the config dir (the log) for appending,
// creating it 0600, without following a symbolic link planted in its
// place: that is refused with ErrUnsafeFile and a sentence.
func OpenAppend(path string) (*os.File, error) {
	if _, err := checkRegular(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY|oNoFollow, 0o600)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			_, err = checkRegular(path) // planted between the two looks
		}
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		_ = f.Chmod(0o600)
	}
	return f, nil
}
