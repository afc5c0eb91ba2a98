//go:build !headless

package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emersion/go-autostart"
)

// loginEntry is the desktop session's autostart entry for Playmark
// ($XDG_CONFIG_HOME/autostart/playmark.desktop on Linux, Startup\playmark.lnk
// in the Start menu on Windows): it starts the
// desktop app in the tray (--hidden) on this config dir. It implements
// ui.Autostart.
type loginEntry struct {
	dir string // the config dir; passed on when it is not the default
}

func newLoginEntry(dir string) *loginEntry { return &loginEntry{dir: dir} }

// entry describes the autostart entry. It is built afresh for every
// call: go-autostart quotes Exec in place when it writes the file.
func (l *loginEntry) entry() (*autostart.App, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the playmark program: %w", err)
	}
	args := []string{exe, "--hidden"}
	if def, err := defaultConfigDir(); err != nil || def != l.dir {
		args = append(args, "--config-dir", l.dir)
	}
	return &autostart.App{Name: "playmark", DisplayName: "Playmark", Exec: loginArgs(args), Icon: appID}, nil
}

// defaultConfigDir is the config dir Playmark uses when given none and
// PLAYMARK_CONFIG_DIR is not set (a login session may not set it).
func defaultConfigDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "playmark"), nil
}

// Enabled says whether Playmark starts at login.
func (l *loginEntry) Enabled() bool {
	e, err := l.entry()
	return err == nil && e.IsEnabled()
}

// SetEnabled writes or removes the autostart entry.
func (l *loginEntry) SetEnabled(on bool) error {
	e, err := l.entry()
	if err != nil {
		return err
	}
	if on {
		if err := e.Enable(); err != nil {
			return fmt.Errorf("writing the autostart entry: %w", err)
		}
		return nil
	}
	if err := e.Disable(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the autostart entry: %w", err)
	}
	return nil
}
