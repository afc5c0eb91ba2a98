package plextv_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/plex"
	"playmark/sync/backend/plextv"
	"playmark/sync/backend/simulate"
)

type household struct {
	tv    *simulate.PlexTV
	srv   *simulate.PlexServer
	other *simulate.PlexServer
	cat   *simulate.Catalog
}

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// newHousehold: plex.tv with the owner, Anna (managed, no PIN), Ben (PIN
// 1234) and a friend Carol, and one server announced at a dead local
// address, a remote one that is another server, and a relay that is it.
func newHousehold(t *testing.T, opt simulate.PlexTVOptions) *household {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: 40, Seed: 7})
	srv, err := simulate.NewPlex(cat, simulate.Options{Name: "Living room"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	other, err := simulate.NewPlex(cat, simulate.Options{Name: "Someone else's"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	tv, err := simulate.NewPlexTV(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tv.Close)
	if _, err := tv.AddHomeUser("Anna", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.AddHomeUser("Ben", "1234", false); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.AddFriend("Carol"); err != nil {
		t.Fatal(err)
	}
	if err := tv.AddServer(srv,
		simulate.TVConnection{URI: deadURL(t), Local: true},
		simulate.TVConnection{URI: other.URL()},
		simulate.TVConnection{URI: srv.URL(), Relay: true},
	); err != nil {
		t.Fatal(err)
	}
	return &household{tv: tv, srv: srv, other: other, cat: cat}
}

func newClient(t *testing.T, base string) *plextv.Client {
	t.Helper()
	c, err := plextv.New(plextv.Config{URL: base, ClientID: "test-install"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPinSignIn(t *testing.T) {
	h := newHousehold(t, simulate.PlexTVOptions{})
	c := newClient(t, h.tv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pin, err := c.NewPin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pin.Code) < 16 || pin.ExpiresAt.IsZero() {
		t.Fatalf("pin = %+v, want a strong code and an expiry", pin)
	}
	link := c.AuthURL(pin)
	for _, want := range []string{h.tv.URL() + "/auth#?", "clientID=test-install", "code=" + pin.Code, "context%5Bdevice%5D%5Bproduct%5D=Playmark"} {
		if !strings.Contains(link, want) {
			t.Errorf("auth URL %s lacks %s", link, want)
		}
	}
	// Not approved yet: no token.
	if got, err := c.CheckPin(ctx, pin.ID); err != nil || got.AuthToken != "" {
		t.Fatalf("CheckPin before approval = %+v, %v", got, err)
	}
	time.AfterFunc(300*time.Millisecond, func() { h.tv.Approve(pin.Code) })
	tok, err := c.WaitPin(ctx, pin, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if tok != h.tv.OwnerToken() {
		t.Fatalf("token = %q, want the owner's", tok)
	}
	acct, err := c.Account(ctx, tok)
	if err != nil || acct.Name() != "owner" {
		t.Fatalf("Account = %+v, %v", acct, err)
	}
	// Another install may not read the PIN.
	other, _ := plextv.New(plextv.Config{URL: h.tv.URL(), ClientID: "another-install"})
	if _, err := other.CheckPin(ctx, pin.ID); !errors.Is(err, plextv.ErrPinExpired) {
		t.Fatalf("another install's CheckPin = %v, want not found", err)
	}
}

func TestPinExpires(t *testing.T) {
	h := newHousehold(t, simulate.PlexTVOptions{PinTTL: 1500 * time.Millisecond})
	c := newClient(t, h.tv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pin, err := c.NewPin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.WaitPin(ctx, pin, 100*time.Millisecond)
	if !errors.Is(err, plextv.ErrPinExpired) {
		t.Fatalf("WaitPin = %v, want ErrPinExpired", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("WaitPin took %s after a 1.5 s PIN", d)
	}
}

func TestPinAutoApprove(t *testing.T) {
	h := newHousehold(t, simulate.PlexTVOptions{AutoApprove: 200 * time.Millisecond})
	c := newClient(t, h.tv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pin, err := c.NewPin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := c.WaitPin(ctx, pin, 50*time.Millisecond); err != nil || tok != h.tv.OwnerToken() {
		t.Fatalf("WaitPin = %q, %v", tok, err)
	}
}

// plexAs opens the server at url as the holder of token.
func plexAs(t *testing.T, url, token string) *plex.Client {
	t.Helper()
	c, err := plex.New(backend.Config{URL: url, Token: token, ClientID: "test-install"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServersHomeUsersAndFriends(t *testing.T) {
	h := newHousehold(t, simulate.PlexTVOptions{})
	c := newClient(t, h.tv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	owner := h.tv.OwnerToken()

	servers, err := c.Servers(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 || servers[0].ClientIdentifier != h.srv.ServerID() || servers[0].AccessToken != h.srv.Token() {
		t.Fatalf("servers = %+v, want the one server with the owner's token (the player left out)", servers)
	}
	// The local address is dead and the remote one is another server: the
	// relay is the one that answers as this server.
	uri, err := c.Connect(ctx, servers[0])
	if err != nil {
		t.Fatal(err)
	}
	if uri != h.srv.URL() {
		t.Fatalf("Connect = %s, want the relay %s", uri, h.srv.URL())
	}

	users, err := c.HomeUsers(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]plextv.HomeUser{}
	for _, u := range users {
		byName[u.Name()] = u
	}
	if len(users) != 3 || !byName["owner"].Admin || byName["Anna"].Protected || !byName["Anna"].Restricted || !byName["Ben"].Protected {
		t.Fatalf("home users = %+v", users)
	}

	// Anna: switch, then her resources give her token on the server, which
	// reads and writes her own play state.
	annaTV, err := c.Switch(ctx, owner, byName["Anna"].UUID, "")
	if err != nil {
		t.Fatal(err)
	}
	annaTok, err := c.ServerToken(ctx, annaTV, h.srv.ServerID())
	if err != nil {
		t.Fatal(err)
	}
	if annaTok == owner || annaTok == h.srv.Token() {
		t.Fatal("Anna's server token is the owner's")
	}
	anna := plexAs(t, uri, annaTok)
	info, err := anna.Identify(ctx)
	if err != nil || info.UserName != "Anna" {
		t.Fatalf("Identify as Anna = %+v, %v", info, err)
	}
	key := h.cat.Media[0].Key
	if err := anna.MarkPlayed(ctx, h.srv.RemoteID(key), time.Time{}); err != nil {
		t.Fatal(err)
	}
	annaID, _ := h.tv.ServerAccount(h.srv, "Anna")
	if !h.srv.AccountWatch(annaID, key).Played || h.srv.Watch(key).Played {
		t.Fatal("Anna's mark did not land on Anna alone")
	}

	// Ben has a PIN: without it (or with a wrong one) the switch is refused.
	if _, err := c.Switch(ctx, owner, byName["Ben"].UUID, ""); !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("switch to Ben without PIN = %v, want ErrUnauthorized", err)
	}
	if _, err := c.Switch(ctx, owner, byName["Ben"].UUID, "9999"); !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("switch to Ben with a wrong PIN = %v, want ErrUnauthorized", err)
	}
	benTV, err := c.Switch(ctx, owner, byName["Ben"].UUID, "1234")
	if err != nil {
		t.Fatal(err)
	}
	benTok, err := c.ServerToken(ctx, benTV, h.srv.ServerID())
	if err != nil {
		t.Fatal(err)
	}
	if info, err := plexAs(t, uri, benTok).Identify(ctx); err != nil || info.UserName != "Ben" {
		t.Fatalf("Identify as Ben = %+v, %v", info, err)
	}

	// Carol, a friend: shared_servers (XML) gives her token.
	friends, err := c.SharedServers(ctx, owner, h.srv.ServerID())
	if err != nil {
		t.Fatal(err)
	}
	if len(friends) != 1 || friends[0].Username != "Carol" || friends[0].AccessToken == "" {
		t.Fatalf("friends = %+v", friends)
	}
	if info, err := plexAs(t, uri, friends[0].AccessToken).Identify(ctx); err != nil || info.UserName != "Carol" {
		t.Fatalf("Identify as Carol = %+v, %v", info, err)
	}
	// Only the owner may list them.
	if _, err := c.SharedServers(ctx, annaTV, h.srv.ServerID()); !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("shared_servers as Anna = %v, want ErrUnauthorized", err)
	}

	// Revoked: the old token is rejected, and deriving again gives one that works.
	if err := h.tv.Revoke(h.srv, "Anna"); err != nil {
		t.Fatal(err)
	}
	if _, err := anna.Identify(ctx); !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("revoked token: Identify = %v, want ErrUnauthorized", err)
	}
	again, err := c.ServerToken(ctx, annaTV, h.srv.ServerID())
	if err != nil || again == annaTok {
		t.Fatalf("derived again: %v (same token: %v)", err, again == annaTok)
	}
}

func TestRejectedAccountToken(t *testing.T) {
	h := newHousehold(t, simulate.PlexTVOptions{})
	c := newClient(t, h.tv.URL())
	ctx := context.Background()
	_, err := c.Servers(ctx, "not-a-token")
	if !errors.Is(err, backend.ErrUnauthorized) {
		t.Fatalf("Servers with a bad token = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "not-a-token") {
		t.Fatal("the error shows the token")
	}
}

func TestConnectPrefersLocalThenRemote(t *testing.T) {
	h := newHousehold(t, simulate.PlexTVOptions{})
	c := newClient(t, h.tv.URL())
	ctx := context.Background()
	viaLocalhost := strings.Replace(h.srv.URL(), "127.0.0.1", "localhost", 1)
	r := plextv.Resource{Name: "x", ClientIdentifier: h.srv.ServerID(), Connections: []plextv.Connection{
		{URI: h.srv.URL() + "/relay", Relay: true},
		{URI: h.srv.URL()},
		{URI: viaLocalhost, Local: true},
	}}
	if got, err := c.Connect(ctx, r); err != nil || got != viaLocalhost {
		t.Fatalf("Connect = %s, %v; want the local %s", got, err, viaLocalhost)
	}
	r.Connections = r.Connections[:2]
	if got, err := c.Connect(ctx, r); err != nil || got != h.srv.URL() {
		t.Fatalf("Connect without local = %s, %v; want the remote before the relay", got, err)
	}
	r.Connections = []plextv.Connection{{URI: deadURL(t), Local: true}, {URI: h.other.URL()}}
	if _, err := c.Connect(ctx, r); !errors.Is(err, plextv.ErrNoConnection) {
		t.Fatalf("Connect with no good address = %v, want ErrNoConnection", err)
	}
}
