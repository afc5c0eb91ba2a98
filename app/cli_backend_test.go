package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// backend add checks what it saves against the server: a user the server
// does not have and a server of another type are refused with one
// sentence, exit 2, nothing saved; a user given by name (any case) is
// saved by id; only a server that does not answer is saved, with a
// warning.
func TestCLIBackendAddRefusesWhatTheServerDenies(t *testing.T) {
	dir := t.TempDir()
	jf, err := StartSimulator(backend.Jellyfin, SimOptions{Items: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	emby, err := StartSimulator(backend.Emby, SimOptions{Items: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer emby.Close()
	plex, err := StartSimulator(backend.Plex, SimOptions{Items: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer plex.Close()

	refused := []struct {
		args []string
		want string
	}{
		// The README's own example: a user that does not exist.
		{[]string{"--type", "jellyfin", "--url", jf.URL(), "--token", jf.Token(), "--user", "anna"},
			`jellyfin at ` + jf.URL() + ` has no user "anna"; its users are admin, guest; nothing saved`},
		{[]string{"--type", "emby", "--url", emby.URL(), "--token", emby.Token(), "--user", "anna"},
			`emby at ` + emby.URL() + ` has no user "anna"; its users are admin, guest; nothing saved`},
		{[]string{"--type", "jellyfin", "--url", jf.URL(), "--token", jf.Token(), "--user", "0123456789abcdef0123456789abcdef"},
			`has no user "0123456789abcdef0123456789abcdef"`},
		// A server of another type.
		{[]string{"--type", "plex", "--url", jf.URL(), "--token", jf.Token()}, jf.URL() + " is a jellyfin server, not plex: use --type jellyfin"},
		{[]string{"--type", "jellyfin", "--url", emby.URL(), "--token", emby.Token()}, "is a emby server, not jellyfin"},
		{[]string{"--type", "emby", "--url", jf.URL(), "--token", jf.Token()}, "is a jellyfin server, not emby"},
		{[]string{"--type", "jellyfin", "--url", plex.URL(), "--token", plex.Token()}, "is a plex server, not jellyfin"},
		// A Plex token is one account.
		{[]string{"--type", "plex", "--url", plex.URL(), "--token", plex.Token(), "--user", "someone-else"}, `has no user "someone-else"`},
		// An API key has no user: say which there are.
		{[]string{"--type", "jellyfin", "--url", jf.URL(), "--token", jf.(*simulate.MediaBrowserServer).APIKey()}, "this token has no user of its own; pass --user with one of: admin ("},
	}
	for _, c := range refused {
		code, out, stderr := pm(t, dir, append([]string{"backend", "add", "x"}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", c.args, code, out, stderr, c.want)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 || strings.Contains(stderr, "traceId") || strings.Contains(stderr, "{") {
			t.Errorf("%v: not one clean sentence: %q", c.args, stderr)
		}
	}
	if _, out, _ := pm(t, dir, "backend", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("a refused add saved a backend: %s", out)
	}

	// By name, in any case, with an API key: saved by id.
	code, out, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", jf.URL(), "--token", jf.(*simulate.MediaBrowserServer).APIKey(), "--user", "GUEST")
	otherID, _ := jf.(*simulate.MediaBrowserServer).OtherUser()
	if code != exitOK || !strings.Contains(out, "as guest") {
		t.Fatalf("add --user GUEST: exit %d, %q %q", code, out, stderr)
	}
	if _, list, _ := pm(t, dir, "backend", "list", "--json"); !strings.Contains(list, `"user_id": "`+otherID+`"`) {
		t.Errorf("the user was not saved by id %s:\n%s", otherID, list)
	}
	// Plex with its own account named: fine.
	if code, _, stderr := pm(t, dir, "backend", "add", "px", "--type", "plex", "--url", plex.URL(), "--token", plex.Token(), "--user", plex.UserID()); code != exitOK {
		t.Errorf("plex with its own user: exit %d, %q", code, stderr)
	}

	// A server that is down: saved, with a warning.
	down, err := StartSimulator(backend.Emby, SimOptions{Items: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	url := down.URL()
	down.Close()
	code, out, stderr = pm(t, dir, "backend", "add", "cabin", "--type", "emby", "--url", url, "--token", "t", "--user", "anna")
	if code != exitOK || !strings.Contains(stderr, "warning: cabin is unreachable") || !strings.Contains(stderr, "saved anyway") || !strings.Contains(out, "Added emby backend cabin") {
		t.Errorf("add with the server down: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestCLIBackendLifecycleAgainstASimulatedServer(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Jellyfin, SimOptions{Items: 50, Seed: 1, Name: "Basement"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// A wrong token is refused and nothing is saved.
	code, _, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL(), "--token", "wrong", "--user", srv.UserID())
	if code != exitUsage || !strings.Contains(stderr, "token rejected by jf; nothing saved") {
		t.Fatalf("add with a wrong token: exit %d, %q; want exit 2", code, stderr)
	}
	code, out, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL()+"/", "--token", srv.Token(), "--user", srv.UserID())
	if code != 0 || !strings.Contains(out, "Connected to Basement") || !strings.Contains(out, "export off") {
		t.Fatalf("add: %d %q %q", code, out, stderr)
	}
	code, _, stderr = pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL(), "--token", srv.Token())
	if code != exitUsage || !strings.Contains(stderr, "already exists") {
		t.Errorf("adding twice: %d %q", code, stderr)
	}
	code, out, _ = pm(t, dir, "backend", "list")
	if code != 0 || strings.Contains(out, srv.Token()) || !strings.Contains(out, "••••") {
		t.Errorf("list shows the token or no mask:\n%s", out)
	}
	code, out, _ = pm(t, dir, "backend", "test", "jf")
	if code != 0 || !strings.Contains(out, "Basement") || !strings.Contains(out, srv.ServerID()) || !strings.Contains(out, "10.") {
		t.Errorf("test: %d\n%s", code, out)
	}
	code, out, _ = pm(t, dir, "backend", "set", "jf", "--export", "on", "--import", "metadata")
	if code != 0 || !strings.Contains(out, "import metadata, export on") {
		t.Errorf("set: %d %q", code, out)
	}
	code, _, stderr = pm(t, dir, "backend", "set", "jf", "--token", "revoked")
	if code != exitUsage || !strings.Contains(stderr, "token rejected") {
		t.Errorf("set to a bad token: exit %d, %q; want exit 2", code, stderr)
	}
	// The server revokes the token after it was saved: backend test says so.
	st, err := state.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := st.Backend(context.Background(), "jf")
	b.Token = "revoked-later"
	if err := st.UpdateBackend(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, _, stderr = pm(t, dir, "backend", "test", "jf")
	if code != exitFailed || strings.TrimSpace(stderr) != "playmark: token rejected by jf" {
		t.Errorf("test with a revoked token: exit %d, %q; want exit 1, token rejected by jf", code, stderr)
	}
	// The token in the log? Never.
	log, _ := os.ReadFile(filepath.Join(dir, "playmark.log"))
	if strings.Contains(string(log), srv.Token()) {
		t.Error("the log contains the token")
	}
	code, _, _ = pm(t, dir, "backend", "remove", "jf")
	if code != 0 {
		t.Errorf("remove: %d", code)
	}
}
