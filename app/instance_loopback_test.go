package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// The loopback guard (Windows' single-instance guard, run here too): the
// first claims the dir, a second asks it to show its window and gets
// errAlreadyRunning; after the first quits the dir is free again.
func TestLoopbackSecondShowsFirst(t *testing.T) {
	dir := t.TempDir()
	first, err := claimLoopback(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, instancePortFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("port file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(fmt.Sprintf("%s.%d.tmp", path, os.Getpid())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary port file left: %v", err)
	}
	secondStartsShowFirst(t, first, dir, claimLoopback)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("port file left after Close: %v", err)
	}
	again, err := claimLoopback(dir)
	if err != nil {
		t.Fatalf("after the first quit: %v", err)
	}
	again.Close()
}

// Only who can read the port file can make the window show: a "show"
// with a wrong secret, or none, is denied.
func TestLoopbackWrongSecretDenied(t *testing.T) {
	dir := t.TempDir()
	in, err := claimLoopback(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shown := make(chan struct{}, 4)
	go in.serve(ctx, func() { shown <- struct{}{} })
	port, _, err := readPortFile(filepath.Join(dir, instancePortFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"0123456789abcdef0123456789abcdef", ""} {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		if _, denied, err := askShow(c, secret); !denied || err == nil {
			t.Errorf("secret %q: denied %v, err %v; want denied", secret, denied, err)
		}
	}
	select {
	case <-shown:
		t.Error("a wrong secret made the window show")
	case <-time.After(100 * time.Millisecond):
	}
}

// A port file left by a crash (nobody listens on its port) is taken
// over; so is one naming a port where something else answers.
func TestLoopbackStaleFile(t *testing.T) {
	for _, other := range []bool{false, true} {
		dir := t.TempDir()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if other {
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					fmt.Fprintln(c, "HTTP/1.0 400 Bad Request")
					c.Close()
				}
			}()
		} else {
			ln.Close()
		}
		path := filepath.Join(dir, instancePortFile)
		if err := os.WriteFile(path, fmt.Appendf(nil, "%d deadbeef\n", port), 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := claimLoopback(dir)
		if err != nil {
			t.Fatalf("other=%v: stale port file not taken over: %v", other, err)
		}
		if p, _, err := readPortFile(path); err != nil || p == port {
			t.Errorf("other=%v: port file after take-over: port %d, %v", other, p, err)
		}
		in.Close()
	}
}

// A Playmark that listens but does not answer yet (still starting) is
// running: a second start must not take its place.
func TestLoopbackBusyFirst(t *testing.T) {
	dir := t.TempDir()
	in, err := claimLoopback(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := claimLoopback(dir); !errors.Is(err, errAlreadyRunning) {
		t.Errorf("second start: %v", err)
	}
}

// secondStartsShowFirst serves first and starts twice more on dir with
// claim: each start must fail with errAlreadyRunning and make first show
// its window. Then first quits (Close). Both guards (the Unix socket, the
// loopback port) are held to it.
func secondStartsShowFirst(t *testing.T, first *instance, dir string, claim func(string) (*instance, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	shown := make(chan struct{}, 4)
	served := make(chan struct{})
	go func() {
		first.serve(ctx, func() { shown <- struct{}{} })
		close(served)
	}()
	for i := range 2 {
		if _, err := claim(dir); !errors.Is(err, errAlreadyRunning) {
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
}
