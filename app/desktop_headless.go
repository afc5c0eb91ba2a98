//go:build headless

package app

import (
	"fmt"
	"io"
)

// headlessBuild says that this binary was built with -tags headless: no
// Fyne, GLFW or systray are linked in (a static binary for a NAS or a
// Raspberry Pi), and there is no window or tray to open.
const headlessBuild = true

// runDesktop, in the headless build, says that there is no window and
// what to run instead.
func runDesktop(dir string, hidden bool, stderr io.Writer) int {
	fmt.Fprintln(stderr, "playmark: no graphical display: this is the headless build, with no window or tray; use the commands (playmark help), or playmark daemon for schedules, webhooks and live updates")
	return exitUsage
}
