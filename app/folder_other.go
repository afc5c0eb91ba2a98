//go:build !windows && !headless

package app

// openFolder is nil: the window opens the data folder through Fyne (a
// file URL, which the desktop's file manager takes).
var openFolder func(string) error
