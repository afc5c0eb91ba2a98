// Package kinds is the one registry of server kinds: for each, how to open
// its client, its name as shown to people, and where its webhook URL goes
// in the server. Everything that depends on the kind (Engine.Open, the
// accounts' password sign-in, the CLI's webhook hints, the window's
// titles) asks here; what a server speaks is its client's business
// (sync/backend/plex, sync/backend/mediabrowser with a Flavor per
// server). A new kind is one entry here, plus its Kind constant in
// sync/backend.
package kinds

import (
	"fmt"

	"playmark/sync/backend"
	"playmark/sync/backend/emby"
	"playmark/sync/backend/jellyfin"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/plex"
)

// Entry is one server kind.
type Entry struct {
	Kind  backend.Kind
	Title string // as shown to people: "Plex", "Jellyfin", "Emby"
	// WebhookHint says in one line where a backend's webhook URL goes in
	// the server.
	WebhookHint string
	// New opens a client for cfg; it sends no request.
	New func(cfg backend.Config) (backend.Backend, error)
	// SampleURL is an example address, for a form's placeholder (the
	// kind's default port).
	SampleURL string
	// Flavor is the MediaBrowser flavour (Jellyfin, Emby), for what is
	// done with the API family's own calls (signing in by password);
	// nil for other kinds.
	Flavor *mediabrowser.Flavor
}

var registry = []Entry{
	{
		Kind: backend.Plex, Title: "Plex", SampleURL: "http://192.168.1.10:32400",
		WebhookHint: "Plex: Settings > Webhooks > Add Webhook, signed in as this backend's user (needs Plex Pass).",
		New:         func(cfg backend.Config) (backend.Backend, error) { return plex.New(cfg) },
	},
	{
		Kind: backend.Jellyfin, Title: "Jellyfin", SampleURL: "http://192.168.1.10:8096",
		WebhookHint: `Jellyfin: Dashboard > Plugins > Webhook (install it from the catalogue) > Add Generic Destination; tick "Send All Properties" and the notifications Item Added, Playback Start, Playback Stop and User Data Saved.`,
		New:         func(cfg backend.Config) (backend.Backend, error) { return jellyfin.New(cfg) },
		Flavor:      flavor(jellyfin.Flavor()),
	},
	{
		Kind: backend.Emby, Title: "Emby", SampleURL: "http://192.168.1.10:8096",
		WebhookHint: "Emby: Settings > Webhooks (4.8+: Notifications > Add Notification > Webhooks; needs Emby Premiere); events: Playback, Mark played/unplayed, New media.",
		New:         func(cfg backend.Config) (backend.Backend, error) { return emby.New(cfg) },
		Flavor:      flavor(emby.Flavor()),
	},
}

func flavor(f mediabrowser.Flavor) *mediabrowser.Flavor { return &f }

// All lists the kinds, in the order they are offered.
func All() []Entry { return append([]Entry(nil), registry...) }

// Lookup finds kind k.
func Lookup(k backend.Kind) (Entry, bool) {
	for _, e := range registry {
		if e.Kind == k {
			return e, true
		}
	}
	return Entry{}, false
}

// Open opens a client for cfg by its Kind.
func Open(cfg backend.Config) (backend.Backend, error) {
	e, ok := Lookup(cfg.Kind)
	if !ok {
		return nil, fmt.Errorf("unknown backend type %q", cfg.Kind)
	}
	return e.New(cfg)
}

// Title is k as shown to people; an unknown kind as it is spelled.
func Title(k backend.Kind) string {
	if e, ok := Lookup(k); ok {
		return e.Title
	}
	return string(k)
}

// WebhookHint says where a webhook URL goes in a server of kind k; "" for
// an unknown kind.
func WebhookHint(k backend.Kind) string {
	e, _ := Lookup(k)
	return e.WebhookHint
}

// Flavor is the MediaBrowser flavour of kind k; ok is false for a kind
// that is not Jellyfin or Emby.
func Flavor(k backend.Kind) (fl mediabrowser.Flavor, ok bool) {
	if e, found := Lookup(k); found && e.Flavor != nil {
		return *e.Flavor, true
	}
	return mediabrowser.Flavor{}, false
}
