package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
)

// The window lists the backups folder: newest first, each with when it
// was made, why (from its name) and how many items it holds; a file that
// is no backup is listed with what is wrong, not hidden.
func TestListBackups(t *testing.T) {
	w, _ := backupWorld(t)
	ctx := context.Background()
	if got, err := w.eng.ListBackups(); err != nil || len(got) != 0 {
		t.Fatalf("before any backup: %v, %v; want none and no error", got, err)
	}
	first, err := w.eng.Backup(ctx, "manual")
	if err != nil {
		t.Fatal(err)
	}
	w.clock.add(time.Hour)
	second, err := w.eng.Backup(ctx, "before-full-export")
	if err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(w.eng.BackupDir(), "playmark-20250301-140000-manual.jsonl.gz")
	if err := os.WriteFile(junk, []byte("not gzip at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := w.eng.ListBackups()
	if err != nil || len(got) != 3 {
		t.Fatalf("ListBackups = %+v, %v; want 3", got, err)
	}
	if got[0].Path != junk || !errors.Is(got[0].Err, ErrBackupDamaged) {
		t.Errorf("newest = %+v; want the damaged file, with ErrBackupDamaged", got[0])
	}
	if got[1].Path != second || got[1].Reason != "before-full-export" || got[1].Items != 2 || !got[1].Created.Equal(w.clock.now()) {
		t.Errorf("second = %+v; want %s, before-full-export, 2 items, made %v", got[1], second, w.clock.now())
	}
	if got[2].Path != first || got[2].Reason != "manual" || got[2].Err != nil {
		t.Errorf("oldest = %+v; want %s, manual", got[2], first)
	}
	items, err := ReadBackupFile(second)
	if err != nil || len(items) != 2 {
		t.Errorf("ReadBackupFile = %d items, %v", len(items), err)
	}
	if _, err := ReadBackupFile(junk); !errors.Is(err, ErrBackupDamaged) {
		t.Errorf("ReadBackupFile(junk) = %v; want ErrBackupDamaged", err)
	}
}

// One restore run covers several backends: one dry-run report with a
// plan per backend, then one run that writes them all after a single
// backup of the state it started from.
func TestRestoreSeveralBackends(t *testing.T) {
	w, raw := backupWorld(t)
	path := filepath.Join(t.TempDir(), "b.jsonl")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	items, err := ReadBackupFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w.clock.add(time.Hour)
	for _, name := range []string{"jellyfin", "emby"} {
		w.servers[name].SetWatch("heat", simulate.Watch{})
	}
	var phases []string
	rep, err := w.eng.RestoreBackends(ctx, items, []string{"jellyfin", "emby"}, RunOptions{DryRun: true,
		Progress: func(st Status) {
			for _, b := range st.Backends {
				phases = append(phases, b.Name+":"+b.Phase)
			}
		}})
	if err != nil || len(rep.Backends) != 2 || rep.Changed() != 2 {
		t.Fatalf("dry run: %v, %d backends, %d planned; want 2 and 2", err, len(rep.Backends), rep.Changed())
	}
	if len(phases) == 0 {
		t.Error("a restore published no progress")
	}
	if w.watch("emby", "heat").Played {
		t.Fatal("a dry-run restore wrote")
	}
	rep, err = w.eng.RestoreBackends(ctx, items, []string{"jellyfin", "emby"}, RunOptions{})
	if err != nil || len(rep.Failed()) > 0 || rep.Changed() != 2 {
		t.Fatalf("restore: %v, %v, %d changed", err, failedBackends(rep), rep.Changed())
	}
	for _, name := range []string{"jellyfin", "emby"} {
		if !w.watch(name, "heat").Played {
			t.Errorf("%s: heat not restored", name)
		}
	}
	if list, _ := w.eng.ListBackups(); len(list) != 1 || list[0].Reason != "before-restore" {
		t.Errorf("backups = %+v; want one before-restore", list)
	}
	if _, err := w.eng.RestoreBackends(ctx, items, []string{"nope"}, RunOptions{}); err == nil {
		t.Error("an unknown backend was accepted")
	}
}

// A restore's dry run says, per backend, what it would write by kind and
// whether the mass-change guard would hold it.
func TestRestoreDryRunSaysTheGuardWouldHold(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 120, Seed: 3})
	all := map[string]simulate.Watch{}
	for _, m := range cat.Media {
		all[m.Key] = simulate.Watch{Played: true, PlayCount: 1, LastPlayed: tPlay}
	}
	w := newWorld(t, cat, seed{"plex": all, "jellyfin": all, "emby": all})
	w.sync(RunOptions{})
	var buf bytes.Buffer
	if _, err := w.eng.WriteBackup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	items, err := ReadBackup(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.clock.add(time.Hour)
	// A backup in which 40 items were un-watched after the servers' plays.
	for i := range items[:40] {
		items[i].Watched, items[i].Explicit, items[i].Updated = false, true, w.clock.now()
	}
	rep, err := w.eng.RestoreBackends(context.Background(), items, []string{"plex"}, RunOptions{DryRun: true})
	if err != nil || len(rep.Backends) != 1 {
		t.Fatalf("dry run: %v, %+v", err, rep)
	}
	b := rep.Backends[0]
	if b.WouldUnwatch != 40 || !b.WouldHold || b.WouldOf == 0 {
		t.Errorf("plan: %d un-watches, would hold %v of %d; want 40, held", b.WouldUnwatch, b.WouldHold, b.WouldOf)
	}
	rep, err = w.eng.RestoreBackends(context.Background(), items[40:], []string{"plex"}, RunOptions{DryRun: true})
	if err != nil || rep.Backends[0].WouldHold {
		t.Errorf("a plan without un-watches would be held: %v, %+v", err, rep.Backends[0])
	}
}
