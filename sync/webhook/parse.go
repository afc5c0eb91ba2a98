package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
)

// ErrBadPayload is returned by the parsers for a body that is not what
// the server sends: not JSON, a broken multipart body, a missing part or
// a relevant event without an item id. The handler answers 400.
var ErrBadPayload = errors.New("bad webhook payload")

// Notice is what one webhook said, before it is matched to a backend.
type Notice struct {
	Event string // the server's own event name: media.scrobble, UserDataSaved, item.markplayed…
	// Act is false for an event Playmark does not act on (Reason says
	// which); the other fields may then be empty.
	Act    bool
	Reason string
	Kind   engine.EventKind
	ItemID string // the item's id on that server, normalised as its client writes it

	ServerID string // Plex Server.uuid, Jellyfin ServerId, Emby Server.Id
	// UserID is the user the event is about: Jellyfin UserId and Emby
	// User.Id (32-hex, lower case, no dashes); Plex Account.id, which is
	// the plex.tv account id, not the server-local one.
	UserID string
	// PlexUser and PlexOwner are Plex's "user" and "owner" flags: the event
	// was sent because the account that played has a webhook configured
	// (user), or because the server's owner has (owner).
	PlexUser, PlexOwner bool
	At                  time.Time // when the server says it happened; zero: not said
}

func ignore(event, reason string) Notice { return Notice{Event: event, Reason: reason} }

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPayload, fmt.Sprintf(format, a...))
}

// ParsePlex parses a Plex Media Server webhook: a multipart/form-data
// body whose "payload" part holds the JSON (a "thumb" JPEG part may come
// with it and is skipped). A bare JSON body is accepted too, for testing
// with curl.
//
// media.scrobble (played past 90 %) is Played; media.play, pause, resume
// and stop are Progress; library.new is Added. Plex sends nothing when an
// item is marked played or unplayed by hand; those reach Playmark with
// the next import. Other events are ignored.
func ParsePlex(contentType string, body []byte) (Notice, error) {
	raw, err := formField(contentType, body, "payload")
	if err != nil {
		return Notice{}, err
	}
	var p struct {
		Event   string   `json:"event"`
		User    flexBool `json:"user"`
		Owner   flexBool `json:"owner"`
		Account struct {
			ID flexString `json:"id"`
		} `json:"Account"`
		Server struct {
			UUID flexString `json:"uuid"`
		} `json:"Server"`
		Metadata struct {
			RatingKey flexString `json:"ratingKey"`
			Type      string     `json:"type"`
		} `json:"Metadata"`
	}
	if err := decodeObject(raw, &p); err != nil {
		return Notice{}, err
	}
	if p.Event == "" {
		return Notice{}, bad("no event")
	}
	var kind engine.EventKind
	switch p.Event {
	case "media.scrobble":
		kind = engine.EventPlayed
	case "media.play", "media.pause", "media.resume", "media.stop":
		kind = engine.EventProgress
	case "library.new":
		kind = engine.EventAdded
	default:
		return ignore(p.Event, "event not used"), nil
	}
	switch p.Metadata.Type {
	case "", "movie", "episode":
	default:
		return ignore(p.Event, "not a movie or episode: "+p.Metadata.Type), nil
	}
	n := Notice{
		Event: p.Event, Act: true, Kind: kind,
		ServerID:  strings.TrimSpace(string(p.Server.UUID)),
		UserID:    strings.TrimSpace(string(p.Account.ID)),
		PlexUser:  bool(p.User),
		PlexOwner: bool(p.Owner),
	}
	if n.ItemID, err = itemID(string(p.Metadata.RatingKey), false); err != nil {
		return Notice{}, err
	}
	return n, nil
}

// ParseJellyfin parses a notification of Jellyfin's webhook plugin
// (jellyfin-plugin-webhook), Generic destination with "Send All
// Properties": a flat JSON object, whatever the Content-Type (the plugin
// sends text/plain unless told otherwise).
//
// UserDataSaved is Played when Played is true; with Played false it is
// Progress when a position is set or the save came from playback, else
// Unplayed. PlaybackStart, PlaybackProgress and PlaybackStop are Progress
// (PlaybackStop with PlayedToCompletion is Played); ItemAdded is Added.
// Other notification types are ignored.
func ParseJellyfin(contentType string, body []byte) (Notice, error) {
	var p struct {
		NotificationType      string     `json:"NotificationType"`
		ItemID                flexString `json:"ItemId"`
		ItemType              string     `json:"ItemType"`
		UserID                flexString `json:"UserId"`
		ServerID              flexString `json:"ServerId"`
		Played                *flexBool  `json:"Played"`
		PlayedToCompletion    flexBool   `json:"PlayedToCompletion"`
		PlaybackPositionTicks flexInt    `json:"PlaybackPositionTicks"`
		SaveReason            string     `json:"SaveReason"`
		UtcTimestamp          string     `json:"UtcTimestamp"`
	}
	if err := decodeObject(body, &p); err != nil {
		return Notice{}, err
	}
	if p.NotificationType == "" {
		return Notice{}, bad("no NotificationType")
	}
	var kind engine.EventKind
	switch p.NotificationType {
	case "UserDataSaved":
		kind = engine.UserDataKind(p.Played != nil && bool(*p.Played), int64(p.PlaybackPositionTicks))
		if p.Played == nil || (kind == engine.EventUnplayed && playbackReason(p.SaveReason)) {
			kind = engine.EventProgress // a save during playback, not an un-watch
		}
	case "PlaybackStart", "PlaybackProgress", "PlaybackStop":
		kind = engine.EventProgress
		if p.NotificationType == "PlaybackStop" && bool(p.PlayedToCompletion) {
			kind = engine.EventPlayed
		}
	case "ItemAdded":
		kind = engine.EventAdded
	default:
		return ignore(p.NotificationType, "notification not used"), nil
	}
	if !mediaType(p.ItemType) {
		return ignore(p.NotificationType, "not a movie or episode: "+p.ItemType), nil
	}
	n := Notice{
		Event: p.NotificationType, Act: true, Kind: kind,
		ServerID: backend.NormalizeID(string(p.ServerID)),
		UserID:   backend.NormalizeID(string(p.UserID)),
		At:       parseTime(p.UtcTimestamp),
	}
	var err error
	if n.ItemID, err = itemID(string(p.ItemID), true); err != nil {
		return Notice{}, err
	}
	return n, nil
}

// ParseEmby parses Emby's own webhook (Emby Premiere, 4.7.9+): the JSON in
// the form field "data" of a multipart/form-data or url-encoded body, or
// the whole body with Content-Type application/json (4.9's option).
//
// item.markplayed is Played and item.markunplayed Unplayed;
// playback.start, pause, unpause and stop are Progress (playback.stop
// with PlaybackInfo.PlayedToCompletion is Played); library.new is Added.
// Other events are ignored.
func ParseEmby(contentType string, body []byte) (Notice, error) {
	raw, err := formField(contentType, body, "data")
	if err != nil {
		return Notice{}, err
	}
	var p struct {
		Event string `json:"Event"`
		Date  string `json:"Date"`
		User  struct {
			ID flexString `json:"Id"`
		} `json:"User"`
		Item struct {
			ID   flexString `json:"Id"`
			Type string     `json:"Type"`
		} `json:"Item"`
		Server struct {
			ID flexString `json:"Id"`
		} `json:"Server"`
		PlaybackInfo struct {
			PlayedToCompletion flexBool `json:"PlayedToCompletion"`
		} `json:"PlaybackInfo"`
	}
	if err := decodeObject(raw, &p); err != nil {
		return Notice{}, err
	}
	if p.Event == "" {
		return Notice{}, bad("no Event")
	}
	var kind engine.EventKind
	switch p.Event {
	case "item.markplayed":
		kind = engine.EventPlayed
	case "item.markunplayed":
		kind = engine.EventUnplayed
	case "playback.start", "playback.pause", "playback.unpause", "playback.stop":
		kind = engine.EventProgress
		if p.Event == "playback.stop" && bool(p.PlaybackInfo.PlayedToCompletion) {
			kind = engine.EventPlayed
		}
	case "library.new":
		kind = engine.EventAdded
	default:
		return ignore(p.Event, "event not used"), nil
	}
	if !mediaType(p.Item.Type) {
		return ignore(p.Event, "not a movie or episode: "+p.Item.Type), nil
	}
	n := Notice{
		Event: p.Event, Act: true, Kind: kind,
		ServerID: backend.NormalizeID(string(p.Server.ID)),
		UserID:   backend.NormalizeID(string(p.User.ID)),
		At:       parseTime(p.Date),
	}
	if n.ItemID, err = itemID(string(p.Item.ID), false); err != nil {
		return Notice{}, err
	}
	return n, nil
}

// playbackReason says whether a Jellyfin UserDataSaved came from playback
// reporting rather than the user toggling a mark.
func playbackReason(r string) bool {
	switch r {
	case "PlaybackStart", "PlaybackProgress":
		return true
	}
	return false
}

func mediaType(t string) bool {
	switch strings.ToLower(t) {
	case "", "movie", "episode":
		return true
	}
	return false
}

// itemID checks and normalises an item id. Ids go into request paths and
// comma lists, so only a plain token is accepted.
func itemID(id string, guid bool) (string, error) {
	id = strings.TrimSpace(id)
	if guid {
		id = backend.NormalizeID(id)
	}
	if !backend.ValidItemID(id) {
		return "", bad("no usable item id")
	}
	return id, nil
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// maxField is the largest form field read; the handler caps the whole
// body before this.
const maxField = 4 << 20

// formField returns the JSON a webhook carries: the named field of a
// multipart or url-encoded form, or the body itself when it is not a form.
func formField(contentType string, body []byte, name string) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "" // no or unparsable Content-Type: look at the body
	}
	switch mt {
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, bad("multipart body without a boundary")
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, bad("no %q part", name)
			}
			if err != nil {
				return nil, bad("broken multipart body: %v", err)
			}
			if part.FormName() != name {
				continue // the thumbnail, most likely
			}
			b, err := io.ReadAll(io.LimitReader(part, maxField))
			if err != nil {
				return nil, bad("broken multipart body: %v", err)
			}
			return b, nil
		}
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, bad("broken form body: %v", err)
		}
		if !v.Has(name) {
			return nil, bad("no %q field", name)
		}
		return []byte(v.Get(name)), nil
	}
	return body, nil
}

// decodeObject decodes one JSON object into v; anything else (an array,
// null, trailing data) is a bad payload.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return bad("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return bad("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("data after the JSON object")
	}
	return nil
}

// flexString accepts a JSON string or number (ids are sometimes either).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or number, got %.20s", b)
		}
		*f = flexString(n.String())
	}
	return nil
}

// flexBool accepts true/false, "true"/"True"/"false" and 0/1 (a
// Handlebars template may write any of them).
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no", "", "null":
		*f = false
	default:
		return fmt.Errorf("want a boolean, got %.20s", b)
	}
	return nil
}

// flexInt accepts a JSON number or a numeric string; fractions are cut.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != x || x > 9e18 || x < -9e18 {
		return fmt.Errorf("want a number, got %.20s", b)
	}
	*f = flexInt(int64(x))
	return nil
}
