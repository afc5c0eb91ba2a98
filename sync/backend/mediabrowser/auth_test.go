package mediabrowser_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/emby"
	"playmark/sync/backend/jellyfin"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/simulate"
)

func newAuthServer(t *testing.T, kind backend.Kind, legacy bool) (*simulate.MediaBrowserServer, *mediabrowser.Authenticator, *simulate.Catalog) {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: 30, Seed: 3})
	var srv *simulate.MediaBrowserServer
	var err error
	fl := jellyfin.Flavor()
	if kind == backend.Emby {
		srv, err = simulate.NewEmby(cat, simulate.Options{})
		fl = emby.Flavor()
	} else {
		srv, err = simulate.NewJellyfin(cat, simulate.Options{LegacyAuth: legacy})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	a, err := mediabrowser.NewAuthenticator(backend.Config{URL: srv.URL(), ClientID: "install-1"}, fl)
	if err != nil {
		t.Fatal(err)
	}
	return srv, a, cat
}

// signedInWorks checks that s's token reads and writes s's user's own
// play state.
func signedInWorks(t *testing.T, kind backend.Kind, srv *simulate.MediaBrowserServer, cat *simulate.Catalog, s mediabrowser.Session) {
	t.Helper()
	ctx := context.Background()
	cfg := backend.Config{URL: srv.URL(), Token: s.Token, UserID: s.UserID, ClientID: "install-1"}
	var c backend.Backend
	var err error
	if kind == backend.Emby {
		c, err = emby.New(cfg)
	} else {
		c, err = jellyfin.New(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Identify(ctx)
	if err != nil || info.UserID != s.UserID || info.UserName != s.UserName {
		t.Fatalf("Identify with the signed-in token = %+v, %v; want user %s", info, err, s.UserName)
	}
	key := cat.Media[0].Key
	if err := c.MarkPlayed(ctx, srv.RemoteID(key), time.Now()); err != nil {
		t.Fatal(err)
	}
	if srv.Watch(key).Played {
		t.Fatal("the mark landed on the default user, not the signed-in one")
	}
}

func TestSignInByPassword(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   backend.Kind
		legacy bool
	}{{"jellyfin-12", backend.Jellyfin, false}, {"jellyfin-10", backend.Jellyfin, true}, {"emby", backend.Emby, false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, a, cat := newAuthServer(t, tc.kind, tc.legacy)
			id := srv.AddUser("Anna", "s3cret pass", false)
			ctx := context.Background()
			_, err := a.SignIn(ctx, "Anna", "wrong")
			if !errors.Is(err, backend.ErrUnauthorized) {
				t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Fatal("the error shows the password")
			}
			if _, err := a.SignIn(ctx, "Nobody", "s3cret pass"); !errors.Is(err, backend.ErrUnauthorized) {
				t.Fatalf("unknown user: %v, want ErrUnauthorized", err)
			}
			s, err := a.SignIn(ctx, "anna", "s3cret pass")
			if err != nil {
				t.Fatal(err)
			}
			if s.UserID != id || s.UserName != "Anna" || s.Admin || s.Token == "" {
				t.Fatalf("session = %+v", s)
			}
			signedInWorks(t, tc.kind, srv, cat, s)
			// Signing in again from the same install replaces the token.
			s2, err := a.SignIn(ctx, "Anna", "s3cret pass")
			if err != nil {
				t.Fatal(err)
			}
			if s2.Token == s.Token {
				t.Fatal("a second sign-in gave the same token")
			}
			signedInWorks(t, tc.kind, srv, cat, s2)
		})
	}
}

func TestSignInNeedsIdentity(t *testing.T) {
	// Without the client identity the server refuses the sign-in: check
	// the simulator does, so that the test above proves the header is sent.
	srv, _, _ := newAuthServer(t, backend.Jellyfin, false)
	a, err := mediabrowser.NewAuthenticator(backend.Config{URL: srv.URL(), ClientID: "x"}, mediabrowser.Flavor{Kind: backend.Jellyfin, Auth: mediabrowser.AuthEmby})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SignIn(context.Background(), "admin", ""); !errors.Is(err, backend.ErrBadResponse) {
		t.Fatalf("sign-in with the identity in the wrong header = %v, want a 400", err)
	}
}

func TestQuickConnect(t *testing.T) {
	srv, a, cat := newAuthServer(t, backend.Jellyfin, false)
	id := srv.AddUser("Ben", "pw", false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := a.StartQuickConnect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Code) != 6 || strings.Trim(q.Code, "0123456789") != "" {
		t.Fatalf("code %q is not six digits", q.Code)
	}
	time.AfterFunc(300*time.Millisecond, func() { srv.ApproveQuickConnect(q.Code, "Ben") })
	s, err := a.WaitQuickConnect(ctx, q, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if s.UserID != id || s.UserName != "Ben" {
		t.Fatalf("session = %+v, want Ben", s)
	}
	signedInWorks(t, backend.Jellyfin, srv, cat, s)
	// The secret is used up.
	if _, err := a.WaitQuickConnect(ctx, q, 50*time.Millisecond); !errors.Is(err, mediabrowser.ErrQuickConnectExpired) {
		t.Fatalf("reusing the secret: %v, want ErrQuickConnectExpired", err)
	}

	// Approved by itself after a delay.
	srv.SetQuickConnect(true, 200*time.Millisecond, "Ben")
	q2, err := a.StartQuickConnect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := a.WaitQuickConnect(ctx, q2, 50*time.Millisecond); err != nil || s.UserName != "Ben" {
		t.Fatalf("auto-approved: %+v, %v", s, err)
	}

	// Turned off on the server.
	srv.SetQuickConnect(false, 0, "")
	if _, err := a.StartQuickConnect(ctx); !errors.Is(err, mediabrowser.ErrQuickConnectDisabled) {
		t.Fatalf("disabled: %v, want ErrQuickConnectDisabled", err)
	}
}

func TestQuickConnectNotOnEmby(t *testing.T) {
	_, a, _ := newAuthServer(t, backend.Emby, false)
	if _, err := a.StartQuickConnect(context.Background()); !errors.Is(err, mediabrowser.ErrQuickConnectDisabled) {
		t.Fatalf("Emby: %v, want ErrQuickConnectDisabled", err)
	}
}
