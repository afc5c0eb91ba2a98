package kinds

import (
	"testing"

	"playmark/sync/backend"
)

// TestEveryKindIsRegistered: each kind ParseKind accepts has an entry
// that opens a client of that kind, a title and a webhook hint; and
// nothing else is registered.
func TestEveryKindIsRegistered(t *testing.T) {
	want := []backend.Kind{backend.Plex, backend.Jellyfin, backend.Emby}
	if len(All()) != len(want) {
		t.Errorf("%d kinds registered, want %d", len(All()), len(want))
	}
	for _, k := range want {
		if _, err := backend.ParseKind(string(k)); err != nil {
			t.Fatalf("ParseKind(%s): %v", k, err)
		}
		e, ok := Lookup(k)
		if !ok {
			t.Errorf("%s is not registered", k)
			continue
		}
		c, err := Open(backend.Config{Kind: k, URL: "http://192.0.2.1:8096", Token: "t"})
		if err != nil || c.Kind() != k {
			t.Errorf("Open(%s): %v, %v", k, c, err)
		}
		if e.SampleURL == "" {
			t.Errorf("%s: no sample URL", k)
		}
		if Title(k) == "" || Title(k) == string(k) || WebhookHint(k) == "" {
			t.Errorf("%s: title %q, hint %q", k, Title(k), WebhookHint(k))
		}
		_, mb := Flavor(k)
		if mb != (e.Flavor != nil) || mb == (k == backend.Plex) {
			t.Errorf("%s: a MediaBrowser flavour %v", k, mb)
		}
	}
	if _, err := Open(backend.Config{Kind: "kodi", URL: "http://192.0.2.1", Token: "t"}); err == nil {
		t.Error("an unknown kind opened")
	}
	if Title("kodi") != "kodi" {
		t.Errorf("an unknown kind's title: %q", Title("kodi"))
	}
}
