package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrBusy means another run holds the run lock (in this process or in
// another Playmark on the same config dir).
var ErrBusy = errors.New("another sync run is in progress")

// LockRuns takes the run lock, so that runs never overlap, whichever
// process starts them (the app, its scheduler, a CLI command). With wait it
// waits until the lock is free or ctx ends; without, it fails at once with
// ErrBusy. The returned func releases the lock.
//
// Taking the lock is also the only moment a run still recorded as running
// is known to be dead (its process no longer holds the lock): such runs
// are recorded as interrupted here, never by a process that merely opens
// the store.
func (s *Store) LockRuns(ctx context.Context, wait bool) (func(), error) {
	if s.readOnly {
		return nil, fmt.Errorf("taking run lock: %s: %w", s.path, ErrReadOnly)
	}
	path := filepath.Join(filepath.Dir(s.path), "run.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening run lock: %w", s.classify(err))
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("taking run lock: %w", err)
		}
		if ok {
			heldHere.add(path, 1)
			var once sync.Once
			release := func() { once.Do(func() { heldHere.add(path, -1); unlock(f); f.Close() }) }
			if err := s.closeInterrupted(ctx); err != nil {
				release()
				return nil, err
			}
			return release, nil
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

// interruptedMessage is the reason recorded for a run whose process ended
// before it did.
const interruptedMessage = "the process running it ended before the run finished (killed, crashed, or unable to write)"

// closeInterrupted records runs left running as interrupted. Only the
// holder of the run lock calls it.
func (s *Store) closeInterrupted(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE runs SET status='interrupted', finished=?, message=CASE WHEN message='' THEN ? ELSE message END WHERE status='running'`,
		s.now().Unix(), interruptedMessage); err != nil {
		return fmt.Errorf("closing interrupted runs: %w", err)
	}
	return nil
}

// heldHere counts the run locks this process holds, by lock file.
var heldHere = heldLocks{n: map[string]int{}}

type heldLocks struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *heldLocks) add(path string, d int) {
	h.mu.Lock()
	h.n[path] += d
	if h.n[path] <= 0 {
		delete(h.n, path)
	}
	h.mu.Unlock()
}

func (h *heldLocks) held(path string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[path] > 0
}

// runLockHeld reports whether some process holds the run lock, without
// taking it for more than an instant (a shared probe, released at once,
// and only when this process holds none: the probe could make another
// process's non-waiting LockRuns fail as busy in that instant).
func (s *Store) runLockHeld() bool {
	path := filepath.Join(filepath.Dir(s.path), "run.lock")
	if heldHere.held(path) {
		return true
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return false // no lock file: no run was ever locked here
	}
	defer f.Close()
	return probeLocked(f)
}
