//go:build !headless

package app

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The login entry: go-autostart reads XDG_CONFIG_HOME once at start-up,
// so the test runs itself again with it set.
func TestLoginEntry(t *testing.T) {
	if os.Getenv("PLAYMARK_TEST_LOGIN_CHILD") == "1" {
		loginEntryChild(t)
		return
	}
	xdg := t.TempDir()
	cfg := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoginEntry$", "-test.v")
	cmd.Env = append(os.Environ(), "PLAYMARK_TEST_LOGIN_CHILD=1", "XDG_CONFIG_HOME="+xdg, "PLAYMARK_TEST_CFG="+cfg)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLoginEntry") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(xdg, "autostart", "playmark.desktop")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the child left the entry behind: %v", err)
	}
}

func loginEntryChild(t *testing.T) {
	xdg := os.Getenv("XDG_CONFIG_HOME")
	file := filepath.Join(xdg, "autostart", "playmark.desktop")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	l := newLoginEntry(os.Getenv("PLAYMARK_TEST_CFG"))
	if l.Enabled() {
		t.Fatal("enabled before Enable")
	}
	for range 2 { // twice: the second must not quote the command again
		if err := l.SetEnabled(true); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := `Exec="` + exe + `" "--hidden" "--config-dir" "` + os.Getenv("PLAYMARK_TEST_CFG") + `"`
	if !strings.Contains(string(data), want+"\n") || !strings.Contains(string(data), "Name=Playmark\n") {
		t.Errorf("entry:\n%s\nwant a line %s", data, want)
	}
	if !l.Enabled() {
		t.Error("not enabled after Enable")
	}
	for range 2 {
		if err := l.SetEnabled(false); err != nil {
			t.Fatal(err)
		}
	}
	if l.Enabled() {
		t.Error("still enabled after Disable")
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("entry still there: %v", err)
	}

	// On the default config dir the entry does not name it.
	def := newLoginEntry(filepath.Join(xdg, "playmark"))
	if err := def.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(file)
	if !strings.Contains(string(data), `Exec="`+exe+`" "--hidden"`+"\n") {
		t.Errorf("default-dir entry:\n%s", data)
	}
	if err := def.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
}
