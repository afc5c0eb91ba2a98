package state

import (
	"context"
	"errors"
	"testing"
)

func TestBackendValidate(t *testing.T) {
	good := Backend{Name: "living-room.1", Kind: "jellyfin", URL: "http://192.168.1.10:8096", Import: ImportMetadata}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for name, b := range map[string]Backend{
		"empty name":      {Name: "", Kind: "plex", URL: "http://h:1"},
		"name with space": {Name: "living room", Kind: "plex", URL: "http://h:1"},
		"leading dot":     {Name: ".x", Kind: "plex", URL: "http://h:1"},
		"unknown kind":    {Name: "x", Kind: "kodi", URL: "http://h:1"},
		"no kind":         {Name: "x", URL: "http://h:1"},
		"ftp url":         {Name: "x", Kind: "emby", URL: "ftp://h:1"},
		"url with user":   {Name: "x", Kind: "emby", URL: "http://u:p@h:1"},
		"url with query":  {Name: "x", Kind: "emby", URL: "http://h:1?a=b"},
		"trailing slash":  {Name: "x", Kind: "emby", URL: "http://h:1/"},
		"unknown import":  {Name: "x", Kind: "emby", URL: "http://h:1", Import: "some"},
	} {
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want ErrInvalid", name, err)
		}
	}
	if u, err := NormalizeURL(" https://h.example/jf/ "); err != nil || u != "https://h.example/jf" {
		t.Errorf("NormalizeURL = %q, %v", u, err)
	}
}

// TestStoreRefusesInvalidBackend: what does not validate is not saved,
// by add or by update.
func TestStoreRefusesInvalidBackend(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	if _, err := s.AddBackend(ctx, Backend{Name: "bad name", Kind: "plex", URL: "http://h:1", Token: "t"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("AddBackend with a bad name: %v, want ErrInvalid", err)
	}
	b, err := s.AddBackend(ctx, Backend{Name: "ok", Kind: "plex", URL: "http://h:1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	b.Kind = "kodi"
	if err := s.UpdateBackend(ctx, b); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UpdateBackend with an unknown kind: %v, want ErrInvalid", err)
	}
	all, err := s.Backends(ctx)
	if err != nil || len(all) != 1 || all[0].Kind != "plex" {
		t.Fatalf("after the refusals: %+v, %v", all, err)
	}
}
