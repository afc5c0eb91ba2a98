package backend

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultMaxBody is TransportOptions.MaxBody when not set.
const DefaultMaxBody = 8 << 20

// TransportOptions tunes a Transport. Zero values pick the defaults.
type TransportOptions struct {
	MaxInFlight  int           // requests at once to this server; default 4
	Timeout      time.Duration // per attempt, including the body; default 60 s
	MaxRetries   int           // extra attempts after a 5xx, 429 or lost connection; default 3
	MaxRetryWait time.Duration // cap on one wait (backoff or Retry-After); default 30 s
	// MaxBody is the largest response body accepted, counted after any
	// decompression; default 8 MiB, about ten times a page of 500 items,
	// so that a hostile body costs at most a few MB more than a page.
	MaxBody int64
	// PinnedCert, when set, is the hex SHA-256 of a server certificate the
	// user chose to trust (a self-signed one, say): that certificate is
	// accepted whatever its chain or name; any other must verify as usual.
	PinnedCert string
	// Base is the underlying round tripper; nil means a clone of
	// http.DefaultTransport.
	Base http.RoundTripper
}

// Transport carries one backend's HTTP requests. It is the one place that
// bounds concurrency, applies timeouts, retries transient failures with
// backoff (honouring Retry-After, capped) and turns HTTP failures into the
// package's error kinds, so that every client behaves the same way.
type Transport struct {
	opt      TransportOptions
	client   *http.Client
	sem      chan struct{}
	requests atomic.Int64
	sleep    func(ctx context.Context, d time.Duration) error
}

// NewTransport returns a Transport with opt's settings.
func NewTransport(opt TransportOptions) *Transport {
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 4
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	if opt.MaxRetries < 0 {
		opt.MaxRetries = 0
	} else if opt.MaxRetries == 0 {
		opt.MaxRetries = 3
	}
	if opt.MaxRetryWait <= 0 {
		opt.MaxRetryWait = 30 * time.Second
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	base := opt.Base
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opt.MaxInFlight
		if cfg := PinnedTLSConfig(opt.PinnedCert); cfg != nil {
			t.TLSClientConfig = cfg
		}
		base = t
	}
	return &Transport{
		opt:    opt,
		client: &http.Client{Transport: base, Timeout: opt.Timeout, CheckRedirect: CheckRedirect},
		sem:    make(chan struct{}, opt.MaxInFlight),
		sleep:  sleepCtx,
	}
}

// Requests is the number of HTTP requests sent so far, retries included.
func (t *Transport) Requests() int64 { return t.requests.Load() }

// Do sends req and returns the response when its status is 2xx. The body
// is capped at MaxBody: reading past it fails with ErrBadResponse. Any
// other outcome is an error wrapping one of the package's kinds; the
// response body is then already closed. Requests whose body can be
// replayed (http.NewRequest with a bytes or strings reader) are retried
// whatever the method; others only when nothing was sent.
func (t *Transport) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.sem }()

	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := backoff(attempt, t.opt.MaxRetryWait)
			var rl *RateLimitError
			if errors.As(lastErr, &rl) && rl.RetryAfter > 0 {
				wait = min(rl.RetryAfter, t.opt.MaxRetryWait)
			}
			if err := t.sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
		r, err := clone(req)
		if err != nil {
			return nil, err
		}
		resp, err, retry := t.once(r)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !retry || attempt >= t.opt.MaxRetries || ctx.Err() != nil {
			return nil, err
		}
	}
}

func (t *Transport) once(req *http.Request) (resp *http.Response, err error, retry bool) {
	t.requests.Add(1)
	resp, err = t.client.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr, false
		}
		// url.Error prints the whole URL, query and all; keep only the path.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		// Some transport errors quote what the server sent.
		err = RedactError(err, RequestSecrets(req)...)
		if errors.Is(err, errRedirect) {
			// Refused on purpose: a bad answer, not a lost connection.
			return nil, fmt.Errorf("%s %s: %w: %w", req.Method, req.URL.Path, ErrBadResponse, err), false
		}
		idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead || req.GetBody != nil || req.Body == nil
		// A certificate problem will not go away by retrying, and a
		// server that let a whole timeout pass is hung, not flaky: one
		// more try would hold the run another Timeout.
		_, certErr := UntrustedCert(err)
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		return nil, fmt.Errorf("%s %s: %w: %w", req.Method, req.URL.Path, ErrUnreachable, err), idempotent && !certErr && !timedOut
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		resp.Body = &limitedBody{r: resp.Body, left: t.opt.MaxBody, method: req.Method, path: req.URL.Path}
		return resp, nil, false
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, &RateLimitError{RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}), true
	}
	// A server may echo the token into its error body: remove it before
	// the text is cut short (which could leave half a token).
	body := Redact(string(snippet), RequestSecrets(req)...)
	se := &StatusError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Body: cleanSnippet([]byte(body))}
	return nil, se, resp.StatusCode >= 500
}

func clone(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

// backoff is exponential with jitter: about 0.5 s, 1 s, 2 s ... capped.
func backoff(attempt int, limit time.Duration) time.Duration {
	d := 250 * time.Millisecond << attempt
	if d > limit || d <= 0 {
		d = limit
	}
	return d/2 + rand.N(d/2+1)
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := time.Until(at); d > 0 {
			return d
		}
	}
	return 0
}

// cleanSnippet keeps an error body readable: HTML tags dropped, white
// space folded, short.
func cleanSnippet(b []byte) string {
	var out strings.Builder
	in := false
	for _, r := range string(b) {
		switch {
		case r == '<':
			in = true
			out.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			out.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(out.String()), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type limitedBody struct {
	r            io.ReadCloser
	left         int64
	method, path string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed means the body is too large.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%s %s: %w: response larger than the limit", b.method, b.path, ErrBadResponse)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%s %s: %w: reading body: %v", b.method, b.path, ErrUnreachable, err)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// CertFingerprint is the hex SHA-256 of a DER certificate, as shown to a
// user deciding whether to trust it.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// PinnedTLSConfig is the TLS configuration for a server whose certificate
// the user pinned (hex SHA-256, colons allowed): that certificate and no
// other is accepted, whatever its chain or name. A pin means exactly that
// certificate: one a public CA vouches for is refused too, with a
// *CertChangedError. nil when pin is empty.
func PinnedTLSConfig(pin string) *tls.Config {
	pin = normalizePin(pin)
	if pin == "" {
		return nil
	}
	return &tls.Config{
		// Verification is done by VerifyConnection: the pinned
		// certificate, byte for byte.
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs, pin)
		},
	}
}

func normalizePin(p string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(p)))
}

// verifyPinned accepts the connection only when the leaf is the pinned
// certificate.
func verifyPinned(cs tls.ConnectionState, pin string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	if fp := CertFingerprint(cs.PeerCertificates[0].Raw); fp != pin {
		return &CertChangedError{Pinned: pin, Fingerprint: fp}
	}
	return nil
}

// CertChangedError is a server that presents another certificate than the
// one the user pinned.
type CertChangedError struct {
	Pinned, Fingerprint string // hex SHA-256
}

func (e *CertChangedError) Error() string {
	return fmt.Sprintf("the certificate changed: the server now presents SHA-256 %s, not the trusted %s", e.Fingerprint, e.Pinned)
}

// UntrustedCert extracts the certificate a TLS failure was about, so that
// the user can be shown its fingerprint; ok is false for other errors.
func UntrustedCert(err error) (fingerprint string, ok bool) {
	var ch *CertChangedError
	if errors.As(err, &ch) {
		return ch.Fingerprint, true
	}
	var ue x509.UnknownAuthorityError
	if errors.As(err, &ue) && ue.Cert != nil {
		return CertFingerprint(ue.Cert.Raw), true
	}
	var he x509.HostnameError
	if errors.As(err, &he) && he.Certificate != nil {
		return CertFingerprint(he.Certificate.Raw), true
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) && len(ce.UnverifiedCertificates) > 0 {
		return CertFingerprint(ce.UnverifiedCertificates[0].Raw), true
	}
	return "", false
}

// errRedirect marks a redirect refused by CheckRedirect.
var errRedirect = errors.New("redirect refused")

// CheckRedirect is the redirect policy of every request that carries a
// credential (http.Client.CheckRedirect): a redirect within the same
// scheme, host and port is followed (at most 5), without a Referer; one
// anywhere else is refused, since the token headers would go along.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	// The client sets a Referer from the previous URL, query and all
	// (a socket's api_key): never send it.
	req.Header.Del("Referer")
	if len(via) == 0 {
		return nil
	}
	from, to := origin(via[0].URL), origin(req.URL)
	if from != to {
		return fmt.Errorf("%w: the server redirected to %s, another address than the backend's %s, and the token is not sent there; check the backend's URL", errRedirect, to, from)
	}
	if len(via) >= 5 {
		return fmt.Errorf("%w: more than 5 redirects", errRedirect)
	}
	return nil
}

// origin is scheme://host:port with the default port spelled out.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "ws":
		scheme = "http"
	case "wss":
		scheme = "https"
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
