package app

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNoLocaleNoise runs commands in a fresh process under the locales of
// servers and containers: none prints Fyne's "Error parsing user locale".
// Fyne reads the locale as its package initialises, so only a new process
// shows it.
func TestNoLocaleNoise(t *testing.T) {
	if os.Getenv("PLAYMARK_LOCALE_CHILD") != "" {
		var out bytes.Buffer
		dir := os.Getenv("PLAYMARK_LOCALE_CHILD")
		for _, args := range [][]string{{"--version"}, {"--config-dir", dir, "status"}, {"--config-dir", dir, "daemon"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond) // ends the daemon
			c := &cli{stdout: &out, stderr: os.Stderr, ctx: ctx}
			code := c.main(args)
			cancel()
			if code != 0 {
				t.Fatalf("%v: exit %d", args, code)
			}
		}
		return
	}
	envs := [][]string{
		{"LANG=C"}, {"LANG=C.UTF-8"}, {"LANG=C.utf8"}, {"LANG=POSIX.UTF-8"}, {},
		{"LC_ALL=C.UTF-8", "LANG=en_US.UTF-8"}, {"LANG=de_DE@euro"}, {"LANG=en_US.UTF-8", "LANGUAGE=C.UTF-8"},
	}
	for _, env := range envs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNoLocaleNoise$", "-test.count=1")
		cmd.Env = append(cleanEnv("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"), "PLAYMARK_KEYRING=off", "PLAYMARK_LOCALE_CHILD="+t.TempDir())
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v: %v\n%s", env, err, out)
		}
		if strings.Contains(string(out), "Fyne error") || strings.Contains(string(out), "locale") {
			t.Errorf("%v: the commands printed locale noise:\n%s", env, out)
		}
	}
}

// cleanEnv is the environment without the named variables.
func cleanEnv(drop ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, d := range drop {
			if strings.HasPrefix(kv, d+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}
