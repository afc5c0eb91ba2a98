package plex_test

import (
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/backendtest"
	"playmark/sync/backend/plex"
	"playmark/sync/backend/simulate"
)

// TestConformance runs the shared backend suite against the simulated
// Plex server over real HTTP.
func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Kind: backend.Plex,
		NewServer: func(c *simulate.Catalog, opt simulate.Options) (simulate.Server, error) {
			return simulate.NewPlex(c, opt)
		},
		NewClient: func(cfg backend.Config) (backend.Backend, error) {
			return plex.New(cfg)
		},
	})
}
