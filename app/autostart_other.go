//go:build !windows && !headless

package app

// loginArgs is the autostart entry's command line: go-autostart quotes it
// itself in the .desktop file (Linux) and the launchd plist (macOS).
func loginArgs(args []string) []string { return args }
