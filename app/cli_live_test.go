package app

import (
	"context"
	"strings"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// TestCLILiveOnAJellyfinAPIKeyIsRefused: Jellyfin's socket tells an API
// key nothing, so `--live on` on such a backend is refused with one
// sentence saying what to do, and nothing is saved; with the user's own
// token it is accepted.
func TestCLILiveOnAJellyfinAPIKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	srv, err := simulate.NewJellyfin(simulate.Generate(simulate.GenerateOptions{Items: 20, Seed: 1}), simulate.Options{LegacyAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code, out, stderr := pm(t, dir, "backend", "add", "jf", "--type", "jellyfin", "--url", srv.URL(), "--token", srv.APIKey(), "--user", srv.UserID()); code != 0 {
		t.Fatalf("add with the API key: %d %q %q", code, out, stderr)
	}
	code, _, stderr := pm(t, dir, "backend", "set", "jf", "--live", "on")
	if code != exitUsage || !strings.Contains(stderr, "API key") || !strings.Contains(stderr, "backend set jf --token") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Fatalf("--live on with an API key: exit %d, %q; want a one-line refusal saying what to do", code, stderr)
	}
	if err := openAndCheckLive(t, dir, "jf", false); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := pm(t, dir, "backend", "set", "jf", "--token", srv.Token(), "--live", "on"); code != 0 {
		t.Fatalf("--live on with the user's token: exit %d, %q", code, stderr)
	}
	if err := openAndCheckLive(t, dir, "jf", true); err != nil {
		t.Fatal(err)
	}
}

func openAndCheckLive(t *testing.T, dir, name string, want bool) error {
	t.Helper()
	core, err := OpenCore(context.Background(), dir, nil)
	if err != nil {
		return err
	}
	defer core.Close()
	b, err := core.Store.Backend(context.Background(), name)
	if err != nil {
		return err
	}
	if b.Options.Live != want || b.Kind != backend.Jellyfin {
		t.Errorf("%s: live %v, want %v", name, b.Options.Live, want)
	}
	return nil
}
