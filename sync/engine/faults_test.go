package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// faultSeed gives each server its own plays, so that every backend has
// something to import and something to receive.
func faultSeed(cat *simulate.Catalog) seed {
	s := seed{"plex": {}, "jellyfin": {}, "emby": {}}
	names := []string{"plex", "jellyfin", "emby"}
	for i, m := range cat.Media {
		switch i % 7 {
		case 0, 1, 2:
			s[names[i%3]][m.Key] = simulate.Watch{Played: true, PlayCount: 1, LastPlayed: tPlay.Add(time.Duration(i) * time.Minute)}
		case 3:
			s[names[(i+1)%3]][m.Key] = simulate.Watch{Position: time.Duration(5+i%40) * time.Minute, LastPlayed: tPlay.Add(time.Duration(i) * time.Minute)}
		}
	}
	return s
}

// serverStates is what the three servers hold (simulate.PlayStates).
func serverStates(w *world) map[string]string { return simulate.PlayStates(w.servers, w.cat) }

func faultCatalog() *simulate.Catalog {
	return simulate.Generate(simulate.GenerateOptions{Items: 300, Seed: 9})
}

// TestFaultMatrix injects a fault into one backend at a time, during a
// first sync, and checks: the run names the failing backend and why, the
// other backends complete, the database is consistent, the failing
// backend's cursors stay, and a following sync without the fault ends in
// exactly the state an undisturbed sync gives.
func TestFaultMatrix(t *testing.T) {
	cat := faultCatalog()
	// The reference: the same world, no faults.
	ref := newWorld(t, cat, faultSeed(cat))
	if rep := ref.sync(RunOptions{}); len(rep.Failed()) > 0 {
		t.Fatalf("reference sync failed: %v", failedBackends(rep))
	}
	want := serverStates(ref)

	type fault struct {
		name  string
		f     simulate.Fault
		say   string // the report must say this about the backend
		not   string // and must not say this
		close bool   // stop the server instead of injecting
		// proxy, when set, puts a hostile proxy in front of the server
		// instead: it answers the requests it wants to (see hostile).
		proxy func(token string) func(http.ResponseWriter, *http.Request) bool
	}
	// A hostile proxy lets a few requests through, then misbehaves.
	after := func(n int, do func(w http.ResponseWriter, r *http.Request)) func(string) func(http.ResponseWriter, *http.Request) bool {
		return func(string) func(http.ResponseWriter, *http.Request) bool {
			var seen atomic.Int32
			return func(w http.ResponseWriter, r *http.Request) bool {
				if seen.Add(1) <= int32(n) {
					return false
				}
				do(w, r)
				return true
			}
		}
	}
	var elsewhere atomic.Int32 // requests that reached the address a redirect pointed to
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(evil.Close) // after the parallel cases, not when this function returns
	faults := []fault{
		{name: "connection refused", close: true, say: "unreachable"},
		{name: "server hangs", f: simulate.Fault{Kind: simulate.FaultHang, After: 2}, say: "unreachable"},
		// Slow but moving: cut by the request's timeout, never as a stall.
		{name: "slow drip past the timeout", f: simulate.Fault{Kind: simulate.FaultDrip, Latency: 100 * time.Millisecond, After: 2}, say: "unreachable", not: "stopped sending"},
		{name: "stops sending mid-response", f: simulate.Fault{Kind: simulate.FaultStall, After: 2}, say: "stopped sending mid-response"},
		{name: "stops sending mid-listing", f: simulate.Fault{Kind: simulate.FaultStall, Paged: true, After: 2}, say: "stopped sending mid-response"},
		{name: "500 for good", f: simulate.Fault{Kind: simulate.FaultStatus, Status: 500, After: 2}, say: "bad response"},
		{name: "503 for good", f: simulate.Fault{Kind: simulate.FaultStatus, Status: 503, After: 2}, say: "bad response"},
		{name: "429 with Retry-After for good", f: simulate.Fault{Kind: simulate.FaultStatus, Status: 429, RetryAfter: "1", After: 2}, say: "rate limiting"},
		{name: "401 in the middle of a run", f: simulate.Fault{Kind: simulate.FaultStatus, Status: 401, After: 3}, say: "token rejected"},
		{name: "truncated JSON", f: simulate.Fault{Kind: simulate.FaultTruncate, After: 2}, say: "the answer was cut short"},
		{name: "a gzip body that is not gzip", f: simulate.Fault{Kind: simulate.FaultBadGzip, After: 2}, say: "not valid gzip"},
		{name: "invalid JSON", f: simulate.Fault{Kind: simulate.FaultInvalidJSON, After: 2}, say: "bad response"},
		{name: "HTML instead of JSON", f: simulate.Fault{Kind: simulate.FaultWrongType, After: 2}, say: "a web page"},
		{name: "a login page labelled JSON", say: "a web page", proxy: after(2, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("\n<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action=/login>...</form></body></html>"))
		})},
		{name: "oversized response", f: simulate.Fault{Kind: simulate.FaultHuge, Size: 3 << 20, After: 2}, say: "bad response"},
		{name: "a page repeats", f: simulate.Fault{Kind: simulate.FaultRepeatPage, After: 1, Times: 1}, say: "bad response"},
		{name: "a page is skipped", f: simulate.Fault{Kind: simulate.FaultSkipPage, After: 0, Times: 1}, say: "bad response"},
		{name: "an empty page before the end", f: simulate.Fault{Kind: simulate.FaultEmptyPage, After: 1, Times: 1}, say: "bad response"},
		{name: "a write fails half-way", f: simulate.Fault{Kind: simulate.FaultStatus, Status: 500, Method: writeMethod, After: 5}, say: "writes failed"},
		{name: "redirects to another address", say: "bad response", proxy: after(2, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+r.URL.RequestURI(), http.StatusFound)
		})},
		{name: "answers {} to everything", say: "bad response", proxy: after(2, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte("{}"))
		})},
		{name: "an error body that echoes the token", say: "bad response", proxy: func(token string) func(http.ResponseWriter, *http.Request) bool {
			return after(2, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte("no access for token " + token))
			})(token)
		}},
	}
	backends := []string{"plex", "jellyfin", "emby"}
	cases := 0
	for _, victim := range backends {
		for _, fl := range faults {
			cases++
			t.Run(victim+"/"+fl.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, cat, faultSeed(cat))
				w.eng.SetTransportOptions(backend.TransportOptions{Timeout: 1 * time.Second, StallTimeout: 500 * time.Millisecond, MaxRetries: 2, MaxRetryWait: 5 * time.Millisecond, MaxBody: 2 << 20})
				w.eng.SetPageSize(40) // several pages per library, so paging faults bite
				srv := w.servers[victim]
				switch {
				case fl.close:
					// Nothing listens on port 1: connections are refused.
					w.setBackend(victim, func(b *state.Backend) { b.URL = "http://127.0.0.1:1" })
				case fl.proxy != nil:
					w.hostile(victim, fl.proxy(srv.Token()))
				default:
					f := fl.f
					if f.Method == writeMethod {
						f.Method = map[string]string{"plex": "", "jellyfin": "POST", "emby": "POST"}[victim]
						if victim == "plex" {
							f.Path = "scrobble"
						}
					}
					srv.Faults().Add(f)
				}
				rep := w.sync(RunOptions{})
				failed := rep.Failed()
				if len(failed) == 0 {
					t.Fatalf("the run did not fail; fault hits %d", srv.Faults().Hits())
				}
				// No secret in anything stored or shown.
				for _, text := range []string{rep.FailedReason, w.backend(victim).LastError} {
					if strings.Contains(text, srv.Token()) {
						t.Errorf("the token is shown: %q", text)
					}
				}
				for _, b := range failed {
					t.Logf("%s: %s", b.Phase, b.Error)
					if b.Backend != victim {
						t.Errorf("%s failed too: %s", b.Backend, b.Error)
					}
					if !strings.Contains(b.Error, victim) || !strings.Contains(b.Error, fl.say) {
						t.Errorf("error %q does not name %s and say %q", b.Error, victim, fl.say)
					}
					if fl.not != "" && strings.Contains(b.Error, fl.not) {
						t.Errorf("error %q says %q", b.Error, fl.not)
					}
					if strings.Count(b.Error, "\n") > 0 {
						t.Errorf("error %q is not one line", b.Error)
					}
				}
				for _, b := range rep.Backends {
					if b.Backend != victim && b.Err != nil {
						t.Errorf("%s %s did not complete: %v", b.Phase, b.Backend, b.Err)
					}
				}
				if err := w.store.IntegrityCheck(context.Background()); err != nil {
					t.Fatal(err)
				}
				vb := w.backend(victim)
				if vb.LastError == "" {
					t.Error("the failing backend shows no error")
				}
				phases := map[string]bool{}
				for _, b := range failed {
					phases[b.Phase] = true
				}
				if phases["import"] && (!vb.LastImport.IsZero() || !vb.LastFullImport.IsZero()) {
					t.Errorf("a failed import moved %s's import cursor", victim)
				}
				if phases["export"] && vb.ExportCursor != 0 {
					t.Errorf("a failed export moved %s's export cursor to %d", victim, vb.ExportCursor)
				}
				// The fault clears; the next syncs converge.
				srv.Faults().Clear()
				if fl.close || fl.proxy != nil {
					w.setBackend(victim, func(b *state.Backend) { b.URL = srv.URL() })
				}
				for i := 0; i < 2; i++ {
					w.clock.add(time.Minute)
					if rep := w.sync(RunOptions{}); len(rep.Failed()) > 0 {
						t.Fatalf("sync after the fault cleared: %v", failedBackends(rep))
					}
				}
				got := serverStates(w)
				diff := 0
				for k, v := range want {
					if got[k] != v {
						if diff < 5 {
							t.Errorf("%s = %s, an undisturbed sync gives %s", k, got[k], v)
						}
						diff++
					}
				}
				if diff > 0 {
					t.Errorf("%d item states differ from an undisturbed sync", diff)
				}
			})
		}
	}
	if cases < 20 {
		t.Errorf("only %d fault cases", cases)
	}
	t.Cleanup(func() {
		if n := elsewhere.Load(); n > 0 {
			t.Errorf("%d requests followed a redirect to another address", n)
		}
	})
}

// writeMethod marks a fault meant for the write endpoints.
const writeMethod = "WRITE"

// TestGarbageAnswersSayWhatAndLogTheirStart: a server (or what answers in
// its place) that sends garbage with a 200 gets one sentence that says
// what came, on the backend (what `playmark status` shows), and the log
// has the first bytes of what it sent, for whoever has to find out why.
func TestGarbageAnswersSayWhatAndLogTheirStart(t *testing.T) {
	login := "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action=/login></form></body></html>"
	cases := []struct {
		name   string
		victim string
		fault  simulate.Fault
		proxy  func(w http.ResponseWriter, r *http.Request)
		say    string
		start  string // the log's body_start begins with this
	}{
		{name: "a login page with 200", victim: "jellyfin", say: "got a web page (text/html), not JSON", start: "<!DOCTYPE html>",
			proxy: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write([]byte(login))
			}},
		{name: "a login page labelled JSON", victim: "plex", say: "got a web page (HTML), not JSON", start: "<!DOCTYPE html>",
			proxy: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(login))
			}},
		{name: "truncated JSON", victim: "emby", fault: simulate.Fault{Kind: simulate.FaultTruncate}, say: "the answer was cut short", start: "{"},
		{name: "JSON that ends early", victim: "jellyfin", say: "the answer was cut short", start: `{"Items":[{"Name"`,
			proxy: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"Items":[{"Name":"A`))
			}},
		{name: "a gzip body that is not gzip", victim: "emby", fault: simulate.Fault{Kind: simulate.FaultBadGzip}, say: "not valid gzip", start: "{"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cat := faultCatalog()
			w := newWorld(t, cat, faultSeed(cat))
			logs := w.withLog()
			w.eng.SetTransportOptions(backend.TransportOptions{Timeout: 5 * time.Second, MaxRetries: 1, MaxRetryWait: 5 * time.Millisecond})
			if tc.proxy != nil {
				var n atomic.Int32
				w.hostile(tc.victim, func(rw http.ResponseWriter, r *http.Request) bool {
					if n.Add(1) <= 2 { // past the identity probe
						return false
					}
					tc.proxy(rw, r)
					return true
				})
			} else {
				f := tc.fault
				f.After = 2
				w.servers[tc.victim].Faults().Add(f)
			}
			w.sync(RunOptions{})
			last := w.backend(tc.victim).LastError
			if !strings.Contains(last, tc.victim) || !strings.Contains(last, tc.say) || strings.Contains(last, "\n") {
				t.Errorf("the backend shows %q, want one line that names %s and says %q", last, tc.victim, tc.say)
			}
			if strings.Contains(last, "<") {
				t.Errorf("the backend's error shows what the server sent: %q", last)
			}
			log := logs.String()
			i := strings.Index(log, "body_start=")
			if i < 0 {
				t.Fatalf("the log has no body_start:\n%s", log)
			}
			got := log[i+len("body_start="):]
			if unq, err := strconv.QuotedPrefix(got); err == nil {
				got, _ = strconv.Unquote(unq)
			}
			if !strings.HasPrefix(got, tc.start) {
				t.Errorf("the log's body_start is %.60q, want it to begin %q", got, tc.start)
			}
			if tok := w.servers[tc.victim].Token(); strings.Contains(log, tok) {
				t.Error("the log shows the token")
			}
		})
	}
}
