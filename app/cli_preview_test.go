package app

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// import --dry-run on a first import: per server, what an export would
// then change there (export off on both), and the items only learned
// counted as such, not as changes; nothing written.
func TestCLIFirstImportDryRunSaysWhatChangesPerServer(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []backend.Kind{backend.Plex, backend.Jellyfin} {
		srv, err := StartSimulator(k, SimOptions{Items: 60, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		if code, _, errb := pm(t, dir, "backend", "add", "sim-"+string(k), "--type", string(k), "--url", srv.URL(), "--token", srv.Token(), "--user", srv.UserID()); code != 0 {
			t.Fatalf("add %s: %s", k, errb)
		}
	}
	code, out, errb := pm(t, dir, "import", "--dry-run", "--full")
	if code != 0 {
		t.Fatalf("import --dry-run: exit %d\n%s%s", code, out, errb)
	}
	mustMatch := func(re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("import --dry-run: want /%s/ in\n%s", re, out)
		}
	}
	mustMatch(`NEW: \d+ items Playmark would know from now on, with their watch state; that changes nothing on a server`)
	mustMatch(`Per server, what would change there once its export is on`)
	mustMatch(`(?m)^  sim-plex \(export off\): \d+ marked watched`)
	mustMatch(`(?m)^  sim-jellyfin \(export off\): \d+ marked watched`)
	mustMatch(`(?m)^  .* sim-jellyfin +unwatched -> watched `) // a planned write, listed
	st, err := state.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if c, _ := st.Counts(context.Background()); c.Items != 0 {
		t.Errorf("the dry run left %d items", c.Items)
	}
	if strings.Contains(out, "export sim-plex  off") {
		t.Errorf("a plan shown as export off:\n%s", out)
	}
}
