package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readOnlyView returns dir as this process cannot write it. Root ignores
// file modes, so for root it is a read-only bind mount of dir (CI runs as
// root); for anyone else, dir with its write bits taken away.
func readOnlyView(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		chmodTree(t, dir, 0o500, 0o400)
		t.Cleanup(func() { chmodTree(t, dir, 0o700, 0o600) })
		return dir
	}
	view := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(view, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "--bind", dir, view).CombinedOutput(); err != nil {
		t.Skipf("cannot make a read-only view as root here (mount --bind: %v %s); run as another user to test with file modes", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", view).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", view, err, out)
		}
	})
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", view).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(view, "probe"), nil, 0o600); err == nil {
		t.Fatal("the read-only view is writable")
	}
	return view
}

func chmodTree(t *testing.T, dir string, dirMode, fileMode os.FileMode) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() {
			_ = os.Chmod(filepath.Join(dir, e.Name()), fileMode)
		}
	}
	_ = os.Chmod(dir, dirMode)
}

// Point 11 of issue 14: opening the store (any command) while another
// process runs a sync must not record that live run as interrupted; only
// the holder of the run lock decides that.
func TestOpenLeavesAnotherProcessRunAlone(t *testing.T) {
	ctx := context.Background()
	a, dir := open(t)
	release, err := a.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	live, err := a.StartRun(ctx, "sync", "schedule", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, openFn := range []func(context.Context, string) (*Store, error){Open, OpenReadOnly} {
		b, err := openFn(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := b.Runs(ctx, 1)
		b.Close()
		if err != nil || len(runs) != 1 || runs[0].ID != live || runs[0].Status != RunRunning {
			t.Fatalf("another process's view of the live run = %+v, %v; want it running", runs, err)
		}
	}
	var status string
	if err := a.DB().QueryRow(`SELECT status FROM runs WHERE id=?`, live).Scan(&status); err != nil || status != RunRunning {
		t.Fatalf("the live run is recorded as %q (%v) after other processes opened the store", status, err)
	}
	if err := a.FinishRun(ctx, live, RunOK, "", nil); err != nil {
		t.Fatal(err)
	}
	// A run whose process died (lock released, run not finished) shows
	// as interrupted at once, and is recorded so by the next lock holder.
	dead, _ := a.StartRun(ctx, "import", "cli", false)
	release()
	b, err := OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := b.Runs(ctx, 1)
	b.Close()
	if len(runs) != 1 || runs[0].ID != dead || runs[0].Status != RunInterrupted || runs[0].Message == "" {
		t.Fatalf("a dead run reads as %+v; want interrupted with a reason", runs)
	}
	release, err = a.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	release()
	var msg string
	if err := a.DB().QueryRow(`SELECT status, message FROM runs WHERE id=?`, dead).Scan(&status, &msg); err != nil || status != RunInterrupted || msg == "" {
		t.Fatalf("after the lock was taken the dead run is %q %q (%v)", status, msg, err)
	}
}

// Point 11: a read-only open neither writes nor waits for a writer.
func TestReadOnlyOpenDoesNotWaitForAWriter(t *testing.T) {
	ctx := context.Background()
	a, dir := open(t)
	if _, err := a.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Begin(ctx) // another process's long write transaction
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.exec(`UPDATE settings SET value=value WHERE key='seq'`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, err := OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bs, err := b.Backends(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Backends = %v, %v", bs, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a read-only open and read took %v while another process wrote", took)
	}
	if _, err := b.StartRun(ctx, "sync", "cli", false); !errors.Is(err, ErrReadOnly) {
		t.Errorf("a write through a read-only store: %v, want ErrReadOnly", err)
	}
	if _, err := b.LockRuns(ctx, false); !errors.Is(err, ErrReadOnly) {
		t.Errorf("LockRuns on a read-only store: %v, want ErrReadOnly", err)
	}
}

// Point 11: a read-only config dir (and database) can still be read,
// whether or not a write-ahead log is there.
func TestReadOnlyConfigDirReads(t *testing.T) {
	ctx := context.Background()
	a, dir := open(t)
	if _, err := a.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	id, _ := a.StartRun(ctx, "sync", "cli", false)
	_ = a.FinishRun(ctx, id, RunOK, "", nil)
	a.Close()
	view := readOnlyView(t, dir)
	b, err := OpenReadOnly(ctx, view)
	if err != nil {
		t.Fatalf("OpenReadOnly on a read-only dir: %v", err)
	}
	defer b.Close()
	runs, err := b.Runs(ctx, 5)
	if err != nil || len(runs) != 1 || runs[0].Status != RunOK {
		t.Errorf("Runs = %+v, %v", runs, err)
	}
	n := 0
	if err := b.EachItem(ctx, func(ItemIDs) error { n++; return nil }); err != nil {
		t.Errorf("EachItem: %v", err)
	}
	if _, err := b.Counts(ctx); err != nil {
		t.Errorf("Counts: %v", err)
	}
}

// Point 12: removing a backend while a run holds the lock is refused with
// a sentence (ErrBusy), never a foreign key error, and changes nothing.
func TestRemoveBackendDuringRunRefused(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, dir) // the process running the sync
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	release, err := other.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	err = s.RemoveBackend(ctx, "plex")
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), `"plex"`) {
		t.Fatalf("RemoveBackend during a run = %v; want ErrBusy naming the backend", err)
	}
	if _, err := s.Backend(ctx, "plex"); err != nil {
		t.Fatalf("the refused remove removed it: %v", err)
	}
	release()
	if err := s.RemoveBackend(ctx, "plex"); err != nil {
		t.Fatalf("RemoveBackend after the run: %v", err)
	}
}

// Point 13: the database deleted, or replaced, under a running process:
// its next write refuses (ErrGone) and says so, what it could still read
// is saved beside, and no other process creates a fresh database beside
// the orphaned write-ahead log.
func TestDatabaseDeletedWhileOpen(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	// Another command while the daemon still has it open.
	if o, err := Open(ctx, dir); !errors.Is(err, ErrGone) {
		if o != nil {
			o.Close()
		}
		t.Fatalf("Open beside the orphaned WAL = %v; want ErrGone", err)
	}
	if _, err := os.Stat(s.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a fresh database was created beside the orphaned WAL")
	}
	_, err := s.StartRun(ctx, "sync", "cli", false)
	if !errors.Is(err, ErrGone) || !strings.Contains(err.Error(), "deleted") {
		t.Fatalf("a write after the file was deleted = %v; want ErrGone saying so", err)
	}
	if _, err := s.AddBackend(ctx, Backend{Name: "jf", Kind: "jellyfin", URL: "http://y", Token: "t"}); !errors.Is(err, ErrGone) {
		t.Fatalf("later writes = %v; want ErrGone", err)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, FileName+".saved-*"))
	if len(saved) != 1 || !strings.Contains(err.Error(), saved[0]) {
		t.Fatalf("saved copies %v; error %v", saved, err)
	}
	s.Close()
	// The saved copy holds the data, and becomes the database again.
	if err := os.Rename(saved[0], filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Backend(ctx, "plex"); err != nil {
		t.Fatalf("the saved copy lost the backend: %v", err)
	}
}

func TestDatabaseReplacedWhileOpen(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	other := filepath.Join(t.TempDir(), "other")
	o, err := Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	if err := os.Rename(filepath.Join(other, FileName), s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); !errors.Is(err, ErrGone) || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("Check after the file was replaced = %v", err)
	}
	if _, err := s.StartRun(ctx, "sync", "cli", false); !errors.Is(err, ErrGone) {
		t.Fatalf("a write after the file was replaced = %v", err)
	}
	_ = dir
}

// Point 14: a 0-byte, a non-SQLite, and a cut-short database are refused,
// unchanged, with the newest backup named and what to do.
func TestDamagedDatabaseRefused(t *testing.T) {
	ctx := context.Background()
	good, gdir := open(t)
	if _, err := good.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	tx, _ := good.Begin(ctx)
	for i := range 3000 {
		it := Item{Type: "movie", Title: fmt.Sprintf("Film %d", i), Year: 2000}
		if err := tx.CreateItem(&it); err != nil {
			t.Fatal(err)
		}
	}
	tx.Commit()
	good.Close()
	whole, err := os.ReadFile(filepath.Join(gdir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		body       []byte
	}{
		{"empty", "empty (0 bytes)", nil},
		{"not sqlite", "not an SQLite database", []byte(strings.Repeat("this is not a database\n", 300))},
		{"cut short", "cut short", whole[:len(whole)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cfg")
			os.MkdirAll(filepath.Join(dir, "backups"), 0o700)
			for _, b := range []string{"playmark-20261101-100000-manual.jsonl.gz", "playmark-20261120-093000-before-restore.jsonl.gz"} {
				os.WriteFile(filepath.Join(dir, "backups", b), []byte("x"), 0o600)
			}
			path := filepath.Join(dir, FileName)
			os.WriteFile(path, tc.body, 0o600)
			for _, openFn := range []func(context.Context, string) (*Store, error){Open, OpenReadOnly} {
				s, err := openFn(ctx, dir)
				if err == nil {
					s.Close()
					t.Fatal("a damaged database was opened")
				}
				newest := filepath.Join(dir, "backups", "playmark-20261120-093000-before-restore.jsonl.gz")
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), newest) ||
					!strings.Contains(err.Error(), "playmark restore") {
					t.Fatalf("open = %v; want ErrDamaged saying %q, naming %s and how to restore", err, tc.want, newest)
				}
			}
			if got, _ := os.ReadFile(path); string(got) != string(tc.body) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// A kill while a new database is being made leaves no 0-byte file (which
// would then be refused as damaged): the database appears whole or not.
func TestNewDatabaseAppearsWhole(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	os.MkdirAll(dir, 0o700)
	stale := filepath.Join(dir, ".playmark-new-123")
	os.WriteFile(stale, nil, 0o600) // a killed creation's leftover
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := s.mustVersion(t); v != SchemaVersion() {
		t.Errorf("new database at version %d", v)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Error("a stale temporary database was left")
	}
}

func (s *Store) mustVersion(t *testing.T) int {
	var v int
	if err := s.DB().QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Point 4: an existing config dir open to others is tightened, and a
// symbolic link planted where the database or its journal goes is
// refused, not followed.
func TestConfigDirTightenedAndSymlinksRefused(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("config dir left at %v", fi.Mode().Perm())
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	for _, name := range []string{FileName + "-wal", FileName + "-shm", FileName} {
		t.Run(name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "cfg")
			if name != FileName {
				s, err := Open(ctx, d)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
			} else {
				os.MkdirAll(d, 0o700)
			}
			os.Remove(filepath.Join(d, name))
			if err := os.Symlink(victim, filepath.Join(d, name)); err != nil {
				t.Fatal(err)
			}
			for _, openFn := range []func(context.Context, string) (*Store, error){Open, OpenReadOnly} {
				s, err := openFn(ctx, d)
				if err == nil {
					s.Close()
					t.Fatalf("opened with %s a symbolic link", name)
				}
				if !errors.Is(err, ErrUnsafeFile) || !strings.Contains(err.Error(), "symbolic link") {
					t.Errorf("open = %v; want ErrUnsafeFile", err)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Fatal("the link's target was written")
			}
		})
	}
	// The log (and any file opened with OpenAppend) is not followed either.
	log := filepath.Join(dir, "playmark.log")
	os.Symlink(victim, log)
	if f, err := OpenAppend(log); err == nil {
		f.Close()
		t.Fatal("OpenAppend followed a symbolic link")
	} else if !errors.Is(err, ErrUnsafeFile) {
		t.Errorf("OpenAppend = %v; want ErrUnsafeFile", err)
	}
}

// Point 11: a read-only view of a config dir that a running process is
// writing: the reader sees what is still only in the write-ahead log, and
// what is committed after it opened.
func TestReadOnlyViewWhileAWriterRuns(t *testing.T) {
	ctx := context.Background()
	w, dir := open(t)
	if _, err := w.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(w.Path() + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log in use: %v", err)
	}
	view := readOnlyView(t, dir)
	// In one process SQLite shares open files by inode, and the view is
	// the same inode: the writer must close before the view is unmounted.
	defer w.Close()
	r, err := OpenReadOnly(ctx, view)
	if err != nil {
		t.Fatalf("OpenReadOnly beside a live writer: %v", err)
	}
	defer r.Close()
	if _, err := r.Backend(ctx, "plex"); err != nil {
		t.Fatalf("the reader does not see what is in the log: %v", err)
	}
	if os.Geteuid() == 0 { // the writer can still write (a bind mount leaves dir writable)
		if _, err := w.AddBackend(ctx, Backend{Name: "jf", Kind: "jellyfin", URL: "http://y", Token: "t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Backend(ctx, "jf"); err != nil {
			t.Fatalf("the reader does not see a later commit: %v", err)
		}
	}
}
