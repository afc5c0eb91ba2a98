package simulate

import (
	"strings"
	"time"

	"playmark/sync/backend"
)

// StartOptions shape a simulated server started by Start.
type StartOptions struct {
	Listen    string
	Items     int
	Token     string
	Name      string
	Seed      uint64 // the catalog: same seed, same library on every server
	WatchSeed uint64 // the play states: differ per server to see sync work; 0 uses a seed per kind
	// Version is the server version to behave as where behaviour changed
	// (Jellyfin 10.11 or 12.0, Emby 4.7 or 4.8); "" is the default.
	Version string
}

// Start starts a simulated server of kind k with a generated library and
// play state: what playmark simulate, the demo and the benchmarks serve.
func Start(k backend.Kind, o StartOptions) (Server, error) {
	cat := Generate(GenerateOptions{Items: o.Items, Seed: o.Seed})
	ws := o.WatchSeed
	if ws == 0 {
		ws = map[backend.Kind]uint64{backend.Plex: 101, backend.Jellyfin: 202, backend.Emby: 303}[k]
	}
	opt := Options{Listen: o.Listen, Token: o.Token, Name: o.Name, Version: o.Version,
		Watches: GenerateWatches(cat, ws, time.Now().UTC().Add(-time.Hour))}
	// Jellyfin 10.x as people run it today: the legacy token forms on.
	// 12.0 turned them off.
	opt.LegacyAuth = k == backend.Jellyfin && !strings.HasPrefix(o.Version, "12.")
	return New(k, cat, opt)
}
