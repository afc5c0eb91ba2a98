// Package secrettest runs keyring tests on a session bus of their own:
// the test runs itself again in a child process under dbus-run-session,
// with a HOME and XDG dirs of its own, so that it never touches the
// keyring of whoever runs the tests. It is imported by tests only.
package secrettest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// childEnv names the test a child process runs.
const childEnv = "PLAYMARK_SECRET_CHILD"

// IsChild says whether this process is the child UnderBus started for t.
func IsChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// NeedTools skips t unless every tool is installed.
func NeedTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install dbus-daemon gnome-keyring): the real Secret Service cannot be tested", tool)
		}
	}
}

// UnderBus runs test t again in a child process under dbus-run-session
// (with the bus config file conf, if not empty, and the extra environment
// env) and fails t unless the child passed. In the child, IsChild(t) is
// true.
func UnderBus(t *testing.T, conf string, env ...string) {
	t.Helper()
	name := t.Name()
	tmp := t.TempDir()
	env = append(env, childEnv+"="+name, "PATH="+os.Getenv("PATH"), "LANG=C.UTF-8")
	for _, d := range []string{"HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"} {
		p := filepath.Join(tmp, strings.ToLower(d))
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		env = append(env, d+"="+p)
	}
	for _, keep := range []string{"TMPDIR", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(keep); ok {
			env = append(env, keep+"="+v)
		}
	}
	var args []string
	if conf != "" {
		args = append(args, "--config-file="+conf)
	}
	args = append(args, "--", os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1", "-test.timeout=90s")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dbus-run-session", args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("child under dbus-run-session:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s under dbus-run-session failed: %v", name, err)
	}
}

// StartKeyring starts GNOME Keyring on the child's bus with its login
// keyring made and unlocked headlessly (--unlock with a password on
// stdin; the daemon forks and stays), then waits up to 15 s for ready to
// succeed (opening the keyring the test uses).
func StartKeyring(t *testing.T, ready func() error) {
	t.Helper()
	daemonOut, err := os.Create(filepath.Join(t.TempDir(), "daemon.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer daemonOut.Close()
	start := exec.Command("gnome-keyring-daemon", "--unlock", "--components=secrets")
	start.Stdin = strings.NewReader("playmark-test-password")
	start.Stdout, start.Stderr = daemonOut, daemonOut
	if err := start.Run(); err != nil {
		out, _ := os.ReadFile(daemonOut.Name())
		t.Fatalf("gnome-keyring-daemon --unlock: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unlocked login keyring never became usable: %v", err)
		}
	}
}
