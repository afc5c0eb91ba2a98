package mediabrowser_test

import (
	"errors"
	"testing"
	"time"

	"playmark/sync/backend"
	bt "playmark/sync/backend/backendtest"
	"playmark/sync/backend/emby"
	"playmark/sync/backend/jellyfin"
	"playmark/sync/backend/mediabrowser"
)

func parseJellyfin(ct string, body []byte) (backend.Notice, error) {
	return mediabrowser.ParseWebhook(jellyfin.Flavor(), ct, body)
}

func parseEmby(ct string, body []byte) (backend.Notice, error) {
	return mediabrowser.ParseWebhook(emby.Flavor(), ct, body)
}

func TestParseJellyfinWebhook(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		act    bool
		kind   backend.NoticeKind
	}{
		{"marked played", map[string]any{"NotificationType": "UserDataSaved", "Played": true, "PlayCount": 1, "SaveReason": "TogglePlayed"}, true, backend.NoticePlayed},
		{"marked unplayed", map[string]any{"NotificationType": "UserDataSaved", "Played": false, "PlaybackPositionTicks": 0, "SaveReason": "TogglePlayed"}, true, backend.NoticeUnplayed},
		{"a resume position", map[string]any{"NotificationType": "UserDataSaved", "Played": false, "PlaybackPositionTicks": 6000000000, "SaveReason": "UpdateUserData"}, true, backend.NoticeProgress},
		{"a save from playback", map[string]any{"NotificationType": "UserDataSaved", "Played": false, "PlaybackPositionTicks": 0, "SaveReason": "PlaybackStart"}, true, backend.NoticeProgress},
		{"a template writing True", map[string]any{"NotificationType": "UserDataSaved", "Played": "True"}, true, backend.NoticePlayed},
		{"no Played at all", map[string]any{"NotificationType": "UserDataSaved"}, true, backend.NoticeProgress},
		{"playback start", map[string]any{"NotificationType": "PlaybackStart", "PlaybackPositionTicks": 1000000, "IsPaused": false}, true, backend.NoticeProgress},
		{"playback progress", map[string]any{"NotificationType": "PlaybackProgress"}, true, backend.NoticeProgress},
		{"playback stop", map[string]any{"NotificationType": "PlaybackStop", "PlayedToCompletion": false}, true, backend.NoticeProgress},
		{"played to the end", map[string]any{"NotificationType": "PlaybackStop", "PlayedToCompletion": true}, true, backend.NoticePlayed},
		{"new item", map[string]any{"NotificationType": "ItemAdded", "UserId": nil}, true, backend.NoticeAdded},
		{"log in", map[string]any{"NotificationType": "AuthenticationSuccess"}, false, 0},
		{"a series", map[string]any{"NotificationType": "ItemAdded", "ItemType": "Series"}, false, 0},
		{"music", map[string]any{"NotificationType": "PlaybackStart", "ItemType": "Audio"}, false, 0},
	}
	for _, c := range cases {
		for _, ct := range []string{"text/plain; charset=utf-8", "application/json", ""} {
			n, err := parseJellyfin(ct, bt.JellyfinJSON(c.fields))
			if err != nil {
				t.Fatalf("%s (%q): %v", c.name, ct, err)
			}
			if n.Act() != c.act {
				t.Errorf("%s: act %v (%s), want %v", c.name, n.Act(), n.Reason, c.act)
				continue
			}
			if c.act && (n.Kind != c.kind || n.ItemID != bt.JFItem || n.ServerID != bt.JFServer) {
				t.Errorf("%s: %+v, want kind %v", c.name, n, c.kind)
			}
		}
	}
	// Dashed ids, as the plugin writes them in some templates, compare
	// equal to the client's undashed lower-case ones.
	n, err := parseJellyfin("", bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true,
		"ItemId": "6F1D0A9C-2B3E-4D5F-8A7B-6C5D4E3F2A1B", "UserId": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"}))
	if err != nil || n.ItemID != bt.JFItem || n.UserID != bt.JFUser {
		t.Errorf("dashed ids: %+v %v", n, err)
	}
	if want := time.Date(2025, 3, 1, 12, 0, 0, 123456700, time.UTC); !n.At.Equal(want) {
		t.Errorf("At = %v, want %v", n.At, want)
	}
}

func TestParseEmbyWebhook(t *testing.T) {
	cases := []struct {
		event  string
		fields map[string]any
		act    bool
		kind   backend.NoticeKind
	}{
		{"item.markplayed", nil, true, backend.NoticePlayed},
		{"item.markunplayed", nil, true, backend.NoticeUnplayed},
		{"playback.start", nil, true, backend.NoticeProgress},
		{"playback.pause", nil, true, backend.NoticeProgress},
		{"playback.unpause", nil, true, backend.NoticeProgress},
		{"playback.stop", nil, true, backend.NoticeProgress},
		{"playback.stop", map[string]any{"PlaybackInfo": map[string]any{"PlayedToCompletion": true, "PositionTicks": 0}}, true, backend.NoticePlayed},
		{"library.new", map[string]any{"User": nil}, true, backend.NoticeAdded},
		{"item.rate", nil, false, 0},
		{"system.notificationtest", map[string]any{"Item": nil, "User": nil}, false, 0},
	}
	for _, c := range cases {
		data := bt.EmbyJSON(c.event, c.fields)
		for _, enc := range []func([]byte) (string, []byte){bt.EmbyMultipart, bt.EmbyForm, func(b []byte) (string, []byte) { return "application/json", b }} {
			ct, body := enc(data)
			n, err := parseEmby(ct, body)
			if err != nil {
				t.Fatalf("%s (%s): %v", c.event, ct, err)
			}
			if n.Act() != c.act {
				t.Errorf("%s (%s): act %v (%s), want %v", c.event, ct, n.Act(), n.Reason, c.act)
				continue
			}
			if c.act && (n.Kind != c.kind || n.ItemID != bt.EmbyItem || n.ServerID != bt.EmbyServer) {
				t.Errorf("%s (%s): %+v", c.event, ct, n)
			}
			if c.act && c.kind != backend.NoticeAdded && n.UserID != bt.EmbyUser {
				t.Errorf("%s: user %q", c.event, n.UserID)
			}
		}
	}
}

// TestZonelessDatesReadAsTheClientReadsThem: a date without a zone (as
// Jellyfin writes some, and a Handlebars template may) is UTC for the
// webhooks as for the client's listings (ParseDate), not "not said". The
// sockets take no date from a message (only the item id), so the client
// and the webhooks were the two readers that differed.
func TestZonelessDatesReadAsTheClientReadsThem(t *testing.T) {
	const s = "2025-03-01T12:00:00.1234567"
	want, err := mediabrowser.ParseDate(s)
	if err != nil || want.IsZero() {
		t.Fatalf("the client reads %q as %v, %v", s, want, err)
	}
	jf, err := parseJellyfin("", bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": false, "UtcTimestamp": s}))
	if err != nil || !jf.At.Equal(want) {
		t.Errorf("jellyfin webhook: At %v (%v), want %v as the client reads it", jf.At, err, want)
	}
	em, err := parseEmby("application/json", bt.EmbyJSON("item.markunplayed", map[string]any{"Date": s}))
	if err != nil || !em.At.Equal(want) {
		t.Errorf("emby webhook: At %v (%v), want %v as the client reads it", em.At, err, want)
	}
}

func TestParseWebhookRefusesGarbage(t *testing.T) {
	ect, egood := bt.EmbyMultipart(bt.EmbyJSON("item.markplayed", nil))
	cases := []struct {
		name  string
		parse func(string, []byte) (backend.Notice, error)
		ct    string
		body  []byte
	}{
		{"jellyfin: not JSON", parseJellyfin, "text/plain", []byte("UserDataSaved Heat")},
		{"jellyfin: an array", parseJellyfin, "application/json", []byte(`[{"NotificationType":"UserDataSaved"}]`)},
		{"jellyfin: null", parseJellyfin, "application/json", []byte(`null`)},
		{"jellyfin: truncated", parseJellyfin, "text/plain", bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved"})[:80]},
		{"jellyfin: two objects", parseJellyfin, "text/plain", []byte(`{"NotificationType":"ItemAdded","ItemId":"ab"}{}`)},
		{"jellyfin: no type", parseJellyfin, "text/plain", []byte(`{"ItemId":"ab"}`)},
		{"jellyfin: no item", parseJellyfin, "text/plain", []byte(`{"NotificationType":"UserDataSaved","Played":true}`)},
		{"jellyfin: Played is a word", parseJellyfin, "text/plain", []byte(`{"NotificationType":"UserDataSaved","Played":"maybe","ItemId":"ab"}`)},
		{"emby: truncated multipart", parseEmby, ect, egood[:len(egood)-30]},
		{"emby: form without data", parseEmby, "application/x-www-form-urlencoded", []byte("payload=%7B%7D")},
		{"emby: broken form", parseEmby, "application/x-www-form-urlencoded", []byte("data=%zz")},
		{"emby: data not JSON", parseEmby, "application/x-www-form-urlencoded", []byte("data=hello")},
		{"emby: no item id", parseEmby, "application/json", []byte(`{"Event":"item.markplayed","Item":{"Type":"Movie"}}`)},
	}
	for _, c := range cases {
		n, err := c.parse(c.ct, c.body)
		if !errors.Is(err, backend.ErrBadPayload) {
			t.Errorf("%s: %+v, %v; want ErrBadPayload", c.name, n, err)
		}
	}
}

func FuzzParseJellyfinWebhook(f *testing.F) {
	f.Add("text/plain", bt.JellyfinJSON(map[string]any{"NotificationType": "UserDataSaved", "Played": true}))
	f.Add("application/json", bt.JellyfinJSON(map[string]any{"NotificationType": "PlaybackStop", "PlayedToCompletion": "true"}))
	f.Add("text/plain", bt.JellyfinJSON(map[string]any{"NotificationType": "ItemAdded", "ItemId": 12}))
	f.Add("", []byte(`{"NotificationType":"UserDataSaved","Played":1,"PlaybackPositionTicks":"1e30","ItemId":"a-b"}`))
	f.Add("", []byte(`{"NotificationType":"UserDataSaved","ItemId":"x","PlaybackPositionTicks":NaN}`))
	f.Add("", []byte(`[]`))
	f.Add("", []byte(`{"NotificationType":`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		n, err := parseJellyfin(ct, body)
		bt.CheckNotice(t, n, err)
	})
}

func FuzzParseEmbyWebhook(f *testing.F) {
	for _, ev := range []string{"item.markplayed", "item.markunplayed", "playback.stop", "library.new"} {
		ct, body := bt.EmbyMultipart(bt.EmbyJSON(ev, nil))
		f.Add(ct, body)
		ct, body = bt.EmbyForm(bt.EmbyJSON(ev, nil))
		f.Add(ct, body)
	}
	f.Add("application/json", bt.EmbyJSON("playback.pause", nil))
	f.Add("application/x-www-form-urlencoded", []byte("data=%7B%22Event%22%3A%22item.markplayed%22%7D&data=x"))
	f.Add("multipart/form-data; boundary=z", []byte("--z\r\n\r\n--z--"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		n, err := parseEmby(ct, body)
		bt.CheckNotice(t, n, err)
	})
}
