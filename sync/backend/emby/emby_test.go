package emby_test

import (
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/backendtest"
	"playmark/sync/backend/emby"
	"playmark/sync/backend/simulate"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Kind: backend.Emby,
		NewServer: func(c *simulate.Catalog, opt simulate.Options) (simulate.Server, error) {
			return simulate.NewEmby(c, opt)
		},
		NewClient: func(cfg backend.Config) (backend.Backend, error) { return emby.New(cfg) },
	})
}
