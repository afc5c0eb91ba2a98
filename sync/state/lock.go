package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrBusy means another run holds the run lock (in this process or in
// another Playmark on the same config dir).
var ErrBusy = errors.New("another sync run is in progress")

// LockRuns takes the run lock, so that runs never overlap, whichever
// process starts them (the app, its scheduler, a CLI command). With wait it
// waits until the lock is free or ctx ends; without, it fails at once with
// ErrBusy. The returned func releases the lock.
func (s *Store) LockRuns(ctx context.Context, wait bool) (func(), error) {
	path := filepath.Join(filepath.Dir(s.path), "run.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening run lock: %w", err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("taking run lock: %w", err)
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		if !wait {
			f.Close()
			return nil, ErrBusy
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
