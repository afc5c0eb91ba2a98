package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// Every command's --help (and -h, and help COMMAND) prints its usage with
// an example on stdout and exits 0.
func TestCLIHelp(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}} {
		code, out, stderr := pm(t, dir, args...)
		if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "backend add") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %.80q, stderr %q", args, code, out, stderr)
		}
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sync", "--help"}, "Usage: playmark sync"},
		{[]string{"sync", "-h"}, "Usage: playmark sync"},
		{[]string{"help", "sync"}, "Usage: playmark sync"},
		{[]string{"backend", "add", "--help"}, "Usage: playmark backend add"},
		{[]string{"backend", "add", "x", "--type", "plex", "--help"}, "Usage: playmark backend add"},
		{[]string{"backends", "ls", "-h"}, "Usage: playmark backend list"},
		{[]string{"backend", "--help"}, "Usage: playmark backend add"},
		{[]string{"tasks", "set", "--help"}, "Usage: playmark tasks set"},
		{[]string{"history", "--help"}, "Usage: playmark history"},
		{[]string{"held", "--help"}, "Usage: playmark held"},
		{[]string{"daemon", "--help"}, "Usage: playmark daemon"},
		{[]string{"webhooks", "--help"}, "Usage: playmark webhooks"},
		{[]string{"restore", "--help"}, "Usage: playmark restore"},
	}
	for _, c := range cases {
		code, out, stderr := pm(t, dir, c.args...)
		if code != exitOK || !strings.HasPrefix(out, c.want) || !strings.Contains(out, "Example:") || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", c.args, code, stderr, out)
		}
	}
	// Every command has help.
	for _, cmd := range []string{"import", "export", "sync", "held", "unmatched", "backup", "restore", "tasks", "status", "history",
		"webhooks", "daemon", "simulate", "demo", "backend add", "backend list", "backend set", "backend test", "backend remove", "tasks set"} {
		if !strings.Contains(commandHelp[cmd], "Example:\n  playmark ") {
			t.Errorf("%s: no help with an example", cmd)
		}
	}
	code, _, stderr := pm(t, dir, "help", "frobnicate")
	if code != exitUsage || !strings.Contains(stderr, "unknown command") {
		t.Errorf("help frobnicate: exit %d, %q", code, stderr)
	}
}

// The exit codes the README documents, one case each.
func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()

	// sync with no backends: say how to add one, exit 2, record no run.
	for _, cmd := range []string{"sync", "import", "export"} {
		code, out, stderr := pm(t, dir, cmd)
		if code != exitUsage || !strings.Contains(stderr, "no backends yet") || !strings.Contains(stderr, "playmark backend add") || out != "" {
			t.Errorf("%s with no backends: exit %d, stdout %q, stderr %q", cmd, code, out, stderr)
		}
	}
	code, out, _ := pm(t, dir, "history")
	if code != 0 || !strings.Contains(out, "No runs yet") {
		t.Errorf("a refused sync recorded a run:\n%s", out)
	}

	// history --run for a run that does not exist: exit 2, say so.
	code, out, stderr := pm(t, dir, "history", "--run", "99")
	if code != exitUsage || !strings.Contains(stderr, "no run 99") || out != "" {
		t.Errorf("history --run 99: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	srv, err := StartSimulator(backend.Jellyfin, SimOptions{Items: 30, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code, _, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL(), "--token", srv.Token(), "--user", srv.UserID()); code != 0 {
		t.Fatal(stderr)
	}
	code, out, _ = pm(t, dir, "import")
	if code != exitOK {
		t.Fatalf("import: %d\n%s", code, out)
	}
	// An existing run without changes: exit 0.
	if code, _, stderr := pm(t, dir, "history", "--run", "1"); code != exitOK {
		t.Errorf("history --run 1: exit %d, %q", code, stderr)
	}

	// Another run in progress: its own exit code, 3, and nothing done.
	st, err := state.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	release, err := st.LockRuns(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr = pm(t, dir, "sync")
	release()
	st.Close()
	if code != exitBusy || !strings.Contains(stderr, "another sync run is in progress") || out != "" {
		t.Errorf("sync while another runs: exit %d, stdout %q, stderr %q; want exit 3", code, out, stderr)
	}
}

// Ctrl+C during a run: "cancelled", exit 130, and the per-backend figures
// so far; never an SQL error.
func TestCLICancelledRun(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Emby, SimOptions{Items: 2000, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code, _, stderr := pm(t, dir, "backend", "add", "emby", "--type", "emby", "--url", srv.URL(), "--token", srv.Token(), "--user", srv.UserID()); code != 0 {
		t.Fatal(stderr)
	}
	// Every listing page is slow: the run is still reading when cancelled.
	srv.Faults().Add(simulate.Fault{Kind: simulate.FaultLatency, Path: "/Items", Latency: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1200*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, ctx: ctx}
	code := c.main([]string{"--config-dir", dir, "import", "--full"})
	if code != exitCancelled || !strings.Contains(errb.String(), "cancelled") || strings.Contains(errb.String()+out.String(), "sql:") {
		t.Errorf("cancelled import: exit %d, stderr %q, stdout:\n%s", code, errb.String(), out.String())
	}
	t.Logf("stdout:\n%s\nstderr: %s", out.String(), errb.String())
	if !strings.Contains(out.String(), "cancelled") || !strings.Contains(out.String(), "emby") {
		t.Errorf("the report of a cancelled run lacks its figures so far:\n%s", out.String())
	}
	_, hist, _ := pm(t, dir, "history")
	if !strings.Contains(hist, "cancelled") {
		t.Errorf("history does not show the cancelled run:\n%s", hist)
	}
}

// status forgets the errors of backends removed since.
func TestCLIStatusForgetsRemovedBackends(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartSimulator(backend.Emby, SimOptions{Items: 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	if code, _, stderr := pm(t, dir, "backend", "add", "gone", "--type", "emby", "--url", url, "--token", srv.Token(), "--user", "admin"); code != 0 {
		t.Fatal(stderr)
	}
	srv.Close()
	if code, _, _ := pm(t, dir, "import"); code != exitFailed {
		t.Fatalf("import with the server down: exit %d, want 1", code)
	}
	_, out, _ := pm(t, dir, "status")
	if !strings.Contains(out, "gone is unreachable") {
		t.Fatalf("status before the removal does not name the failure:\n%s", out)
	}
	pm(t, dir, "backend", "remove", "gone")
	_, out, _ = pm(t, dir, "status")
	_, js, _ := pm(t, dir, "status", "--json")
	if strings.Contains(out+js, "gone") {
		t.Errorf("status still speaks of the removed backend:\n%s\n%s", out, js)
	}
}
