package app

import (
	"bytes"
	"strings"
	"testing"

	"playmark/sync/backend"
)

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
