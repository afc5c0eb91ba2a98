package engine

import (
	"bytes"
	"context"
	"os"
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
