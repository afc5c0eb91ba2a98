//go:build !linux

package app

import (
	"errors"
	"os"
)

// readHidden would read a line without echo; only Linux does here.
func readHidden(*os.File) (string, error) {
	return "", errors.New("no hidden prompt on this system")
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
