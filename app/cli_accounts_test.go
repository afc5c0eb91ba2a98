package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend/simulate"
)

// withStdin has the next command read s from standard input.
func withStdin(t *testing.T, s string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(s)
	t.Cleanup(func() { stdin = old })
}

func TestCLISignInPlexEndToEnd(t *testing.T) {
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

	code, out, errb := pm(t, dir, "signin", "plex")
	if code != 0 || !strings.Contains(out, tv.URL()+"/auth#?clientID=playmark-") || !strings.Contains(out, "Signed in as owner: account plextv-owner") {
		t.Fatalf("signin plex: exit %d\n%s%s", code, out, errb)
	}
	code, out, _ = pm(t, dir, "accounts")
	if code != 0 || !strings.Contains(out, "plextv-owner") || !strings.Contains(out, "plex.tv") {
		t.Fatalf("accounts: exit %d\n%s", code, out)
	}
	code, out, _ = pm(t, dir, "servers")
	for _, want := range []string{"Simulated Plex (plex, account plextv-owner)", srv.URL(), "owner (you, admin)", "Anna (home)", "Ben (home, PIN)", "Carol (friend)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("servers: exit %d, want %q in\n%s", code, want, out)
		}
	}

	// Backends from the account, no token pasted.
	if code, out, errb := pm(t, dir, "backend", "add", "anna", "--account", "plextv-owner", "--user", "Anna"); code != 0 || !strings.Contains(out, "as Anna on Simulated Plex") {
		t.Fatalf("backend add anna: exit %d\n%s%s", code, out, errb)
	}
	withStdin(t, "0000\n")
	if code, _, errb := pm(t, dir, "backend", "add", "ben", "--account", "plextv-owner", "--user", "Ben", "--pin-stdin"); code != exitFailed || !strings.Contains(errb, "nothing saved") {
		t.Fatalf("backend add ben with a wrong PIN: exit %d\n%s", code, errb)
	}
	withStdin(t, "1234\n")
	if code, out, errb := pm(t, dir, "backend", "add", "ben", "--account", "plextv-owner", "--user", "Ben", "--pin-stdin"); code != 0 || !strings.Contains(out, "as Ben") {
		t.Fatalf("backend add ben: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := pm(t, dir, "backend", "add", "carol", "--account", "plextv-owner", "--server", "Simulated Plex", "--user", "carol"); code != 0 || !strings.Contains(out, "as Carol") {
		t.Fatalf("backend add carol: exit %d\n%s%s", code, out, errb)
	}
	if code, _, errb := pm(t, dir, "backend", "add", "x", "--account", "plextv-owner", "--user", "Nobody"); code != exitUsage || !strings.Contains(errb, "has no user") {
		t.Fatalf("backend add for an unknown user: exit %d\n%s", code, errb)
	}
	if code, _, errb := pm(t, dir, "backend", "add", "x", "--account", "plextv-owner", "--token", "t"); code != exitUsage || !strings.Contains(errb, "do not go together") {
		t.Fatalf("backend add --account --token: exit %d\n%s", code, errb)
	}
	if code, out, errb := pm(t, dir, "import"); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errb)
	}
	// Revoked on the server: the next import derives Anna's token again.
	if err := tv.Revoke(srv, "Anna"); err != nil {
		t.Fatal(err)
	}
	if code, out, errb := pm(t, dir, "import"); code != 0 {
		t.Fatalf("import after a revoked token: exit %d\n%s%s", code, out, errb)
	}
	code, out, _ = pm(t, dir, "accounts", "--json")
	if code != 0 || !strings.Contains(out, `"anna"`) || !strings.Contains(out, `"carol"`) {
		t.Fatalf("accounts --json: exit %d\n%s", code, out)
	}

	// No token in anything printed or logged.
	var printed strings.Builder
	for _, args := range [][]string{{"accounts"}, {"accounts", "--json"}, {"servers", "--json"}, {"backend", "list", "--json"}, {"history", "--json"}, {"status", "--json"}} {
		_, o, e := pm(t, dir, args...)
		printed.WriteString(o + e)
	}
	logs, _ := os.ReadFile(filepath.Join(dir, "playmark.log"))
	printed.Write(logs)
	annaID, _ := tv.ServerAccount(srv, "Anna")
	for _, tok := range []string{tv.OwnerToken(), srv.AccountToken(annaID), srv.Token()} {
		if strings.Contains(printed.String(), tok) {
			t.Fatalf("a token was printed or logged")
		}
	}

	if code, out, _ := pm(t, dir, "accounts", "remove", "plextv-owner"); code != 0 || !strings.Contains(out, "Removed account") {
		t.Fatalf("accounts remove: exit %d\n%s", code, out)
	}
	if code, out, _ := pm(t, dir, "accounts"); code != 0 || !strings.Contains(out, "No accounts") {
		t.Fatalf("accounts after remove: exit %d\n%s", code, out)
	}
	if code, _, _ := pm(t, dir, "backend", "test", "anna"); code != 0 {
		t.Fatal("the backend went with its account")
	}
}

func TestCLISignInJellyfinAndEmby(t *testing.T) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: 20, Seed: 5})
	jf, err := simulate.NewJellyfin(cat, simulate.Options{LegacyAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	em, err := simulate.NewEmby(cat, simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	jf.SetPassword("admin", "jf pass")
	em.AddUser("Anna", "emby pass", false)
	old := signinPoll
	signinPoll = 20 * time.Millisecond
	defer func() { signinPoll = old }()
	dir := t.TempDir()

	withStdin(t, "wrong\n")
	if code, _, errb := pm(t, dir, "signin", "jellyfin", "--url", jf.URL(), "--user", "admin", "--password-stdin"); code != exitFailed || !strings.Contains(errb, "refused the user name or password") {
		t.Fatalf("wrong password: exit %d\n%s", code, errb)
	}
	withStdin(t, "jf pass\n")
	if code, out, errb := pm(t, dir, "signin", "jellyfin", "--url", jf.URL(), "--user", "admin", "--password-stdin"); code != 0 || !strings.Contains(out, "account jellyfin-admin") {
		t.Fatalf("signin jellyfin: exit %d\n%s%s", code, out, errb)
	}
	jf.SetQuickConnect(true, 100*time.Millisecond, "guest")
	code, out, errb := pm(t, dir, "signin", "jellyfin", "--url", jf.URL(), "--quick-connect")
	if code != 0 || !strings.Contains(out, "Quick Connect") || !strings.Contains(out, "Signed in as guest") {
		t.Fatalf("signin jellyfin --quick-connect: exit %d\n%s%s", code, out, errb)
	}
	withStdin(t, "emby pass\n")
	if code, out, errb := pm(t, dir, "signin", "emby", "--url", em.URL(), "--user", "anna", "--password-stdin"); code != 0 || !strings.Contains(out, "account emby-anna") {
		t.Fatalf("signin emby: exit %d\n%s%s", code, out, errb)
	}
	if code, _, errb := pm(t, dir, "signin", "emby", "--url", em.URL(), "--quick-connect"); code != exitUsage || !strings.Contains(errb, "no Quick Connect") {
		t.Fatalf("emby quick connect: exit %d\n%s", code, errb)
	}
	// The admin's account lists the server's users; a backend for another
	// user acts with the admin's token.
	code, out, _ = pm(t, dir, "servers", "--account", "jellyfin-admin")
	if code != 0 || !strings.Contains(out, "admin (you, admin)") || !strings.Contains(out, "guest (user)") {
		t.Fatalf("servers: exit %d\n%s", code, out)
	}
	if code, out, errb := pm(t, dir, "backend", "add", "jf-guest", "--account", "jellyfin-admin", "--user", "guest"); code != 0 || !strings.Contains(out, "as guest") {
		t.Fatalf("backend add jf-guest: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := pm(t, dir, "backend", "add", "emby-anna", "--account", "emby-anna"); code != 0 || !strings.Contains(out, "as Anna") {
		t.Fatalf("backend add emby-anna: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := pm(t, dir, "import"); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errb)
	}
	code, out, _ = pm(t, dir, "accounts")
	for _, want := range []string{"jellyfin-admin", "jellyfin-guest", "emby-anna", "jf-guest"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("accounts: want %q in\n%s", want, out)
		}
	}
}
