// Package plextv is the client for plex.tv, the Plex account service:
// signing in with a PIN, the servers an account reaches (resources) and
// their connections, Plex Home users and their tokens (switch), and the
// friends a server is shared with (shared_servers).
//
// Every request goes through a backend.Transport, like the media server
// clients: the same limits, retries and error kinds (a rejected token is
// backend.ErrUnauthorized). Tokens travel in the X-Plex-Token header,
// never in a URL, and never appear in an error.
//
// The base URL is https://plex.tv unless Config.URL says otherwise;
// PLAYMARK_PLEXTV_URL points the app at a simulated plex.tv (tests and the
// demo only).
package plextv

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"playmark/sync/backend"
)

// DefaultURL is plex.tv's API base.
const DefaultURL = "https://plex.tv"

// authApp is the page a user signs in on and approves a PIN.
const authApp = "https://app.plex.tv/auth"

// EnvURL is the environment variable that points Playmark at another
// plex.tv: a simulated one, for tests and the demo.
const EnvURL = "PLAYMARK_PLEXTV_URL"

// Product is what Playmark calls itself to plex.tv (X-Plex-Product, and the
// device product on the sign-in page).
const Product = "Playmark"

const clientVersion = "1.0"

// ErrPinExpired: the PIN was not approved before it expired.
var ErrPinExpired = errors.New("the sign-in code expired before it was approved")

// ErrNoConnection: none of a server's connections answered as that server.
var ErrNoConnection = errors.New("no connection to the server answered")

// URLFromEnv is the plex.tv base URL to use: PLAYMARK_PLEXTV_URL when set,
// else DefaultURL.
func URLFromEnv() string {
	if u := strings.TrimSpace(os.Getenv(EnvURL)); u != "" {
		return strings.TrimRight(u, "/")
	}
	return DefaultURL
}

// Config is what it takes to talk to plex.tv.
type Config struct {
	// URL is plex.tv's base URL; "" means DefaultURL.
	URL string
	// ClientID is this install's stable id (X-Plex-Client-Identifier). A
	// PIN is bound to it: the same id must poll it.
	ClientID string
	// Transport carries the requests; nil means a default Transport.
	Transport *backend.Transport
	// ServerTransport carries the requests that try a server's
	// connections; nil means a Transport with a short timeout and no
	// retries (a dead address should not hold up the next one).
	ServerTransport *backend.Transport
}

// Client talks to plex.tv. It is safe for concurrent use.
type Client struct {
	base     string
	clientID string
	device   string
	tr       *backend.Transport
	probe    *backend.Transport
}

// New returns a client for plex.tv at cfg.URL.
func New(cfg Config) (*Client, error) {
	raw := cfg.URL
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("plex.tv url %q is not valid: want an absolute http(s) URL", raw)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("plex.tv: no client identifier (the install's id) configured")
	}
	tr := cfg.Transport
	if tr == nil {
		tr = backend.NewTransport(backend.TransportOptions{Timeout: 30 * time.Second})
	}
	probe := cfg.ServerTransport
	if probe == nil {
		probe = backend.NewTransport(backend.TransportOptions{Timeout: 5 * time.Second, MaxRetries: -1, MaxInFlight: 8})
	}
	device, err := os.Hostname()
	if err != nil || device == "" {
		device = Product
	}
	return &Client{base: strings.TrimRight(u.String(), "/"), clientID: cfg.ClientID, device: device, tr: tr, probe: probe}, nil
}

// BaseURL is the plex.tv base URL the client speaks to.
func (c *Client) BaseURL() string { return c.base }

func (c *Client) headers(h http.Header, token string) {
	h.Set("Accept", "application/json")
	h.Set("X-Plex-Product", Product)
	h.Set("X-Plex-Version", clientVersion)
	h.Set("X-Plex-Client-Identifier", c.clientID)
	h.Set("X-Plex-Device", Product)
	h.Set("X-Plex-Device-Name", c.device)
	if token != "" {
		h.Set("X-Plex-Token", token)
	}
}

// do sends a request to plex.tv and decodes a JSON (or, with asXML, XML)
// answer into out (nil: the body is dropped).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, token string, out any, asXML bool) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	c.headers(req.Header, token)
	if asXML {
		req.Header.Set("Accept", "application/xml")
	}
	resp, err := c.tr.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
		return fmt.Errorf("%s %s: %w: got a web page, not the API", method, path, backend.ErrBadResponse)
	}
	if asXML {
		err = xml.NewDecoder(resp.Body).Decode(out)
	} else {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, backend.ErrUnreachable) || errors.Is(err, backend.ErrBadResponse) {
			return err
		}
		return fmt.Errorf("%s %s: %w: %v", method, path, backend.ErrBadResponse, err)
	}
	return nil
}

// --- PIN sign-in ---------------------------------------------------------

// Pin is a sign-in code: the user approves Code on the sign-in page, then
// polling it gives the account's token.
type Pin struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expiresAt"`
	// AuthToken is the account's token once the PIN is approved; "" before.
	AuthToken string `json:"-"`
}

type pinWire struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	ExpiresIn int       `json:"expiresIn"`
	ExpiresAt time.Time `json:"expiresAt"`
	AuthToken *string   `json:"authToken"`
}

func (w pinWire) pin(now time.Time) Pin {
	p := Pin{ID: w.ID, Code: w.Code, ExpiresAt: w.ExpiresAt}
	if p.ExpiresAt.IsZero() && w.ExpiresIn > 0 {
		p.ExpiresAt = now.Add(time.Duration(w.ExpiresIn) * time.Second)
	}
	if w.AuthToken != nil {
		p.AuthToken = *w.AuthToken
	}
	return p
}

// NewPin asks plex.tv for a sign-in code (a "strong" one: a long code
// meant for a link, not for typing on plex.tv/link).
func (c *Client) NewPin(ctx context.Context) (Pin, error) {
	var w pinWire
	if err := c.do(ctx, http.MethodPost, "/api/v2/pins", url.Values{"strong": {"true"}}, "", &w, false); err != nil {
		return Pin{}, fmt.Errorf("asking plex.tv for a sign-in code: %w", err)
	}
	if w.ID == 0 || w.Code == "" {
		return Pin{}, fmt.Errorf("asking plex.tv for a sign-in code: %w: no id or code in the answer", backend.ErrBadResponse)
	}
	return w.pin(time.Now()), nil
}

// AuthURL is the page where the user signs in and approves p. Against
// the real plex.tv it is app.plex.tv's; against another base URL (a
// simulated plex.tv) it is that server's /auth page.
func (c *Client) AuthURL(p Pin) string {
	app := authApp
	if c.base != DefaultURL {
		app = c.base + "/auth"
	}
	q := url.Values{"clientID": {c.clientID}, "code": {p.Code}, "context[device][product]": {Product}}
	return app + "#?" + q.Encode()
}

// CheckPin reads the PIN's state; AuthToken is set once approved. An
// expired PIN is ErrPinExpired (plex.tv forgets it: 404).
func (c *Client) CheckPin(ctx context.Context, id int64) (Pin, error) {
	var w pinWire
	err := c.do(ctx, http.MethodGet, "/api/v2/pins/"+strconv.FormatInt(id, 10), nil, "", &w, false)
	if errors.Is(err, backend.ErrNotFound) {
		return Pin{}, ErrPinExpired
	}
	if err != nil {
		return Pin{}, fmt.Errorf("checking the sign-in code: %w", err)
	}
	return w.pin(time.Now()), nil
}

// WaitPin polls p every interval (a second when 0) until it is approved,
// and returns the account's token. It stops with ErrPinExpired once the
// PIN has expired, and with ctx's error when ctx ends.
func (c *Client) WaitPin(ctx context.Context, p Pin, interval time.Duration) (string, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		got, err := c.CheckPin(ctx, p.ID)
		switch {
		case err != nil && !errors.Is(err, backend.ErrUnreachable):
			return "", err
		case err == nil && got.AuthToken != "":
			return got.AuthToken, nil
		case err == nil && !got.ExpiresAt.IsZero():
			p.ExpiresAt = got.ExpiresAt
		}
		if !p.ExpiresAt.IsZero() && !time.Now().Before(p.ExpiresAt) {
			return "", ErrPinExpired
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// --- The account ---------------------------------------------------------

// Account is the signed-in plex.tv account.
type Account struct {
	ID       int64  `json:"id"`
	UUID     string `json:"uuid"`
	Username string `json:"username"`
	Title    string `json:"title"`
	Email    string `json:"email"`
}

// Name is the account's display name.
func (a Account) Name() string {
	if a.Title != "" {
		return a.Title
	}
	return a.Username
}

// Account reads the account a token belongs to (GET /api/v2/user).
func (c *Client) Account(ctx context.Context, token string) (Account, error) {
	var a Account
	if err := c.do(ctx, http.MethodGet, "/api/v2/user", nil, token, &a, false); err != nil {
		return a, fmt.Errorf("reading the plex.tv account: %w", err)
	}
	return a, nil
}

// --- Servers -------------------------------------------------------------

// Connection is one address a server can be reached at.
type Connection struct {
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	Port     int    `json:"port"`
	URI      string `json:"uri"`
	Local    bool   `json:"local"`
	Relay    bool   `json:"relay"`
	IPv6     bool   `json:"IPv6"`
}

// Resource is one server the account reaches, with the token the
// account uses on it.
type Resource struct {
	Name             string       `json:"name"`
	Product          string       `json:"product"`
	ProductVersion   string       `json:"productVersion"`
	ClientIdentifier string       `json:"clientIdentifier"` // the server's machineIdentifier
	Provides         string       `json:"provides"`
	AccessToken      string       `json:"accessToken"`
	Owned            bool         `json:"owned"`
	Home             bool         `json:"home"`
	Connections      []Connection `json:"connections"`
}

// IsServer says the resource is a media server (not a player).
func (r Resource) IsServer() bool {
	for p := range strings.SplitSeq(r.Provides, ",") {
		if strings.TrimSpace(p) == "server" {
			return true
		}
	}
	return false
}

// Servers lists the media servers the token's user reaches.
func (c *Client) Servers(ctx context.Context, token string) ([]Resource, error) {
	var all []Resource
	q := url.Values{"includeHttps": {"1"}, "includeRelay": {"1"}, "includeIPv6": {"1"}}
	if err := c.do(ctx, http.MethodGet, "/api/v2/resources", q, token, &all, false); err != nil {
		return nil, fmt.Errorf("listing the account's servers: %w", err)
	}
	var out []Resource
	for _, r := range all {
		if r.IsServer() {
			out = append(out, r)
		}
	}
	return out, nil
}

// ServerToken is the token the user of token uses on the server with
// machine id: its resource's accessToken. ErrNotFound when the user does
// not reach that server.
func (c *Client) ServerToken(ctx context.Context, token, machineID string) (string, error) {
	rs, err := c.Servers(ctx, token)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if r.ClientIdentifier == machineID {
			if r.AccessToken == "" {
				return "", fmt.Errorf("server %s: %w: no access token in its resource", r.Name, backend.ErrBadResponse)
			}
			return r.AccessToken, nil
		}
	}
	return "", fmt.Errorf("this user does not reach server %s: %w", machineID, backend.ErrNotFound)
}

// ordered is r's connections in the order to try them: local, then
// remote, relays last; within each, the order plex.tv gave.
func ordered(r Resource) []Connection {
	var local, remote, relay []Connection
	for _, c := range r.Connections {
		switch {
		case c.Relay:
			relay = append(relay, c)
		case c.Local:
			local = append(local, c)
		default:
			remote = append(remote, c)
		}
	}
	return append(append(local, remote...), relay...)
}

// Connect tries r's connections (local first, then remote, relays last)
// and returns the first URI that answers as that server: its /identity
// names the same machineIdentifier. ErrNoConnection, with each attempt's
// failure, when none does.
func (c *Client) Connect(ctx context.Context, r Resource) (string, error) {
	var errs []error
	for _, conn := range ordered(r) {
		id, err := c.identity(ctx, conn.URI)
		if err == nil && id == r.ClientIdentifier {
			return strings.TrimRight(conn.URI, "/"), nil
		}
		if err == nil {
			err = fmt.Errorf("answered as another server (%s)", id)
		}
		errs = append(errs, fmt.Errorf("%s: %w", conn.URI, err))
	}
	return "", fmt.Errorf("server %s: %w: %w", r.Name, ErrNoConnection, errors.Join(errs...))
}

// identity reads a server's machineIdentifier (GET /identity, no token).
func (c *Client) identity(ctx context.Context, uri string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(uri, "/")+"/identity", nil)
	if err != nil {
		return "", err
	}
	c.headers(req.Header, "")
	resp, err := c.probe.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		MediaContainer struct {
			MachineIdentifier string `json:"machineIdentifier" xml:"machineIdentifier,attr"`
		} `json:"MediaContainer"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", err
	}
	if jerr := json.Unmarshal(body, &out); jerr != nil || out.MediaContainer.MachineIdentifier == "" {
		// Some servers answer XML whatever Accept says.
		var x struct {
			MachineIdentifier string `xml:"machineIdentifier,attr"`
		}
		if xerr := xml.Unmarshal(body, &x); xerr != nil || x.MachineIdentifier == "" {
			return "", fmt.Errorf("%w: /identity has no machineIdentifier", backend.ErrBadResponse)
		}
		return x.MachineIdentifier, nil
	}
	return out.MediaContainer.MachineIdentifier, nil
}

// --- Plex Home -----------------------------------------------------------

// HomeUser is one member of the account's Plex Home.
type HomeUser struct {
	ID         int64  `json:"id"`
	UUID       string `json:"uuid"`
	Title      string `json:"title"`
	Username   string `json:"username"`
	Admin      bool   `json:"admin"`
	Guest      bool   `json:"guest"`
	Restricted bool   `json:"restricted"` // a managed user
	Protected  bool   `json:"protected"`  // has a PIN: switching needs it
}

// Name is the user's display name.
func (u HomeUser) Name() string {
	if u.Title != "" {
		return u.Title
	}
	return u.Username
}

// HomeUsers lists the account's Plex Home (empty when it has none).
func (c *Client) HomeUsers(ctx context.Context, token string) ([]HomeUser, error) {
	var out struct {
		Users []HomeUser `json:"users"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/home/users", nil, token, &out, false); err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return nil, nil // no Plex Home
		}
		return nil, fmt.Errorf("listing the Plex Home users: %w", err)
	}
	return out.Users, nil
}

// Switch signs in as the home user with uuid (the v2 route names users
// by uuid, not by their numeric id), with their PIN when the profile has
// one, and returns that user's plex.tv token. A wrong or missing PIN is
// ErrUnauthorized.
func (c *Client) Switch(ctx context.Context, token, uuid, pin string) (string, error) {
	if uuid == "" {
		return "", errors.New("switching home user: no uuid")
	}
	var q url.Values
	if pin != "" {
		q = url.Values{"pin": {pin}}
	}
	var out struct {
		AuthToken string `json:"authToken"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v2/home/users/"+url.PathEscape(uuid)+"/switch", q, token, &out, false); err != nil {
		return "", fmt.Errorf("switching to home user %s: %w", uuid, err)
	}
	if out.AuthToken == "" {
		return "", fmt.Errorf("switching to home user %s: %w: no authToken in the answer", uuid, backend.ErrBadResponse)
	}
	return out.AuthToken, nil
}

// --- Friends -------------------------------------------------------------

// Friend is someone a server is shared with, and the token they use on it.
type Friend struct {
	UserID      int64
	Username    string
	Email       string
	AccessToken string
}

type sharedServersWire struct {
	SharedServer []struct {
		UserID      int64  `xml:"userID,attr"`
		Username    string `xml:"username,attr"`
		Email       string `xml:"email,attr"`
		AccessToken string `xml:"accessToken,attr"`
	} `xml:"SharedServer"`
}

// SharedServers lists the friends server machineID is shared with (the
// owner's token), each with their access token on it. The API answers XML.
func (c *Client) SharedServers(ctx context.Context, token, machineID string) ([]Friend, error) {
	var w sharedServersWire
	if err := c.do(ctx, http.MethodGet, "/api/servers/"+url.PathEscape(machineID)+"/shared_servers", nil, token, &w, true); err != nil {
		return nil, fmt.Errorf("listing the friends of server %s: %w", machineID, err)
	}
	out := make([]Friend, 0, len(w.SharedServer))
	for _, s := range w.SharedServer {
		out = append(out, Friend{UserID: s.UserID, Username: s.Username, Email: s.Email, AccessToken: s.AccessToken})
	}
	return out, nil
}
