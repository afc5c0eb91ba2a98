package jellyfin_test

import (
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/backendtest"
	"playmark/sync/backend/jellyfin"
	"playmark/sync/backend/simulate"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Kind: backend.Jellyfin,
		NewServer: func(c *simulate.Catalog, opt simulate.Options) (simulate.Server, error) {
			return simulate.NewJellyfin(c, opt)
		},
		NewClient: func(cfg backend.Config) (backend.Backend, error) { return jellyfin.New(cfg) },
	})
}
