package backend

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestSocketHandshakeSendsNoCredentialElsewhere: a notification socket
// redirected to another address is refused before anything reaches it,
// and a redirect within the server carries no Referer (which held the
// URL's api_key).
func TestSocketHandshakeSendsNoCredentialElsewhere(t *testing.T) {
	trap := newRedirectTrap(t, http.StatusFound, func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	home := trap.home
	hc := NewTransport(TransportOptions{}).StreamClient()
	h := http.Header{}
	h.Set("X-Emby-Token", "sekrit-token")
	for _, path := range []string{"/away", "/within"} {
		_, err := DialSocket(context.Background(), hc, home.URL+path+"?api_key=sekrit-token&deviceId=x", h)
		if err == nil {
			t.Fatalf("%s: the handshake succeeded", path)
		}
		if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("%s: the error shows the token: %v", path, err)
		}
	}
	leaked, referer := trap.seen()
	if len(leaked) > 0 {
		t.Errorf("the other address received: %q", leaked)
	}
	if referer != "" {
		t.Errorf("the redirect within the server sent Referer %q", referer)
	}
}
