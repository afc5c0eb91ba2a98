//go:build unix

package app

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

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

// claimInstance makes this process the desktop app of dir, listening on a
// unix socket (0600, in the 0700 config dir: its mode is the guard). When
// another one already is, it asks that one to show its window and returns
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
			return &instance{ln: ln, cleanup: func() { _ = os.Remove(path) }}, nil
		}
		if c, dialErr := net.DialTimeout("unix", path, 2*time.Second); dialErr == nil {
			// Someone listens: a Playmark, even if it is too busy to answer.
			_, _, _ = askShow(c, "")
			return nil, errAlreadyRunning
		}
		// Nobody answers: a socket left by a crash. Take it over.
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			break
		}
	}
	return nil, fmt.Errorf("single-instance guard: %w", err)
}
