package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"playmark/sync/accounts"
	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/state"
)

type env struct {
	tv  *simulate.PlexTV
	srv *simulate.PlexServer
	cat *simulate.Catalog
	st  *state.Store
	eng *engine.Engine
	m   *accounts.Manager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: 30, Seed: 11})
	srv, err := simulate.NewPlex(cat, simulate.Options{Name: "Living room"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tv, err := simulate.NewPlexTV(simulate.PlexTVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tv.Close)
	for _, u := range []struct {
		name, pin string
	}{{"Anna", ""}, {"Ben", "1234"}} {
		if _, err := tv.AddHomeUser(u.name, u.pin, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tv.AddFriend("Carol"); err != nil {
		t.Fatal(err)
	}
	if err := tv.AddServer(srv); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st, nil)
	id, err := eng.ClientID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := &accounts.Manager{Store: st, ClientID: id, PlexTVURL: tv.URL(), PollInterval: 20 * time.Millisecond}
	eng.SetTokenRenewer(m.Renew)
	return &env{tv: tv, srv: srv, cat: cat, st: st, eng: eng, m: m}
}

func (e *env) signIn(t *testing.T) state.Account {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var link string
	a, err := e.m.SignInPlex(ctx, func(l, code string) {
		link = l
		time.AfterFunc(100*time.Millisecond, func() { e.tv.Approve(code) })
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(link, "/auth#?clientID=") {
		t.Fatalf("link = %s", link)
	}
	return a
}

func TestPlexSignInFindsTheHousehold(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.signIn(t)
	if a.Kind != state.AccountPlexTV || a.UserName != "owner" || a.Name != "plextv-owner" {
		t.Fatalf("account = %+v", a)
	}
	// Signing in again is the same account with a new token, not a second one.
	if again := e.signIn(t); again.Name != a.Name {
		t.Fatalf("second sign-in made account %s", again.Name)
	}
	servers, err := e.m.Servers(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 || servers[0].ID != e.srv.ServerID() || servers[0].URL != e.srv.URL() {
		t.Fatalf("servers = %+v", servers)
	}
	s := servers[0]
	got := map[string]accounts.User{}
	for _, u := range s.Users {
		got[u.Name] = u
	}
	if len(s.Users) != 4 || got["owner"].Relation != state.RelationSelf || got["Anna"].Relation != state.RelationHome ||
		got["Anna"].Protected || !got["Ben"].Protected || got["Carol"].Relation != state.RelationFriend {
		t.Fatalf("users = %+v", s.Users)
	}

	// A backend per person, no token pasted; each acts as its own user.
	for _, tc := range []struct{ user, pin, backendName string }{
		{"owner", "", "plex-owner"}, {"Anna", "", "plex-anna"}, {"Ben", "1234", "plex-ben"}, {"Carol", "", "plex-carol"},
	} {
		u, err := accounts.FindUser(s, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		b, l, err := e.m.NewBackend(ctx, a, s, u, tc.pin)
		if err != nil {
			t.Fatalf("%s: %v", tc.user, err)
		}
		b.Name = tc.backendName
		if _, err := e.m.SaveBackend(ctx, b, l); err != nil {
			t.Fatal(err)
		}
		saved, _ := e.st.Backend(ctx, b.Name)
		info, err := e.eng.Test(ctx, saved)
		if err != nil || info.UserName != tc.user {
			t.Fatalf("%s: Test = %+v, %v", tc.user, info, err)
		}
	}
	ben, _ := accounts.FindUser(s, "Ben")
	if _, _, err := e.m.NewBackend(ctx, a, s, ben, ""); err == nil {
		t.Fatal("Ben without his PIN made a backend")
	}
	if _, _, err := e.m.NewBackend(ctx, a, s, ben, "9999"); !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("Ben with a wrong PIN: %v", err)
	}
}

func TestRevokedTokenIsDerivedAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.signIn(t)
	servers, err := e.m.Servers(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Anna", "Ben", "Carol"} {
		u, _ := accounts.FindUser(servers[0], name)
		b, l, err := e.m.NewBackend(ctx, a, servers[0], u, map[string]string{"Ben": "1234"}[name])
		if err != nil {
			t.Fatal(err)
		}
		b.Name = strings.ToLower(name)
		if _, err := e.m.SaveBackend(ctx, b, l); err != nil {
			t.Fatal(err)
		}
	}
	// A pasted token, not from an account: nothing to derive it from.
	if _, err := e.st.AddBackend(ctx, state.Backend{Name: "pasted", Kind: "plex", URL: e.srv.URL(), Token: e.srv.GuestToken(), Import: state.ImportFull}); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.eng.Import(ctx, engine.RunOptions{}); err != nil || rep.Status != state.RunOK {
		t.Fatalf("first import: %v, %+v", err, rep)
	}
	before := map[string]string{}
	for _, n := range []string{"anna", "ben", "carol"} {
		b, _ := e.st.Backend(ctx, n)
		before[n] = b.Token
		if err := e.tv.Revoke(e.srv, strings.ToUpper(n[:1])+n[1:]); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.SetAccountToken(2, "guest-revoked") // the pasted backend's token

	// Anna's mark on Plex is read with her new token, without asking.
	annaID, _ := e.tv.ServerAccount(e.srv, "Anna")
	key := e.cat.Media[0].Key
	e.srv.SetAccountWatch(annaID, key, simulate.Watch{Played: true, LastPlayed: time.Now().Add(-time.Hour)})

	rep, err := e.eng.Import(ctx, engine.RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, br := range rep.Backends {
		switch br.Backend {
		case "pasted":
			if !errors.Is(br.Err, backend.ErrUnauthorized) {
				t.Errorf("pasted: %v, want the rejection reported", br.Err)
			}
		default:
			if br.Err != nil {
				t.Errorf("%s: %v, want its token derived again", br.Backend, br.Err)
			}
		}
	}
	for n, old := range before {
		b, _ := e.st.Backend(ctx, n)
		if b.Token == old || b.Token == "" {
			t.Errorf("%s: token not renewed", n)
		}
	}

	// Signed out at plex.tv (the account's token no longer works): that
	// needs the user, and says so.
	e.tv.RevokeAccount()
	if err := e.tv.Revoke(e.srv, "Anna"); err != nil {
		t.Fatal(err)
	}
	anna, _ := e.st.Backend(ctx, "anna")
	if _, err := e.m.Renew(ctx, anna); !errors.Is(err, accounts.ErrAccountRejected) {
		t.Fatalf("Renew with the account signed out: %v, want ErrAccountRejected", err)
	}
	pasted, _ := e.st.Backend(ctx, "pasted")
	if _, err := e.m.Renew(ctx, pasted); !errors.Is(err, accounts.ErrNotLinked) {
		t.Fatalf("Renew of a pasted token: %v, want ErrNotLinked", err)
	}
}

func TestEventAfterARevokedTokenIsRead(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.signIn(t)
	servers, err := e.m.Servers(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := accounts.FindUser(servers[0], "Anna")
	b, l, err := e.m.NewBackend(ctx, a, servers[0], u, "")
	if err != nil {
		t.Fatal(err)
	}
	b.Name = "anna"
	if _, err := e.m.SaveBackend(ctx, b, l); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Import(ctx, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.tv.Revoke(e.srv, "Anna"); err != nil {
		t.Fatal(err)
	}
	annaID, _ := e.tv.ServerAccount(e.srv, "Anna")
	key := e.cat.Media[1].Key
	e.srv.SetAccountWatch(annaID, key, simulate.Watch{Played: true, LastPlayed: time.Now().Add(-time.Minute)})
	rep, err := e.eng.HandleEvents(ctx, []engine.Event{{Backend: "anna", ItemID: e.srv.RemoteID(key), Kind: engine.EventPlayed}})
	if err != nil {
		t.Fatal(err)
	}
	for _, br := range rep.Backends {
		if br.Err != nil {
			t.Fatalf("%s %s: %v, want the token derived again", br.Phase, br.Backend, br.Err)
		}
	}
}

// Signing in to Jellyfin again from this install replaces the device's
// token (the server forgets the old one): the backends made from the
// account take the new token by themselves at the next run.
func TestJellyfinSignInAgainHealsItsBackends(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	jf, err := simulate.NewJellyfin(e.cat, simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	jf.SetPassword("admin", "pw")
	a, err := e.m.SignInPassword(ctx, backend.Jellyfin, jf.URL(), "admin", "pw")
	if err != nil {
		t.Fatal(err)
	}
	servers, err := e.m.Servers(ctx, a)
	if err != nil || len(servers) != 1 || len(servers[0].Users) != 2 {
		t.Fatalf("servers = %+v, %v", servers, err)
	}
	for _, name := range []string{"admin", "guest"} {
		u, err := accounts.FindUser(servers[0], name)
		if err != nil {
			t.Fatal(err)
		}
		b, l, err := e.m.NewBackend(ctx, a, servers[0], u, "")
		if err != nil {
			t.Fatal(err)
		}
		b.Name = "jf-" + name
		if _, err := e.m.SaveBackend(ctx, b, l); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := e.eng.Import(ctx, engine.RunOptions{}); err != nil || rep.Status != state.RunOK {
		t.Fatalf("import: %v %+v", err, rep)
	}
	again, err := e.m.SignInPassword(ctx, backend.Jellyfin, jf.URL(), "admin", "pw")
	if err != nil || again.Name != a.Name {
		t.Fatalf("second sign-in: %+v, %v", again, err)
	}
	rep, err := e.eng.Import(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, br := range rep.Backends {
		if br.Err != nil {
			t.Errorf("%s: %v, want the new token taken from the account", br.Backend, br.Err)
		}
	}
	// Revoked at the server with no new sign-in: that needs the user.
	jf.RevokeSessions()
	b, _ := e.st.Backend(ctx, "jf-guest")
	if _, err := e.m.Renew(ctx, b); !errors.Is(err, accounts.ErrAccountRejected) || !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("Renew after the server revoked the account's token: %v, want ErrAccountRejected", err)
	}
}
