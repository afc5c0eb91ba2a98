//go:build unix

package app

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The first desktop Playmark on a config dir owns it; a second one asks
// the first to show its window and gets errAlreadyRunning.
func TestInstanceSecondShowsFirst(t *testing.T) {
	dir := t.TempDir()
	first, err := claimInstance(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(instanceSocket(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	secondStartsShowFirst(t, first, dir, claimInstance)
	if _, err := os.Stat(instanceSocket(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after Close: %v", err)
	}
	again, err := claimInstance(dir)
	if err != nil {
		t.Fatalf("after the first quit: %v", err)
	}
	again.Close()
}

// A socket left by a crashed Playmark (nobody listening) is taken over.
func TestInstanceStaleSocket(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", instanceSocket(dir))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(instanceSocket(dir)); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	in, err := claimInstance(dir)
	if err != nil {
		t.Fatalf("stale socket not taken over: %v", err)
	}
	in.Close()
}

// A config dir too deep for a unix socket path puts the socket in the
// runtime dir, under a name that depends on the config dir.
func TestInstanceLongDir(t *testing.T) {
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	dir := filepath.Join(t.TempDir(), strings.Repeat("deep/", 25))
	p := instanceSocket(dir)
	if filepath.Dir(p) != run || len(p) >= 100 {
		t.Fatalf("socket %q: want it in %s", p, run)
	}
	if p == instanceSocket(dir+"2") {
		t.Error("two config dirs share a socket")
	}
	in, err := claimInstance(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// The first is not serving yet (busy starting): a second start must
	// still see it, not take its socket.
	if _, err := claimInstance(dir); !errors.Is(err, errAlreadyRunning) {
		t.Errorf("second start: %v", err)
	}
}
