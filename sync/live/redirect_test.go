package live

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"playmark/sync/engine"
	"playmark/sync/state"
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
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "cfg"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := New(st, &recorder{ch: make(chan engine.Event, 1)}, Options{})
	b := state.Backend{Name: "den", Kind: "emby", URL: home.URL, Token: "sekrit-token"}
	h := http.Header{}
	h.Set("X-Emby-Token", b.Token)
	for _, path := range []string{"/away", "/within"} {
		_, err := m.dial(context.Background(), b, home.URL+path+"?api_key=sekrit-token&deviceId=x", h)
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
