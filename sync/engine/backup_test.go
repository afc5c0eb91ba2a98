package engine

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
)

func TestBackupAndRestore(t *testing.T) {
	all := map[string]simulate.Watch{
		"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay},
		"e3":   {Position: 9 * time.Minute, LastPlayed: tPlay},
	}
	w := newWorld(t, scenarioCatalog(), seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	ctx := context.Background()
	var buf bytes.Buffer
	n, err := w.eng.WriteBackup(ctx, &buf)
	// The two items played or started; the four never played carry
	// nothing to restore (since people, no play state is kept for them).
	if err != nil || n != 2 {
		t.Fatalf("WriteBackup = %d, %v; want the 2 played or started items", n, err)
	}
	for _, secret := range []string{w.servers["plex"].Token(), w.servers["plex"].URL()} {
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("the backup contains %q", secret)
		}
	}
	items, err := ReadBackup(bytes.NewReader(buf.Bytes()))
	if err != nil || len(items) != 2 || items[0].Person == "" {
		t.Fatalf("ReadBackup = %d items, %v", len(items), err)
	}
	if _, err := ReadBackup(strings.NewReader(`{"hello":1}`)); err == nil {
		t.Error("a file that is not a backup was read")
	}

	// Jellyfin loses its marks (a reinstall); the backup brings them back.
	w.clock.add(time.Hour)
	w.servers["jellyfin"].SetWatch("heat", simulate.Watch{})
	w.servers["jellyfin"].SetWatch("e3", simulate.Watch{})
	rep, err := w.eng.Restore(ctx, items, "jellyfin", RunOptions{DryRun: true})
	if err != nil || rep.Changed() != 2 {
		t.Fatalf("dry-run restore: %v, planned %d, want 2", err, rep.Changed())
	}
	if w.watch("jellyfin", "heat").Played {
		t.Fatal("a dry-run restore wrote")
	}
	rep, err = w.eng.Restore(ctx, items, "jellyfin", RunOptions{})
	if err != nil || len(rep.Failed()) > 0 {
		t.Fatalf("restore: %v %v", err, failedBackends(rep))
	}
	if got := w.watch("jellyfin", "heat"); !got.Played || !got.LastPlayed.Equal(tPlay) {
		t.Errorf("heat after restore = %+v", got)
	}
	if got := w.watch("jellyfin", "e3"); got.Position != 9*time.Minute {
		t.Errorf("e3 after restore = %+v", got)
	}
	// The restore kept a backup of the state it started from.
	entries, _ := os.ReadDir(w.eng.BackupDir())
	if len(entries) != 1 || !strings.Contains(entries[0].Name(), "before-restore") {
		t.Errorf("backups = %v", entries)
	}
	f, _ := os.Open(w.eng.BackupDir() + "/" + entries[0].Name())
	defer f.Close()
	if got, err := ReadBackup(f); err != nil || len(got) != 2 {
		t.Errorf("the automatic backup reads back as %d items, %v", len(got), err)
	}
}

func backupWorld(t *testing.T) (*world, []byte) {
	t.Helper()
	all := map[string]simulate.Watch{
		"heat": {Played: true, PlayCount: 1, LastPlayed: tPlay},
		"e3":   {Position: 9 * time.Minute, LastPlayed: tPlay},
	}
	w := newWorld(t, scenarioCatalog(), seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	var buf bytes.Buffer
	if _, err := w.eng.WriteBackup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return w, buf.Bytes()
}

// Point 16 of issue 14: a backup cut anywhere, even at a line boundary,
// altered, or with something after its end, is refused as a whole; no
// item of it is restored.
func TestBackupIncompleteRefused(t *testing.T) {
	_, whole := backupWorld(t)
	lines := strings.SplitAfter(string(whole), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	// Six items, two of them with a play state (the others were never
	// played, started nor un-watched: nothing to restore, no line).
	if len(lines) != 4 || !strings.HasPrefix(lines[3], `{"end":`) {
		t.Fatalf("backup lines = %q; want header, 2 items, end", lines)
	}
	if items, err := ReadBackup(bytes.NewReader(whole)); err != nil || len(items) != 2 {
		t.Fatalf("the whole backup reads as %d items, %v", len(items), err)
	}
	altered := strings.Replace(string(whole), `"watched":true`, `"watched":false`, 1)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(whole)
	zw.Close()
	end := len(lines) - 1 // the end marker's line
	for name, body := range map[string]string{
		"cut at a line boundary":    strings.Join(lines[:2], ""),
		"cut before the end marker": strings.Join(lines[:end], ""),
		"cut inside a line":         string(whole[:len(whole)-40]),
		"cut inside the end marker": strings.Join(lines[:end], "") + lines[end][:20],
		"altered":                   altered,
		"a line dropped":            strings.Join(append(append([]string{}, lines[:1]...), lines[2:]...), ""),
		"more after the end":        string(whole) + lines[1],
		"gzip cut short":            gz.String()[:gz.Len()-30],
	} {
		items, err := ReadBackup(strings.NewReader(body))
		if !errors.Is(err, ErrBackupDamaged) && !(name == "gzip cut short" && err != nil) {
			t.Errorf("%s: ReadBackup = %d items, %v; want it refused", name, len(items), err)
		}
		if len(items) != 0 {
			t.Errorf("%s: %d items returned from a damaged backup", name, len(items))
		}
	}
	// A version 1 backup (no end marker) is read when it holds as many
	// items as its header announces, refused when it holds fewer.
	v1 := strings.Replace(strings.Join(lines[:end], ""), `"version":2`, `"version":1`, 1)
	if items, err := ReadBackup(strings.NewReader(v1)); err != nil || len(items) != end-1 {
		t.Errorf("a whole version 1 backup: %d items, %v", len(items), err)
	}
	v1lines := strings.SplitAfter(v1, "\n")
	if items, err := ReadBackup(strings.NewReader(strings.Join(v1lines[:2], ""))); !errors.Is(err, ErrBackupDamaged) || len(items) != 0 {
		t.Errorf("a cut version 1 backup: %d items, %v; want it refused", len(items), err)
	}
}

// Point 16: backup FILE appears whole or not at all; a failed backup
// leaves nothing; the leftovers of a killed one are removed by the next.
func TestBackupToIsAtomic(t *testing.T) {
	w, _ := backupWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.jsonl")
	stale := filepath.Join(dir, ".state.jsonl.playmark-tmp-123")
	os.WriteFile(stale, []byte(`{"format":"playmark-backup"`), 0o600) // a killed backup's
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	autoStale := filepath.Join(w.eng.BackupDir(), ".backup-456")
	os.MkdirAll(w.eng.BackupDir(), 0o700)
	os.WriteFile(autoStale, []byte("half"), 0o600)
	os.Chtimes(autoStale, old, old)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w.eng.BackupTo(cancelled, path); err == nil {
		t.Fatal("a backup with a cancelled context succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed backup left %v", entries)
	}
	n, err := w.eng.BackupTo(ctx, path)
	if err != nil || n != 2 {
		t.Fatalf("BackupTo = %d, %v; want the 2 items with a play state", n, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	f, _ := os.Open(path)
	items, err := ReadBackup(f)
	f.Close()
	if err != nil || len(items) != n {
		t.Fatalf("the backup reads back as %d items, %v; want %d", len(items), err, n)
	}
	if _, err := w.eng.BackupTo(ctx, path); !errors.Is(err, os.ErrExist) {
		t.Errorf("a backup over an existing file: %v; want os.ErrExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files beside the backup: %v", entries)
	}
	if _, err := w.eng.Backup(ctx, "manual"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(autoStale); !errors.Is(err, os.ErrNotExist) {
		t.Error("a killed automatic backup's temporary file was left in backups/")
	}
}

// FuzzReadBackup: whatever the bytes, ReadBackup does not panic, and it
// returns items only for a whole backup, whose trailer then matches what
// it read (a damaged file never restores part of itself).
func FuzzReadBackup(f *testing.F) {
	var whole bytes.Buffer
	whole.WriteString(`{"format":"playmark-backup","version":2,"created":"2025-03-01T12:00:00Z","items":1}` + "\n")
	whole.WriteString(`{"type":"movie","title":"Heat","year":1995,"ids":{"imdb":"tt0113277"},"watched":true,"updated":"2024-06-01T20:30:00Z"}` + "\n")
	sum := sha256.Sum256(whole.Bytes())
	whole.WriteString(`{"end":{"items":1,"sha256":"` + hex.EncodeToString(sum[:]) + `"}}` + "\n")
	if items, err := ReadBackup(bytes.NewReader(whole.Bytes())); err != nil || len(items) != 1 {
		f.Fatalf("the seed backup reads as %d items, %v", len(items), err)
	}
	f.Add(whole.Bytes())
	f.Add(whole.Bytes()[:whole.Len()/2])
	f.Add([]byte(`{"format":"playmark-backup","version":1,"items":0}` + "\n"))
	f.Add([]byte("{\"end\":{}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ReadBackup(bytes.NewReader(data))
		if err != nil && len(items) > 0 {
			t.Fatalf("%d items returned with an error: %v", len(items), err)
		}
	})
}
