package app

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// TestMain lets the test binary stand in for the playmark binary: a child
// started with PLAYMARK_TEST_MAIN=1 runs the command line.
func TestMain(m *testing.M) {
	// The tests never use the keyring of whoever runs them, nor wait on
	// one that a test's session bus starts (children inherit this). A
	// test that wants a keyring sets PLAYMARK_KEYRING itself.
	if _, ok := os.LookupEnv("PLAYMARK_KEYRING"); !ok {
		os.Setenv("PLAYMARK_KEYRING", "off")
	}
	if os.Getenv("PLAYMARK_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// crashWorld is three simulated servers in this process and a config dir
// that child processes sync.
type crashWorld struct {
	dir     string
	cat     *simulate.Catalog
	servers map[string]simulate.Server
}

func newCrashWorld(t *testing.T, items int) *crashWorld {
	t.Helper()
	w := &crashWorld{dir: t.TempDir(), cat: simulate.Generate(simulate.GenerateOptions{Items: items, Seed: 21}), servers: map[string]simulate.Server{}}
	base := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, k := range []backend.Kind{backend.Plex, backend.Jellyfin, backend.Emby} {
		opt := simulate.Options{Watches: simulate.GenerateWatches(w.cat, uint64(40+i), base)}
		srv, err := simulate.New(k, w.cat, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		w.servers[string(k)] = srv
		if code, _, stderr := pm(t, w.dir, "backend", "add", string(k), "--type", string(k), "--url", srv.URL(), "--token", srv.Token(),
			"--user", srv.UserID(), "--export", "on"); code != 0 {
			t.Fatalf("add %s: %s", k, stderr)
		}
	}
	return w
}

func (w *crashWorld) states() map[string]string { return simulate.PlayStates(w.servers, w.cat) }

func child(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"--config-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "PLAYMARK_TEST_MAIN=1")
	return cmd
}

// TestCrashLoop kills `playmark sync` with SIGKILL at random moments, many
// times over. After each kill the database passes integrity_check and no
// killed run is recorded as a success; at the end a sync without
// interruption gives exactly the server states an undisturbed sync gives.
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash loop is not run with -short")
	}
	kills := 50
	if v, err := strconv.Atoi(os.Getenv("PLAYMARK_CRASH_KILLS")); err == nil && v > 0 {
		kills = v
	}
	const items = 1500

	// The reference: one undisturbed sync of the same world.
	ref := newCrashWorld(t, items)
	start := time.Now()
	if out, err := child(ref.dir, "sync", "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("reference sync: %v\n%s", err, out)
	}
	took := time.Since(start)
	want := ref.states()
	t.Logf("an undisturbed sync of 3 x %d items takes %v", items, took.Round(time.Millisecond))

	r := rand.New(rand.NewPCG(1, 2))
	killed, cycles, interrupted := 0, 0, 0
	for killed < kills {
		// A cycle: a fresh world, synced and killed until a sync finishes
		// by itself; then it must equal the undisturbed one.
		cycles++
		w := newCrashWorld(t, items)
		for try := 0; try < 40; try++ {
			cmd := child(w.dir, "sync", "--quiet", "--yes")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			finished := false
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("cycle %d: sync ended by itself with %v", cycles, err)
				}
				finished = true
			case <-time.After(time.Duration(r.Int64N(int64(took)))):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed++
			}
			st, err := state.Open(context.Background(), w.dir)
			if err != nil {
				t.Fatalf("after kill %d: open: %v", killed, err)
			}
			if err := st.IntegrityCheck(context.Background()); err != nil {
				t.Fatalf("after kill %d: %v", killed, err)
			}
			runs, err := st.Runs(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			// A killed run may only be "ok" if it had finished all its work
			// (the kill landed between the last write and the exit).
			if !finished && len(runs) == 1 && runs[0].Status == state.RunOK && len(runs[0].Backends) != 6 {
				t.Fatalf("after kill %d: a half-run is recorded as ok: %+v", killed, runs[0])
			}
			if !finished && len(runs) == 1 && runs[0].Status == state.RunInterrupted {
				interrupted++
			}
			st.Close()
			if finished {
				break
			}
		}
		// One more sync must find nothing left to do, and the servers must
		// hold what an undisturbed sync gives.
		out, err := child(w.dir, "sync", "--yes").CombinedOutput()
		if err != nil {
			t.Fatalf("cycle %d: final sync: %v\n%s", cycles, err, out)
		}
		if !strings.Contains(string(out), "No changes.") {
			t.Errorf("cycle %d: the sync after the finished one still changed things:\n%s", cycles, out)
		}
		got := w.states()
		diff := 0
		for k, v := range want {
			if got[k] != v {
				if diff < 5 {
					t.Errorf("cycle %d: %s = %s, an undisturbed sync gives %s", cycles, k, got[k], v)
				}
				diff++
			}
		}
		if diff > 0 {
			t.Fatalf("cycle %d: %d item states differ from an undisturbed sync", cycles, diff)
		}
	}
	t.Logf("%d kills over %d cycles; %d killed runs found recorded as interrupted", killed, cycles, interrupted)
	if interrupted == 0 {
		t.Error("no killed run was recorded as interrupted")
	}
}
