package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

func TestCLIHouseholdAndPeople(t *testing.T) {
	tv, srv, err := StartPlexTV("", "", 40, 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer tv.Close()
	defer srv.Close()
	t.Setenv("PLAYMARK_PLEXTV_URL", tv.URL())
	old := signinPoll
	signinPoll = 20 * time.Millisecond
	defer func() { signinPoll = old }()
	dir := t.TempDir()
	if code, out, errb := pm(t, dir, "signin", "plex"); code != 0 {
		t.Fatalf("signin plex: exit %d\n%s%s", code, out, errb)
	}
	// The one server the account reaches; Ben's PIN asked on a terminal
	// there is none of: nothing added.
	if code, _, errb := pm(t, dir, "household", "add"); code != exitUsage || !strings.Contains(errb, "--pin-stdin") {
		t.Fatalf("household add with no terminal for Ben's PIN: exit %d %s", code, errb)
	}
	if code, out, _ := pm(t, dir, "people"); code != 0 || !strings.Contains(out, "No people yet") {
		t.Fatalf("people after a household add that asked in vain:\n%s", out)
	}
	if code, _, errb := pm(t, dir, "household", "add", "--server", "Simulated Plex", "--users", "Anna,Nobody"); code != exitUsage || !strings.Contains(errb, "has no user") {
		t.Fatalf("household add with an unknown user: exit %d\n%s", code, errb)
	}
	withStdin(t, "Ben=1234\n")
	code, out, errb := pm(t, dir, "household", "add", "--server", "Simulated Plex", "--pin-stdin", "--export", "on")
	if code != 0 {
		t.Fatalf("household add: exit %d\n%s%s", code, out, errb)
	}
	for _, want := range []string{"simulated-plex-owner", "simulated-plex-anna", "simulated-plex-ben", "simulated-plex-carol", "Carol"} {
		if !strings.Contains(out, want) {
			t.Fatalf("household add: want %q in\n%s", want, out)
		}
	}
	code, out, _ = pm(t, dir, "backend", "list")
	if code != 0 || !strings.Contains(out, "PERSON") || !strings.Contains(out, "simulated-plex-ben    Ben ") {
		t.Fatalf("backend list:\n%s", out)
	}

	// A backend by address and token, for Anna on Jellyfin.
	jf, err := simulate.NewJellyfin(simulate.Generate(simulate.GenerateOptions{Items: 40, Seed: 1}), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	if code, out, errb := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", jf.URL(), "--token", jf.Token(), "--export", "on"); code != 0 {
		t.Fatalf("backend add jf: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := pm(t, dir, "people", "link", "anna", "jf"); code != 0 || !strings.Contains(out, "belongs to Anna") {
		t.Fatalf("people link: exit %d\n%s%s", code, out, errb)
	}
	code, out, _ = pm(t, dir, "people", "--json")
	var people []personJSON
	if err := json.Unmarshal([]byte(out), &people); code != 0 || err != nil || len(people) != 4 {
		t.Fatalf("people --json: exit %d %v\n%s", code, err, out)
	}
	for _, p := range people {
		if p.Name == "Anna" && strings.Join(p.Backends, ",") != "jf,simulated-plex-anna" {
			t.Errorf("Anna's backends = %v", p.Backends)
		}
	}

	// sync --person: Anna's backends only.
	code, out, errb = pm(t, dir, "sync", "--person", "ANNA", "--yes")
	if code != 0 || !strings.Contains(out, "simulated-plex-anna") || strings.Contains(out, "simulated-plex-ben") {
		t.Fatalf("sync --person Anna: exit %d\n%s%s", code, out, errb)
	}
	if code, _, errb := pm(t, dir, "sync", "--person", "Zed"); code != exitUsage || !strings.Contains(errb, `no person "Zed"`) {
		t.Fatalf("sync --person Zed: exit %d\n%s", code, errb)
	}
	code, out, _ = pm(t, dir, "status", "--person", "anna")
	if code != 0 || !strings.Contains(out, "Backend jf ") || strings.Contains(out, "simulated-plex-ben") {
		t.Fatalf("status --person anna:\n%s", out)
	}
	code, out, _ = pm(t, dir, "history", "--person", "Ben")
	if code != 0 || !strings.Contains(out, "No runs yet") {
		t.Fatalf("history --person Ben (who was not synced):\n%s", out)
	}
	code, out, _ = pm(t, dir, "history", "--person", "Anna")
	if code != 0 || !strings.Contains(out, "simulated-plex-anna") {
		t.Fatalf("history --person Anna:\n%s", out)
	}
	if code, out, _ := pm(t, dir, "unmatched", "--person", "Anna"); code != 0 {
		t.Fatalf("unmatched --person: exit %d\n%s", code, out)
	}

	// rename, then merge, by the names people see.
	if code, out, errb := pm(t, dir, "people", "rename", "carol", "Caroline"); code != 0 || !strings.Contains(out, "Renamed Carol to Caroline") {
		t.Fatalf("people rename: exit %d\n%s%s", code, out, errb)
	}
	if code, _, errb := pm(t, dir, "people", "rename", "Caroline", "ben"); code != exitUsage || !strings.Contains(errb, "people merge") {
		t.Fatalf("people rename onto another's name: exit %d\n%s", code, errb)
	}
	if code, out, errb := pm(t, dir, "people", "merge", "Caroline", "owner"); code != 0 || !strings.Contains(out, "Merged Caroline into owner") {
		t.Fatalf("people merge: exit %d\n%s%s", code, out, errb)
	}
	code, out, _ = pm(t, dir, "people")
	if code != 0 || strings.Contains(out, "Caroline") || !strings.Contains(out, "simulated-plex-carol, simulated-plex-owner") {
		t.Fatalf("people after merge:\n%s", out)
	}
	if code, _, _ := pm(t, dir, "people", "link", "Anna", "nope"); code != exitUsage {
		t.Fatalf("people link to no backend: exit %d", code)
	}

	// backend add from an account links by user name too, or to --person.
	if code, out, errb := pm(t, dir, "backend", "add", "anna2", "--account", "plextv-owner", "--user", "Anna"); code != 0 || !strings.Contains(out, "for Anna:") {
		t.Fatalf("backend add --account --user Anna: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := pm(t, dir, "backend", "add", "anna3", "--account", "plextv-owner", "--user", "Anna", "--person", "ben"); code != 0 || !strings.Contains(out, "for Ben:") {
		t.Fatalf("backend add --account --person ben: exit %d\n%s%s", code, out, errb)
	}
	if code, _, errb := pm(t, dir, "backend", "add", "anna4", "--account", "plextv-owner", "--user", "Anna", "--person", "Zed"); code != exitUsage || !strings.Contains(errb, "no person") {
		t.Fatalf("backend add --person Zed: exit %d\n%s", code, errb)
	}
}

// people remove: a person without backends goes with their play state
// (after a backup); one with backends is refused, naming them and the two
// ways on, unless --with-backends.
func TestCLIPeopleRemove(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	anna, _ := st.EnsurePerson(ctx, "Anna")
	if _, err := st.EnsurePerson(ctx, "Guest room"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddBackend(ctx, state.Backend{Name: "plex-anna", Kind: "plex", URL: "http://127.0.0.1:1", Token: "t", PersonID: anna.ID}); err != nil {
		t.Fatal(err)
	}
	// During a run: exit 3, nothing done.
	release, err := st.LockRuns(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errb := pm(t, dir, "people", "remove", "Guest room"); code != exitBusy || !strings.Contains(errb, "nothing was done") {
		t.Errorf("people remove during a run: exit %d, %q; want 3", code, errb)
	}
	release()
	st.Close()

	code, out, errb := pm(t, dir, "people", "remove", "Anna")
	if code != exitUsage || out != "" {
		t.Fatalf("people remove Anna (with a backend): exit %d, stdout %q; want 2 and nothing done", code, out)
	}
	for _, want := range []string{"plex-anna", "people link PERSON BACKEND", "people remove Anna --with-backends", "Nothing was removed"} {
		if !strings.Contains(errb, want) {
			t.Errorf("people remove Anna: want %q in %q", want, errb)
		}
	}
	if code, _, errb := pm(t, dir, "people", "remove", "Zed"); code != exitUsage || !strings.Contains(errb, `no person "Zed"`) {
		t.Errorf("people remove Zed: exit %d, %q", code, errb)
	}
	if code, _, _ := pm(t, dir, "people", "remove"); code != exitUsage {
		t.Errorf("people remove with no name: exit %d", code)
	}
	if code, out, _ := pm(t, dir, "people", "remove", "--help"); code != exitOK || !strings.HasPrefix(out, "Usage: playmark people remove") {
		t.Errorf("people remove --help: exit %d\n%s", code, out)
	}

	code, out, errb = pm(t, dir, "people", "remove", "guest room")
	if code != exitOK || !strings.Contains(out, "Removed Guest room") || !strings.Contains(out, "backup") {
		t.Fatalf("people remove 'guest room': exit %d\n%s%s", code, out, errb)
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, "backups", "*before-person-remove*")); len(backups) != 1 {
		t.Errorf("backups before the removal: %v; want one", backups)
	}
	if _, out, _ := pm(t, dir, "people"); strings.Contains(out, "Guest room") || !strings.Contains(out, "Anna") {
		t.Errorf("people after removing Guest room:\n%s", out)
	}

	code, out, errb = pm(t, dir, "people", "remove", "Anna", "--with-backends")
	if code != exitOK || !strings.Contains(out, "plex-anna") {
		t.Fatalf("people remove Anna --with-backends: exit %d\n%s%s", code, out, errb)
	}
	if _, out, _ := pm(t, dir, "backend", "list"); strings.Contains(out, "plex-anna") {
		t.Errorf("backend list after removing Anna with her backends:\n%s", out)
	}
}

// people link drops the export held for the moved backend (it was planned
// from the former person's state) and says so, here and in history.
func TestCLIPeopleLinkDropsTheHeldExport(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := state.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	anna, _ := st.EnsurePerson(ctx, "Anna")
	if _, err := st.EnsurePerson(ctx, "Ben"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddBackend(ctx, state.Backend{Name: "plex-anna", Kind: "plex", URL: "http://127.0.0.1:1", Token: "t", PersonID: anna.ID}); err != nil {
		t.Fatal(err)
	}
	if err := st.Hold(ctx, state.Held{RunID: 1, Backend: "plex-anna", Unwatches: 40, Watched: 50}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, out, _ := pm(t, dir, "people", "link", "Anna", "plex-anna"); code != exitOK || !strings.Contains(out, "already") {
		t.Errorf("people link to the same person: exit %d\n%s", code, out)
	}
	if _, out, _ := pm(t, dir, "held"); !strings.Contains(out, "plex-anna") {
		t.Fatalf("a link to the same person dropped the held export:\n%s", out)
	}
	code, out, errb := pm(t, dir, "people", "link", "Ben", "plex-anna")
	if code != exitOK || !strings.Contains(out, "40 items to mark unwatched") || !strings.Contains(out, "plans again for Ben") {
		t.Fatalf("people link Ben plex-anna: exit %d\n%s%s", code, out, errb)
	}
	if _, out, _ := pm(t, dir, "held"); !strings.Contains(out, "No exports are held") {
		t.Errorf("held after the move:\n%s", out)
	}
	if _, out, _ := pm(t, dir, "history"); !strings.Contains(out, "plex-anna moved from Anna to Ben") {
		t.Errorf("history after the move:\n%s", out)
	}
}
