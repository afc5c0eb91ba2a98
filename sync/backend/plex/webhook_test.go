package plex

import (
	"errors"
	"testing"

	"playmark/sync/backend"
	bt "playmark/sync/backend/backendtest"
)

func TestParseWebhook(t *testing.T) {
	args := func(event string) bt.PlexArgs {
		return bt.PlexArgs{Event: event, Account: 31000001, User: true, Owner: true, Server: bt.PlexServer, RatingKey: "1042"}
	}
	cases := []struct {
		event string
		thumb bool
		act   bool
		kind  backend.NoticeKind
	}{
		{"media.scrobble", false, true, backend.NoticePlayed},
		{"media.play", true, true, backend.NoticeProgress},
		{"media.pause", false, true, backend.NoticeProgress},
		{"media.resume", false, true, backend.NoticeProgress},
		{"media.stop", false, true, backend.NoticeProgress},
		{"library.new", true, true, backend.NoticeAdded},
		{"media.rate", true, false, 0},
		{"library.on.deck", true, false, 0},
		{"admin.database.backup", false, false, 0},
		{"device.new", false, false, 0},
	}
	for _, c := range cases {
		ct, body := bt.PlexMultipart(bt.PlexJSON(args(c.event)), c.thumb)
		n, err := ParseWebhook(ct, body)
		if err != nil {
			t.Fatalf("%s: %v", c.event, err)
		}
		if n.Act() != c.act || n.Event != c.event {
			t.Errorf("%s: act %v (%s), want %v", c.event, n.Act(), n.Reason, c.act)
		}
		if !c.act {
			continue
		}
		if n.Kind != c.kind || n.ItemID != "1042" || n.ServerID != bt.PlexServer || n.UserID != "31000001" || !n.PlexUser || !n.PlexOwner {
			t.Errorf("%s: %+v", c.event, n)
		}
	}
	// Music is not synced.
	a := args("media.scrobble")
	a.Type = "track"
	ct, body := bt.PlexMultipart(bt.PlexJSON(a), false)
	if n, err := ParseWebhook(ct, body); err != nil || n.Act() {
		t.Errorf("a track: %+v %v", n, err)
	}
	// A bare JSON body (curl) works too; a string account id is read.
	a = args("media.stop")
	a.Account = "7"
	if n, err := ParseWebhook("application/json", bt.PlexJSON(a)); err != nil || !n.Act() || n.UserID != "7" {
		t.Errorf("bare JSON: %+v %v", n, err)
	}
}

func TestParseWebhookRefusesGarbage(t *testing.T) {
	ct, good := bt.PlexMultipart(bt.PlexJSON(bt.PlexArgs{Event: "media.scrobble", Account: 1, Server: bt.PlexServer, RatingKey: "1042"}), true)
	cases := []struct {
		name string
		ct   string
		body []byte
	}{
		{"truncated multipart", ct, good[:len(good)/3]},
		{"no boundary", "multipart/form-data", good},
		{"wrong boundary", "multipart/form-data; boundary=nope", good},
		{"no payload part", "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"thumb\"\r\n\r\nxx\r\n--b--\r\n")},
		{"payload not JSON", "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n<html>\r\n--b--\r\n")},
		{"HTML", "text/html", []byte("<html><body>hi</body></html>")},
		{"empty", "", nil},
		{"no event", "application/json", []byte(`{"Metadata":{"ratingKey":"1"}}`)},
		{"no ratingKey", "application/json", []byte(`{"event":"media.scrobble","Server":{"uuid":"x"}}`)},
		{"a path for a ratingKey", "application/json", []byte(`{"event":"media.scrobble","Metadata":{"ratingKey":"../../accounts"}}`)},
		{"a list for a ratingKey", "application/json", []byte(`{"event":"media.scrobble","Metadata":{"ratingKey":"1,2,3"}}`)},
		{"an object for an id", "application/json", []byte(`{"event":"media.scrobble","Account":{"id":{"a":1}},"Metadata":{"ratingKey":"1"}}`)},
	}
	for _, c := range cases {
		n, err := ParseWebhook(c.ct, c.body)
		if !errors.Is(err, backend.ErrBadPayload) {
			t.Errorf("%s: %+v, %v; want ErrBadPayload", c.name, n, err)
		}
	}
}

// TestWebhookMismatch: the Plex owner rule. A webhook names the plex.tv
// account that played; only the owner's server-local id (1) differs from
// it, so the owner's backend needs both flags.
func TestWebhookMismatch(t *testing.T) {
	client := func(user, server string) *Client {
		c, err := New(backend.Config{URL: "http://192.0.2.1:32400", Token: "t", UserID: user, ServerID: server})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	played := func(account string, user, owner bool) backend.Notice {
		return backend.Notice{Kind: backend.NoticePlayed, ItemID: "1", ServerID: bt.PlexServer, UserID: account, PlexUser: user, PlexOwner: owner}
	}
	cases := []struct {
		name    string
		c       *Client
		n       backend.Notice
		matches bool
	}{
		{"the owner's own play", client("1", bt.PlexServer), played("31000001", true, true), true},
		{"a home user on the owner's server", client("1", bt.PlexServer), played("5402", false, true), false},
		{"the home user's own backend", client("5402", bt.PlexServer), played("5402", true, false), true},
		{"another account", client("5402", bt.PlexServer), played("5403", true, false), false},
		{"unknown user", client("", bt.PlexServer), played("5402", true, true), false},
		{"another server", client("1", "ffff"), played("31000001", true, true), false},
		{"server not recorded yet", client("1", ""), played("31000001", true, true), false},
		{"a new item needs no user", client("", bt.PlexServer), backend.Notice{Kind: backend.NoticeAdded, ItemID: "1", ServerID: bt.PlexServer}, true},
	}
	for _, c := range cases {
		if why := c.c.Mismatch(c.n); (why == "") != c.matches {
			t.Errorf("%s: mismatch %q, want matches %v", c.name, why, c.matches)
		}
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, ev := range []string{"media.scrobble", "media.play", "library.new", "media.rate"} {
		ct, body := bt.PlexMultipart(bt.PlexJSON(bt.PlexArgs{Event: ev, Account: 31000001, User: true, Owner: true, Server: bt.PlexServer, RatingKey: "1042"}), ev == "media.play")
		f.Add(ct, body)
		f.Add(ct, body[:len(body)/2])
	}
	f.Add("application/json", []byte(`{"event":"media.stop","Metadata":{"ratingKey":1042}}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"event\":\"media.scrobble\"}\r\n--x--"))
	f.Add("multipart/form-data; boundary=\"", []byte("--"))
	f.Add("", []byte{0xff, 0xfe, 0})
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		n, err := ParseWebhook(ct, body)
		bt.CheckNotice(t, n, err)
	})
}
