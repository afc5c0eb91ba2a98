// Package mediabrowser is the client Jellyfin and Emby share: the two are
// one API family (Jellyfin forked Emby 3.5.2), so one Client speaks to both
// and a Flavor value holds every difference as data. The packages jellyfin
// and emby only pick the flavour.
//
// The Client implements backend.Backend. It sends every request through
// the configured backend.Transport (bounded concurrency, retries, error
// kinds), sends the token only in headers, never in a URL, and decodes
// listings one page at a time.
package mediabrowser

import "playmark/sync/backend"

// AuthStyle is how a request carries the token and the client's identity.
type AuthStyle int

const (
	// AuthMediaBrowser sends `Authorization: MediaBrowser Client=…,
	// Device=…, DeviceId=…, Version=…, Token=…` (values URL-encoded), the
	// only header form Jellyfin 12.0 still accepts.
	AuthMediaBrowser AuthStyle = iota
	// AuthEmby sends `X-Emby-Token: <token>` and the identity in
	// `X-Emby-Authorization: Emby UserId=…, Client=…, Device=…, DeviceId=…,
	// Version=…`, as Emby's own clients do.
	AuthEmby
)

// RouteStyle is how user-scoped routes name the user.
type RouteStyle int

const (
	// RoutesLegacy puts the user in the path: /Users/{u}/Items,
	// /Users/{u}/Views, /Users/{u}/PlayedItems/{id},
	// /Users/{u}/Items/{id}/UserData. Emby has only these; Jellyfin hides
	// them from its spec but still serves them (10.9 to 12).
	RoutesLegacy RouteStyle = iota
	// RoutesUserQuery names the user in ?userId=: /Items, /UserViews,
	// /UserPlayedItems/{id}, /UserItems/{id}/UserData (Jellyfin 10.9+).
	RoutesUserQuery
)

// Flavor is everything that differs between Jellyfin and Emby, as data.
type Flavor struct {
	// Kind is the server family the client reports.
	Kind backend.Kind
	// Product names the server software when /System/Info does not.
	Product string
	// Auth is how the token travels.
	Auth AuthStyle
	// Routes is the style of the user-scoped routes.
	Routes RouteStyle
	// PathPrefix is put in front of every path unless the configured URL
	// already ends with it ("/emby": Emby serves every route under it, and
	// reverse proxies often forward only that).
	PathPrefix string
	// UsersMe: GET /Users/Me names the token's user (Jellyfin; it answers
	// 400 for an API key, which has no user).
	UsersMe bool
	// UsersQuery: list users with GET /Users/Query (a QueryResult, Emby
	// 4.8) and fall back to the legacy GET /Users array on 404. Otherwise
	// GET /Users answers the array.
	UsersQuery bool
	// DatePlayedLayout is the Go layout of PlayedItems' DatePlayed, sent in
	// UTC. Emby accepts only yyyyMMddHHmmss; Jellyfin that or ISO 8601.
	DatePlayedLayout string
	// UserDataReturnsBody: POST …/UserData answers the new UserItemDataDto
	// (Jellyfin), which the client then checks. Emby answers 200 with an
	// empty body. Either way an empty body is accepted.
	UserDataReturnsBody bool
	// StartIndexEchoed: a QueryResult carries StartIndex (Jellyfin; Emby
	// omits it). When true and present, it must equal the requested one.
	StartIndexEchoed bool
	// GUIDItemIDs: item ids are 32-hex GUIDs (Jellyfin, which answers 400
	// to anything else). The client treats a malformed id as unknown
	// instead of sending it. Emby ids are numeric strings: not checked.
	GUIDItemIDs bool
	// SocketPath is the notification websocket, under the configured URL
	// without PathPrefix: /socket (Jellyfin), /embywebsocket (Emby).
	SocketPath string
	// Webhook is the shape of the server's webhook bodies.
	Webhook WebhookStyle
}

// WebhookStyle is the webhook a server posts.
type WebhookStyle int

const (
	// WebhookJellyfinPlugin is jellyfin-plugin-webhook's Generic
	// destination with "Send All Properties": a flat JSON object
	// (NotificationType, ItemId, UserId, ServerId, Played…).
	WebhookJellyfinPlugin WebhookStyle = iota
	// WebhookEmby is Emby's own (Emby Premiere, 4.7.9+): the JSON in the
	// form field "data", or the whole body as application/json (4.9), with
	// Event, Item, User and Server objects.
	WebhookEmby
)
