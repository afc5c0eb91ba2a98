package app

import (
	"bytes"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
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

// Tokens come in without the command line: standard input, the
// environment, never from a file that is not a terminal by prompt.
func TestCLITokenInput(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Emby, SimOptions{Items: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	add := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin)}
		code := c.main(append([]string{"--config-dir", dir, "backend"}, args...))
		return code, out.String(), errb.String()
	}
	base := []string{"--type", "emby", "--url", srv.URL(), "--user", "admin"}

	code, out, stderr := add(srv.Token()+"\n", append([]string{"add", "a", "--token-stdin"}, base...)...)
	if code != exitOK || !strings.Contains(out, "as admin") {
		t.Errorf("--token-stdin: exit %d, %q %q", code, out, stderr)
	}
	t.Setenv("PLAYMARK_TOKEN", srv.Token())
	code, out, stderr = add("", append([]string{"add", "b"}, base...)...)
	if code != exitOK || !strings.Contains(out, "as admin") {
		t.Errorf("PLAYMARK_TOKEN: exit %d, %q %q", code, out, stderr)
	}
	t.Setenv("PLAYMARK_TOKEN", "")
	code, _, stderr = add("", append([]string{"add", "c"}, base...)...)
	if code != exitUsage || !strings.Contains(stderr, "--token-stdin") {
		t.Errorf("no token and no terminal: exit %d, %q", code, stderr)
	}
	code, _, stderr = add("\n", append([]string{"add", "c", "--token-stdin"}, base...)...)
	if code != exitUsage || !strings.Contains(stderr, "the token is empty") {
		t.Errorf("an empty line on stdin: exit %d, %q", code, stderr)
	}
	code, _, stderr = add("x\n", append([]string{"add", "c", "--token-stdin", "--token", "y"}, base...)...)
	if code != exitUsage || !strings.Contains(stderr, "together") {
		t.Errorf("--token with --token-stdin: exit %d, %q", code, stderr)
	}
	// set: a new token from stdin is checked, then saved.
	code, _, stderr = add("wrong\n", "set", "a", "--token-stdin")
	if code != exitUsage || !strings.Contains(stderr, "token rejected by a; nothing saved") {
		t.Errorf("set --token-stdin with a wrong token: exit %d, %q", code, stderr)
	}
	code, out, stderr = add(srv.Token()+"\n", "set", "a", "--token-stdin")
	if code != exitOK || !strings.Contains(out, "Saved a") {
		t.Errorf("set --token-stdin: exit %d, %q %q", code, out, stderr)
	}
}
