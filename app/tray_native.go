//go:build (windows || darwin) && !headless

package app

// desktopTray says how to tell whether the desktop shows a tray: Windows
// always has its notification area (Shell_NotifyIcon) and macOS its menu
// bar, so there is nothing to probe and no "no tray" banner.
func desktopTray() (func() bool, error) {
	return func() bool { return true }, nil
}
