package app

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

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// syncedDir is a config dir with one simulated Jellyfin backend, synced
// once.
func syncedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cfg")
	srv, err := StartSimulator(backend.Jellyfin, SimOptions{Items: 60, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if code, _, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL(), "--token", srv.Token(), "--user", srv.UserID()); code != 0 {
		t.Fatalf("backend add: %s", stderr)
	}
	if code, out, stderr := pm(t, dir, "sync"); code != 0 {
		t.Fatalf("sync: %s %s", out, stderr)
	}
	return dir
}

// anotherProcessSyncing is another process in the middle of a sync on
// dir: it holds the run lock, has its run recorded as running, and is
// inside a write transaction. done ends it as that process would.
func anotherProcessSyncing(t *testing.T, dir string) (runID int64, done func()) {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	release, err := st.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.StartRun(ctx, "sync", "schedule", false)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Seq(); err != nil { // a write: the transaction holds the write lock
		t.Fatal(err)
	}
	return id, func() {
		tx.Rollback()
		_ = st.FinishRun(ctx, id, state.RunOK, "", nil)
		release()
		st.Close()
	}
}

func runStatus(t *testing.T, dir string, id int64) string {
	t.Helper()
	st, err := state.OpenReadOnly(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var status string
	if err := st.DB().QueryRow(`SELECT status FROM runs WHERE id=?`, id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	return status
}

// Issue 14, point 11: status, history and backup FILE during another
// process's sync answer at once, and leave that run alone.
func TestCLIReadOnlyCommandsDuringAnotherRun(t *testing.T) {
	dir := syncedDir(t)
	id, done := anotherProcessSyncing(t, dir)
	defer done()
	for _, args := range [][]string{
		{"status"},
		{"history", "--json"},
		{"backup", filepath.Join(t.TempDir(), "b.jsonl")},
		{"unmatched"},
	} {
		start := time.Now()
		code, out, stderr := pm(t, dir, args...)
		if code != 0 {
			t.Errorf("%v during another process's sync: exit %d %q %q", args, code, out, stderr)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%v took %v during another process's sync", args, took)
		}
		if got := runStatus(t, dir, id); got != state.RunRunning {
			t.Fatalf("after %v the other process's live run is recorded %q", args, got)
		}
	}
}

// readOnlyView returns dir as this process cannot write it: a read-only
// bind mount for root (which file modes do not stop; CI runs as root),
// else dir without its write bits.
func readOnlyView(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		_ = os.Chmod(filepath.Join(dir, state.FileName), 0o400)
		_ = os.Chmod(dir, 0o500)
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
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
	return view
}

// Point 11: a read-only config dir still lets status, history and backup
// FILE work.
func TestCLIReadOnlyConfigDir(t *testing.T) {
	dir := readOnlyView(t, syncedDir(t))
	backupFile := filepath.Join(t.TempDir(), "b.jsonl")
	for _, args := range [][]string{{"status"}, {"history"}, {"backup", backupFile}} {
		if code, out, stderr := pm(t, dir, args...); code != 0 {
			t.Errorf("%v on a read-only config dir: exit %d %q %q", args, code, out, stderr)
		}
	}
	if fi, err := os.Stat(backupFile); err != nil || fi.Size() == 0 {
		t.Errorf("backup FILE from a read-only config dir: %v", err)
	}
}

// Point 12: backend remove during a sync is refused with a sentence, not
// a foreign key error, and removes nothing.
func TestCLIBackendRemoveDuringSync(t *testing.T) {
	dir := syncedDir(t)
	_, done := anotherProcessSyncing(t, dir)
	code, _, stderr := pm(t, dir, "backend", "remove", "jf")
	done()
	if code == 0 || !strings.Contains(stderr, "cannot be removed while a run is in progress") || strings.Contains(stderr, "FOREIGN KEY") ||
		strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Fatalf("backend remove during a sync: exit %d %q; want one sentence refusing it", code, stderr)
	}
	if code, out, _ := pm(t, dir, "backend", "list"); code != 0 || !strings.Contains(out, "jf") {
		t.Fatalf("the refused remove removed the backend: %s", out)
	}
	if code, _, stderr := pm(t, dir, "backend", "remove", "jf"); code != 0 {
		t.Fatalf("backend remove after the sync: %s", stderr)
	}
}

// Point 4: a config dir left 0777 is tightened, and a playmark.log
// symbolic link planted in it is not followed.
func TestCLIConfigDirTightenedAndLogLinkNotFollowed(t *testing.T) {
	dir := syncedDir(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "playmark.log")
	os.Remove(log)
	if err := os.Symlink(victim, log); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := pm(t, dir, "sync")
	if code != 0 {
		t.Fatalf("sync: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the log was written through a planted symbolic link: %q", b)
	}
	if !strings.Contains(stderr, "symbolic link") {
		t.Errorf("nothing said about the planted link: %q", stderr)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("the config dir is still %v", fi.Mode().Perm())
	}
}

// Point 14: a 0-byte database is refused, untouched, with the newest
// backup named and how to restore.
func TestCLIEmptyDatabaseRefused(t *testing.T) {
	dir := syncedDir(t)
	if code, _, stderr := pm(t, dir, "backup"); code != 0 {
		t.Fatal(stderr)
	}
	newest := state.NewestBackup(dir)
	if newest == "" {
		t.Fatal("no backup written")
	}
	db := filepath.Join(dir, state.FileName)
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(f)
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"sync"}, {"backend", "list"}} {
		code, _, stderr := pm(t, dir, args...)
		if code == 0 || !strings.Contains(stderr, "empty (0 bytes)") || !strings.Contains(stderr, newest) || !strings.Contains(stderr, "playmark restore") {
			t.Errorf("%v on a 0-byte database: exit %d %q", args, code, stderr)
		}
	}
	if fi, _ := os.Stat(db); fi.Size() != 0 {
		t.Error("the 0-byte database was replaced")
	}
}

// Point 13: a daemon notices, even when idle, that its database file was
// deleted, says so and stops.
func TestDaemonNoticesItsDatabaseDeleted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := filepath.Join(t.TempDir(), "cfg")
	core, err := OpenCore(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	stopped := make(chan error, 1)
	go core.watchStore(ctx, 10*time.Millisecond, func(err error) { stopped <- err })
	if err := os.Remove(filepath.Join(dir, state.FileName)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, state.ErrGone) || !strings.Contains(err.Error(), "deleted") || !strings.Contains(err.Error(), ".saved-") {
			t.Fatalf("the daemon stopped with %v; want the file named as deleted and where its state was saved", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the daemon did not notice that its database was deleted")
	}
	if _, err := core.Store.StartRun(ctx, "import", "schedule", false); !errors.Is(err, state.ErrGone) {
		t.Errorf("a write after the deletion: %v; want ErrGone", err)
	}
}

// Point 14: a database damaged inside (valid header, corrupt pages) says
// so at the first read that meets the damage, with the way back.
func TestCLICorruptDatabaseSaysSo(t *testing.T) {
	dir := syncedDir(t)
	if code, _, stderr := pm(t, dir, "backup"); code != 0 {
		t.Fatal(stderr)
	}
	db := filepath.Join(dir, state.FileName)
	// Damage the items table's root page only: the schema reads fine, and
	// the first read of the items meets the damage.
	st, err := state.OpenReadOnly(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := st.DB().QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name='items'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Stat(db + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("a write-ahead log is left (%d bytes): the damage would not be where the test puts it", fi.Size())
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := (root - 1) * pageSize; i < root*pageSize; i++ {
		b[i] = 0xA5
	}
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"backup", filepath.Join(t.TempDir(), "b.jsonl")}} {
		code, _, stderr := pm(t, dir, args...)
		if code == 0 || !strings.Contains(stderr, "corrupt") || !strings.Contains(stderr, state.NewestBackup(dir)) {
			t.Errorf("%v on a corrupt database: exit %d %q", args, code, stderr)
		}
	}
}

// Point 16: `playmark backup FILE` killed at random moments leaves either
// no FILE or a whole backup, never a truncated one; the temporary files of
// killed backups are removed by a later one.
func TestBackupFileKilledIsWholeOrAbsent(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const items = 30000
	for i := range items {
		it := state.Item{Type: "movie", Title: fmt.Sprintf("Film %d", i), Year: 1990 + i%30, Watched: i%3 == 0, Updated: time.Unix(1700000000, 0)}
		if err := tx.CreateItem(&it); err != nil {
			t.Fatal(err)
		}
		if err := tx.AddGUID(it.ID, "movie", "imdb", fmt.Sprintf("tt%07d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out := t.TempDir()
	start := time.Now()
	if b, err := child(dir, "backup", filepath.Join(out, "timing.jsonl")).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v %s", err, b)
	}
	took := time.Since(start)
	os.Remove(filepath.Join(out, "timing.jsonl"))
	whole, absent := 0, 0
	for i := range 20 {
		path := filepath.Join(out, "b.jsonl")
		cmd := child(dir, "backup", path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill from early in the process's life to past its end.
		time.Sleep(time.Duration(int64(took) * int64(i+1) / 20))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			absent++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := engine.ReadBackup(f)
		f.Close()
		if err != nil || len(got) != items/3 { // the watched third have a play state to back up
			t.Fatalf("kill %d left a backup of %d items, want %d: %v", i, len(got), items/3, err)
		}
		whole++
		os.Remove(path)
	}
	t.Logf("20 kills over %v: %d left no file, %d a whole backup", took, absent, whole)
	if absent == 0 {
		t.Error("no kill landed before the backup was complete: the test proves nothing")
	}
	// A minute later, the next backup removes what killed ones left.
	leftovers, _ := filepath.Glob(filepath.Join(out, ".*playmark-tmp-*"))
	old := time.Now().Add(-2 * time.Minute)
	for _, l := range leftovers {
		os.Chtimes(l, old, old)
	}
	if code, _, stderr := pm(t, dir, "backup", filepath.Join(out, "b.jsonl")); code != 0 {
		t.Fatal(stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*playmark-tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left after a later backup: %v (of %d)", left, len(leftovers))
	}
}
