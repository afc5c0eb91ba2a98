package backendtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"playmark/sync/backend"
)

// Webhook payloads, written after the shapes the servers send (API-NOTES.md
// §2.8, §3.8, §4), trimmed to what matters plus some noise: for the
// clients' parsers and the webhook handler's tests.

// The ids the payloads carry.
const (
	PlexServer = "4c1d2e3f4a5b6c7d8e9f00112233445566778899"
	JFServer   = "5a0c7f7e0d4b4b3f9d8e2a1b3c4d5e6f"
	JFUser     = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	JFItem     = "6f1d0a9c2b3e4d5f8a7b6c5d4e3f2a1b"
	EmbyServer = "77e1c0dee0b14b5ca6a3d0f3c8b1e2a4"
	EmbyUser   = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	EmbyItem   = "24017"
)

// PlexArgs are the parts of a Plex webhook a test varies.
type PlexArgs struct {
	Event       string
	Account     any // plex.tv account id: a number in real payloads
	User, Owner bool
	Server      string
	RatingKey   string
	Type        string // default "movie"
}

// PlexJSON is a Plex webhook's payload part.
func PlexJSON(a PlexArgs) []byte {
	if a.Type == "" {
		a.Type = "movie"
	}
	p := map[string]any{
		"event": a.Event, "user": a.User, "owner": a.Owner,
		"Account": map[string]any{"id": a.Account, "thumb": "https://plex.tv/users/abc/avatar", "title": "someone"},
		"Server":  map[string]any{"title": "Den", "uuid": a.Server},
		"Player":  map[string]any{"local": true, "publicAddress": "192.0.2.7", "title": "Living room TV", "uuid": "p1"},
		"Metadata": map[string]any{
			"librarySectionType": "movie", "ratingKey": a.RatingKey, "key": "/library/metadata/" + a.RatingKey,
			"guid": "plex://movie/5d776b59ad5437001f79c6f8", "type": a.Type, "title": "Heat", "year": 1995,
			"viewCount": 1, "lastViewedAt": 1700000000, "duration": 10200000,
			"Guid": []map[string]string{{"id": "imdb://tt0113277"}, {"id": "tmdb://949"}},
		},
	}
	b, _ := json.Marshal(p)
	return b
}

// PlexMultipart is the body Plex posts: the payload part, then (for play,
// rate and library.new) a JPEG thumbnail.
func PlexMultipart(payload []byte, thumb bool) (contentType string, body []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write(payload)
	if thumb {
		th := textproto.MIMEHeader{}
		th.Set("Content-Disposition", `form-data; name="thumb"; filename="thumb.jpg"`)
		th.Set("Content-Type", "image/jpeg")
		tw, _ := mw.CreatePart(th)
		tw.Write([]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1, 0xff, 0xd9})
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// JellyfinJSON is a notification of Jellyfin's webhook plugin with
// fields set over the defaults (nil: removed).
func JellyfinJSON(fields map[string]any) []byte {
	p := map[string]any{
		"ServerId": JFServer, "ServerName": "attic", "ServerVersion": "10.10.7", "ServerUrl": "http://192.0.2.9:8096",
		"Timestamp": "2025-03-01T13:00:00.1234567+01:00", "UtcTimestamp": "2025-03-01T12:00:00.1234567Z",
		"Name": "Heat", "ItemId": JFItem, "ItemType": "Movie", "Year": 1995,
		"RunTimeTicks": int64(102000000000), "Provider_imdb": "tt0113277", "Provider_tmdb": "949",
		"UserId": JFUser, "NotificationUsername": "sam",
	}
	return withFields(p, fields)
}

// EmbyJSON is an Emby webhook's data with fields set over the defaults
// (nil: removed).
func EmbyJSON(event string, fields map[string]any) []byte {
	p := map[string]any{
		"Title": "sam played Heat", "Date": "2025-03-01T12:00:00.1234567Z", "Event": event,
		"User": map[string]any{"Name": "sam", "Id": EmbyUser},
		"Item": map[string]any{"Name": "Heat", "ServerId": EmbyServer, "Id": EmbyItem, "Type": "Movie",
			"ProviderIds": map[string]string{"Imdb": "tt0113277"}, "RunTimeTicks": int64(102000000000), "IsFolder": false},
		"Server":       map[string]any{"Name": "cellar", "Id": EmbyServer, "Version": "4.8.11.0"},
		"Session":      map[string]any{"Client": "Emby Web", "DeviceName": "Firefox"},
		"PlaybackInfo": map[string]any{"PositionTicks": int64(17431791950), "PlaylistIndex": 0, "PlaylistLength": 1},
	}
	return withFields(p, fields)
}

// EmbyMultipart is Emby 4.8's body: the JSON in the form field "data".
func EmbyMultipart(data []byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("data", string(data))
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// EmbyForm is the url-encoded form with the JSON in "data".
func EmbyForm(data []byte) (string, []byte) {
	return "application/x-www-form-urlencoded", []byte(url.Values{"data": {string(data)}}.Encode())
}

// withFields is payload p as JSON with fields set over it (nil: removed).
func withFields(p, fields map[string]any) []byte {
	for k, v := range fields {
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	b, _ := json.Marshal(p)
	return b
}

// CheckNotice fails t when a webhook parser's answer breaks its contract:
// an error that is not ErrBadPayload, or an acted-on notice whose item id
// could not go into a request path. The fuzz targets run it on anything.
func CheckNotice(t *testing.T, n backend.Notice, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, backend.ErrBadPayload) {
			t.Fatalf("error %v does not wrap ErrBadPayload", err)
		}
		return
	}
	if n.Act() && !backend.ValidItemID(n.ItemID) {
		t.Fatalf("accepted a notice with item id %q", n.ItemID)
	}
	if n.Act() && strings.ContainsAny(n.ItemID, "/,?#") {
		t.Fatalf("item id %q could change a request path", n.ItemID)
	}
}
