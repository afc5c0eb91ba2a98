// Package jellyfin is the Jellyfin flavour of the mediabrowser client:
// the MediaBrowser Authorization header (the one form Jellyfin 12.0 still
// accepts), the ?userId= routes of 10.9+, /Users/Me, UserData writes that
// answer the new user data, and 32-hex item ids.
package jellyfin

import (
	"playmark/sync/backend"
	"playmark/sync/backend/mediabrowser"
)

// Flavor is how Jellyfin (10.9 to 12.0) differs from Emby.
func Flavor() mediabrowser.Flavor {
	return mediabrowser.Flavor{
		Kind:                backend.Jellyfin,
		Product:             "Jellyfin Server",
		Auth:                mediabrowser.AuthMediaBrowser,
		Routes:              mediabrowser.RoutesUserQuery,
		UsersMe:             true,
		DatePlayedLayout:    "20060102150405", // also accepted: ISO 8601
		UserDataReturnsBody: true,
		StartIndexEchoed:    true,
		GUIDItemIDs:         true,
		SocketPath:          "/socket",
		Webhook:             mediabrowser.WebhookJellyfinPlugin,
	}
}

// New returns a Jellyfin client for cfg (see mediabrowser.New).
func New(cfg backend.Config) (*mediabrowser.Client, error) {
	return mediabrowser.New(cfg, Flavor())
}
