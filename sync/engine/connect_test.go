package engine

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// Connect gives the CLI and the window what they need from one call: the
// server's own kind, identity, users, the user to act as and the user's
// libraries, or a refusal they can classify with errors.Is.
func TestConnect(t *testing.T) {
	ctx := context.Background()
	st, err := state.Open(ctx, filepath.Join(t.TempDir(), "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := New(st, nil)
	cat := simulate.Generate(simulate.GenerateOptions{Items: 20, Seed: 1})
	servers := map[backend.Kind]simulate.Server{}
	for _, k := range []backend.Kind{backend.Plex, backend.Jellyfin, backend.Emby} {
		srv, err := simulate.New(k, cat, simulate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		servers[k] = srv
	}
	for k, srv := range servers {
		// Emby has no /Users/Me: a token does not say whose it is.
		conn, err := e.Connect(ctx, state.Backend{Name: "b", Kind: k, URL: srv.URL(), Token: srv.Token(), UserID: srv.UserID()})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if conn.Kind != k || conn.Info.ServerID != srv.ServerID() || conn.Info.UserID != srv.UserID() || conn.NeedUser ||
			len(conn.Users) == 0 || len(conn.Libraries) == 0 || conn.LibrariesErr != nil {
			t.Errorf("%s: %+v", k, conn)
		}
		for other := range servers {
			if other == k {
				continue
			}
			_, err := e.Connect(ctx, state.Backend{Name: "b", Kind: other, URL: srv.URL(), Token: srv.Token()})
			var ke *KindError
			if !errors.Is(err, ErrWrongKind) || !errors.As(err, &ke) || ke.Got != k || ke.Want != other {
				t.Errorf("%s configured at a %s server: %v", other, k, err)
			}
		}
	}
	jf := servers[backend.Jellyfin].(*simulate.MediaBrowserServer)
	_, err = e.Connect(ctx, state.Backend{Name: "b", Kind: "jellyfin", URL: jf.URL(), Token: jf.Token(), UserID: "anna"})
	var ue *UserError
	if !errors.Is(err, ErrNoSuchUser) || !errors.As(err, &ue) || UserNames(ue.Users) != "admin, guest" {
		t.Errorf("a missing user: %v", err)
	}
	_, err = e.Connect(ctx, state.Backend{Name: "b", Kind: "jellyfin", URL: jf.URL(), Token: "wrong", UserID: "anna"})
	if !errors.Is(err, backend.ErrUnauthorized) {
		t.Errorf("a wrong token with a missing user: %v, want the token rejected", err)
	}
	conn, err := e.Connect(ctx, state.Backend{Name: "b", Kind: "jellyfin", URL: jf.URL(), Token: jf.APIKey()})
	if err != nil || !conn.NeedUser || len(conn.Users) != 2 || conn.Libraries != nil {
		t.Errorf("an API key without a user: %+v, %v", conn, err)
	}
	otherID, _ := jf.OtherUser()
	conn, err = e.Connect(ctx, state.Backend{Name: "b", Kind: "jellyfin", URL: jf.URL(), Token: jf.APIKey(), UserID: "Guest"})
	if err != nil || conn.NeedUser || conn.Info.UserID != otherID || conn.Info.UserName != "guest" {
		t.Errorf("an API key with --user Guest: %+v, %v", conn, err)
	}
	url := servers[backend.Emby].URL()
	servers[backend.Emby].Close()
	if _, err := e.Connect(ctx, state.Backend{Name: "b", Kind: "emby", URL: url, Token: "t"}); !errors.Is(err, backend.ErrUnreachable) {
		t.Errorf("a server that is down: %v", err)
	}
}
