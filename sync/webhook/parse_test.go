package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
)

func TestParsePlex(t *testing.T) {
	args := func(event string) plexArgs {
		return plexArgs{event: event, account: 31000001, user: true, owner: true, server: plexServer, ratingKey: "1042"}
	}
	cases := []struct {
		event string
		thumb bool
		act   bool
		kind  engine.EventKind
	}{
		{"media.scrobble", false, true, engine.EventPlayed},
		{"media.play", true, true, engine.EventProgress},
		{"media.pause", false, true, engine.EventProgress},
		{"media.resume", false, true, engine.EventProgress},
		{"media.stop", false, true, engine.EventProgress},
		{"library.new", true, true, engine.EventAdded},
		{"media.rate", true, false, 0},
		{"library.on.deck", true, false, 0},
		{"admin.database.backup", false, false, 0},
		{"device.new", false, false, 0},
	}
	for _, c := range cases {
		ct, body := plexMultipart(plexJSON(args(c.event)), c.thumb)
		n, err := ParsePlex(ct, body)
		if err != nil {
			t.Fatalf("%s: %v", c.event, err)
		}
		if n.Act != c.act || n.Event != c.event {
			t.Errorf("%s: act %v (%s), want %v", c.event, n.Act, n.Reason, c.act)
		}
		if !c.act {
			continue
		}
		if n.Kind != c.kind || n.ItemID != "1042" || n.ServerID != plexServer || n.UserID != "31000001" || !n.PlexUser || !n.PlexOwner {
			t.Errorf("%s: %+v", c.event, n)
		}
	}
	// Music is not synced.
	a := args("media.scrobble")
	a.typ = "track"
	ct, body := plexMultipart(plexJSON(a), false)
	if n, err := ParsePlex(ct, body); err != nil || n.Act {
		t.Errorf("a track: %+v %v", n, err)
	}
	// A bare JSON body (curl) works too; a string account id is read.
	a = args("media.stop")
	a.account = "7"
	if n, err := ParsePlex("application/json", plexJSON(a)); err != nil || !n.Act || n.UserID != "7" {
		t.Errorf("bare JSON: %+v %v", n, err)
	}
}

func TestParseJellyfin(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		act    bool
		kind   engine.EventKind
	}{
		{"marked played", map[string]any{"NotificationType": "UserDataSaved", "Played": true, "PlayCount": 1, "SaveReason": "TogglePlayed"}, true, engine.EventPlayed},
		{"marked unplayed", map[string]any{"NotificationType": "UserDataSaved", "Played": false, "PlaybackPositionTicks": 0, "SaveReason": "TogglePlayed"}, true, engine.EventUnplayed},
		{"a resume position", map[string]any{"NotificationType": "UserDataSaved", "Played": false, "PlaybackPositionTicks": 6000000000, "SaveReason": "UpdateUserData"}, true, engine.EventProgress},
		{"a save from playback", map[string]any{"NotificationType": "UserDataSaved", "Played": false, "PlaybackPositionTicks": 0, "SaveReason": "PlaybackStart"}, true, engine.EventProgress},
		{"a template writing True", map[string]any{"NotificationType": "UserDataSaved", "Played": "True"}, true, engine.EventPlayed},
		{"no Played at all", map[string]any{"NotificationType": "UserDataSaved"}, true, engine.EventProgress},
		{"playback start", map[string]any{"NotificationType": "PlaybackStart", "PlaybackPositionTicks": 1000000, "IsPaused": false}, true, engine.EventProgress},
		{"playback progress", map[string]any{"NotificationType": "PlaybackProgress"}, true, engine.EventProgress},
		{"playback stop", map[string]any{"NotificationType": "PlaybackStop", "PlayedToCompletion": false}, true, engine.EventProgress},
		{"played to the end", map[string]any{"NotificationType": "PlaybackStop", "PlayedToCompletion": true}, true, engine.EventPlayed},
		{"new item", map[string]any{"NotificationType": "ItemAdded", "UserId": nil}, true, engine.EventAdded},
		{"log in", map[string]any{"NotificationType": "AuthenticationSuccess"}, false, 0},
		{"a series", map[string]any{"NotificationType": "ItemAdded", "ItemType": "Series"}, false, 0},
		{"music", map[string]any{"NotificationType": "PlaybackStart", "ItemType": "Audio"}, false, 0},
	}
	for _, c := range cases {
		for _, ct := range []string{"text/plain; charset=utf-8", "application/json", ""} {
			n, err := ParseJellyfin(ct, jellyfinJSON(c.fields))
			if err != nil {
				t.Fatalf("%s (%q): %v", c.name, ct, err)
			}
			if n.Act != c.act {
				t.Errorf("%s: act %v (%s), want %v", c.name, n.Act, n.Reason, c.act)
				continue
			}
			if c.act && (n.Kind != c.kind || n.ItemID != "6f1d0a9c2b3e4d5f8a7b6c5d4e3f2a1b" || n.ServerID != jfServer) {
				t.Errorf("%s: %+v, want kind %v", c.name, n, c.kind)
			}
		}
	}
	// Dashed ids, as the plugin writes them in some templates, compare
	// equal to the client's undashed lower-case ones.
	n, err := ParseJellyfin("", jellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true,
		"ItemId": "6F1D0A9C-2B3E-4D5F-8A7B-6C5D4E3F2A1B", "UserId": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"}))
	if err != nil || n.ItemID != "6f1d0a9c2b3e4d5f8a7b6c5d4e3f2a1b" || n.UserID != jfUser {
		t.Errorf("dashed ids: %+v %v", n, err)
	}
	if want := time.Date(2025, 3, 1, 12, 0, 0, 123456700, time.UTC); !n.At.Equal(want) {
		t.Errorf("At = %v, want %v", n.At, want)
	}
}

func TestParseEmby(t *testing.T) {
	cases := []struct {
		event  string
		fields map[string]any
		act    bool
		kind   engine.EventKind
	}{
		{"item.markplayed", nil, true, engine.EventPlayed},
		{"item.markunplayed", nil, true, engine.EventUnplayed},
		{"playback.start", nil, true, engine.EventProgress},
		{"playback.pause", nil, true, engine.EventProgress},
		{"playback.unpause", nil, true, engine.EventProgress},
		{"playback.stop", nil, true, engine.EventProgress},
		{"playback.stop", map[string]any{"PlaybackInfo": map[string]any{"PlayedToCompletion": true, "PositionTicks": 0}}, true, engine.EventPlayed},
		{"library.new", map[string]any{"User": nil}, true, engine.EventAdded},
		{"item.rate", nil, false, 0},
		{"system.notificationtest", map[string]any{"Item": nil, "User": nil}, false, 0},
	}
	for _, c := range cases {
		data := embyJSON(c.event, c.fields)
		for _, enc := range []func([]byte) (string, []byte){embyMultipart, embyForm, func(b []byte) (string, []byte) { return "application/json", b }} {
			ct, body := enc(data)
			n, err := ParseEmby(ct, body)
			if err != nil {
				t.Fatalf("%s (%s): %v", c.event, ct, err)
			}
			if n.Act != c.act {
				t.Errorf("%s (%s): act %v (%s), want %v", c.event, ct, n.Act, n.Reason, c.act)
				continue
			}
			if c.act && (n.Kind != c.kind || n.ItemID != "24017" || n.ServerID != embyServer) {
				t.Errorf("%s (%s): %+v", c.event, ct, n)
			}
			if c.act && c.kind != engine.EventAdded && n.UserID != embyUser {
				t.Errorf("%s: user %q", c.event, n.UserID)
			}
		}
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	ct, good := plexMultipart(plexJSON(plexArgs{event: "media.scrobble", account: 1, server: plexServer, ratingKey: "1042"}), true)
	ect, egood := embyMultipart(embyJSON("item.markplayed", nil))
	cases := []struct {
		name  string
		parse func(string, []byte) (Notice, error)
		ct    string
		body  []byte
	}{
		{"plex: truncated multipart", ParsePlex, ct, good[:len(good)/3]},
		{"plex: no boundary", ParsePlex, "multipart/form-data", good},
		{"plex: wrong boundary", ParsePlex, "multipart/form-data; boundary=nope", good},
		{"plex: no payload part", ParsePlex, "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"thumb\"\r\n\r\nxx\r\n--b--\r\n")},
		{"plex: payload not JSON", ParsePlex, "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n<html>\r\n--b--\r\n")},
		{"plex: HTML", ParsePlex, "text/html", []byte("<html><body>hi</body></html>")},
		{"plex: empty", ParsePlex, "", nil},
		{"plex: no event", ParsePlex, "application/json", []byte(`{"Metadata":{"ratingKey":"1"}}`)},
		{"plex: no ratingKey", ParsePlex, "application/json", []byte(`{"event":"media.scrobble","Server":{"uuid":"x"}}`)},
		{"plex: a path for a ratingKey", ParsePlex, "application/json", []byte(`{"event":"media.scrobble","Metadata":{"ratingKey":"../../accounts"}}`)},
		{"plex: a list for a ratingKey", ParsePlex, "application/json", []byte(`{"event":"media.scrobble","Metadata":{"ratingKey":"1,2,3"}}`)},
		{"plex: an object for an id", ParsePlex, "application/json", []byte(`{"event":"media.scrobble","Account":{"id":{"a":1}},"Metadata":{"ratingKey":"1"}}`)},
		{"jellyfin: not JSON", ParseJellyfin, "text/plain", []byte("UserDataSaved Heat")},
		{"jellyfin: an array", ParseJellyfin, "application/json", []byte(`[{"NotificationType":"UserDataSaved"}]`)},
		{"jellyfin: null", ParseJellyfin, "application/json", []byte(`null`)},
		{"jellyfin: truncated", ParseJellyfin, "text/plain", jellyfinJSON(map[string]any{"NotificationType": "UserDataSaved"})[:80]},
		{"jellyfin: two objects", ParseJellyfin, "text/plain", []byte(`{"NotificationType":"ItemAdded","ItemId":"ab"}{}`)},
		{"jellyfin: no type", ParseJellyfin, "text/plain", []byte(`{"ItemId":"ab"}`)},
		{"jellyfin: no item", ParseJellyfin, "text/plain", []byte(`{"NotificationType":"UserDataSaved","Played":true}`)},
		{"jellyfin: Played is a word", ParseJellyfin, "text/plain", []byte(`{"NotificationType":"UserDataSaved","Played":"maybe","ItemId":"ab"}`)},
		{"emby: truncated multipart", ParseEmby, ect, egood[:len(egood)-30]},
		{"emby: form without data", ParseEmby, "application/x-www-form-urlencoded", []byte("payload=%7B%7D")},
		{"emby: broken form", ParseEmby, "application/x-www-form-urlencoded", []byte("data=%zz")},
		{"emby: data not JSON", ParseEmby, "application/x-www-form-urlencoded", []byte("data=hello")},
		{"emby: no item id", ParseEmby, "application/json", []byte(`{"Event":"item.markplayed","Item":{"Type":"Movie"}}`)},
	}
	for _, c := range cases {
		n, err := c.parse(c.ct, c.body)
		if !errors.Is(err, ErrBadPayload) {
			t.Errorf("%s: %+v, %v; want ErrBadPayload", c.name, n, err)
		}
	}
}

// The fuzz targets check that no input makes a parser panic, and that an
// accepted notice always carries a usable item id.

func checkNotice(t *testing.T, n Notice, err error) {
	if err != nil {
		if !errors.Is(err, ErrBadPayload) {
			t.Fatalf("error %v does not wrap ErrBadPayload", err)
		}
		return
	}
	if n.Act && !backend.ValidItemID(n.ItemID) {
		t.Fatalf("accepted a notice with item id %q", n.ItemID)
	}
	if n.Act && strings.ContainsAny(n.ItemID, "/,?#") {
		t.Fatalf("item id %q could change a request path", n.ItemID)
	}
}

func FuzzParsePlex(f *testing.F) {
	for _, ev := range []string{"media.scrobble", "media.play", "library.new", "media.rate"} {
		ct, body := plexMultipart(plexJSON(plexArgs{event: ev, account: 31000001, user: true, owner: true, server: plexServer, ratingKey: "1042"}), ev == "media.play")
		f.Add(ct, body)
		f.Add(ct, body[:len(body)/2])
	}
	f.Add("application/json", []byte(`{"event":"media.stop","Metadata":{"ratingKey":1042}}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"event\":\"media.scrobble\"}\r\n--x--"))
	f.Add("multipart/form-data; boundary=\"", []byte("--"))
	f.Add("", []byte{0xff, 0xfe, 0})
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		n, err := ParsePlex(ct, body)
		checkNotice(t, n, err)
	})
}

func FuzzParseJellyfin(f *testing.F) {
	f.Add("text/plain", jellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true}))
	f.Add("application/json", jellyfinJSON(map[string]any{"NotificationType": "PlaybackStop", "PlayedToCompletion": "true"}))
	f.Add("text/plain", jellyfinJSON(map[string]any{"NotificationType": "ItemAdded", "ItemId": 12}))
	f.Add("", []byte(`{"NotificationType":"UserDataSaved","Played":1,"PlaybackPositionTicks":"1e30","ItemId":"a-b"}`))
	f.Add("", []byte(`{"NotificationType":"UserDataSaved","ItemId":"x","PlaybackPositionTicks":NaN}`))
	f.Add("", []byte(`[]`))
	f.Add("", []byte(`{"NotificationType":`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		n, err := ParseJellyfin(ct, body)
		checkNotice(t, n, err)
	})
}

func FuzzParseEmby(f *testing.F) {
	for _, ev := range []string{"item.markplayed", "item.markunplayed", "playback.stop", "library.new"} {
		ct, body := embyMultipart(embyJSON(ev, nil))
		f.Add(ct, body)
		ct, body = embyForm(embyJSON(ev, nil))
		f.Add(ct, body)
	}
	f.Add("application/json", embyJSON("playback.pause", nil))
	f.Add("application/x-www-form-urlencoded", []byte("data=%7B%22Event%22%3A%22item.markplayed%22%7D&data=x"))
	f.Add("multipart/form-data; boundary=z", []byte("--z\r\n\r\n--z--"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		n, err := ParseEmby(ct, body)
		checkNotice(t, n, err)
	})
}
