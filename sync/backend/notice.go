package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// NoticeKind is what a server says happened to an item.
type NoticeKind int

// Notice kinds. Played and Unplayed are the user marking an item;
// Progress covers play, pause, resume and stop, which may move the
// resume position, never the watched flag; Added is a new item.
const (
	NoticePlayed NoticeKind = iota
	NoticeUnplayed
	NoticeProgress
	NoticeAdded
)

func (k NoticeKind) String() string {
	switch k {
	case NoticePlayed:
		return "played"
	case NoticeUnplayed:
		return "unplayed"
	case NoticeProgress:
		return "progress"
	case NoticeAdded:
		return "added"
	}
	return fmt.Sprintf("NoticeKind(%d)", int(k))
}

// UserDataNotice is the kind of a user-data change as Jellyfin and Emby
// report it (a socket's UserDataChanged entry, a webhook's UserDataSaved):
// played is Played; unplayed with a resume position is Progress; unplayed
// without one is Unplayed.
func UserDataNotice(played bool, positionTicks int64) NoticeKind {
	switch {
	case played:
		return NoticePlayed
	case positionTicks > 0:
		return NoticeProgress
	}
	return NoticeUnplayed
}

// Notice is what a server said happened, from its socket or a webhook,
// before anyone acted on it. Only the item id is ever acted on: the
// engine re-reads the item with the backend's own token.
type Notice struct {
	// Event is the server's own name for it: media.scrobble,
	// UserDataSaved, item.markplayed, UserDataChanged, playing…
	Event string
	// Reason says why the notice is not acted on (an event Playmark does
	// not use, another user's change, a folder); "" when it is. The other
	// fields may then be empty.
	Reason string
	Kind   NoticeKind
	ItemID string // the item's id on that server, written as its client writes it
	// Final is a playback's last word (paused, stopped): passed on at once
	// rather than held back with the repeated positions before it.
	Final bool

	ServerID string // Plex Server.uuid, Jellyfin ServerId, Emby Server.Id; "" when not said
	// UserID is the user the notice is about: Jellyfin/Emby user ids
	// (32-hex, lower case, no dashes); Plex Account.id, which is the
	// plex.tv account id, not the server-local one.
	UserID string
	// PlexUser and PlexOwner are Plex's "user" and "owner" webhook flags:
	// the account that played has this webhook configured (user), or the
	// server's owner has (owner).
	PlexUser, PlexOwner bool
	At                  time.Time // when the server says it happened, UTC; zero: not said
}

// Act says whether the notice is to be acted on.
func (n Notice) Act() bool { return n.Reason == "" }

// Ignored is a notice that is not acted on, and why.
func Ignored(event, reason string) Notice { return Notice{Event: event, Reason: reason} }

// ServerMismatch is the part of WebhookReceiver.Mismatch every server
// shares: why n is not about the server whose recorded id is serverID,
// and whether the user still needs checking (an Added notice needs no
// user: no one's play state is involved).
func ServerMismatch(n Notice, serverID string) (reason string, checkUser bool) {
	switch {
	case serverID == "":
		return "the backend's server id is not known yet (it is recorded by the first import)", false
	case !strings.EqualFold(n.ServerID, serverID):
		return "another server", false
	case n.Kind == NoticeAdded:
		return "", false
	}
	return "", true
}

// ErrBadPayload is the error kind of a webhook body that is not what the
// server sends: not JSON, a broken multipart body, a missing part or a
// relevant event without an item id.
var ErrBadPayload = errors.New("bad webhook payload")

// BadPayload is an error of kind ErrBadPayload saying what is wrong.
func BadPayload(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPayload, fmt.Sprintf(format, a...))
}

// WebhookReceiver is implemented by a client whose server can post
// webhooks.
type WebhookReceiver interface {
	// ParseWebhook reads one webhook body as the server sends it. An
	// event Playmark does not act on is a Notice with a Reason, not an
	// error; a body that is not what the server sends fails with
	// ErrBadPayload.
	ParseWebhook(contentType string, body []byte) (Notice, error)
	// Mismatch says why a notice that is acted on is nevertheless not
	// about this client's server (Config.ServerID) and user
	// (Config.UserID), or "" when it is.
	Mismatch(n Notice) string
}

// ListenOptions tune a socket session. Zero values pick the defaults.
type ListenOptions struct {
	// Ping is the websocket ping interval: a dead peer is noticed
	// within Ping+15 s. Default 30 s.
	Ping time.Duration
	// KeepAlive is the interval of the server's own keep-alive message,
	// for a server that wants one, until the server says another.
	// Default 30 s.
	KeepAlive time.Duration
	// HTTPClient carries the handshake; nil: the client's Transport's
	// (its TLS pin and redirect rule, without its per-request timeout).
	HTTPClient *http.Client
}

// Listener is implemented by a client whose server has a notification
// socket.
type Listener interface {
	// CheckListen says whether this client's token can hear its user's
	// changes on the socket. It fails only when it knows the socket would
	// stay silent; a server that cannot be asked right now passes (the
	// socket then says itself what is wrong).
	CheckListen(ctx context.Context, hc *http.Client) error
	// Listen dials the socket, greets the server and keeps the
	// connection alive, calling onOpen once the handshake succeeded and
	// notice for each item a message names (an ignored one with its
	// Reason, such as another user's change; messages about no item,
	// keep-alives and the like, make none), from one goroutine, until
	// the connection fails or ctx ends. It returns why; a refused token
	// wraps ErrUnauthorized. The caller owns reconnecting.
	Listen(ctx context.Context, opt ListenOptions, onOpen func(), notice func(Notice)) error
}

// ErrAPIKey is why live updates are refused on a Jellyfin backend whose
// token is an API key: Jellyfin sends UserDataChanged only to that user's
// own sessions, and a socket opened with an API key has no user, so it
// would hear nothing (jellyfin #13479; API-NOTES section 7).
var ErrAPIKey = errors.New("live updates need a user's token, and this one is an API key: Jellyfin tells an API key's socket nothing")
