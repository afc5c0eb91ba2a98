//go:build !headless

package app

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	ctx, cancel := context.WithCancel(context.Background())
	shown := make(chan struct{}, 4)
	served := make(chan struct{})
	go func() {
		first.serve(ctx, func() { shown <- struct{}{} })
		close(served)
	}()

	for i := range 2 {
		if _, err := claimInstance(dir); !errors.Is(err, errAlreadyRunning) {
			t.Fatalf("second start %d: err = %v, want errAlreadyRunning", i, err)
		}
		select {
		case <-shown:
		case <-time.After(5 * time.Second):
			t.Fatal("the first instance was not asked to show its window")
		}
	}

	cancel()
	<-served
	first.Close()
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

// The login entry: go-autostart reads XDG_CONFIG_HOME once at start-up,
// so the test runs itself again with it set.
func TestLoginEntry(t *testing.T) {
	if os.Getenv("PLAYMARK_TEST_LOGIN_CHILD") == "1" {
		loginEntryChild(t)
		return
	}
	xdg := t.TempDir()
	cfg := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoginEntry$", "-test.v")
	cmd.Env = append(os.Environ(), "PLAYMARK_TEST_LOGIN_CHILD=1", "XDG_CONFIG_HOME="+xdg, "PLAYMARK_TEST_CFG="+cfg)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLoginEntry") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(xdg, "autostart", "playmark.desktop")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the child left the entry behind: %v", err)
	}
}

func loginEntryChild(t *testing.T) {
	xdg := os.Getenv("XDG_CONFIG_HOME")
	file := filepath.Join(xdg, "autostart", "playmark.desktop")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	l := newLoginEntry(os.Getenv("PLAYMARK_TEST_CFG"))
	if l.Enabled() {
		t.Fatal("enabled before Enable")
	}
	for range 2 { // twice: the second must not quote the command again
		if err := l.SetEnabled(true); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := `Exec="` + exe + `" "--hidden" "--config-dir" "` + os.Getenv("PLAYMARK_TEST_CFG") + `"`
	if !strings.Contains(string(data), want+"\n") || !strings.Contains(string(data), "Name=Playmark\n") {
		t.Errorf("entry:\n%s\nwant a line %s", data, want)
	}
	if !l.Enabled() {
		t.Error("not enabled after Enable")
	}
	for range 2 {
		if err := l.SetEnabled(false); err != nil {
			t.Fatal(err)
		}
	}
	if l.Enabled() {
		t.Error("still enabled after Disable")
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("entry still there: %v", err)
	}

	// On the default config dir the entry does not name it.
	def := newLoginEntry(filepath.Join(xdg, "playmark"))
	if err := def.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(file)
	if !strings.Contains(string(data), `Exec="`+exe+`" "--hidden"`+"\n") {
		t.Errorf("default-dir entry:\n%s", data)
	}
	if err := def.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
}
