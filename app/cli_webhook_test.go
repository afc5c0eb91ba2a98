package app

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"playmark/sync/state"
)

func TestCLIWebhooks(t *testing.T) {
	dir := t.TempDir()
	for _, b := range [][]string{
		{"den", "plex", "http://127.0.0.1:32400"},
		{"attic", "jellyfin", "http://127.0.0.1:8096"},
		{"cellar", "emby", "http://127.0.0.1:8097"},
	} {
		if code, _, stderr := pm(t, dir, "backend", "add", b[0], "--type", b[1], "--url", b[2], "--token", "t", "--user", "u", "--no-test"); code != 0 {
			t.Fatalf("backend add: %s", stderr)
		}
	}
	code, out, _ := pm(t, dir, "webhooks")
	if code != 0 || !strings.Contains(out, "Webhooks are off") || strings.Contains(out, "/webhook/") {
		t.Fatalf("off: %d %q", code, out)
	}

	code, out, stderr := pm(t, dir, "webhooks", "--listen", "127.0.0.1:8787")
	if code != 0 {
		t.Fatalf("--listen: %d %s", code, stderr)
	}
	urls := regexp.MustCompile(`http://127\.0\.0\.1:8787/webhook/[0-9a-f]{32}`).FindAllString(out, -1)
	if len(urls) != 3 {
		t.Fatalf("want three URLs:\n%s", out)
	}
	for _, hint := range []string{"Plex: Settings > Webhooks", "Plex Pass", "Send All Properties", "Emby: Settings > Webhooks"} {
		if !strings.Contains(out, hint) {
			t.Errorf("no %q in:\n%s", hint, out)
		}
	}
	// The secrets were made once and kept.
	_, again, _ := pm(t, dir, "webhooks")
	if got := regexp.MustCompile(`http://\S+/webhook/[0-9a-f]{32}`).FindAllString(again, -1); strings.Join(got, " ") != strings.Join(urls, " ") {
		t.Errorf("the URLs changed: %v, then %v", urls, got)
	}
	// On every interface, the URL names this machine, not 0.0.0.0.
	_, out, _ = pm(t, dir, "webhooks", "--listen", "0.0.0.0:8787")
	if strings.Contains(out, "http://0.0.0.0") || !strings.Contains(out, ":8787/webhook/") {
		t.Errorf("all interfaces:\n%s", out)
	}

	for _, bad := range [][]string{
		{"webhooks", "--listen", "8787"},
		{"webhooks", "--listen", "127.0.0.1:0"},
		{"webhooks", "--listen", "127.0.0.1:http"},
		{"webhooks", "--listen", "127.0.0.1:1", "--off"},
		{"webhooks", "now"},
		{"backend", "set", "den", "--live", "maybe"},
	} {
		if code, _, stderr := pm(t, dir, bad...); code != exitUsage {
			t.Errorf("%v: exit %d %q, want 2", bad, code, stderr)
		}
	}

	if code, _, stderr := pm(t, dir, "backend", "set", "den", "--live", "on"); code != 0 {
		t.Fatalf("--live on: %s", stderr)
	}
	if code, out, _ := pm(t, dir, "webhooks", "--off"); code != 0 || !strings.Contains(out, "Webhooks are off") {
		t.Errorf("--off: %q", out)
	}
	st, err := state.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, _ := st.Settings(context.Background())
	den, _ := st.Backend(context.Background(), "den")
	attic, _ := st.Backend(context.Background(), "attic")
	if set.WebhookListen != "" || !den.Options.Live || attic.Options.Live || den.Options.WebhookSecret == "" {
		t.Errorf("saved: listen %q, den %+v, attic %+v", set.WebhookListen, den.Options, attic.Options)
	}
}
