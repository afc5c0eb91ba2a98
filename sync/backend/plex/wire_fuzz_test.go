package plex

import (
	"strings"
	"testing"
)

// FuzzDecodeContainer feeds the streaming MediaContainer decoder arbitrary
// bytes: it must return an error or items, never panic or loop, and every
// item it yields must convert without panicking.
func FuzzDecodeContainer(f *testing.F) {
	for _, s := range []string{
		`{"MediaContainer":{"size":1,"totalSize":1,"offset":0,"Metadata":[{"ratingKey":"5","type":"episode","guid":"plex://episode/1","grandparentTitle":"S","parentIndex":1,"index":2,"Guid":[{"id":"imdb://tt1"}],"viewCount":1,"lastViewedAt":1643805016,"addedAt":1105631952,"duration":2654912,"viewOffset":1000}]}}`,
		`{"MediaContainer":{"size":0}}`,
		`{"MediaContainer":{"size":"2","Metadata":[{"ratingKey":7,"type":"movie","guid":"com.plexapp.agents.imdb://tt0113277?lang=en","Media":[{"Part":[{"file":"/m/Heat.mkv"}]}]}]}}`,
		`{"MediaContainer":{"Metadata":[{"ratingKey":"1","lastViewedAt":-1,"duration":1e30}]}}`,
		`{"MediaContainer":[]}`,
		`{"errors":[{"code":1001}]}`,
		`<MediaContainer size="0"/>`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var head wireHead
		n := 0
		_ = decodeContainer(strings.NewReader(body), &head, func(m *wireMeta) error {
			n++
			_, _ = toItem(m, "1", "1")
			_ = m.guidIDs()
			return nil
		})
		if n > len(body) {
			t.Fatalf("%d items from %d bytes", n, len(body))
		}
	})
}
