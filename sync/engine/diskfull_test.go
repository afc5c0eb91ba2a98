package engine

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// smallDisk mounts a tmpfs of size bytes and returns its path. A real
// full file system is the honest test of a full disk: SQLite fails the
// same way it does for a user (a write-ahead log that cannot grow, a
// shared-memory file that cannot be made), which a page limit inside
// SQLite (max_page_count) would not show. Mounting needs root; CI runs
// as root. Elsewhere the test says why it cannot run.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk is simulated with a small tmpfs, which needs root (CI runs as root): mount: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk leaves about free bytes free on the file system holding dir,
// with a file that unfill removes.
func fillDisk(t *testing.T, dir string, free int64) (unfill func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var wrote int64
	for {
		n, err := f.Write(buf)
		wrote += int64(n)
		if err != nil {
			break
		}
	}
	f.Close()
	// Give back what should be free.
	if err := os.Truncate(path, max(0, wrote-free)); err != nil {
		t.Fatal(err)
	}
	return func() { os.Remove(path) }
}

// Point 15 of issue 14: an import that fills the disk fails saying "disk
// full" with the path, its report and history list only what committed,
// the run's record says why, and once space is freed the next import
// completes.
func TestDiskFullReportsOnlyWhatCommitted(t *testing.T) {
	ctx := context.Background()
	disk := smallDisk(t, "4m")
	dir := filepath.Join(disk, "cfg")
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cat := simulate.Generate(simulate.GenerateOptions{Items: 4000, Seed: 7})
	srv, err := simulate.New(backend.Jellyfin, cat, simulate.Options{Watches: simulate.GenerateWatches(cat, 7, time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := st.AddBackend(ctx, state.Backend{Name: "jf", Kind: "jellyfin", URL: srv.URL(), Token: srv.Token(), UserID: srv.UserID(),
		Import: state.ImportFull}); err != nil {
		t.Fatal(err)
	}
	eng := New(st, nil)
	eng.SetTransportOptions(backend.TransportOptions{Timeout: 10 * time.Second, MaxRetryWait: 10 * time.Millisecond})
	unfill := fillDisk(t, disk, 400<<10)

	rep, err := eng.Import(ctx, RunOptions{})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if len(rep.Backends) != 1 || rep.Backends[0].Err == nil {
		t.Fatalf("the import did not fail on a full disk: %+v", rep.Backends)
	}
	b := rep.Backends[0]
	if !errors.Is(b.Err, state.ErrDiskFull) || !strings.Contains(b.Error, "disk full") || !strings.Contains(b.Error, dir) {
		t.Errorf("the error says %q; want \"disk full\" and %s", b.Error, dir)
	}
	counts, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := st.Changes(ctx, rep.RunID, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if b.Added != counts.Items {
		t.Errorf("the report says %d items added; %d are in the database", b.Added, counts.Items)
	}
	if got := len(rep.Changes) + rep.MoreChanges; got != len(recorded) {
		t.Errorf("the report lists %d changes; %d committed", got, len(recorded))
	}
	runs, err := st.Runs(ctx, 1)
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	if runs[0].Status != state.RunFailed || !strings.Contains(runs[0].Message, "disk full") {
		t.Errorf("history says %s %q; want failed, disk full", runs[0].Status, runs[0].Message)
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}

	unfill()
	rep, err = eng.Import(ctx, RunOptions{})
	if err != nil || len(rep.Failed()) > 0 {
		t.Fatalf("import after freeing space: %v %v", err, failedBackends(rep))
	}
	counts, _ = st.Counts(ctx)
	if counts.Items < 3900 {
		t.Errorf("after freeing space the import recorded %d items", counts.Items)
	}
}

// Point 15: with next to no space left (no room for SQLite's 32 KiB
// shared-memory file), opening to write says "disk full" with the path,
// and reading (status, history, backup) still works.
func TestDiskFullOpen(t *testing.T) {
	ctx := context.Background()
	disk := smallDisk(t, "1m")
	dir := filepath.Join(disk, "cfg")
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := st.StartRun(ctx, "sync", "cli", false)
	_ = st.FinishRun(ctx, id, state.RunOK, "", nil)
	st.Close()
	defer fillDisk(t, disk, 0)()

	_, err = state.Open(ctx, dir)
	if !errors.Is(err, state.ErrDiskFull) || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open on a full disk = %v; want disk full naming %s", err, dir)
	}
	ro, err := state.OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatalf("OpenReadOnly on a full disk: %v", err)
	}
	defer ro.Close()
	if runs, err := ro.Runs(ctx, 5); err != nil || len(runs) != 1 {
		t.Errorf("Runs on a full disk = %v, %v", runs, err)
	}
	if _, err := New(ro, nil).WriteBackup(ctx, new(strings.Builder)); err != nil {
		t.Errorf("WriteBackup on a full disk: %v", err)
	}
}
