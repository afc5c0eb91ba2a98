package state

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The run lock holds across processes (flock on Unix, LockFileEx on
// Windows; make test-windows runs this under Wine): while a child process
// holds it, this one is refused; once the child lets go, it gets it.
func TestRunLockAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	if dir := os.Getenv("PLAYMARK_TEST_LOCK_CHILD"); dir != "" {
		s, err := Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		release, err := s.LockRuns(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("locked\n")
		_, _ = io.Copy(io.Discard, os.Stdin) // hold it until the parent closes stdin
		release()
		return
	}
	// Not t.TempDir: under Wine 8 its clean-up fails (Go's RemoveAll
	// deletes with a call Wine lacks), which would fail this test there.
	tmp, err := os.MkdirTemp("", "playmark-lock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	dir := filepath.Join(tmp, "cfg")
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunLockAcrossProcesses$")
	cmd.Env = append(os.Environ(), "PLAYMARK_TEST_LOCK_CHILD="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if strings.TrimSpace(l) != "locked" {
			t.Fatalf("the child said %q, want locked", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not take the lock in 30 s")
	}
	if rel, err := s.LockRuns(ctx, false); !errors.Is(err, ErrBusy) {
		if err == nil {
			rel()
		}
		t.Fatalf("lock while another process holds it = %v, want ErrBusy", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child: %v", err)
	}
	rel, err := s.LockRuns(ctx, false)
	if err != nil {
		t.Fatalf("lock once the other process let go = %v", err)
	}
	rel()
}
