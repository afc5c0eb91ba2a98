package backend

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile servers and proxies: what the transport must refuse or bound
// whatever a server (or something in front of it) answers.

// TestRedirectNeverCarriesTheToken: a server that redirects to another
// host, port or scheme gets the request refused, with one sentence, and
// the other address sees nothing; a redirect within the server is
// followed, without a Referer (which would carry a socket's api_key).
func TestRedirectNeverCarriesTheToken(t *testing.T) {
	trap := newRedirectTrap(t, http.StatusMovedPermanently, func(w http.ResponseWriter) { w.Write([]byte("{}")) })
	home := trap.home
	tr := NewTransport(TransportOptions{MaxRetryWait: time.Millisecond})
	do := func(path string) error {
		req, _ := http.NewRequest("GET", home.URL+path+"?api_key=sekrit-query", nil)
		req.Header.Set("X-Plex-Token", "sekrit-plex")
		req.Header.Set("X-Emby-Token", "sekrit-emby")
		resp, err := tr.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	err := do("/away")
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "redirected to") {
		t.Errorf("redirect to another port: %v, want ErrBadResponse saying where it redirected", err)
	}
	if err != nil && strings.Contains(err.Error(), "sekrit") {
		t.Errorf("the refusal shows a secret: %v", err)
	}
	if err := do("/within"); err != nil {
		t.Errorf("redirect within the server: %v", err)
	}
	leaked, referer := trap.seen()
	if len(leaked) > 0 {
		t.Errorf("the other address received %d requests: %q", len(leaked), leaked)
	}
	if referer != "" {
		t.Errorf("a Referer went along: %q", referer)
	}
}

// redirectTrap is a server whose /away redirects to another server, which
// records every request that reaches it, and whose /within redirects (with
// status within) to its own /landed, which records the Referer it got
// ("unset" until it is reached); both ends answer with answer.
type redirectTrap struct {
	home    *httptest.Server
	mu      sync.Mutex
	leaked  []string
	referer string
}

func newRedirectTrap(t *testing.T, within int, answer func(http.ResponseWriter)) *redirectTrap {
	trap := &redirectTrap{referer: "unset"}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trap.mu.Lock()
		trap.leaked = append(trap.leaked, strings.Join([]string{r.URL.String(), r.Header.Get("X-Plex-Token"), r.Header.Get("X-Emby-Token"), r.Header.Get("Referer")}, " "))
		trap.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(evil.Close)
	trap.home = httptest.NewServer(nil)
	t.Cleanup(trap.home.Close)
	trap.home.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, evil.URL+"/elsewhere", http.StatusFound)
		case "/within":
			http.Redirect(w, r, trap.home.URL+"/landed", within)
		case "/landed":
			trap.mu.Lock()
			trap.referer = r.Header.Get("Referer")
			trap.mu.Unlock()
			answer(w)
		}
	})
	return trap
}

// seen is what reached the other server, and the Referer /landed got.
func (trap *redirectTrap) seen() (leaked []string, referer string) {
	trap.mu.Lock()
	defer trap.mu.Unlock()
	return append([]string(nil), trap.leaked...), trap.referer
}

// TestRedirectFromHTTPSToHTTPIsRefused: same host name, another scheme.
func TestRedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	var got string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("X-Emby-Token")
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer tlsSrv.Close()
	tr := NewTransport(TransportOptions{PinnedCert: CertFingerprint(tlsSrv.Certificate().Raw)})
	req, _ := http.NewRequest("GET", tlsSrv.URL+"/Items", nil)
	req.Header.Set("X-Emby-Token", "sekrit")
	if _, err := tr.Do(req); !errors.Is(err, ErrBadResponse) {
		t.Errorf("https to http: %v, want ErrBadResponse", err)
	}
	if got != "" {
		t.Errorf("the token went over plain http: %q", got)
	}
}

// TestPinMeansExactlyThatCertificate: a pinned backend presenting another
// certificate is refused with "the certificate changed", not the message
// of a first-time self-signed one.
func TestPinMeansExactlyThatCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer srv.Close()
	fp := CertFingerprint(srv.Certificate().Raw)
	old := strings.Repeat("ab", 32)
	err := get(t, NewTransport(TransportOptions{PinnedCert: old}), srv.URL)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("another certificate than the pinned one: %v, want ErrUnreachable", err)
	}
	msg := Describe("nas", err)
	if !strings.Contains(msg, "the certificate changed") || !strings.Contains(msg, fp) {
		t.Errorf("Describe = %q, want it to say the certificate changed and name %s", msg, fp)
	}
	// The leaf alone decides: a pinned config never falls back to the
	// chain (which a CA-issued certificate would pass).
	cfg := PinnedTLSConfig(old)
	if cfg.VerifyConnection == nil || !cfg.InsecureSkipVerify {
		t.Fatal("a pinned config must verify by the pin alone")
	}
}

// TestHungServerIsNotRetried: a request that let the whole timeout pass
// is not sent again (4 tries x 60 s held the run lock for 4 minutes).
func TestHungServerIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	tr := NewTransport(TransportOptions{Timeout: 200 * time.Millisecond, MaxRetries: 3, MaxRetryWait: time.Millisecond})
	start := time.Now()
	err := get(t, tr, srv.URL)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("hung server: %v, want ErrUnreachable", err)
	}
	if tr.Requests() != 1 || time.Since(start) > 600*time.Millisecond {
		t.Errorf("hung server: %d requests in %s, want 1 within about the timeout", tr.Requests(), time.Since(start))
	}
}

// allocatedWhile is how many bytes f allocates.
func allocatedWhile(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileBodiesCostAFewMB: an endless body and a gzip bomb, decoded as
// the clients decode a page, cost a few MB before they are refused, with
// the default limits (they lifted RSS to about 820 MB).
func TestHostileBodiesCostAFewMB(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Items":[{"Name":"`))
		for i := 0; i < 1<<14; i++ { // up to 1 GiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer endless.Close()
	bomb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		z, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
		z.Write([]byte(`{"Items":[{"Name":"`))
		for i := 0; i < 1<<14; i++ { // 1 GiB once inflated, about 1 MB on the wire
			if _, err := z.Write(chunk); err != nil {
				return
			}
		}
		z.Close()
	}))
	defer bomb.Close()
	for name, url := range map[string]string{"endless body": endless.URL, "gzip bomb": bomb.URL} {
		t.Run(name, func(t *testing.T) {
			tr := NewTransport(TransportOptions{})
			var err error
			n := allocatedWhile(func() {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
				resp, derr := tr.Do(req)
				if derr != nil {
					err = derr
					return
				}
				defer resp.Body.Close()
				var page struct{ Items []struct{ Name string } }
				err = json.NewDecoder(resp.Body).Decode(&page)
			})
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("%s: %v, want ErrBadResponse", name, err)
			}
			t.Logf("%s: %.1f MB allocated", name, float64(n)/(1<<20))
			if n > 48<<20 {
				t.Errorf("%s: %d MB allocated before it was refused, want a few MB over a page", name, n>>20)
			}
		})
	}
}

// TestErrorBodyThatEchoesTheTokenIsRedacted: whatever credential form the
// request used (a token header, Authorization's Token="...", the query),
// an error body that repeats it never carries it into the error, even
// where the body is cut short; this covers every caller, the CLI's
// "backend add" included.
func TestErrorBodyThatEchoesTheTokenIsRedacted(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		// The token straddles the 200-character cut of the snippet.
		w.Write([]byte(strings.Repeat("a", 185) + " " + token + " " + r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	for name, set := range map[string]func(*http.Request){
		"header": func(r *http.Request) { r.Header.Set("X-Emby-Token", token) },
		"authorization": func(r *http.Request) {
			r.Header.Set("Authorization", `MediaBrowser Client="Playmark", Token="`+token+`"`)
		},
		"query": func(r *http.Request) { r.URL.RawQuery = "api_key=" + token },
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/Users/Me", nil)
		set(req)
		_, err := NewTransport(TransportOptions{}).Do(req)
		if !errors.Is(err, ErrBadResponse) {
			t.Fatalf("%s: %v, want ErrBadResponse", name, err)
		}
		if msg := Describe("den", err); strings.Contains(msg, token[:12]) {
			t.Errorf("%s: the token (or its start) is in the error: %s", name, msg)
		}
	}
}
