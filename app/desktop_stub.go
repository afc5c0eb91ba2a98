package app

import (
	"fmt"
	"io"
)

// runDesktop starts the desktop app. (Replaced by the Fyne app.)
func runDesktop(dir string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "playmark: the desktop app is not built yet; use the commands (playmark help)")
	return exitUsage
}
