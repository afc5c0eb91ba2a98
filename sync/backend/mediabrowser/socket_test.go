package mediabrowser_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/emby"
	"playmark/sync/backend/jellyfin"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/simulate"
)

// The socket tests run Listen against the simulated servers' real
// websockets.

func socketCatalog() *simulate.Catalog {
	added := time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
	return simulate.NewCatalog(
		[]simulate.Show{{Key: "s1", Title: "Northern Lights", Year: 2019, GUIDs: []backend.GUID{{Kind: "tvdb", Value: "81189"}}}},
		[]simulate.Media{
			{Key: "heat", Type: backend.Movie, Title: "Heat", Year: 1995, Duration: 2 * time.Hour, Added: added, GUIDs: []backend.GUID{{Kind: "imdb", Value: "tt0113277"}}},
			{Key: "e1", Type: backend.Episode, Title: "Pilot", ShowKey: "s1", Season: 1, Episode: 1, Duration: 45 * time.Minute, Added: added},
		})
}

func newSocketServer(t *testing.T, kind backend.Kind, opt simulate.Options) *simulate.MediaBrowserServer {
	t.Helper()
	newSrv := simulate.NewJellyfin
	if kind == backend.Emby {
		newSrv = simulate.NewEmby
	}
	srv, err := newSrv(socketCatalog(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func socketClient(t *testing.T, kind backend.Kind, url, token, user string) *mediabrowser.Client {
	t.Helper()
	newClient := jellyfin.New
	if kind == backend.Emby {
		newClient = emby.New
	}
	c, err := newClient(backend.Config{URL: url, Token: token, UserID: user, ClientID: "test-device"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listening is one Listen running in the background.
type listening struct {
	notices chan backend.Notice
	opened  chan struct{}
	done    chan error
}

func listen(t *testing.T, c *mediabrowser.Client, opt backend.ListenOptions) *listening {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listening{notices: make(chan backend.Notice, 64), opened: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		l.done <- c.Listen(ctx, opt, func() { close(l.opened) }, func(n backend.Notice) { l.notices <- n })
	}()
	t.Cleanup(func() {
		cancel()
		<-l.done
	})
	select {
	case <-l.opened:
	case err := <-l.done:
		t.Fatalf("Listen: %v", err)
	case <-time.After(3 * time.Second):
		t.Fatal("the socket did not open within 3 s")
	}
	return l
}

// waitSockets waits until the server counts one socket: the client's
// handshake ends a moment before the server registers it.
func waitSockets(t *testing.T, srv interface{ Sockets() int }) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); srv.Sockets() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets on the server, want 1", srv.Sockets())
		}
	}
}

func (l *listening) next(t *testing.T) backend.Notice {
	t.Helper()
	select {
	case n := <-l.notices:
		return n
	case <-time.After(3 * time.Second):
		t.Fatal("no notice within 3 s")
	}
	return backend.Notice{}
}

func TestListenUserDataChanged(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			srv := newSocketServer(t, kind, simulate.Options{}) // Jellyfin 12.0 auth: the header must carry the token
			c := socketClient(t, kind, srv.URL(), srv.Token(), srv.UserID())
			l := listen(t, c, backend.ListenOptions{})
			waitSockets(t, srv)

			heat, e1 := srv.RemoteID("heat"), srv.RemoteID("e1")
			srv.SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: time.Now()})
			if n := l.next(t); !n.Act() || n.ItemID != heat || n.Kind != backend.NoticePlayed || !n.At.IsZero() {
				t.Errorf("played: %+v", n)
			}
			srv.SetWatch("e1", simulate.Watch{Position: 9 * time.Minute})
			if n := l.next(t); n.ItemID != e1 || n.Kind != backend.NoticeProgress {
				t.Errorf("position: %+v", n)
			}
			srv.SetWatch("heat", simulate.Watch{})
			if n := l.next(t); n.ItemID != heat || n.Kind != backend.NoticeUnplayed {
				t.Errorf("unplayed: %+v", n)
			}
			// Another user's mark on the same server is not this client's.
			otherID, otherToken := srv.OtherUser()
			other := socketClient(t, kind, srv.URL(), otherToken, otherID)
			if err := other.MarkPlayed(context.Background(), heat, time.Now()); err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-l.notices:
				if n.Act() {
					t.Errorf("another user's mark acted on: %+v", n)
				}
			case <-time.After(300 * time.Millisecond): // Jellyfin does not even send it
			}
		})
	}
}

func TestListenKeepsAliveAsTheServerAsks(t *testing.T) {
	srv := newSocketServer(t, backend.Jellyfin, simulate.Options{LegacyAuth: true})
	// The server closes a socket silent for 1 s; the client must keep
	// talking at half that, as ForceKeepAlive tells it.
	srv.SetSocketKeepAlive(time.Second)
	l := listen(t, socketClient(t, backend.Jellyfin, srv.URL(), srv.Token(), srv.UserID()),
		backend.ListenOptions{KeepAlive: time.Hour, Ping: 200 * time.Millisecond})
	time.Sleep(1600 * time.Millisecond)
	select {
	case err := <-l.done:
		t.Fatalf("the server dropped the socket: %v", err)
	default:
	}
	if n := srv.KeepAlives(); n < 3 {
		t.Errorf("%d keep-alives in 1.6 s, want at least 3 (one at once, then every 0.5 s)", n)
	}
}

// TestListenRefusesAJellyfinAPIKey: Jellyfin sends nothing to a socket
// opened with an API key (it has no user), so Listen says why instead of
// connecting to hear nothing.
func TestListenRefusesAJellyfinAPIKey(t *testing.T) {
	srv := newSocketServer(t, backend.Jellyfin, simulate.Options{})
	c := socketClient(t, backend.Jellyfin, srv.URL(), srv.APIKey(), srv.UserID())
	if err := c.CheckListen(context.Background(), nil); !errors.Is(err, backend.ErrAPIKey) {
		t.Errorf("CheckListen with an API key: %v, want ErrAPIKey", err)
	}
	err := c.Listen(context.Background(), backend.ListenOptions{}, func() { t.Error("opened") }, func(backend.Notice) {})
	if !errors.Is(err, backend.ErrAPIKey) || srv.Sockets() != 0 {
		t.Errorf("Listen with an API key: %v, %d sockets open", err, srv.Sockets())
	}
	user := socketClient(t, backend.Jellyfin, srv.URL(), srv.Token(), srv.UserID())
	if err := user.CheckListen(context.Background(), nil); err != nil {
		t.Errorf("CheckListen with the user's token: %v", err)
	}
	// Emby's socket hears an API key's (admin) changes: nothing to check.
	esrv := newSocketServer(t, backend.Emby, simulate.Options{})
	if err := socketClient(t, backend.Emby, esrv.URL(), esrv.APIKey(), esrv.UserID()).CheckListen(context.Background(), nil); err != nil {
		t.Errorf("CheckListen on Emby: %v", err)
	}
}
