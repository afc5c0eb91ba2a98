package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// ErrAPIKey is why live updates are refused on a Jellyfin backend whose
// token is an API key: Jellyfin sends UserDataChanged only to that user's
// own sessions, and a socket opened with an API key has no user, so it
// would hear nothing (jellyfin #13479; API-NOTES section 7).
var ErrAPIKey = errors.New("live updates need a user's token, and this one is an API key: Jellyfin tells an API key's socket nothing")

// CheckToken says whether b's token can hear b's user's changes on the
// server's socket. It fails with ErrAPIKey (wrapped in one sentence
// saying what to do) for a Jellyfin API key; other servers, and a server
// that cannot be asked right now, pass (the socket then says itself what
// is wrong). hc carries the request; nil: one verifying TLS as the
// backend's requests do.
func CheckToken(ctx context.Context, b state.Backend, hc *http.Client) error {
	if backend.Kind(b.Kind) != backend.Jellyfin {
		return nil
	}
	if hc == nil {
		hc = (&Manager{}).client(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(b.URL, "/")+"/Users/Me", nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Authorization", `MediaBrowser Client="Playmark", Device="Playmark", DeviceId="playmark", Version="1", Token="`+url.QueryEscape(b.Token)+`"`)
	resp, err := hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusBadRequest { // /Users/Me: an API key has no user
		return fmt.Errorf("%s: %w; set that user's own token (playmark backend set %s --token USER_TOKEN) or keep live off and rely on schedules or webhooks", b.Name, ErrAPIKey, b.Name)
	}
	return nil
}
