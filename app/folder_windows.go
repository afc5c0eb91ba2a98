//go:build windows && !headless

package app

import (
	"os/exec"
	"path/filepath"
)

// openFolder opens dir in Explorer (Settings > data folder, Open). Fyne
// would be given a file URL, and one built from a Windows path
// ("file://C:%5CUsers...") names a host "C:", not the folder.
func openFolder(dir string) error {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return exec.Command("explorer.exe", dir).Start()
}
