package app

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/secret"
	"playmark/sync/secret/secrettest"
)

// The command line and the core with a real system keyring: GNOME
// Keyring, unlocked headlessly, on a session bus of the test's own (the
// test runs itself again under dbus-run-session, with a HOME of its own,
// so that it never touches the keyring of whoever runs it).
//
// Tokens added go to the keyring and never to a file in the config dir
// (database, log); backend list says where they are; a sync reads them
// back; tokens saved without the keyring move into it at the next start
// with it; without the keyring a token kept there is a loud error;
// backend remove deletes it from the keyring.
func TestKeyringCLI(t *testing.T) {
	if secrettest.IsChild(t) {
		keyringCLIChild(t)
		return
	}
	secrettest.NeedTools(t, "dbus-run-session", "gnome-keyring-daemon")
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Fatal("secret-tool is not installed (apt-get install libsecret-tools, as .ci/deps test does): needed to cross-check the keyring")
	}
	secrettest.UnderBus(t, "", "PLAYMARK_KEYRING=on")
}

func keyringCLIChild(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "config")
	secrettest.StartKeyring(t, func() error {
		k, err := secret.OpenSecretService(ctx, dir)
		if err == nil {
			k.Close()
		}
		return err
	})
	lookup := func(name string) (string, error) {
		out, err := exec.Command("secret-tool", "lookup", "application", "playmark", "config-dir", dir, "backend", name).Output()
		return string(out), err
	}
	noFileHas := func(tok string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), tok) {
				t.Errorf("the token is in %s", f)
			}
		}
	}

	jf, err := StartSimulator(backend.Jellyfin, SimOptions{Items: 30, Seed: 1, Name: "Basement"})
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	code, out, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", jf.URL(), "--token", jf.Token(), "--user", jf.UserID())
	if code != 0 {
		t.Fatalf("add: %d %q %q", code, out, stderr)
	}
	if got, err := lookup("jf"); err != nil || got != jf.Token() {
		t.Errorf("secret-tool lookup jf = %q, %v; want the token", got, err)
	}
	code, out, _ = pm(t, dir, "backend", "list")
	if code != 0 || !strings.Contains(out, "(keyring)") || strings.Contains(out, jf.Token()) {
		t.Errorf("backend list does not say the token is in the keyring:\n%s", out)
	}
	code, out, _ = pm(t, dir, "backend", "list", "--json")
	if code != 0 || !strings.Contains(out, `"token_in_keyring": true`) {
		t.Errorf("backend list --json:\n%s", out)
	}
	// The token reaches the server from the keyring (it would refuse the
	// marker).
	if code, out, stderr := pm(t, dir, "import"); code != 0 {
		t.Errorf("import with the token in the keyring: %d %q %q", code, out, stderr)
	}
	noFileHas(jf.Token())

	// Without the keyring: a loud error naming the backend, nothing sent.
	t.Setenv("PLAYMARK_KEYRING", "off")
	code, _, stderr = pm(t, dir, "backend", "list")
	if code == 0 || !strings.Contains(stderr, `backend "jf": token is in the system keyring, which is not available`) {
		t.Errorf("backend list without the keyring: exit %d, %q", code, stderr)
	}
	code, _, stderr = pm(t, dir, "import")
	if code == 0 || !strings.Contains(stderr, `backend "jf": token is in the system keyring`) {
		t.Errorf("import without the keyring: exit %d, %q", code, stderr)
	}
	// A backend added meanwhile keeps its token in the database...
	plex, err := StartSimulator(backend.Plex, SimOptions{Items: 30, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer plex.Close()
	if code, out, stderr := pm(t, dir, "backend", "add", "plex", "--type", "plex", "--url", plex.URL(), "--token", plex.Token()); code != 0 {
		t.Fatalf("add without the keyring: %d %q %q", code, out, stderr)
	}
	if _, err := lookup("plex"); err == nil {
		t.Error("a token added without the keyring went there")
	}

	// ... until the next start with the keyring moves it there.
	t.Setenv("PLAYMARK_KEYRING", "on")
	code, out, stderr = pm(t, dir, "backend", "list")
	if code != 0 || strings.Count(out, "(keyring)") != 2 || stderr != "" {
		t.Errorf("backend list after the move: %d %q\n%s", code, stderr, out)
	}
	if got, err := lookup("plex"); err != nil || got != plex.Token() {
		t.Errorf("secret-tool lookup plex = %q, %v; want the moved token", got, err)
	}
	noFileHas(plex.Token())

	// The desktop app's and the daemon's core reads them too.
	core, err := OpenCore(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := core.Store.Backend(ctx, "plex")
	if err != nil || b.Token != plex.Token() || !b.TokenInKeyring {
		t.Errorf("core: %q, %v, %v", b.Token, b.TokenInKeyring, err)
	}
	core.Close()

	if code, _, stderr := pm(t, dir, "backend", "remove", "jf"); code != 0 {
		t.Fatalf("remove: %d %q", code, stderr)
	}
	var ee *exec.ExitError
	if got, err := lookup("jf"); !errors.As(err, &ee) || got != "" {
		t.Errorf("secret-tool still finds jf after backend remove: %q, %v", got, err)
	}
	noFileHas(jf.Token())
	noFileHas(plex.Token())
}
