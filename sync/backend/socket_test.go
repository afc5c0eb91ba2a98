package backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestSocketHandshakeSendsNoCredentialElsewhere: a notification socket
// redirected to another address is refused before anything reaches it,
// and a redirect within the server carries no Referer (which held the
// URL's api_key).
func TestSocketHandshakeSendsNoCredentialElsewhere(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	referer := "unset"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.URL.String()+" "+r.Header.Get("X-Emby-Token")+" "+r.Header.Get("Referer"))
		mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer evil.Close()
	home := httptest.NewServer(nil)
	defer home.Close()
	home.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, evil.URL+"/socket", http.StatusFound)
		case "/within":
			http.Redirect(w, r, home.URL+"/landed", http.StatusFound)
		case "/landed":
			mu.Lock()
			referer = r.Header.Get("Referer")
			mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
		}
	})
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
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the other address received: %q", leaked)
	}
	if referer != "" {
		t.Errorf("the redirect within the server sent Referer %q", referer)
	}
}
