package plex

import (
	"strings"

	"playmark/sync/backend"
)

var _ backend.WebhookReceiver = (*Client)(nil)

// ParseWebhook parses a Plex Media Server webhook: a multipart/form-data
// body whose "payload" part holds the JSON (a "thumb" JPEG part may come
// with it and is skipped). A bare JSON body is accepted too, for testing
// with curl.
//
// media.scrobble (played past 90 %) is Played; media.play, pause, resume
// and stop are Progress; library.new is Added. Plex sends nothing when an
// item is marked played or unplayed by hand; those reach Playmark with
// the next import. Other events are ignored.
func (c *Client) ParseWebhook(contentType string, body []byte) (backend.Notice, error) {
	return ParseWebhook(contentType, body)
}

// ParseWebhook is Client.ParseWebhook, for callers without a client.
func ParseWebhook(contentType string, body []byte) (backend.Notice, error) {
	raw, err := backend.WebhookJSON(contentType, body, "payload")
	if err != nil {
		return backend.Notice{}, err
	}
	var p struct {
		Event   string           `json:"event"`
		User    backend.FlexBool `json:"user"`
		Owner   backend.FlexBool `json:"owner"`
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
	if err := backend.DecodeWebhookObject(raw, &p); err != nil {
		return backend.Notice{}, err
	}
	if p.Event == "" {
		return backend.Notice{}, backend.BadPayload("no event")
	}
	var kind backend.NoticeKind
	switch p.Event {
	case "media.scrobble":
		kind = backend.NoticePlayed
	case "media.play", "media.pause", "media.resume", "media.stop":
		kind = backend.NoticeProgress
	case "library.new":
		kind = backend.NoticeAdded
	default:
		return backend.Ignored(p.Event, "event not used"), nil
	}
	switch p.Metadata.Type {
	case "", "movie", "episode":
	default:
		return backend.Ignored(p.Event, "not a movie or episode: "+p.Metadata.Type), nil
	}
	n := backend.Notice{
		Event: p.Event, Kind: kind,
		ServerID:  strings.TrimSpace(string(p.Server.UUID)),
		UserID:    strings.TrimSpace(string(p.Account.ID)),
		PlexUser:  bool(p.User),
		PlexOwner: bool(p.Owner),
	}
	if n.ItemID, err = backend.WebhookItemID(string(p.Metadata.RatingKey), false); err != nil {
		return backend.Notice{}, err
	}
	return n, nil
}

// Mismatch says why a webhook's notice is not about this client's server
// and user (backend.WebhookReceiver). A webhook carries the plex.tv
// account id of whoever played (Account.id), and the server-local ids
// Playmark knows differ from it only for the server's owner (local id 1).
// So for a user who is not the owner, Account.id must equal the
// configured user id (a shared or home user's local id is their plex.tv
// id). For the owner (user id "1"), the event must carry both flags: user
// (the account that played is the one whose webhook this is) and owner
// (that account owns the server); a member of the household playing on
// the owner's server arrives with owner set and user not, and is
// ignored. A client whose user is unknown accepts nothing.
func (c *Client) Mismatch(n backend.Notice) string {
	why, checkUser := backend.ServerMismatch(n, c.serverID)
	if !checkUser {
		return why
	}
	switch c.userID {
	case "":
		return "the backend's plex user is not known"
	case "1":
		if !n.PlexUser || !n.PlexOwner {
			return "another plex account than the owner's"
		}
	default:
		if n.UserID != c.userID {
			return "another plex account"
		}
	}
	return ""
}
