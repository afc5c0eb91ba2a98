//go:build !unix && !windows

package state

import (
	"os"
	"sync"
)

// Without flock, the lock covers this process only.
var procLock sync.Mutex

func tryLock(*os.File) (bool, error) { return procLock.TryLock(), nil }

func unlock(*os.File) { procLock.Unlock() }

const oNoFollow = 0

func probeLocked(*os.File) bool {
	if procLock.TryLock() {
		procLock.Unlock()
		return false
	}
	return true
}
