//go:build windows

package state

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive lock on f's first byte with LockFileEx, which
// other processes see (as flock on Unix); it fails at once when another
// holds it. The lock goes with the handle: a crashed process leaves none.
func tryLock(f *os.File) (bool, error) {
	ol := new(windows.Overlapped)
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) {
	_ = windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}

// oNoFollow is 0: Windows has no O_NOFOLLOW. Planting a symbolic link
// there needs a privilege an ordinary user lacks, and the database files
// are checked with Lstat before they are opened (checkRegular) on every OS.
const oNoFollow = 0

// probeLocked reports whether another open handle holds the exclusive
// lock on f: a shared lock is tried and, when taken, released at once.
func probeLocked(f *os.File) bool {
	h := windows.Handle(f.Fd())
	err := windows.LockFileEx(h, windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if err == nil {
		_ = windows.UnlockFileEx(h, 0, 1, 0, new(windows.Overlapped))
		return false
	}
	return errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING)
}
