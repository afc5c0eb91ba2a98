package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// pm runs the command line in-process and returns exit code and output.
func pm(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader("")} // never a terminal: no prompt
	code := c.main(append([]string{"--config-dir", dir}, args...))
	return code, out.String(), errb.String()
}

func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"backend", "add", "x", "--type", "kodi", "--url", "http://h", "--token", "t"}, `unknown backend type "kodi"`},
		{[]string{"backend", "add", "x", "--type", "plex", "--url", "ftp://h", "--token", "t"}, "is not valid"},
		{[]string{"backend", "add", "x", "--type", "plex", "--url", "h:32400", "--token", "t"}, "is not valid"},
		{[]string{"backend", "add", "bad name!", "--type", "plex", "--url", "http://h", "--token", "t"}, "backend name"},
		{[]string{"backend", "add", "x", "--type", "plex", "--url", "http://h"}, "the token is missing: give it on standard input with --token-stdin"},
		{[]string{"backend", "add", "x", "--type", "plex", "--url", "http://h", "--token", "t", "--import", "some"}, "unknown import mode"},
		{[]string{"backend", "add", "x", "--type", "plex", "--url", "http://h", "--token", "t", "--export", "maybe"}, "want on or off"},
		{[]string{"backend", "test", "nope"}, "not found"},
		{[]string{"backend", "remove", "nope"}, "not found"},
		{[]string{"tasks", "set", "import", "--cron", "61 * * * *"}, "field 1 (minute)"},
		{[]string{"tasks", "set", "import", "--cron", "* * *"}, "5 fields"},
		{[]string{"tasks", "set", "backup", "--on"}, "want import or export"},
		{[]string{"tasks", "set", "import", "--on", "--off"}, "--on and --off together"},
		{[]string{"import", "--backend", "nope"}, "not found"},
		{[]string{"history", "--limit", "0"}, "must be positive"},
		{[]string{"import", "--bogus"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		code, _, stderr := pm(t, dir, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", c.args, code, stderr, c.want)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: the error is not one line: %q", c.args, stderr)
		}
	}
	// Nothing was saved by any of them.
	_, out, _ := pm(t, dir, "tasks", "--json")
	if strings.Contains(out, "61 *") || !strings.Contains(out, `"enabled": false`) {
		t.Errorf("a refused command changed the tasks: %s", out)
	}
	_, out, _ = pm(t, dir, "backend", "list", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("a refused command saved a backend: %s", out)
	}
}

func TestCLISyncThreeServersAgreeAndSecondSyncIsQuiet(t *testing.T) {
	dir := t.TempDir()
	var servers []simulate.Server
	for _, k := range []backend.Kind{backend.Plex, backend.Jellyfin, backend.Emby} {
		srv, err := StartSimulator(k, SimOptions{Items: 120, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		servers = append(servers, srv)
		code, _, stderr := pm(t, dir, "backend", "add", "sim-"+string(k), "--type", string(k), "--url", srv.URL(), "--token", srv.Token(),
			"--user", srv.UserID(), "--export", "on")
		if code != 0 {
			t.Fatalf("add %s: %s", k, stderr)
		}
	}
	code, out, stderr := pm(t, dir, "sync", "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "Planned changes") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = pm(t, dir, "sync")
	if code != 0 {
		t.Fatalf("sync: %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = pm(t, dir, "sync")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Errorf("second sync is not quiet:\n%s", out)
	}
	// The three servers now agree on every item with ids.
	cat := simulate.Generate(simulate.GenerateOptions{Items: 120, Seed: 5})
	disagree := 0
	for _, m := range cat.Media {
		if len(m.GUIDs) == 0 && m.Type == backend.Movie {
			continue
		}
		a, b, c := servers[0].Watch(m.Key), servers[1].Watch(m.Key), servers[2].Watch(m.Key)
		if a.Played != b.Played || b.Played != c.Played {
			disagree++
		}
	}
	if disagree > 0 {
		t.Errorf("%d items disagree across the servers after sync", disagree)
	}
	code, out, _ = pm(t, dir, "history")
	if code != 0 || !strings.Contains(out, "sync") {
		t.Errorf("history:\n%s", out)
	}
	code, out, _ = pm(t, dir, "status", "--json")
	var st struct {
		Items    int
		Backends []struct{ OK bool }
	}
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || st.Items == 0 || len(st.Backends) != 3 {
		t.Errorf("status --json: %d %v\n%s", code, err, out)
	}
}

func TestCLIFailedBackendExitsOne(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Emby, SimOptions{Items: 20, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	code, _, stderr := pm(t, dir, "backend", "add", "emby", "--type", "emby", "--url", url, "--token", srv.Token(), "--user", srv.UserID())
	if code != 0 {
		t.Fatal(stderr)
	}
	srv.Close()
	code, _, stderr = pm(t, dir, "import")
	if code != exitFailed || !strings.Contains(stderr, "emby is unreachable") {
		t.Errorf("import with the server down: exit %d, %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--version"}, &out, &out); code != 0 || !strings.Contains(out.String(), Version) {
		t.Errorf("--version: %d %q", code, out.String())
	}
}

func TestDesktopWithoutADisplaySaysWhatToDo(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	var out, errb bytes.Buffer
	code := run([]string{"--config-dir", t.TempDir()}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "no graphical display") || !strings.Contains(errb.String(), "playmark daemon") {
		t.Errorf("no display: exit %d, stderr %q", code, errb.String())
	}
}

// TestReportSaysWhatTheGuardWouldHold: a dry run whose plan the
// mass-change guard would hold (a restore's, an import's planned exports)
// says so, with the numbers and what to do; a real run's report does not
// (it has Held instead).
func TestReportSaysWhatTheGuardWouldHold(t *testing.T) {
	rep := &engine.Report{Kind: "restore", DryRun: true, Status: state.RunOK}
	rep.Backends = []engine.BackendReport{{WouldUnwatch: 40, WouldHold: true, WouldOf: 120}}
	rep.Backends[0].Phase, rep.Backends[0].Backend = "export", "plex"
	var buf bytes.Buffer
	printReport(&buf, rep)
	if !strings.Contains(buf.String(), "Would be held: the restore to plex would mark 40 of its 120 watched items unwatched") {
		t.Errorf("the dry run does not say the guard would hold it:\n%s", buf.String())
	}
	rep.DryRun = false
	buf.Reset()
	printReport(&buf, rep)
	if strings.Contains(buf.String(), "Would be held") {
		t.Errorf("a real run says 'would be held':\n%s", buf.String())
	}
}
