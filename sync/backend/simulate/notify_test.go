package simulate_test

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// The notification tests receive what the simulated servers push, raw,
// and check it has the real servers' shapes (API-NOTES §2.8, §3.8, §4).

func notifyCatalog() *simulate.Catalog {
	added := time.Date(2024, 1, 10, 8, 0, 0, 0, time.UTC)
	return simulate.NewCatalog(
		[]simulate.Show{{Key: "s1", Title: "Northern Lights", Year: 2019, GUIDs: []backend.GUID{{Kind: "tvdb", Value: "81189"}}}},
		[]simulate.Media{
			{Key: "heat", Type: backend.Movie, Title: "Heat", Year: 1995, Duration: 2 * time.Hour, Added: added,
				GUIDs: []backend.GUID{{Kind: "imdb", Value: "tt0113277"}}},
			{Key: "e1", Type: backend.Episode, Title: "Pilot", ShowKey: "s1", Season: 1, Episode: 1, Duration: 45 * time.Minute, Added: added},
		})
}

// hookSink is a webhook receiver: each request's Content-Type, User-Agent
// and body.
type hookSink struct {
	srv *httptest.Server
	got chan hookReq
}

type hookReq struct {
	contentType, userAgent string
	body                   []byte
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{got: make(chan hookReq, 64)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.got <- hookReq{r.Header.Get("Content-Type"), r.Header.Get("User-Agent"), b}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) next(t *testing.T) hookReq {
	t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-time.After(3 * time.Second):
		t.Fatal("no webhook within 3 s")
	}
	return hookReq{}
}

func (h *hookSink) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-h.got:
		t.Fatalf("unexpected webhook: %s", r.body)
	case <-time.After(200 * time.Millisecond):
	}
}

// formPart returns the named part of a multipart/form-data request.
func formPart(t *testing.T, r hookReq, name string) []byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.contentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("Content-Type %q", r.contentType)
	}
	mr := multipart.NewReader(strings.NewReader(string(r.body)), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no %q part: %v", name, err)
		}
		if p.FormName() == name {
			b, _ := io.ReadAll(p)
			return b
		}
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return m
}

func dial(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func read(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return decode(t, b)
}

func TestPlexWebhooks(t *testing.T) {
	sink := newHookSink(t)
	srv, err := simulate.NewPlex(notifyCatalog(), simulate.Options{WebhookURL: sink.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.SetWatch("heat", simulate.Watch{Played: true, LastPlayed: time.Now()})
	r := sink.next(t)
	if !strings.HasPrefix(r.userAgent, "PlexMediaServer/") {
		t.Errorf("User-Agent %q", r.userAgent)
	}
	p := decode(t, formPart(t, r, "payload"))
	acct, _ := p["Account"].(map[string]any)
	server, _ := p["Server"].(map[string]any)
	meta, _ := p["Metadata"].(map[string]any)
	if p["event"] != "media.scrobble" || p["user"] != true || p["owner"] != true ||
		acct["id"] != float64(srv.PlexTVAccountID()) || server["uuid"] != srv.ServerID() ||
		meta["ratingKey"] != srv.RemoteID("heat") || meta["type"] != "movie" || meta["viewCount"] != float64(1) {
		t.Errorf("payload %v", p)
	}
	// A position: a stopped playback. An un-watch: nothing (Plex has no
	// such webhook).
	srv.SetWatch("e1", simulate.Watch{Position: 10 * time.Minute})
	if p := decode(t, formPart(t, sink.next(t), "payload")); p["event"] != "media.stop" {
		t.Errorf("position: %v", p["event"])
	}
	srv.SetWatch("heat", simulate.Watch{})
	sink.none(t)

	// The guest's scrobble through the API reaches the owner's webhook as
	// someone else's play: user false, the guest's own account id.
	req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/:/scrobble?identifier=com.plexapp.plugins.library&key="+srv.RemoteID("e1"), nil)
	req.Header.Set("X-Plex-Token", srv.GuestToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p = decode(t, formPart(t, sink.next(t), "payload"))
	acct, _ = p["Account"].(map[string]any)
	if p["event"] != "media.scrobble" || p["user"] != false || p["owner"] != true || acct["id"] != float64(2) {
		t.Errorf("guest scrobble: %v", p)
	}
	// Playback reports: media.play comes with a thumbnail.
	req, _ = http.NewRequest(http.MethodGet, srv.URL()+"/:/timeline?ratingKey="+srv.RemoteID("heat")+"&state=playing&time=60000&duration=7200000", nil)
	req.Header.Set("X-Plex-Token", srv.Token())
	req.Header.Set("X-Plex-Client-Identifier", "test")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r = sink.next(t)
	if p := decode(t, formPart(t, r, "payload")); p["event"] != "media.play" {
		t.Errorf("timeline playing: %v", p["event"])
	}
	if thumb := formPart(t, r, "thumb"); len(thumb) < 4 || thumb[0] != 0xff || thumb[1] != 0xd8 {
		t.Errorf("thumb part % x", thumb)
	}
	// The count moves once the receiver has answered.
	for deadline := time.Now().Add(2 * time.Second); srv.WebhooksDelivered() < 4 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.WebhooksDelivered() != 4 {
		t.Errorf("delivered %d, want 4", srv.WebhooksDelivered())
	}
}

func TestPlexNotificationSocket(t *testing.T) {
	srv, err := simulate.NewPlex(notifyCatalog(), simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ws := "ws" + strings.TrimPrefix(srv.URL(), "http") + "/:/websockets/notifications"
	if _, resp, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: http.Header{"X-Plex-Token": {"nope"}}}); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("a bad token: %v %v", err, resp)
	}
	owner := dial(t, ws, http.Header{"X-Plex-Token": {srv.Token()}})
	guest := dial(t, ws+"?X-Plex-Token="+srv.GuestToken(), nil)
	for srv.Sockets() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.SetWatch("e1", simulate.Watch{Position: 12 * time.Minute})
	m := read(t, owner)
	nc, _ := m["NotificationContainer"].(map[string]any)
	list, _ := nc["PlaySessionStateNotification"].([]any)
	if nc["type"] != "playing" || len(list) != 1 {
		t.Fatalf("owner got %v", m)
	}
	n := list[0].(map[string]any)
	if n["ratingKey"] != srv.RemoteID("e1") || n["state"] != "stopped" || n["viewOffset"] != float64(720000) {
		t.Errorf("session %v", n)
	}
	// A mark is only a timeline entry, which every socket gets; the
	// owner's session was not the guest's to see.
	srv.SetWatch("heat", simulate.Watch{Played: true})
	if m := read(t, guest); m["NotificationContainer"].(map[string]any)["type"] != "timeline" {
		t.Errorf("guest got %v first, want the timeline entry", m)
	}
	if m := read(t, owner); m["NotificationContainer"].(map[string]any)["type"] != "timeline" {
		t.Errorf("owner got %v", m)
	}
	srv.DropSockets()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, _, err := owner.Read(ctx); err == nil {
		t.Error("the socket survived DropSockets")
	}
}

func TestMediaBrowserWebhooks(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			sink := newHookSink(t)
			opt := simulate.Options{WebhookURL: sink.srv.URL}
			var srv *simulate.MediaBrowserServer
			var err error
			if kind == backend.Jellyfin {
				srv, err = simulate.NewJellyfin(notifyCatalog(), opt)
			} else {
				srv, err = simulate.NewEmby(notifyCatalog(), opt)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			payload := func(r hookReq) map[string]any {
				if kind == backend.Jellyfin {
					if !strings.HasPrefix(r.contentType, "text/plain") || !strings.HasPrefix(r.userAgent, "Jellyfin-Server/") {
						t.Errorf("headers %q %q", r.contentType, r.userAgent)
					}
					return decode(t, r.body)
				}
				return decode(t, formPart(t, r, "data"))
			}
			srv.SetWatch("heat", simulate.Watch{Played: true, PlayCount: 1, LastPlayed: time.Now()})
			p := payload(sink.next(t))
			if kind == backend.Jellyfin {
				if p["NotificationType"] != "UserDataSaved" || p["Played"] != true || p["SaveReason"] != "TogglePlayed" ||
					p["ItemId"] != srv.RemoteID("heat") || p["UserId"] != srv.UserID() || p["ServerId"] != srv.ServerID() ||
					p["ItemType"] != "Movie" || p["Provider_imdb"] != "tt0113277" {
					t.Errorf("payload %v", p)
				}
			} else {
				item, _ := p["Item"].(map[string]any)
				user, _ := p["User"].(map[string]any)
				server, _ := p["Server"].(map[string]any)
				if p["Event"] != "item.markplayed" || item["Id"] != srv.RemoteID("heat") || user["Id"] != srv.UserID() || server["Id"] != srv.ServerID() {
					t.Errorf("payload %v", p)
				}
			}
			// Un-watch through the API, as a client (or Playmark) does.
			req, _ := http.NewRequest(http.MethodDelete, srv.URL()+"/Users/"+srv.UserID()+"/PlayedItems/"+srv.RemoteID("heat"), nil)
			req.Header.Set("X-Emby-Token", srv.Token())
			req.Header.Set("Authorization", `MediaBrowser Token="`+srv.Token()+`"`)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			p = payload(sink.next(t))
			if kind == backend.Jellyfin && (p["Played"] != false || p["PlaybackPositionTicks"] != float64(0)) ||
				kind == backend.Emby && p["Event"] != "item.markunplayed" {
				t.Errorf("unplayed: %v", p)
			}
			// The same state again changes nothing and says nothing.
			srv.SetWatch("heat", simulate.Watch{})
			sink.none(t)
		})
	}
}

func TestMediaBrowserSocket(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			var srv *simulate.MediaBrowserServer
			var err error
			path := "/socket"
			if kind == backend.Jellyfin {
				srv, err = simulate.NewJellyfin(notifyCatalog(), simulate.Options{}) // 12.0 auth: no api_key
			} else {
				srv, err = simulate.NewEmby(notifyCatalog(), simulate.Options{})
				path = "/embywebsocket"
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			ws := "ws" + strings.TrimPrefix(srv.URL(), "http") + path
			if _, resp, err := websocket.Dial(context.Background(), ws+"?deviceId=x", nil); err == nil || resp.StatusCode != 401 {
				t.Fatalf("no token: %v", err)
			}
			auth := http.Header{"Authorization": {`MediaBrowser Client="t", Device="d", DeviceId="x", Version="1", Token="` + srv.Token() + `"`}}
			me := dial(t, ws+"?deviceId=x", auth)
			otherID, otherToken := srv.OtherUser()
			other := dial(t, ws+"?deviceId=y&api_key="+otherToken+"&ApiKey="+otherToken, nil)
			key := dial(t, ws+"?deviceId=k&api_key="+srv.APIKey()+"&ApiKey="+srv.APIKey(), nil)
			for _, c := range []*websocket.Conn{me, other, key} {
				if m := read(t, c); m["MessageType"] != "ForceKeepAlive" || m["Data"] != float64(60) {
					t.Fatalf("greeting %v", m)
				}
			}
			// KeepAlive is answered.
			if err := me.Write(context.Background(), websocket.MessageText, []byte(`{"MessageType":"KeepAlive"}`)); err != nil {
				t.Fatal(err)
			}
			if m := read(t, me); m["MessageType"] != "KeepAlive" || srv.KeepAlives() != 1 {
				t.Errorf("keep-alive answer %v (%d)", m, srv.KeepAlives())
			}
			srv.SetWatch("e1", simulate.Watch{Position: 7 * time.Minute})
			m := read(t, me)
			data, _ := m["Data"].(map[string]any)
			list, _ := data["UserDataList"].([]any)
			// Jellyfin also sends the episode's series.
			want := map[backend.Kind]int{backend.Jellyfin: 2, backend.Emby: 1}[kind]
			if m["MessageType"] != "UserDataChanged" || data["UserId"] != srv.UserID() || len(list) != want {
				t.Fatalf("got %v", m)
			}
			if kind == backend.Jellyfin {
				series := list[1].(map[string]any)
				if series["Played"] != false || series["UnplayedItemCount"] == nil {
					t.Errorf("series entry %v", series)
				}
			}
			// An API key's socket: Jellyfin sends it nothing (it has no
			// user, jellyfin #13479); Emby sends it every user's changes.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, heard, err := key.Read(ctx)
			cancel()
			if kind == backend.Jellyfin && err == nil {
				t.Errorf("the API key's socket heard %s", heard)
			}
			if kind == backend.Emby && err != nil {
				t.Errorf("the Emby API key's socket heard nothing: %v", err)
			}
			ud := list[0].(map[string]any)
			if ud["ItemId"] != srv.RemoteID("e1") || ud["Played"] != false || ud["PlaybackPositionTicks"] != float64(7*time.Minute/100) {
				t.Errorf("user data %v", ud)
			}
			// The other user's socket heard nothing of it; its own change it hears.
			req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/Users/"+otherID+"/PlayedItems/"+srv.RemoteID("heat"), nil)
			req.Header.Set("Authorization", `MediaBrowser Token="`+otherToken+`"`)
			req.Header.Set("X-Emby-Token", otherToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			m = read(t, other)
			data, _ = m["Data"].(map[string]any)
			if data["UserId"] != otherID {
				t.Errorf("other user got %v first", m)
			}
		})
	}
}

func TestMediaBrowserSocketClosesWhenSilent(t *testing.T) {
	srv, err := simulate.NewJellyfin(notifyCatalog(), simulate.Options{LegacyAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.SetSocketKeepAlive(time.Second)
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL(), "http")+"/socket?api_key="+srv.Token()+"&deviceId=z", nil)
	if m := read(t, c); m["Data"] != float64(1) {
		t.Fatalf("greeting %v", m)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _, err = c.Read(ctx)
	if err == nil || websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("read: %v, want the server to close a silent socket", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v, want about 1 s", d)
	}
}
