package backend

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, tr *Transport, url string) error {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url+"/x?X-Plex-Token=secret", nil)
	resp, err := tr.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestTransportRetriesAndClassifies(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		default:
			w.Write([]byte("{}"))
		}
	}))
	defer srv.Close()
	tr := NewTransport(TransportOptions{MaxRetryWait: time.Millisecond})
	if err := get(t, tr, srv.URL); err != nil {
		t.Fatalf("503 then 429 then 200: %v", err)
	}
	if tr.Requests() != 3 {
		t.Errorf("requests = %d, want 3", tr.Requests())
	}
	four := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
	defer four.Close()
	tr = NewTransport(TransportOptions{MaxRetryWait: time.Millisecond})
	if err := get(t, tr, four.URL); !errors.Is(err, ErrNotFound) || tr.Requests() != 1 {
		t.Errorf("404: %v after %d requests, want ErrNotFound and no retry", err, tr.Requests())
	}
	if err := get(t, tr, four.URL); strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the query: %v", err)
	}
}

func TestTransportBoundsRequestsInFlight(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	tr := NewTransport(TransportOptions{MaxInFlight: 2})
	done := make(chan struct{})
	for range 8 {
		go func() { get(t, tr, srv.URL); done <- struct{}{} }()
	}
	for range 8 {
		<-done
	}
	if peak.Load() > 2 {
		t.Errorf("%d requests in flight, limit 2", peak.Load())
	}
}

func TestTransportPinnedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer srv.Close()
	fp := CertFingerprint(srv.Certificate().Raw)

	err := get(t, NewTransport(TransportOptions{}), srv.URL)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("self-signed without a pin: %v, want ErrUnreachable", err)
	}
	got, ok := UntrustedCert(err)
	if !ok || got != fp {
		t.Fatalf("UntrustedCert = %q %v, want %s", got, ok, fp)
	}
	if msg := Describe("nas", err); !strings.Contains(msg, "--trust-cert "+fp) {
		t.Errorf("Describe does not say how to trust it: %s", msg)
	}
	pinned := strings.ToUpper(fp[:2]) + ":" + fp[2:]
	if err := get(t, NewTransport(TransportOptions{PinnedCert: pinned}), srv.URL); err != nil {
		t.Errorf("with the pin: %v", err)
	}
	wrong := strings.Repeat("ab", 32)
	if err := get(t, NewTransport(TransportOptions{PinnedCert: wrong}), srv.URL); err == nil {
		t.Error("a wrong pin was accepted")
	}
}

func TestTransportCapsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 5000)))
	}))
	defer srv.Close()
	tr := NewTransport(TransportOptions{MaxBody: 1000})
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := tr.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 10000)
	var total int
	for {
		n, err := resp.Body.Read(buf[total:])
		total += n
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("reading past the cap: %v, want ErrBadResponse", err)
			}
			break
		}
	}
	if total > 1000 {
		t.Errorf("read %d bytes past a 1000-byte cap", total)
	}
}

// stallServer sends its headers and the first part of a body, then
// nothing until the client goes away.
func stallServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Items":[{"Id":"1"},`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTransportCutsAStalledBody: a body that stops moving fails after
// StallTimeout, not after the request's Timeout, with an error of kind
// ErrUnreachable (and a timeout) that says what happened and where.
func TestTransportCutsAStalledBody(t *testing.T) {
	srv := stallServer(t)
	tr := NewTransport(TransportOptions{Timeout: 20 * time.Second, StallTimeout: 300 * time.Millisecond})
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/Items?api_key=secret", nil)
	start := time.Now()
	resp, err := tr.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a stalled body read to the end")
	}
	if took > 5*time.Second {
		t.Errorf("the stall cost %s, want about the 300ms stall timeout", took)
	}
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("err = %v, want ErrUnreachable and a deadline", err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if msg := err.Error(); !strings.Contains(msg, "stopped sending mid-response") || !strings.Contains(msg, host) || strings.Contains(msg, "secret") {
		t.Errorf("err = %q, want the server %s named and \"stopped sending mid-response\", and no secret", msg, host)
	}
	var be *BodyError
	if !errors.As(err, &be) || !strings.HasPrefix(be.Start, `{"Items":[`) {
		t.Errorf("the error keeps no start of the body for the log: %#v", be)
	}
	t.Logf("stalled body failed after %s: %v", took.Round(time.Millisecond), err)
}

// TestTransportKeepsASlowMovingBody: a body that keeps moving, however
// slowly, is never cut by the stall watch; nor is a caller that pauses
// between reads longer than StallTimeout.
func TestTransportKeepsASlowMovingBody(t *testing.T) {
	const chunks = 12
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < chunks; i++ {
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	tr := NewTransport(TransportOptions{StallTimeout: 400 * time.Millisecond})
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
	resp, err := tr.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != chunks*10 {
		t.Fatalf("a slow body that moves every 100ms: %d bytes, %v", len(b), err)
	}

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<20)))
	}))
	defer big.Close()
	req, _ = http.NewRequestWithContext(context.Background(), "GET", big.URL, nil)
	resp, err = tr.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the caller is busy: the server is not stalled
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest)+len(buf) != 1<<20 {
		t.Fatalf("after a pause of the caller's: %d bytes, %v", len(rest)+len(buf), err)
	}
}

// TestTransportGzip: a gzip body is decompressed (the Transport asks for
// it); one that only claims to be gzip is a bad response that says so,
// with the bytes that came instead kept for the log.
func TestTransportGzip(t *testing.T) {
	var asked atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/good" {
			zw := gzip.NewWriter(w)
			zw.Write([]byte(`{"ok":true}`))
			zw.Close()
			return
		}
		w.Write([]byte(`<html><body>Sign in</body></html>`))
	}))
	defer srv.Close()
	tr := NewTransport(TransportOptions{})
	read := func(path string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+path, nil)
		resp, err := tr.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	b, err := read("/good")
	if err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("gzip body: %q, %v", b, err)
	}
	if asked.Load() != "gzip" {
		t.Errorf("Accept-Encoding = %q, want gzip", asked.Load())
	}
	_, err = read("/bad")
	var be *BodyError
	if !errors.Is(err, ErrBadResponse) || !errors.As(err, &be) || !strings.Contains(err.Error(), "not valid gzip") {
		t.Fatalf("a body that is not gzip: %v, want ErrBadResponse saying so", err)
	}
	if !strings.HasPrefix(be.Start, "<html>") {
		t.Errorf("Start = %q, want the bytes sent instead of gzip", be.Start)
	}
}
