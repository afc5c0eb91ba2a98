package plex

import (
	"context"
	"encoding/json"
	"net/http"

	"playmark/sync/backend"
)

// The notification socket: GET /:/websockets/notifications with the
// client's X-Plex headers. Only
// {"NotificationContainer":{"type":"playing","PlaySessionStateNotification":
// [{"ratingKey","state","viewOffset"}]}} is used: each is Progress, final
// when paused or stopped. Plex has no notification for marking an item
// played or unplayed (nor an un-watch webhook), so live Plex carries
// positions only; a finished playback is a play through its webhook
// (media.scrobble), a mark made by hand reaches Playmark at the next
// import. "timeline" and "activity" notifications are ignored. The
// owner's socket reports every account's sessions without saying whose:
// each only makes the engine re-read the item with the backend's own
// token, so another user's playback changes nothing.

var _ backend.Listener = (*Client)(nil)

// CheckListen: any token Plex accepts hears its sessions.
func (c *Client) CheckListen(context.Context, *http.Client) error { return nil }

// Listen serves the server's notification socket (backend.Listener).
func (c *Client) Listen(ctx context.Context, opt backend.ListenOptions, onOpen func(), notice func(backend.Notice)) error {
	req, err := c.request(ctx, http.MethodGet, "/:/websockets/notifications", nil)
	if err != nil {
		return err
	}
	conn, err := backend.DialSocket(ctx, backend.SocketClient(opt, c.tr), req.URL.String(), req.Header)
	if err != nil {
		return err
	}
	onOpen()
	return backend.ServeSocket(ctx, conn, opt, func(msg []byte, _ func([]byte)) {
		for _, n := range parseNotification(msg) {
			notice(n)
		}
	}, nil, nil)
}

// parseNotification reads one socket message into notices.
func parseNotification(msg []byte) []backend.Notice {
	var n struct {
		NotificationContainer struct {
			Type                         string `json:"type"`
			PlaySessionStateNotification []struct {
				RatingKey flexString `json:"ratingKey"`
				State     string     `json:"state"`
			}
		}
	}
	if json.Unmarshal(msg, &n) != nil {
		return nil
	}
	if n.NotificationContainer.Type != "playing" {
		return nil // timeline, activity, status…: nothing about this user's play state
	}
	var out []backend.Notice
	for _, p := range n.NotificationContainer.PlaySessionStateNotification {
		id := string(p.RatingKey)
		if !backend.ValidItemID(id) {
			continue
		}
		final := p.State == "paused" || p.State == "stopped"
		out = append(out, backend.Notice{Event: "playing", Kind: backend.NoticeProgress, ItemID: id, Final: final})
	}
	return out
}
