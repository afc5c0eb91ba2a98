// Package plex is the Plex Media Server client: one server, as the user
// its token belongs to.
//
// It speaks the PMS HTTP API in JSON (Accept: application/json) and sends
// the token in the X-Plex-Token header, never in the URL. Every request
// goes through a backend.Transport, which bounds concurrency, retries and
// classifies failures. Plex units are converted at the edge: viewOffset
// and duration are milliseconds, lastViewedAt and addedAt epoch seconds.
//
// Plex cannot back-date a play: /:/scrobble stamps the server's clock, so
// Capabilities().BackdatePlayed is false.
package plex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"playmark/sync/backend"
)

// Identification Playmark sends with every request (X-Plex-Product and
// friends), so that the server's device list names it.
const (
	product       = "Playmark"
	clientVersion = "1.0"
	// defaultClientID is sent when the configuration has no install id.
	defaultClientID = "playmark"
	// libraryIdentifier is the media provider of the local library.
	libraryIdentifier = "com.plexapp.plugins.library"
)

// Request sizes. PMS handles pages of several hundred items well; the
// comma lists of /library/metadata/{ids} stay far below URL limits.
const (
	defaultPageSize = 500
	getBatch        = 100 // ids per GET /library/metadata/{ids}
	showBatch       = 50  // show ids per look-up of show GUIDs
)

// Client is a Plex Media Server as one user. It is safe for concurrent use.
type Client struct {
	base     string // scheme://host[:port][/path], without a trailing slash
	token    string
	clientID string
	device   string
	tr       *backend.Transport
	// userID and serverID are the configured user (server-local id) and
	// the recorded server id, for telling whose a webhook is (Mismatch).
	userID, serverID string

	// A client lives for one run: the sections read once serve its
	// listing and its quick checks.
	libsMu sync.Mutex
	libs   []backend.Library
}

var _ backend.Backend = (*Client)(nil)

// New returns a client for the server at cfg.URL, which must be an
// absolute http or https URL without a query. The token is not checked
// here; Identify does that.
func New(cfg backend.Config) (*Client, error) {
	if cfg.Kind != "" && cfg.Kind != backend.Plex {
		return nil, fmt.Errorf("plex client configured for kind %q", cfg.Kind)
	}
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil {
		// The parse error quotes the URL, which may hold a token: say less.
		return nil, errors.New("plex server url is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("plex server url must be an absolute http:// or https:// URL, like http://host:32400 (got scheme %q, host %q)", u.Scheme, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("plex server url must not have a query or fragment (give the token separately)")
	}
	u.User = nil
	base := strings.TrimRight(u.String(), "/")
	tr := cfg.Transport
	if tr == nil {
		tr = backend.NewTransport(backend.TransportOptions{})
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = defaultClientID
	}
	device, err := os.Hostname()
	if err != nil || device == "" {
		device = product
	}
	return &Client{base: base, token: cfg.Token, clientID: clientID, device: device, tr: tr,
		userID: strings.TrimSpace(cfg.UserID), serverID: strings.TrimSpace(cfg.ServerID)}, nil
}

// Kind is backend.Plex.
func (c *Client) Kind() backend.Kind { return backend.Plex }

// Capabilities: Plex stamps its own clock on a scrobble.
func (c *Client) Capabilities() backend.Capabilities {
	return backend.Capabilities{BackdatePlayed: false}
}

func platform() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return runtime.GOOS
}

// request builds a request for path (already escaped) with q and the
// X-Plex headers. The token goes in a header only.
func (c *Client) request(ctx context.Context, method, path string, q url.Values) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	h := req.Header
	if c.token != "" {
		h.Set("X-Plex-Token", c.token)
	}
	h.Set("X-Plex-Client-Identifier", c.clientID)
	h.Set("X-Plex-Product", product)
	h.Set("X-Plex-Version", clientVersion)
	h.Set("X-Plex-Platform", platform())
	h.Set("X-Plex-Device", product)
	h.Set("X-Plex-Device-Name", c.device)
	h.Set("Accept", "application/json")
	return req, nil
}

// send sends a request whose answer body does not matter.
func (c *Client) send(ctx context.Context, method, path string, q url.Values) error {
	req, err := c.request(ctx, method, path, q)
	if err != nil {
		return err
	}
	resp, err := c.tr.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.Body.Close()
}

// getContainer GETs path and decodes its MediaContainer into head,
// passing each Metadata element to each. extra headers (paging) are
// added to the request. It returns the response headers.
func (c *Client) getContainer(ctx context.Context, path string, q url.Values, extra http.Header, head *wireHead, each func(*wireMeta) error) (http.Header, error) {
	req, err := c.request(ctx, http.MethodGet, path, q)
	if err != nil {
		return nil, err
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := c.tr.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := backend.CheckJSON(resp); err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !isJSON(ct) {
		return nil, fmt.Errorf("GET %s: %w: answered %q, not JSON", path, backend.ErrBadResponse, ct)
	}
	if err := decodeContainer(resp.Body, head, each); err != nil {
		return nil, bodyError(ctx, resp, err)
	}
	return resp.Header, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// errStop is returned by a decoding callback that has seen enough; its
// caller turns it into a better error.
var errStop = errors.New("stop decoding")

// bodyError classifies a failure while reading an answer: the caller's
// cancellation stays itself, a cut connection stays ErrUnreachable, a
// callback's stop stays itself, and anything else (bad JSON, wrong shape)
// is ErrBadResponse, in one sentence with the body's start kept for the
// log (backend.DecodeFailure).
func bodyError(ctx context.Context, resp *http.Response, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("GET %s: %w", resp.Request.URL.Path, ctx.Err())
	}
	if errors.Is(err, errStop) {
		return err
	}
	return backend.DecodeFailure(resp, err)
}

// Identify reads the server's id and version from /identity, its name
// from / (which needs a valid token, so a rejected token fails here with
// ErrUnauthorized) and the user from /accounts: PMS lists every account
// to the owner and only their own to anyone else, so a single account is
// the user and a full list means the owner (account 1). When the token
// may not list accounts at all, UserID and UserName are left empty.
func (c *Client) Identify(ctx context.Context) (backend.ServerInfo, error) {
	var id, root wireHead
	if _, err := c.getContainer(ctx, "/identity", nil, nil, &id, nil); err != nil {
		return backend.ServerInfo{}, fmt.Errorf("identifying plex server: %w", err)
	}
	if id.MachineIdentifier == "" {
		return backend.ServerInfo{}, fmt.Errorf("identifying plex server: %w: no machineIdentifier", backend.ErrBadResponse)
	}
	if _, err := c.getContainer(ctx, "/", nil, nil, &root, nil); err != nil {
		return backend.ServerInfo{}, fmt.Errorf("reading plex server info: %w", err)
	}
	accounts, err := c.accounts(ctx)
	if err != nil && !errors.Is(err, backend.ErrUnauthorized) {
		return backend.ServerInfo{}, err
	}
	// The token passed GET / above, so a refusal here only means this
	// account may not list accounts: the user stays unknown.
	info := backend.ServerInfo{
		Name:     root.FriendlyName,
		Product:  "Plex Media Server",
		Version:  id.Version,
		ServerID: id.MachineIdentifier,
	}
	if info.Version == "" {
		info.Version = root.Version
	}
	var me *wireAccount
	switch {
	case len(accounts) == 1:
		me = &accounts[0]
	default:
		for i := range accounts {
			if accounts[i].ID == 1 {
				me = &accounts[i]
			}
		}
	}
	if me != nil {
		info.UserID = strconv.FormatInt(int64(me.ID), 10)
		info.UserName = me.Name
	}
	return info, nil
}

// accounts lists the server-local accounts, without the nameless system
// account 0.
func (c *Client) accounts(ctx context.Context) ([]wireAccount, error) {
	var head wireHead
	if _, err := c.getContainer(ctx, "/accounts", nil, nil, &head, nil); err != nil {
		return nil, fmt.Errorf("listing plex accounts: %w", err)
	}
	out := head.Account[:0]
	for _, a := range head.Account {
		if a.ID > 0 {
			out = append(out, a)
		}
	}
	return out, nil
}

// Users lists the server-local accounts the token may see: every account
// for the owner, only their own for anyone else. The owner (account 1)
// is the admin.
func (c *Client) Users(ctx context.Context) ([]backend.User, error) {
	accounts, err := c.accounts(ctx)
	if err != nil {
		return nil, err
	}
	users := make([]backend.User, 0, len(accounts))
	for _, a := range accounts {
		users = append(users, backend.User{ID: strconv.FormatInt(int64(a.ID), 10), Name: a.Name, Admin: a.ID == 1})
	}
	return users, nil
}

// Libraries lists the movie and show sections; music and photo sections
// are left out.
func (c *Client) Libraries(ctx context.Context) ([]backend.Library, error) {
	c.libsMu.Lock()
	defer c.libsMu.Unlock()
	if c.libs != nil {
		return slices.Clone(c.libs), nil
	}
	libs, err := c.readLibraries(ctx)
	if err == nil {
		c.libs = slices.Clone(libs)
	}
	return libs, err
}

func (c *Client) readLibraries(ctx context.Context) ([]backend.Library, error) {
	var head wireHead
	if _, err := c.getContainer(ctx, "/library/sections", nil, nil, &head, nil); err != nil {
		return nil, fmt.Errorf("listing plex libraries: %w", err)
	}
	if head.Size == nil && head.Directory == nil {
		// Not even a size: not an answer about sections (a server with
		// none says "size": 0).
		return nil, fmt.Errorf("listing plex libraries: %w: no size and no Directory in the MediaContainer", backend.ErrBadResponse)
	}
	var libs []backend.Library
	for _, d := range head.Directory {
		var typ backend.ItemType
		switch d.Type {
		case "movie":
			typ = backend.Movie
		case "show":
			typ = backend.Episode
		default:
			continue
		}
		if d.Key == "" {
			return nil, fmt.Errorf("listing plex libraries: %w: a %s section has no key", backend.ErrBadResponse, d.Type)
		}
		libs = append(libs, backend.Library{ID: string(d.Key), Title: d.Title, Type: typ})
	}
	return libs, nil
}
