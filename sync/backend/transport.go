package backend

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultMaxBody is TransportOptions.MaxBody when not set.
const DefaultMaxBody = 8 << 20

// DefaultStallTimeout is TransportOptions.StallTimeout when not set.
const DefaultStallTimeout = 15 * time.Second

// TransportOptions tunes a Transport. Zero values pick the defaults.
type TransportOptions struct {
	MaxInFlight int           // requests at once to this server; default 4
	Timeout     time.Duration // per attempt, including the body; default 60 s
	// StallTimeout is how long one read of a response body may wait for
	// the next bytes; default 15 s. A server that sent its headers and
	// part of the body, then nothing, is given up after this, not after
	// Timeout. A slow body that keeps moving is never cut by it.
	StallTimeout time.Duration
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
	if opt.StallTimeout <= 0 {
		opt.StallTimeout = DefaultStallTimeout
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
	// The attempt's own context: the body's stall watch cancels it.
	parent := req.Context()
	ctx, cancel := context.WithCancel(parent)
	req = req.WithContext(ctx)
	// Ask for gzip ourselves, so that the body is decompressed here, where
	// a body that is not the gzip it claims to be can be told apart from a
	// lost connection and its first bytes kept (net/http's own
	// decompression does it only when it added the header itself).
	if req.Header.Get("Accept-Encoding") == "" && req.Method != http.MethodHead {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err = t.client.Do(req)
	if err != nil {
		cancel()
		if ctxErr := parent.Err(); ctxErr != nil {
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
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the server closed the connection without answering (%w)", err)
		}
		var ne net.Error
		timedOut := errors.As(err, &ne) && ne.Timeout()
		return nil, fmt.Errorf("%s %s: %w: %w", req.Method, req.URL.Path, ErrUnreachable, err), idempotent && !certErr && !timedOut
	}
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") && !resp.Uncompressed {
		resp.Body = &gzipBody{raw: resp.Body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		resp.Body = &limitedBody{r: resp.Body, left: t.opt.MaxBody, max: t.opt.MaxBody, method: req.Method, path: req.URL.Path,
			host: req.URL.Host, stall: t.opt.StallTimeout, timeout: t.opt.Timeout, cancel: cancel}
		return resp, nil, false
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	cancel()
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

// limitedBody is a 2xx answer's body as the clients read it: capped at
// MaxBody, watched for stalls, its first bytes kept for the log, and its
// failures worded as BodyErrors.
type limitedBody struct {
	r            io.ReadCloser
	left, max    int64
	method, path string
	host         string
	head         []byte // the first bytes read, for the log
	// stall bounds one Read's wait for bytes: when it passes, cancel
	// ends the attempt and stalled says why.
	stall   time.Duration
	timeout time.Duration // the attempt's, for the wording
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled atomic.Bool
}

// headSize is how much of a body is kept for the log.
const headSize = 256

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed means the body is too large.
		var one [1]byte
		if n, _ := b.read(one[:]); n > 0 {
			return 0, b.fail(ErrBadResponse, fmt.Sprintf("the answer is larger than the limit of %s", sizeText(b.max)), nil)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.read(p)
	if len(b.head) < headSize {
		b.head = append(b.head, p[:min(n, headSize-len(b.head))]...)
	}
	b.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.classify(err)
	}
	return n, err
}

// read is one Read of the underlying body under the stall watch: a Read
// that waits longer than stall for its bytes cancels the attempt. Only
// time spent waiting inside Read counts, so a caller that pauses between
// reads is never taken for a stalled server.
func (b *limitedBody) read(p []byte) (int, error) {
	if b.stall <= 0 || b.cancel == nil {
		return b.r.Read(p)
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(b.stall, func() {
			b.stalled.Store(true)
			b.cancel()
		})
	} else {
		b.timer.Reset(b.stall)
	}
	n, err := b.r.Read(p)
	b.timer.Stop()
	return n, err
}

// classify words a failed read: a stall, a cut connection, a body that is
// not the gzip it claims to be, or another lost connection.
func (b *limitedBody) classify(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case b.stalled.Load():
		return b.fail(ErrUnreachable, fmt.Sprintf("%s stopped sending mid-response (nothing for %s)", b.host, b.stall), os.ErrDeadlineExceeded)
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return b.fail(ErrBadResponse, "the server said the answer is gzip-compressed, but it is not valid gzip", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return b.fail(ErrUnreachable, "the connection closed mid-response: the answer was cut short", err)
	case errors.Is(err, context.DeadlineExceeded) && b.timeout > 0:
		return b.fail(ErrUnreachable, fmt.Sprintf("%s sent its answer too slowly: it was not complete after %s", b.host, b.timeout), err)
	}
	return b.fail(ErrUnreachable, fmt.Sprintf("reading the answer: %v", err), err)
}

func (b *limitedBody) fail(kind error, problem string, cause error) error {
	start := string(b.head)
	if gz, ok := b.r.(*gzipBody); ok && len(b.head) == 0 {
		start = string(gz.head) // what came instead of gzip
	}
	return &BodyError{Method: b.method, Path: b.path, Kind: kind, Problem: problem, Start: start, cause: cause}
}

// gzipBody decompresses a body the server said is gzip, keeping the first
// bytes it got as they came, for the log.
type gzipBody struct {
	raw  io.ReadCloser
	zr   *gzip.Reader
	head []byte
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(io.TeeReader(g.raw, (*headWriter)(&g.head)))
		if err != nil {
			return 0, err
		}
		g.zr = zr
	}
	return g.zr.Read(p)
}

func (g *gzipBody) Close() error { return g.raw.Close() }

// headWriter keeps the first headSize bytes written to it.
type headWriter []byte

func (h *headWriter) Write(p []byte) (int, error) {
	if n := headSize - len(*h); n > 0 {
		*h = append(*h, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.r.Close()
	if b.cancel != nil {
		b.cancel()
	}
	return err
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// BodyError is a 2xx answer whose body could not be used: cut short, not
// JSON, a web page, not the gzip it claims to be, too large, or stalled.
// It matches its Kind (ErrBadResponse or ErrUnreachable) with errors.Is.
// Error is one sentence; Start, the body's first bytes, is for the log.
type BodyError struct {
	Method, Path string
	Kind         error
	Problem      string
	Start        string
	cause        error
}

func (e *BodyError) Error() string {
	return fmt.Sprintf("%s %s: %v: %s", e.Method, e.Path, e.Kind, e.Problem)
}

// Unwrap gives the kind and, where there is one, the cause (a stall
// matches os.ErrDeadlineExceeded).
func (e *BodyError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.cause}
}

// BodyStart is the first bytes of resp's body read so far (at most 256),
// for the log; "" when resp did not come from a Transport.
func BodyStart(resp *http.Response) string {
	if b, ok := resp.Body.(*limitedBody); ok {
		return string(b.head)
	}
	return ""
}

// DecodeFailure words a failure to decode a 2xx answer's JSON in one
// sentence, as a *BodyError that carries the body's first bytes for the
// log: a web page (a login page, a proxy's), an answer cut short,
// something that is not JSON, or JSON of the wrong shape. Errors that
// already have a kind (a lost connection, a stall) are returned as they
// are.
func DecodeFailure(resp *http.Response, err error) error {
	var be *BodyError
	if errors.As(err, &be) || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrBadResponse) {
		return err
	}
	start := BodyStart(resp)
	problem := ""
	var syn *json.SyntaxError
	switch {
	case looksLikeHTML(start):
		problem = "got a web page (HTML), not JSON: " + htmlHint
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF) && strings.TrimSpace(start) != "":
		problem = "the answer was cut short (it ends in the middle of the JSON)"
	case errors.Is(err, io.EOF):
		problem = "the answer is empty"
	case errors.As(err, &syn):
		problem = fmt.Sprintf("the answer is not valid JSON (%v, at byte %d)", err, syn.Offset)
	default:
		problem = err.Error()
	}
	method, path := requestOf(resp)
	return &BodyError{Method: method, Path: path, Kind: ErrBadResponse, Problem: problem, Start: start, cause: err}
}

// CheckJSON refuses an answer that says it is a web page (text/html): a
// proxy's, a captive portal's or a login page, not the API's.
func CheckJSON(resp *http.Response) error {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
		return nil
	}
	// Read its start, for the log.
	_, _ = io.ReadFull(resp.Body, make([]byte, headSize))
	method, path := requestOf(resp)
	return &BodyError{Method: method, Path: path, Kind: ErrBadResponse, Start: BodyStart(resp),
		Problem: fmt.Sprintf("got a web page (%s), not JSON: %s", mt, htmlHint)}
}

const htmlHint = "a login page or a proxy may be answering instead of the server"

func requestOf(resp *http.Response) (method, path string) {
	if resp.Request == nil {
		return "GET", ""
	}
	return resp.Request.Method, resp.Request.URL.Path
}

func looksLikeHTML(start string) bool {
	s := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(start, "\ufeff")))
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html") || strings.HasPrefix(s, "<head") ||
		strings.HasPrefix(s, "<body") || strings.HasPrefix(s, "<!--") || strings.HasPrefix(s, "<?xml") && strings.Contains(s, "<html")
}

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
