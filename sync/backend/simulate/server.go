package simulate

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"playmark/sync/backend"
)

// Server is what every simulated server offers to tests, the demo and the
// benchmarks, beyond the HTTP API it serves.
//
// "The user" below is the server's default user: the one Token belongs to.
type Server interface {
	// URL is the base URL clients use (http://127.0.0.1:PORT).
	URL() string
	// Token is a valid token of the default user.
	Token() string
	// UserID is the default user's id as the API spells it (Plex: the
	// server-local account id; Jellyfin/Emby: 32-hex user id).
	UserID() string
	// ServerID is the server's id (Plex machineIdentifier, Jellyfin/Emby Id).
	ServerID() string
	// RemoteID is the server's own id of the catalog media with key k, or ""
	// when the server does not have it.
	RemoteID(k string) string
	// Watch is the user's play state of media k.
	Watch(k string) Watch
	// SetWatch sets the user's play state of media k, as if the user did it
	// in the server's own app (it does not change the item's metadata).
	SetWatch(k string, w Watch)
	// Replace simulates the file of media k being replaced: the item gets a
	// new id and a new added date, and its play state is gone.
	Replace(k string, added time.Time)
	// Faults is the fault injector in front of the API.
	Faults() *Faults
	// Requests is the number of API requests served.
	Requests() int64
	// Close stops the server.
	Close()
}

// Options configures a simulated server. Zero values pick defaults.
type Options struct {
	// Listen is the address to listen on; "" means 127.0.0.1:0.
	Listen string
	// Token is the default user's token; "" picks a fixed one per kind.
	Token string
	// Name is the server's friendly name.
	Name string
	// Only, when set, limits the server to the media it accepts.
	Only func(Media) bool
	// Watches seeds the default user's play state, by media key.
	Watches map[string]Watch
	// Now is the server's clock (Plex stamps it on a scrobble); nil is
	// time.Now.
	Now func() time.Time
	// LegacyAuth (Jellyfin only) accepts the legacy X-Emby-Token and
	// api_key forms, as 10.x does by default; false behaves like 12.0.
	LegacyAuth bool
	// Version is the server version to behave as, where behaviour changed
	// (API-NOTES section 7): Jellyfin "10.11" (the default: starting
	// playback clears Played) or "12.0"; Emby "4.8" (the default:
	// listings leave out the play date and count unless asked) or "4.7".
	// Plex ignores it.
	Version string
	// WebhookURL, when set, receives the server's webhooks in its real
	// format whenever a user's play state changes (Plex: multipart
	// "payload"; Jellyfin: the webhook plugin's JSON; Emby: form field
	// "data"), sent in the background, never blocking the API.
	WebhookURL string
}

// FaultKind is a way for the server to misbehave.
type FaultKind int

// The faults a server can inject.
const (
	FaultStatus      FaultKind = iota // answer Status with a plain body (and Retry-After when set)
	FaultLatency                      // wait Latency, then answer normally
	FaultTruncate                     // send the first half of the real body and close
	FaultInvalidJSON                  // answer 200 with a body that is not JSON
	FaultHang                         // never answer until the client gives up
	FaultWrongType                    // answer 200 text/html with an HTML page
	FaultDrip                         // send the real body a few bytes at a time, Latency between them
	FaultHuge                         // answer 200 with a JSON body of Size bytes
	FaultRepeatPage                   // a paged listing answers the previous page again
	FaultSkipPage                     // a paged listing skips a page
	FaultEmptyPage                    // a paged listing answers an empty page before the end
	// FaultStall sends the real status, headers and the first half of the
	// body, then nothing more until the client gives up: a server hung
	// mid-response, the connection still open.
	FaultStall
	// FaultBadGzip answers 200 with Content-Encoding: gzip and a body that
	// is not gzip (a proxy that mislabels, a broken compression module).
	FaultBadGzip
)

// Fault is one rule. A request matches when its path contains Path (""
// matches all) and its method equals Method ("" matches all).
type Fault struct {
	Kind       FaultKind
	Path       string
	Method     string
	Status     int
	RetryAfter string        // Retry-After header value for FaultStatus
	Latency    time.Duration // for FaultLatency and FaultDrip
	Size       int           // for FaultHuge
	Paged      bool          // match only a paged listing's requests (they carry paging parameters)
	After      int           // let this many matching requests through first
	Times      int           // requests to affect; 0 means until cleared
}

// Faults is a set of fault rules, safe for concurrent use. The zero value
// injects nothing.
type Faults struct {
	mu    sync.Mutex
	rules []*Fault
	hits  int
}

// Add installs a rule. Rules are tried in order.
func (f *Faults) Add(r Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &r)
}

// Clear removes every rule.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Hits is the number of requests a fault was applied to.
func (f *Faults) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *Faults) match(r *http.Request) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rule := range f.rules {
		if rule.Path != "" && !strings.Contains(r.URL.Path, rule.Path) {
			continue
		}
		if rule.Method != "" && rule.Method != r.Method {
			continue
		}
		if (rule.Paged || isPaging(rule.Kind)) && pageStart(r) < 0 {
			continue
		}
		if rule.After > 0 {
			rule.After--
			continue
		}
		f.hits++
		got := *rule
		if rule.Times > 0 {
			rule.Times--
			if rule.Times == 0 {
				f.rules = append(f.rules[:i:i], f.rules[i+1:]...)
			}
		}
		return got, true
	}
	return Fault{}, false
}

// Wrap puts the fault injector in front of h.
func (f *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, ok := f.match(r)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		switch rule.Kind {
		case FaultStatus:
			if rule.RetryAfter != "" {
				w.Header().Set("Retry-After", rule.RetryAfter)
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(rule.Status)
			_, _ = w.Write([]byte(http.StatusText(rule.Status)))
		case FaultLatency:
			select {
			case <-time.After(rule.Latency):
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		case FaultTruncate:
			sendHalf(w, r, h)
			// Then abort the connection so the client sees the body end
			// early.
			panic(http.ErrAbortHandler)
		case FaultInvalidJSON:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"MediaContainer": {"size": 3, "Metadata": [ {"ratingKey": "1",, oops`))
		case FaultHang:
			<-r.Context().Done()
		case FaultWrongType:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body><h1>Welcome to nginx!</h1></body></html>"))
		case FaultDrip:
			rec := &recorder{header: http.Header{}, status: 200}
			h.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			body := rec.body.String()
			fl, _ := w.(http.Flusher)
			for i := 0; i < len(body); i += 16 {
				_, _ = w.Write([]byte(body[i:min(i+16, len(body))]))
				if fl != nil {
					fl.Flush()
				}
				select {
				case <-time.After(rule.Latency):
				case <-r.Context().Done():
					return
				}
			}
		case FaultStall:
			sendHalf(w, r, h)
			<-r.Context().Done()
		case FaultBadGzip:
			rec := &recorder{header: http.Header{}, status: 200}
			h.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(rec.status)
			_, _ = w.Write([]byte(rec.body.String()))
		case FaultHuge:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"padding":"`))
			chunk := []byte(strings.Repeat("x", 64<<10))
			for n := 0; n < rule.Size; n += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			_, _ = w.Write([]byte(`"}`))
		case FaultRepeatPage, FaultSkipPage, FaultEmptyPage:
			start, size := pageStart(r), pageSize(r)
			switch rule.Kind {
			case FaultRepeatPage:
				start = max(0, start-size)
			case FaultSkipPage:
				start += size
			case FaultEmptyPage:
				start = 1 << 30
			}
			setPageStart(r, start)
			h.ServeHTTP(w, r)
		}
	})
}

func isPaging(k FaultKind) bool {
	return k == FaultRepeatPage || k == FaultSkipPage || k == FaultEmptyPage
}

// pagingKeys are the paging parameters of the three APIs (Plex's may come
// as headers too); query keys are matched case-insensitively, as the
// servers do.
var startKeys = []string{"x-plex-container-start", "startindex"}
var sizeKeys = []string{"x-plex-container-size", "limit"}

func pageParam(r *http.Request, keys []string) int {
	for _, k := range keys {
		if v := r.Header.Get(k); v != "" {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	for qk, vs := range r.URL.Query() {
		for _, k := range keys {
			if strings.EqualFold(qk, k) && len(vs) > 0 {
				n, _ := strconv.Atoi(vs[0])
				return n
			}
		}
	}
	return -1
}

func pageStart(r *http.Request) int { return pageParam(r, startKeys) }
func pageSize(r *http.Request) int  { return max(1, pageParam(r, sizeKeys)) }

// setPageStart rewrites the request's paging start, where it was given.
func setPageStart(r *http.Request, start int) {
	v := strconv.Itoa(start)
	for _, k := range startKeys {
		if r.Header.Get(k) != "" {
			r.Header.Set(k, v)
		}
	}
	q := r.URL.Query()
	for qk := range q {
		for _, k := range startKeys {
			if strings.EqualFold(qk, k) {
				q.Set(qk, v)
			}
		}
	}
	r.URL.RawQuery = q.Encode()
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// New starts a simulated server of kind k: the one switch on the kind
// that tests, the demo and the benchmarks share.
func New(k backend.Kind, c *Catalog, opt Options) (Server, error) {
	switch k {
	case backend.Plex:
		return NewPlex(c, opt)
	case backend.Jellyfin:
		return NewJellyfin(c, opt)
	case backend.Emby:
		return NewEmby(c, opt)
	}
	return nil, fmt.Errorf("unknown backend type %q", k)
}

// PlayStates is what servers (by name) hold of cat's media: the played
// flag and resume position per "server/media key", for tests that compare
// the servers before and after (play dates are left out: Plex cannot
// back-date a play).
func PlayStates(servers map[string]Server, cat *Catalog) map[string]string {
	out := map[string]string{}
	for name, srv := range servers {
		for _, m := range cat.Media {
			st := srv.Watch(m.Key)
			out[name+"/"+m.Key] = fmt.Sprintf("%v/%v", st.Played, st.Position)
		}
	}
	return out
}

// sendHalf answers r with the headers and the first half of h's answer,
// without a Content-Length, and flushes it: a small body would otherwise
// sit in the server's buffer and the client would see no answer at all.
// The caller then ends the response the way its fault does.
func sendHalf(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &recorder{header: http.Header{}, status: 200}
	h.ServeHTTP(rec, r)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	body := rec.body.String()
	_, _ = w.Write([]byte(body[:len(body)/2]))
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}
