package mediabrowser

import (
	"strings"

	"playmark/sync/backend"
)

var _ backend.WebhookReceiver = (*Client)(nil)

// ParseWebhook parses a webhook of the client's flavour (Flavor.Webhook).
func (c *Client) ParseWebhook(contentType string, body []byte) (backend.Notice, error) {
	return ParseWebhook(c.fl, contentType, body)
}

// ParseWebhook parses a webhook body as a server of flavour fl posts it.
func ParseWebhook(fl Flavor, contentType string, body []byte) (backend.Notice, error) {
	if fl.Webhook == WebhookEmby {
		return parseEmby(fl, contentType, body)
	}
	return parseJellyfinPlugin(fl, body)
}

// Mismatch says why a webhook's notice is not about this client's server
// and user: the payload's server id must be the recorded one and its
// user the client's (backend.WebhookReceiver).
func (c *Client) Mismatch(n backend.Notice) string {
	why, checkUser := backend.ServerMismatch(n, c.serverID)
	if !checkUser {
		return why
	}
	c.mu.Lock()
	user := c.userID
	c.mu.Unlock()
	if user == "" || n.UserID != backend.NormalizeID(user) {
		return "another user"
	}
	return ""
}

// parseJellyfinPlugin parses a notification of Jellyfin's webhook plugin
// (jellyfin-plugin-webhook), Generic destination with "Send All
// Properties": a flat JSON object, whatever the Content-Type (the plugin
// sends text/plain unless told otherwise).
//
// UserDataSaved is Played when Played is true; with Played false it is
// Progress when a position is set or the save came from playback, else
// Unplayed. PlaybackStart, PlaybackProgress and PlaybackStop are Progress
// (PlaybackStop with PlayedToCompletion is Played); ItemAdded is Added.
// Other notification types are ignored.
func parseJellyfinPlugin(fl Flavor, body []byte) (backend.Notice, error) {
	var p struct {
		NotificationType      string             `json:"NotificationType"`
		ItemID                backend.FlexString `json:"ItemId"`
		ItemType              string             `json:"ItemType"`
		UserID                backend.FlexString `json:"UserId"`
		ServerID              backend.FlexString `json:"ServerId"`
		Played                *backend.FlexBool  `json:"Played"`
		PlayedToCompletion    backend.FlexBool   `json:"PlayedToCompletion"`
		PlaybackPositionTicks backend.FlexInt    `json:"PlaybackPositionTicks"`
		SaveReason            string             `json:"SaveReason"`
		UtcTimestamp          string             `json:"UtcTimestamp"`
	}
	if err := backend.DecodeWebhookObject(body, &p); err != nil {
		return backend.Notice{}, err
	}
	if p.NotificationType == "" {
		return backend.Notice{}, backend.BadPayload("no NotificationType")
	}
	var kind backend.NoticeKind
	switch p.NotificationType {
	case "UserDataSaved":
		kind = backend.UserDataNotice(p.Played != nil && bool(*p.Played), int64(p.PlaybackPositionTicks))
		if p.Played == nil || (kind == backend.NoticeUnplayed && playbackReason(p.SaveReason)) {
			kind = backend.NoticeProgress // a save during playback, not an un-watch
		}
	case "PlaybackStart", "PlaybackProgress", "PlaybackStop":
		kind = backend.NoticeProgress
		if p.NotificationType == "PlaybackStop" && bool(p.PlayedToCompletion) {
			kind = backend.NoticePlayed
		}
	case "ItemAdded":
		kind = backend.NoticeAdded
	default:
		return backend.Ignored(p.NotificationType, "notification not used"), nil
	}
	if !mediaType(p.ItemType) {
		return backend.Ignored(p.NotificationType, "not a movie or episode: "+p.ItemType), nil
	}
	return notice(fl, p.NotificationType, kind, p.ItemID, p.ServerID, p.UserID, p.UtcTimestamp)
}

// parseEmby parses Emby's own webhook (Emby Premiere, 4.7.9+): the JSON in
// the form field "data" of a multipart/form-data or url-encoded body, or
// the whole body with Content-Type application/json (4.9's option).
//
// item.markplayed is Played and item.markunplayed Unplayed;
// playback.start, pause, unpause and stop are Progress (playback.stop
// with PlaybackInfo.PlayedToCompletion is Played); library.new is Added.
// Other events are ignored.
func parseEmby(fl Flavor, contentType string, body []byte) (backend.Notice, error) {
	raw, err := backend.WebhookJSON(contentType, body, "data")
	if err != nil {
		return backend.Notice{}, err
	}
	var p struct {
		Event string `json:"Event"`
		Date  string `json:"Date"`
		User  struct {
			ID backend.FlexString `json:"Id"`
		} `json:"User"`
		Item struct {
			ID   backend.FlexString `json:"Id"`
			Type string             `json:"Type"`
		} `json:"Item"`
		Server struct {
			ID backend.FlexString `json:"Id"`
		} `json:"Server"`
		PlaybackInfo struct {
			PlayedToCompletion backend.FlexBool `json:"PlayedToCompletion"`
		} `json:"PlaybackInfo"`
	}
	if err := backend.DecodeWebhookObject(raw, &p); err != nil {
		return backend.Notice{}, err
	}
	if p.Event == "" {
		return backend.Notice{}, backend.BadPayload("no Event")
	}
	var kind backend.NoticeKind
	switch p.Event {
	case "item.markplayed":
		kind = backend.NoticePlayed
	case "item.markunplayed":
		kind = backend.NoticeUnplayed
	case "playback.start", "playback.pause", "playback.unpause", "playback.stop":
		kind = backend.NoticeProgress
		if p.Event == "playback.stop" && bool(p.PlaybackInfo.PlayedToCompletion) {
			kind = backend.NoticePlayed
		}
	case "library.new":
		kind = backend.NoticeAdded
	default:
		return backend.Ignored(p.Event, "event not used"), nil
	}
	if !mediaType(p.Item.Type) {
		return backend.Ignored(p.Event, "not a movie or episode: "+p.Item.Type), nil
	}
	return notice(fl, p.Event, kind, p.Item.ID, p.Server.ID, p.User.ID, p.Date)
}

// notice is an acted-on notice from a payload's fields; the date is read
// as the client reads every date (ParseDate: a missing zone is UTC), and
// an unreadable one is "not said".
func notice(fl Flavor, event string, kind backend.NoticeKind, item, server, user backend.FlexString, date string) (backend.Notice, error) {
	n := backend.Notice{
		Event: event, Kind: kind,
		ServerID: backend.NormalizeID(string(server)),
		UserID:   backend.NormalizeID(string(user)),
	}
	n.At, _ = ParseDate(date)
	var err error
	if n.ItemID, err = backend.WebhookItemID(string(item), fl.GUIDItemIDs); err != nil {
		return backend.Notice{}, err
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

// mediaType says whether a payload's item type is one Playmark syncs (an
// absent type is given the benefit of the doubt: the re-read decides).
func mediaType(t string) bool {
	switch strings.ToLower(t) {
	case "", "movie", "episode":
		return true
	}
	return false
}
