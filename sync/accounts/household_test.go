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

func TestDefaultSelectionLeavesGuestsOut(t *testing.T) {
	got := accounts.DefaultSelection([]accounts.User{{Name: "owner"}, {Name: "Guest", Guest: true}, {Name: "Anna"}})
	if len(got) != 2 || got[0].Name != "owner" || got[1].Name != "Anna" {
		t.Fatalf("DefaultSelection = %+v", got)
	}
}

// household is a Plex server reached through plex.tv (owner, Anna, Ben
// with a PIN, friend Carol) and a Jellyfin and an Emby server with users
// "anna" and "Ben" besides their admin and guest.
type household struct {
	*env
	jf, emby *simulate.MediaBrowserServer
	byName   map[string]state.Backend
}

func newHousehold(t *testing.T) *household {
	t.Helper()
	e := newEnv(t)
	h := &household{env: e, byName: map[string]state.Backend{}}
	var err error
	if h.jf, err = simulate.NewJellyfin(e.cat, simulate.Options{Name: "Den"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.jf.Close)
	if h.emby, err = simulate.NewEmby(e.cat, simulate.Options{Name: "Attic"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.emby.Close)
	for _, s := range []*simulate.MediaBrowserServer{h.jf, h.emby} {
		s.SetPassword("admin", "pw")
		s.AddUser("anna", "", false)
		s.AddUser("Ben", "", false)
	}
	return h
}

func (h *household) add(t *testing.T, bs []state.Backend) {
	t.Helper()
	for _, b := range bs {
		h.byName[b.Name] = b
	}
}

func names(bs []state.Backend) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name+"="+b.Person)
	}
	return strings.Join(out, " ")
}

func TestHouseholdFromOneSignInKeepsEachPersonsState(t *testing.T) {
	h := newHousehold(t)
	ctx := context.Background()

	// Plex: one sign-in, everyone on the server but guests.
	a := h.signIn(t)
	servers, err := h.m.Servers(ctx, a)
	if err != nil || len(servers) != 1 {
		t.Fatalf("servers = %+v, %v", servers, err)
	}
	users := accounts.DefaultSelection(servers[0].Users)
	// Without Ben's PIN, Ben alone is left out, and the error says so.
	bs, err := h.m.AddHousehold(ctx, a, servers[0], users, nil)
	if err == nil || !strings.Contains(err.Error(), "Ben") || len(bs) != 3 {
		t.Fatalf("household without Ben's PIN = %s, %v", names(bs), err)
	}
	// Again with the PIN: Ben is added, the others are kept, not doubled.
	bs, err = h.m.AddHousehold(ctx, a, servers[0], users, map[string]string{"Ben": "1234"})
	if err != nil || len(bs) != 4 {
		t.Fatalf("household = %s, %v", names(bs), err)
	}
	if got := names(bs); got != "living-room-owner=owner living-room-anna=Anna living-room-ben=Ben living-room-carol=Carol" {
		t.Fatalf("household = %s", got)
	}
	h.add(t, bs)

	// Jellyfin and Emby: an admin's sign-in, two users picked; linked to
	// the same people by name, case ignored.
	for _, srv := range []struct {
		kind backend.Kind
		s    *simulate.MediaBrowserServer
	}{{backend.Jellyfin, h.jf}, {backend.Emby, h.emby}} {
		ma, err := h.m.SignInPassword(ctx, srv.kind, srv.s.URL(), "admin", "pw")
		if err != nil {
			t.Fatal(err)
		}
		ss, err := h.m.Servers(ctx, ma)
		if err != nil || len(ss) != 1 {
			t.Fatalf("%s servers = %+v, %v", srv.kind, ss, err)
		}
		var pick []accounts.User
		for _, n := range []string{"anna", "Ben"} {
			u, err := accounts.FindUser(ss[0], n)
			if err != nil {
				t.Fatal(err)
			}
			pick = append(pick, u)
		}
		bs, err := h.m.AddHousehold(ctx, ma, ss[0], pick, nil)
		if err != nil || len(bs) != 2 || bs[0].PersonID != h.byName["living-room-anna"].PersonID || bs[1].PersonID != h.byName["living-room-ben"].PersonID {
			t.Fatalf("%s household = %s, %v", srv.kind, names(bs), err)
		}
		h.add(t, bs)
	}
	people, _ := h.st.People(ctx)
	if len(people) != 4 {
		t.Fatalf("people = %+v; want owner, Anna, Ben, Carol", people)
	}
	for name, b := range h.byName {
		b.Export = true
		if err := h.st.UpdateBackend(ctx, b); err != nil {
			t.Fatal(err)
		}
		h.byName[name] = b
	}

	sync := func(what string) {
		t.Helper()
		rep, err := h.eng.Sync(ctx, engine.RunOptions{Yes: true})
		if err != nil || rep.Status != state.RunOK {
			for _, br := range rep.Backends {
				if br.Err != nil {
					t.Errorf("%s: %s %s: %v", what, br.Phase, br.Backend, br.Err)
				}
			}
			t.Fatalf("%s: sync %v, status %s", what, err, rep.Status)
		}
	}
	sync("first sync")

	annaPlex, _ := h.tv.ServerAccount(h.srv, "Anna")
	benPlex, _ := h.tv.ServerAccount(h.srv, "Ben")
	annaJF, benJF := h.jf.UserByName("anna"), h.jf.UserByName("Ben")
	annaEmby, benEmby := h.emby.UserByName("anna"), h.emby.UserByName("Ben")
	played := func(at time.Time) simulate.Watch { return simulate.Watch{Played: true, PlayCount: 1, LastPlayed: at} }

	// Anna's play on Plex reaches Anna's Jellyfin and Emby users, never Ben's.
	h.srv.SetAccountWatch(annaPlex, "m1", played(time.Now().Add(-10*time.Minute).Truncate(time.Second)))
	sync("after Anna's play")
	if !h.jf.WatchOf(annaJF, "m1").Played || !h.emby.WatchOf(annaEmby, "m1").Played {
		t.Errorf("Anna's play on Plex did not reach her Jellyfin (%+v) and Emby (%+v) users", h.jf.WatchOf(annaJF, "m1"), h.emby.WatchOf(annaEmby, "m1"))
	}
	if h.jf.WatchOf(benJF, "m1").Played || h.emby.WatchOf(benEmby, "m1").Played || h.srv.AccountWatch(benPlex, "m1").Played || h.srv.Watch("m1").Played {
		t.Error("Anna's play reached someone else")
	}

	// Both watch m2 (Ben on Plex, Anna on Jellyfin); then Ben un-watches
	// it on Emby: his Plex user follows, Anna keeps hers.
	h.srv.SetAccountWatch(benPlex, "m2", played(time.Now().Add(-20*time.Minute).Truncate(time.Second)))
	h.jf.SetWatchOf(annaJF, "m2", played(time.Now().Add(-15*time.Minute).Truncate(time.Second)))
	sync("after both played m2")
	if !h.emby.WatchOf(benEmby, "m2").Played || !h.srv.AccountWatch(annaPlex, "m2").Played {
		t.Fatalf("m2 did not reach Ben's Emby (%+v) or Anna's Plex (%+v)", h.emby.WatchOf(benEmby, "m2"), h.srv.AccountWatch(annaPlex, "m2"))
	}
	h.emby.SetWatchOf(benEmby, "m2", simulate.Watch{})
	sync("after Ben's un-watch")
	if h.srv.AccountWatch(benPlex, "m2").Played || h.jf.WatchOf(benJF, "m2").Played {
		t.Errorf("Ben's un-watch on Emby did not reach his Plex (%+v) and Jellyfin (%+v) users", h.srv.AccountWatch(benPlex, "m2"), h.jf.WatchOf(benJF, "m2"))
	}
	if !h.srv.AccountWatch(annaPlex, "m2").Played || !h.jf.WatchOf(annaJF, "m2").Played || !h.emby.WatchOf(annaEmby, "m2").Played {
		t.Error("Ben's un-watch reached Anna")
	}

	// One person's failing backend fails alone.
	h.emby.RevokeSessions()
	h.srv.SetAccountWatch(annaPlex, "m3", played(time.Now().Add(-5*time.Minute).Truncate(time.Second)))
	rep, _ := h.eng.Sync(ctx, engine.RunOptions{})
	for _, br := range rep.Backends {
		failing := strings.HasPrefix(br.Backend, "attic-")
		if failing != (br.Err != nil) {
			t.Errorf("%s %s: err %v", br.Phase, br.Backend, br.Err)
		}
	}
	if !h.jf.WatchOf(annaJF, "m3").Played {
		t.Error("Anna's play stopped at a failing Emby")
	}
	if _, err := h.st.Backend(ctx, "attic-anna"); errors.Is(err, state.ErrNotFound) {
		t.Error("backend names are not <server>-<user>")
	}
}

func TestHouseholdBackendNamesAreValidAndUnique(t *testing.T) {
	h := newHousehold(t)
	ctx := context.Background()
	a := h.signIn(t)
	servers, err := h.m.Servers(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	s := servers[0]
	s.Name = "Élise's  Living Room!"
	// A backend has the name the household would take.
	if _, err := h.st.AddBackend(ctx, state.Backend{Name: "lises-living-room-anna", Kind: "plex", URL: "http://x", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	u, err := accounts.FindUser(s, "Anna")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := h.m.AddHousehold(ctx, a, s, []accounts.User{u}, nil)
	if err != nil || len(bs) != 1 || bs[0].Name != "lises-living-room-anna-2" || bs[0].Person != "Anna" {
		t.Fatalf("household = %s, %v", names(bs), err)
	}
}
