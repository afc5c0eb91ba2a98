package mediabrowser

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"playmark/sync/backend"
)

// The notification socket: GET {root}{Flavor.SocketPath}?api_key=TOKEN&
// deviceId=ID, with the client's auth headers too (Jellyfin 12.0 accepts
// only the header). The server greets with {"MessageType":
// "ForceKeepAlive","Data":SECONDS}; the client then sends
// {"MessageType":"KeepAlive"} every SECONDS/2. A {"MessageType":
// "UserDataChanged","Data":{"UserId":…,"UserDataList":[{"ItemId","Played",
// "PlaybackPositionTicks",…}]}} for the client's user becomes, per entry:
// Played when played; Progress when unplayed with a resume position;
// Unplayed when unplayed without one (the engine's re-read tells an
// un-mark from a Jellyfin 10.x replay). Entries of folders (with
// UnplayedItemCount: the series Jellyfin sends along with each episode)
// are skipped and other users' changes ignored. Jellyfin sends nothing to
// a socket opened with an API key (CheckListen).

var _ backend.Listener = (*Client)(nil)

var keepAliveMsg = []byte(`{"MessageType":"KeepAlive"}`)

// CheckListen fails with backend.ErrAPIKey when the token is a Jellyfin
// API key, whose socket would hear nothing: /Users/Me answers 400 for a
// token without a user. Other flavours, and a server that cannot be asked
// right now, pass. hc carries the request; nil: the Transport's stream
// client.
func (c *Client) CheckListen(ctx context.Context, hc *http.Client) error {
	if !c.fl.UsersMe {
		return nil
	}
	if hc == nil {
		hc = c.tr.StreamClient()
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/Users/Me", nil)
	if err != nil {
		return nil
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusBadRequest {
		return backend.ErrAPIKey
	}
	return nil
}

// Listen serves the server's notification socket (backend.Listener),
// after CheckListen: never a silent socket.
func (c *Client) Listen(ctx context.Context, opt backend.ListenOptions, onOpen func(), notice func(backend.Notice)) error {
	hc := backend.SocketClient(opt, c.tr)
	if err := c.CheckListen(ctx, hc); err != nil {
		return err
	}
	u := c.root + c.fl.SocketPath + "?" + url.Values{"api_key": {c.token}, "deviceId": {c.deviceID}}.Encode()
	conn, err := backend.DialSocket(ctx, hc, u, c.headers.Clone())
	if err != nil {
		return err
	}
	onOpen()
	keepAlive := make(chan time.Duration, 1)
	return backend.ServeSocket(ctx, conn, opt, func(msg []byte, _ func([]byte)) {
		ns, every := c.parseMessage(msg)
		if every > 0 {
			select {
			case keepAlive <- every:
			default:
			}
		}
		for _, n := range ns {
			notice(n)
		}
	}, keepAlive, keepAliveMsg)
}

// parseMessage reads one socket message: the notices it carries, or the
// keep-alive interval the server asks for (0: none asked).
func (c *Client) parseMessage(msg []byte) (notices []backend.Notice, keepAlive time.Duration) {
	var env struct {
		MessageType string
		Data        json.RawMessage
	}
	if json.Unmarshal(msg, &env) != nil {
		return nil, 0
	}
	switch env.MessageType {
	case "ForceKeepAlive":
		var secs float64
		if json.Unmarshal(env.Data, &secs) != nil || secs <= 0 || secs > 3600 {
			return nil, 0
		}
		return nil, max(time.Duration(secs*float64(time.Second))/2, 100*time.Millisecond)
	case "UserDataChanged":
		var d struct {
			UserID       backend.FlexString `json:"UserId"`
			UserDataList []struct {
				ItemID                backend.FlexString `json:"ItemId"`
				Played                bool
				PlaybackPositionTicks int64
				UnplayedItemCount     *int // only folders have it
			}
		}
		if json.Unmarshal(env.Data, &d) != nil {
			return nil, 0
		}
		c.mu.Lock()
		user := backend.NormalizeID(c.userID)
		c.mu.Unlock()
		if user == "" || backend.NormalizeID(string(d.UserID)) != user {
			return []backend.Notice{backend.Ignored(env.MessageType, "another user's change")}, 0
		}
		for _, e := range d.UserDataList {
			if e.UnplayedItemCount != nil {
				// A series or season: Jellyfin sends the parent of
				// every changed episode along; it is not an item.
				continue
			}
			id, err := backend.WebhookItemID(string(e.ItemID), c.fl.GUIDItemIDs)
			if err != nil {
				continue
			}
			notices = append(notices, backend.Notice{
				Event: env.MessageType, Kind: backend.UserDataNotice(e.Played, e.PlaybackPositionTicks),
				ItemID: id, UserID: user,
			})
		}
	}
	return notices, 0
}
