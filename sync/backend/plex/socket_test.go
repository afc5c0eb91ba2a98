package plex

import (
	"context"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

func TestListenPlaybackBecomesProgress(t *testing.T) {
	added := time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
	srv, err := simulate.NewPlex(simulate.NewCatalog(nil, []simulate.Media{
		{Key: "heat", Type: backend.Movie, Title: "Heat", Year: 1995, Duration: 2 * time.Hour, Added: added},
		{Key: "ronin", Type: backend.Movie, Title: "Ronin", Year: 1998, Duration: 2 * time.Hour, Added: added},
	}), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := New(backend.Config{URL: srv.URL(), Token: srv.Token(), ClientID: "test-device"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opened, notices, done := make(chan struct{}), make(chan backend.Notice, 16), make(chan error, 1)
	go func() {
		done <- c.Listen(ctx, backend.ListenOptions{}, func() { close(opened) }, func(n backend.Notice) { notices <- n })
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-opened:
	case err := <-done:
		t.Fatalf("Listen: %v", err)
	case <-time.After(3 * time.Second):
		t.Fatal("the socket did not open")
	}
	// The handshake ends a moment before the server registers the socket.
	for deadline := time.Now().Add(3 * time.Second); srv.Sockets() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets on the server", srv.Sockets())
		}
	}
	// A mark says nothing Playmark can use on Plex's socket (a timeline
	// entry); a playback position does.
	srv.SetWatch("heat", simulate.Watch{Played: true})
	select {
	case n := <-notices:
		t.Fatalf("a notice for a mark: %+v", n)
	case <-time.After(300 * time.Millisecond):
	}
	srv.SetWatch("ronin", simulate.Watch{Position: 20 * time.Minute})
	select {
	case n := <-notices:
		if !n.Act() || n.ItemID != srv.RemoteID("ronin") || n.Kind != backend.NoticeProgress {
			t.Errorf("position: %+v", n)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no notice for a playback position")
	}
}

func TestParseNotification(t *testing.T) {
	cases := []struct {
		msg  string
		want []backend.Notice
	}{
		{`{"NotificationContainer":{"type":"playing","PlaySessionStateNotification":[{"ratingKey":"12","state":"playing","viewOffset":5000}]}}`,
			[]backend.Notice{{Event: "playing", Kind: backend.NoticeProgress, ItemID: "12"}}},
		{`{"NotificationContainer":{"type":"playing","PlaySessionStateNotification":[{"ratingKey":"12","state":"paused"},{"ratingKey":"13","state":"stopped"}]}}`,
			[]backend.Notice{{Event: "playing", Kind: backend.NoticeProgress, ItemID: "12", Final: true}, {Event: "playing", Kind: backend.NoticeProgress, ItemID: "13", Final: true}}},
		{`{"NotificationContainer":{"type":"playing","PlaySessionStateNotification":[{"ratingKey":"../x","state":"playing"}]}}`, nil},
		{`{"NotificationContainer":{"type":"timeline","TimelineEntry":[{"itemID":"12","state":5}]}}`, nil},
		{`not json`, nil},
	}
	for _, c := range cases {
		got := parseNotification([]byte(c.msg))
		if len(got) != len(c.want) {
			t.Errorf("%s: %+v, want %+v", c.msg, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %+v, want %+v", c.msg, got[i], c.want[i])
			}
		}
	}
}
