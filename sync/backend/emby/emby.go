// Package emby is the Emby flavour of the mediabrowser client: the token
// in X-Emby-Token, the /emby path prefix, the /Users/{u}/… routes,
// /Users/Query for accounts, DatePlayed as yyyyMMddHHmmss, and UserData
// writes that answer an empty body.
package emby

import (
	"playmark/sync/backend"
	"playmark/sync/backend/mediabrowser"
)

// Flavor is how Emby (4.7 to 4.9) differs from Jellyfin.
func Flavor() mediabrowser.Flavor {
	return mediabrowser.Flavor{
		Kind:             backend.Emby,
		Product:          "Emby Server",
		Auth:             mediabrowser.AuthEmby,
		Routes:           mediabrowser.RoutesLegacy,
		PathPrefix:       "/emby",
		UsersQuery:       true,
		DatePlayedLayout: "20060102150405", // the only form Emby accepts
		SocketPath:       "/embywebsocket",
		Webhook:          mediabrowser.WebhookEmby,
	}
}

// New returns an Emby client for cfg (see mediabrowser.New).
func New(cfg backend.Config) (*mediabrowser.Client, error) {
	return mediabrowser.New(cfg, Flavor())
}
