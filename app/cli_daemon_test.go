package app

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// playmark daemon says what it does on stdout, one line per event:
// started and with what, each run's summary, stopping.
func TestDaemonSaysWhatItDoes(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Jellyfin, SimOptions{Items: 30, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code, _, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL(), "--token", srv.Token(), "--user", "admin", "--live", "on"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := pm(t, dir, "tasks", "set", "import", "--cron", "0 3 * * *", "--on"); code != 0 {
		t.Fatal(stderr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if code, _, stderr := pm(t, dir, "webhooks", "--listen", addr); code != 0 {
		t.Fatal(stderr)
	}
	t.Setenv("JOURNAL_STREAM", "")
	old := daemonPoll
	daemonPoll = 100 * time.Millisecond
	defer func() { daemonPoll = old }()

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	var errb bytes.Buffer
	done := make(chan int)
	go func() {
		c := &cli{stdout: &out, stderr: &errb, ctx: ctx}
		done <- c.main([]string{"--config-dir", dir, "daemon"})
	}()
	waitFor(t, &out, "started on ")
	// A run by someone else while it runs: its summary appears.
	core, err := OpenCore(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = core.Engine.Import(context.Background(), engine.RunOptions{Trigger: "cli", Wait: true})
	core.Close()
	waitFor(t, &out, "run 1 import (cli): ok in ")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("daemon exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	text := out.String()
	t.Logf("daemon output:\n%s", text)
	for _, want := range []string{
		"started on " + dir + ": backends: jf; schedules: import \"0 3 * * *\" (next ", "export off", "webhooks: listening on " + addr, "import jf read 30, changed 0", "live: jf",
		"stopping (interrupted)", "stopped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the daemon's output lacks %q:\n%s", want, text)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if _, err := time.Parse(time.RFC3339, strings.Fields(l)[0]); err != nil {
			t.Errorf("line without a time: %q", l)
		}
	}
	_ = errb
}

// A run in the daemon's own process (a scheduled one, a webhook) gets its
// one-line summary too, and journald gets priorities instead of times.
func TestDaemonRunLinesForJournald(t *testing.T) {
	var buf bytes.Buffer
	t.Setenv("JOURNAL_STREAM", "8:1234")
	out := newDaemonOut(&buf)
	out.line(0, "run %d", 1)
	out.line(8, "error: %s", "x\ny")
	if got := buf.String(); got != "<6>run 1\n<3>error: x …\n" {
		t.Errorf("journald lines: %q", got)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in:\n%s", want, out.String())
}

// A warning's attributes reach stdout, a server's body does not.
func TestDaemonWarningsWithoutBodies(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "8:1")
	var buf bytes.Buffer
	log := slog.New(&lineHandler{out: newDaemonOut(&buf), level: slog.LevelWarn})
	log.Info("not shown")
	log.With("unit", "events").Warn("import failed", "err", "jf sent a bad response", "body", `{"traceId":"00-ab"}`)
	if got := buf.String(); got != "<4>warning: import failed unit=events err=jf sent a bad response\n" {
		t.Errorf("got %q", got)
	}
}
