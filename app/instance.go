package app

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// errAlreadyRunning means another desktop Playmark runs on the same config
// dir; it was asked to show its window.
var errAlreadyRunning = errors.New("playmark is already running")

// instance is the single-instance guard of the desktop app. The first
// Playmark on a config dir listens on a unix socket there (0600, in the
// 0700 config dir); a second one connects, sends "show", and exits, so
// that one engine and one scheduler run per config dir and starting
// Playmark again brings its window forward.
type instance struct {
	ln   net.Listener
	path string
}

// instanceSocket is the socket's path: in the config dir, or, when that
// path is too long for a unix socket, in the runtime dir under a name
// derived from the config dir.
func instanceSocket(dir string) string {
	p := filepath.Join(dir, "playmark.sock")
	if len(p) < 100 {
		return p
	}
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(base, fmt.Sprintf("playmark-%x.sock", sum[:8]))
}

// claimInstance makes this process the desktop app of dir. When another
// one already is, it asks that one to show its window and returns
// errAlreadyRunning. A socket left by a crashed Playmark is taken over.
// Any other error means the guard could not be set up (the app may run
// without it).
func claimInstance(dir string) (*instance, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("single-instance guard: %w", err)
	}
	path := instanceSocket(dir)
	var err error
	for range 2 {
		var ln net.Listener
		ln, err = net.Listen("unix", path)
		if err == nil {
			if err := os.Chmod(path, 0o600); err != nil {
				ln.Close()
				return nil, fmt.Errorf("single-instance guard: %w", err)
			}
			return &instance{ln: ln, path: path}, nil
		}
		if connected, _ := askShow(path); connected {
			// Someone listens: a Playmark, even if it is too busy to answer.
			return nil, errAlreadyRunning
		}
		// Nobody answers: a socket left by a crash. Take it over.
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			break
		}
	}
	return nil, fmt.Errorf("single-instance guard: %w", err)
}

// askShow asks the Playmark listening on path to show its window. connected
// says whether anyone listens there; err, whether it did not answer "ok".
func askShow(path string) (connected bool, err error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintln(c, "show"); err != nil {
		return true, err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return true, fmt.Errorf("no answer from the running Playmark: %w", err)
	}
	if strings.TrimSpace(reply) != "ok" {
		return true, fmt.Errorf("unexpected answer %q from the running Playmark", reply)
	}
	return true, nil
}

// serve answers other instances until ctx ends: "show" calls onShow.
func (in *instance) serve(ctx context.Context, onShow func()) {
	go func() {
		<-ctx.Done()
		in.ln.Close()
	}()
	for {
		c, err := in.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			switch strings.TrimSpace(line) {
			case "show":
				onShow()
				fmt.Fprintln(c, "ok")
			default:
				fmt.Fprintln(c, "unknown command")
			}
		}()
	}
}

// Close stops listening and removes the socket.
func (in *instance) Close() error {
	err := in.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	_ = os.Remove(in.path)
	return err
}
