package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cfg")
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	s, dir := open(t)
	for _, p := range []string{dir, s.Path()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	var mode string
	if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.DB().QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestReopenKeepsDataAndVersion(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	var v int
	s2.DB().QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion() || v < 1 {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion())
	}
	if _, err := s2.Backend(ctx, "plex"); err != nil {
		t.Errorf("backend lost on reopen: %v", err)
	}
}

func TestNewerDatabaseRefusedUntouched(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	if _, err := s.DB().Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before, _ := os.ReadFile(filepath.Join(dir, FileName))
	_, err := Open(ctx, dir)
	if !errors.Is(err, ErrTooNew) {
		t.Fatalf("Open of a newer database = %v, want ErrTooNew", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, FileName))
	if string(before) != string(after) {
		t.Error("the newer database was modified")
	}
}

func TestBackendsCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	b, err := s.AddBackend(ctx, Backend{Name: "jf", Kind: "jellyfin", URL: "http://jf:8096", Token: "secret-token", UserID: "u1",
		Options: BackendOptions{Libraries: []string{"a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Import != ImportFull || b.Export {
		t.Errorf("defaults: import %q export %v, want full and off", b.Import, b.Export)
	}
	if _, err := s.AddBackend(ctx, Backend{Name: "jf", Kind: "jellyfin", URL: "http://u", Token: "t"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	if _, err := s.AddBackend(ctx, Backend{Name: "x", Kind: "kodi", URL: "http://u", Token: "t"}); err == nil {
		t.Error("an unknown kind was stored")
	}
	b.Import, b.Export = ImportMetadata, true
	if err := s.UpdateBackend(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := s.Backend(ctx, "jf")
	if err != nil || got.Import != ImportMetadata || !got.Export || got.Options.Libraries[0] != "a" || got.Token != "secret-token" {
		t.Errorf("after update: %+v, %v", got, err)
	}
	if got.MaskedToken() != "••••oken" {
		t.Errorf("masked token %q", got.MaskedToken())
	}
	if err := s.ImportDone(ctx, b.ID, time.Unix(1700000000, 0), true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Backend(ctx, "jf")
	if got.ImportCursor.Unix() != 1700000000 || got.LastFullImport.IsZero() {
		t.Errorf("cursor not saved: %+v", got)
	}
	if err := s.RemoveBackend(ctx, "jf"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backend(ctx, "jf"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed backend: %v, want ErrNotFound", err)
	}
	if err := s.RemoveBackend(ctx, "jf"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing twice: %v, want ErrNotFound", err)
	}
}

func TestTasksAndSettings(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	tasks, err := s.Tasks(ctx)
	if err != nil || len(tasks) != 2 || tasks[0].Name != "import" || tasks[0].Enabled {
		t.Fatalf("tasks = %+v, %v; want import first, both off", tasks, err)
	}
	if err := s.SetTask(ctx, Task{Name: "import", Cron: "*/5 * * * *", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTask(ctx, Task{Name: "backup", Cron: "* * * * *"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown task: %v, want ErrNotFound", err)
	}
	tasks, _ = s.Tasks(ctx)
	if tasks[0].Cron != "*/5 * * * *" || !tasks[0].Enabled {
		t.Errorf("import task not saved: %+v", tasks[0])
	}
	st, err := s.Settings(ctx)
	if err != nil || st != DefaultSettings() {
		t.Fatalf("settings of a new install = %+v, %v", st, err)
	}
	st.ProgressMin, st.ExportThreshold, st.ReplayTracking, st.ClientID = 90*time.Second, 50, true, "abc"
	if err := s.SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Settings(ctx); got != st {
		t.Errorf("settings round trip: %+v, want %+v", got, st)
	}
}

func TestTxSequenceGUIDsAndChanged(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	b, _ := s.AddBackend(ctx, Backend{Name: "p", Kind: "plex", URL: "http://u", Token: "t"})
	other, _ := s.AddBackend(ctx, Backend{Name: "q", Kind: "emby", URL: "http://u", Token: "t"})

	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := Item{Type: "movie", Title: "A", Year: 2001, Updated: time.Unix(100, 0), Explicit: true}
	e := Item{Type: "episode", Title: "Pilot", ShowTitle: "Show", Season: 1, Episode: 1, Updated: time.Unix(100, 0), Progress: time.Minute}
	never := Item{Type: "movie", Title: "Never played", Updated: time.Unix(100, 0)}
	if err := tx.CreateItem(&never); err != nil {
		t.Fatal(err)
	}
	if err := tx.CreateItem(&a); err != nil {
		t.Fatal(err)
	}
	if err := tx.CreateItem(&e); err != nil {
		t.Fatal(err)
	}
	if a.Seq != e.Seq || a.Seq == 0 {
		t.Errorf("one transaction, one sequence: %d and %d", a.Seq, e.Seq)
	}
	if never.Seq != 0 {
		t.Errorf("an item never played has a play state to export: seq %d", never.Seq)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tx.AddGUID(a.ID, "movie", "imdb", "tt1"))
	must(tx.AddGUID(e.ID, "movie", "imdb", "tt1")) // already claimed: ignored
	must(tx.AddEpisodeID(e.ID, "tvdb", "77", 1, 1))
	must(tx.PutRemote(Remote{BackendID: b.ID, RemoteID: "10", ItemID: a.ID, Watched: true, PlayedAt: time.Unix(200, 0)}))
	must(tx.Commit())

	tx, _ = s.Begin(ctx)
	if it, ok, err := tx.GUIDItem("movie", "imdb", "tt1"); !ok || it.ID != a.ID || err != nil {
		t.Errorf("GUIDItem = %d %v %v, want the first claimant %d", it.ID, ok, err, a.ID)
	}
	if _, ok, _ := tx.GUIDItem("episode", "imdb", "tt1"); ok {
		t.Error("a movie id matched an episode")
	}
	if it, ok, _ := tx.EpisodeItem("tvdb", "77", 1, 1); !ok || it.ID != e.ID {
		t.Errorf("EpisodeItem = %d %v", it.ID, ok)
	}
	if r, it, ok, _ := tx.RemoteItem(b.ID, "10"); !ok || it.ID != a.ID || r.ItemID != a.ID {
		t.Errorf("RemoteItem = %d (sub-record %d) %v", it.ID, r.ItemID, ok)
	}
	if _, _, ok, _ := tx.RemoteItem(other.ID, "10"); ok {
		t.Error("a remote id matched on another backend")
	}
	a.Watched = true
	must(tx.SaveItem(&a, true))
	must(tx.Commit())

	tx, _ = s.Begin(ctx)
	defer tx.Rollback()
	maxSeq, _ := tx.MaxSeq()
	if a.Seq != maxSeq || a.Seq <= e.Seq {
		t.Errorf("a play-state change takes a new sequence: a %d e %d max %d", a.Seq, e.Seq, maxSeq)
	}
	ch, err := tx.ChangedSince(b.ID, e.Seq, maxSeq)
	if err != nil || len(ch) != 1 || ch[0].Item.ID != a.ID || len(ch[0].Remotes) != 1 || ch[0].Remotes[0].RemoteID != "10" {
		t.Fatalf("ChangedSince = %+v, %v", ch, err)
	}
	ch, _ = tx.ChangedSince(other.ID, 0, maxSeq)
	if len(ch) != 2 || len(ch[0].Remotes)+len(ch[1].Remotes) != 0 {
		t.Errorf("ChangedSince for a backend without sub-records = %+v", ch)
	}
	if n, _ := tx.CountWatchedRemotes(b.ID); n != 1 {
		t.Errorf("CountWatchedRemotes = %d", n)
	}
}

func TestRunsHistoryAndInterrupted(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	id, err := s.StartRun(ctx, "import", "cli", false)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := s.Begin(ctx)
	tx.RecordChange(Change{RunID: id, Item: "A (2001)", Target: "local", Before: "unwatched", After: "watched", Reason: "played on p"})
	tx.Commit()
	if err := s.FinishRun(ctx, id, RunOK, "", []RunBackend{{Phase: "import", Backend: "p", Read: 10, Changed: 1, Requests: 3, Duration: 1500 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	crashed, _ := s.StartRun(ctx, "export", "schedule", false)
	s.Close()

	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Runs(ctx, 10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("Runs = %+v, %v", runs, err)
	}
	if runs[0].ID != crashed || runs[0].Status != RunInterrupted {
		t.Errorf("a run left running by a crash is %q, want interrupted", runs[0].Status)
	}
	if runs[1].Status != RunOK || len(runs[1].Backends) != 1 || runs[1].Backends[0].Duration != 1500*time.Millisecond {
		t.Errorf("finished run = %+v", runs[1])
	}
	ch, _ := s.Changes(ctx, id, 10)
	if len(ch) != 1 || ch[0].After != "watched" {
		t.Errorf("Changes = %+v", ch)
	}
	last, ok, _ := s.LastRun(ctx, "import", "sync")
	if !ok || last.ID != id {
		t.Errorf("LastRun = %+v %v", last, ok)
	}
}

func TestConcurrentWritersDoNotFail(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				tx, err := s.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				it := Item{Type: "movie", Title: "x", Year: w*100 + i, Updated: time.Unix(1, 0)}
				if err := tx.CreateItem(&it); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent writer: %v", err)
	}
	c, _ := s.Counts(ctx)
	if c.Items != 160 {
		t.Errorf("items = %d, want 160", c.Items)
	}
}

func TestRunLockExcludes(t *testing.T) {
	ctx := context.Background()
	s, dir := open(t)
	release, err := s.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	// A second store on the same dir stands for another process.
	s2, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.LockRuns(ctx, false); !errors.Is(err, ErrBusy) {
		t.Fatalf("second lock = %v, want ErrBusy", err)
	}
	done := make(chan error, 1)
	go func() {
		rel, err := s2.LockRuns(ctx, true)
		if err == nil {
			rel()
		}
		done <- err
	}()
	release()
	if err := <-done; err != nil {
		t.Errorf("waiting lock = %v, want it once released", err)
	}
}
