package mediabrowser

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"playmark/sync/backend"
)

// DefaultPageSize is the number of items per listing request when
// ListOptions.PageSize is 0.
const DefaultPageSize = 500

// getBatch is the number of ids per Ids= request (Get, series look-ups):
// about 3.5 KB of URL with Jellyfin's 32-hex ids.
const getBatch = 100

// clientName and clientVersion identify Playmark to the server (they show
// in the server's device and session lists).
const (
	clientName    = "Playmark"
	clientVersion = "1.0"
)

// ErrNoUser is returned by user-scoped calls when no user id is configured
// and the token has none (an admin API key, or any Emby token, since Emby
// cannot say whose token it is). Configure Config.UserID, for example with
// one of Users().
var ErrNoUser = errors.New("no user: the token has no user of its own (an API key?); choose a user id")

// itemFields are the Fields= the client asks for. ProviderIds, DateCreated
// and Path appear only when asked for; RunTimeTicks, UserData and the
// series and episode numbers always do, except that Emby 4.8 and later
// leave UserData.LastPlayedDate and the real PlayCount out of listings
// unless UserDataLastPlayedDate and UserDataPlayCount are named
// (CrossWatch #1047, Reclaimerr #83). Jellyfin ignores Fields values it
// does not know, so both are always sent.
const itemFields = "ProviderIds,DateCreated,Path,UserDataLastPlayedDate,UserDataPlayCount"

// Client is a Jellyfin or Emby server as one user. It implements
// backend.Backend and is safe for concurrent use.
type Client struct {
	fl      Flavor
	base    string // scheme://host[:port][/path], no trailing slash, prefix included
	headers http.Header
	tr      *backend.Transport

	// root is base without the PathPrefix New added: where the socket is.
	// serverID is the server's recorded id, for telling whose a webhook
	// is. token and deviceID go in the socket's URL (socket.go).
	root, serverID, token, deviceID string

	mu       sync.Mutex
	userID   string // configured, or resolved from the token (Jellyfin /Users/Me)
	libs     []backend.Library
	libsUser string // whose views libs are
}

var _ backend.Backend = (*Client)(nil)

// New returns a client for the server at cfg.URL speaking flavour fl. It
// fails when the URL or the token is missing or malformed, or cfg.Kind
// names another family. It sends no request.
func New(cfg backend.Config, fl Flavor) (*Client, error) {
	if cfg.Kind != "" && cfg.Kind != fl.Kind {
		return nil, fmt.Errorf("%s client configured for a %s server", fl.Kind, cfg.Kind)
	}
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: invalid server URL %q (want http://host:port)", fl.Kind, cfg.URL)
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("%s: no token configured", fl.Kind)
	}
	base := strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/")
	root := base
	if p := fl.PathPrefix; p != "" && !strings.HasSuffix(strings.ToLower(base), strings.ToLower(p)) {
		base += p
	}
	tr := cfg.Transport
	if tr == nil {
		tr = backend.NewTransport(backend.TransportOptions{})
	}
	c := &Client{fl: fl, base: base, tr: tr, userID: normalizeGUID(cfg.UserID)}
	c.root, c.serverID, c.token, c.deviceID = root, strings.TrimSpace(cfg.ServerID), cfg.Token, cmp.Or(cfg.ClientID, "playmark")
	c.headers = authHeaders(fl, cfg)
	return c, nil
}

// normalizeGUID writes a GUID (user or item id) without dashes, in lower case, as
// the servers do; anything else is kept as given.
func normalizeGUID(id string) string {
	id = strings.TrimSpace(id)
	if validGUID(id) {
		return strings.ToLower(strings.ReplaceAll(id, "-", ""))
	}
	return id
}

func authHeaders(fl Flavor, cfg backend.Config) http.Header {
	device, err := os.Hostname()
	if err != nil || device == "" {
		device = clientName
	}
	deviceID := cfg.ClientID
	if deviceID == "" {
		deviceID = "playmark"
	}
	// The servers URL-decode the values (WebUtility.UrlDecode: '+' is a space).
	param := func(k, v string) string { return k + `="` + url.QueryEscape(v) + `"` }
	h := http.Header{}
	h.Set("Accept", "application/json")
	identity := []string{param("Client", clientName), param("Device", device), param("DeviceId", deviceID), param("Version", clientVersion)}
	switch fl.Auth {
	case AuthEmby:
		if cfg.UserID != "" {
			identity = append([]string{param("UserId", normalizeGUID(cfg.UserID))}, identity...)
		}
		h.Set("X-Emby-Authorization", "Emby "+strings.Join(identity, ", "))
		h.Set("X-Emby-Token", cfg.Token)
	default:
		h.Set("Authorization", "MediaBrowser "+strings.Join(append(identity, param("Token", cfg.Token)), ", "))
	}
	return h
}

// Kind is the server family of the flavour.
func (c *Client) Kind() backend.Kind { return c.fl.Kind }

// Capabilities: both servers record the play date MarkPlayed sends.
func (c *Client) Capabilities() backend.Capabilities {
	return backend.Capabilities{BackdatePlayed: true}
}

// --- Requests ------------------------------------------------------------

// send sends one request through the Transport. The URL carries no token.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.tr.Do(req)
}

// getJSON sends a GET and decodes the JSON answer into out.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	resp, err := c.send(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := checkJSON(resp); err != nil {
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return bodyError(ctx, resp, err)
	}
	return nil
}

// checkJSON rejects an answer that says it is a web page: a proxy's or a
// captive portal's, not the API's.
func checkJSON(resp *http.Response) error { return backend.CheckJSON(resp) }

// bodyError classifies a failure to read or decode a body: a cancelled
// context stays itself, a lost connection stays ErrUnreachable, and
// anything else is ErrBadResponse, in one sentence with the body's start
// kept for the log (backend.DecodeFailure).
func bodyError(ctx context.Context, resp *http.Response, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return backend.DecodeFailure(resp, err)
}

func statusOf(err error) int {
	var se *backend.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// discard drains and closes a body, so the connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// --- Routes --------------------------------------------------------------

func (c *Client) userPath(uid, rest string) string {
	return "/Users/" + url.PathEscape(uid) + rest
}

// itemsRoute is the items query route; it may set userId in q.
func (c *Client) itemsRoute(uid string, q url.Values) string {
	if c.fl.Routes == RoutesUserQuery {
		q.Set("userId", uid)
		return "/Items"
	}
	return c.userPath(uid, "/Items")
}

func (c *Client) viewsRoute(uid string, q url.Values) string {
	if c.fl.Routes == RoutesUserQuery {
		q.Set("userId", uid)
		return "/UserViews"
	}
	return c.userPath(uid, "/Views")
}

func (c *Client) playedRoute(uid, id string, q url.Values) string {
	if c.fl.Routes == RoutesUserQuery {
		q.Set("userId", uid)
		return "/UserPlayedItems/" + url.PathEscape(id)
	}
	return c.userPath(uid, "/PlayedItems/"+url.PathEscape(id))
}

func (c *Client) userDataRoute(uid, id string, q url.Values) string {
	if c.fl.Routes == RoutesUserQuery {
		q.Set("userId", uid)
		return "/UserItems/" + url.PathEscape(id) + "/UserData"
	}
	return c.userPath(uid, "/Items/"+url.PathEscape(id)+"/UserData")
}

// --- Identity and users --------------------------------------------------

type systemInfo struct {
	ServerName  string `json:"ServerName"`
	Version     string `json:"Version"`
	ID          string `json:"Id"`
	ProductName string `json:"ProductName"`
}

type userDTO struct {
	ID     string `json:"Id"`
	Name   string `json:"Name"`
	Policy *struct {
		IsAdministrator bool `json:"IsAdministrator"`
	} `json:"Policy"`
}

func (u userDTO) user() backend.User {
	return backend.User{ID: u.ID, Name: u.Name, Admin: u.Policy != nil && u.Policy.IsAdministrator}
}

// Identify reads the server's name, version and id (GET /System/Info; its
// public variant when the user may not read the full one) and the user:
// the configured one (GET /Users/{id}), else, on Jellyfin, the token's
// (GET /Users/Me). UserID is empty when neither names a user (an API key
// with no user configured); user-scoped calls then fail with ErrNoUser.
// A rejected token is ErrUnauthorized.
func (c *Client) Identify(ctx context.Context) (backend.ServerInfo, error) {
	var info systemInfo
	err := c.getJSON(ctx, "/System/Info", nil, &info)
	if statusOf(err) == http.StatusForbidden {
		err = c.getJSON(ctx, "/System/Info/Public", nil, &info)
	}
	if err != nil {
		return backend.ServerInfo{}, fmt.Errorf("identifying %s server: %w", c.fl.Kind, err)
	}
	if info.ID == "" {
		return backend.ServerInfo{}, fmt.Errorf("identifying %s server: %w: /System/Info has no server Id", c.fl.Kind, backend.ErrBadResponse)
	}
	si := backend.ServerInfo{
		Name:     info.ServerName,
		Product:  info.ProductName,
		Version:  info.Version,
		ServerID: info.ID,
	}
	if si.Product == "" {
		si.Product = c.fl.Product
	}
	u, err := c.whoAmI(ctx)
	if err != nil && !errors.Is(err, ErrNoUser) {
		return backend.ServerInfo{}, fmt.Errorf("identifying %s user: %w", c.fl.Kind, err)
	}
	si.UserID, si.UserName = u.ID, u.Name
	return si, nil
}

// whoAmI reads the configured user, or the token's own.
func (c *Client) whoAmI(ctx context.Context) (userDTO, error) {
	c.mu.Lock()
	uid := c.userID
	c.mu.Unlock()
	var u userDTO
	switch {
	case uid != "":
		if err := c.getJSON(ctx, c.userPath(uid, ""), nil, &u); err != nil {
			return u, err
		}
		if u.ID == "" {
			u.ID = uid
		}
		u.ID = normalizeGUID(u.ID)
		if u.ID != uid {
			return userDTO{}, fmt.Errorf("%w: asked for user %s, got %s", backend.ErrBadResponse, uid, u.ID)
		}
		return u, nil
	case c.fl.UsersMe:
		err := c.getJSON(ctx, "/Users/Me", nil, &u)
		if statusOf(err) == http.StatusBadRequest {
			return userDTO{}, ErrNoUser // an API key: no user of its own
		}
		if err != nil {
			return u, err
		}
		if u.ID == "" {
			return u, fmt.Errorf("%w: /Users/Me has no Id", backend.ErrBadResponse)
		}
		u.ID = normalizeGUID(u.ID)
		c.mu.Lock()
		c.userID = u.ID
		c.mu.Unlock()
		return u, nil
	}
	return userDTO{}, ErrNoUser
}

// user is the id user-scoped calls act for, resolving the token's own
// user once where the flavour can.
func (c *Client) user(ctx context.Context) (string, error) {
	c.mu.Lock()
	uid := c.userID
	c.mu.Unlock()
	if uid != "" {
		return uid, nil
	}
	u, err := c.whoAmI(ctx)
	if err != nil {
		return "", fmt.Errorf("finding the %s user: %w", c.fl.Kind, err)
	}
	return u.ID, nil
}

// Users lists the server's accounts: GET /Users (an array), or on Emby
// GET /Users/Query (a QueryResult) falling back to GET /Users on 404. A
// token that may not list users (403) gets its configured user alone.
func (c *Client) Users(ctx context.Context) ([]backend.User, error) {
	var list []userDTO
	var err error
	if c.fl.UsersQuery {
		var res struct {
			Items []userDTO `json:"Items"`
		}
		if err = c.getJSON(ctx, "/Users/Query", nil, &res); err == nil {
			list = res.Items
		}
	}
	if !c.fl.UsersQuery || statusOf(err) == http.StatusNotFound {
		err = c.getJSON(ctx, "/Users", nil, &list)
	}
	if statusOf(err) == http.StatusForbidden {
		u, uerr := c.whoAmI(ctx)
		if uerr == nil {
			return []backend.User{u.user()}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s users: %w", c.fl.Kind, err)
	}
	out := make([]backend.User, 0, len(list))
	for _, u := range list {
		if u.ID == "" {
			return nil, fmt.Errorf("listing %s users: %w: a user without an Id", c.fl.Kind, backend.ErrBadResponse)
		}
		u.ID = normalizeGUID(u.ID)
		out = append(out, u.user())
	}
	return out, nil
}

// --- Libraries -----------------------------------------------------------

// Libraries lists the user's movie (CollectionType "movies") and show
// ("tvshows") libraries; other views are left out.
func (c *Client) Libraries(ctx context.Context) ([]backend.Library, error) {
	uid, err := c.user(ctx)
	if err != nil {
		return nil, err
	}
	libs, err := c.libraries(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("listing %s libraries: %w", c.fl.Kind, err)
	}
	return libs, nil
}

func (c *Client) libraries(ctx context.Context, uid string) ([]backend.Library, error) {
	// A client lives for one run: the views read once serve its listing
	// and its quick checks.
	c.mu.Lock()
	if c.libsUser == uid && c.libs != nil {
		libs := slices.Clone(c.libs)
		c.mu.Unlock()
		return libs, nil
	}
	c.mu.Unlock()
	libs, err := c.readLibraries(ctx, uid)
	if err == nil {
		c.mu.Lock()
		c.libs, c.libsUser = slices.Clone(libs), uid
		c.mu.Unlock()
	}
	return libs, err
}

func (c *Client) readLibraries(ctx context.Context, uid string) ([]backend.Library, error) {
	q := url.Values{}
	path := c.viewsRoute(uid, q)
	var res itemsPage
	if err := c.getJSON(ctx, path, q, &res); err != nil {
		return nil, err
	}
	if res.Items == nil {
		return nil, fmt.Errorf("%w: no Items in the list of libraries", backend.ErrBadResponse)
	}
	var out []backend.Library
	for _, v := range res.Items {
		var t backend.ItemType
		switch strings.ToLower(v.CollectionType) {
		case "movies":
			t = backend.Movie
		case "tvshows":
			t = backend.Episode
		default:
			continue
		}
		if v.ID == "" {
			return nil, fmt.Errorf("%w: a library without an Id", backend.ErrBadResponse)
		}
		out = append(out, backend.Library{ID: v.ID, Title: v.Name, Type: t})
	}
	return out, nil
}

// --- Listing -------------------------------------------------------------

// Items pages through the movies and episodes of the selected libraries,
// one library after the other, oldest first (SortBy=DateCreated,SortName).
//
// With opt.Since set it reads only what can have changed: per library the
// played items by DatePlayed, newest first, stopping at the first one
// played before Since, then every resumable item (Filters=IsResumable). It
// does not use MinDateLastSaved*, which watch-state changes do not move.
//
// Every page is checked (see pages): a page longer than asked, beyond or
// below the announced total, empty before the total, or not continuing the
// previous page (skipped, repeated, StartIndex ignored) fails with
// ErrBadResponse. A library in opt.Libraries the user does not have is
// ErrNotFound.
func (c *Client) Items(ctx context.Context, opt backend.ListOptions, page func([]backend.Item) error) error {
	uid, libs, err := c.selected(ctx, opt)
	if err != nil {
		return err
	}
	size := opt.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	l := &lister{c: c, uid: uid, page: page, series: map[string][]backend.GUID{}}
	for _, lib := range libs {
		if opt.Since.IsZero() {
			err = l.all(ctx, lib, size)
		} else {
			err = l.since(ctx, lib, size, opt.Since, !opt.PlayedOnly)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// selected is the user and the libraries a listing covers.
func (c *Client) selected(ctx context.Context, opt backend.ListOptions) (string, []backend.Library, error) {
	uid, err := c.user(ctx)
	if err != nil {
		return "", nil, err
	}
	libs, err := c.libraries(ctx, uid)
	if err != nil {
		return "", nil, fmt.Errorf("listing %s libraries: %w", c.fl.Kind, err)
	}
	if len(opt.Libraries) > 0 {
		var sel []backend.Library
		for _, id := range opt.Libraries {
			i := indexLibrary(libs, id)
			if i < 0 {
				return "", nil, fmt.Errorf("listing %s items: library %s: %w", c.fl.Kind, id, backend.ErrNotFound)
			}
			if indexLibrary(sel, libs[i].ID) < 0 {
				sel = append(sel, libs[i])
			}
		}
		libs = sel
	}
	return uid, libs, nil
}

func indexLibrary(libs []backend.Library, id string) int {
	for i, l := range libs {
		if strings.EqualFold(l.ID, id) {
			return i
		}
	}
	return -1
}

// lister is one Items call: the callback, a reused page buffer and the
// series' GUIDs read so far.
type lister struct {
	c      *Client
	uid    string
	page   func([]backend.Item) error
	buf    []backend.Item
	series map[string][]backend.GUID // series id -> its GUIDs (nil: has none or gone)
}

func (l *lister) query(lib backend.Library, q url.Values) (string, url.Values) {
	path := l.c.itemsRoute(l.uid, q)
	q.Set("ParentId", lib.ID)
	q.Set("Recursive", "true")
	if lib.Type == backend.Movie {
		q.Set("IncludeItemTypes", "Movie")
	} else {
		q.Set("IncludeItemTypes", "Episode")
	}
	q.Set("Fields", itemFields)
	q.Set("EnableUserData", "true")
	q.Set("EnableImages", "false")
	q.Set("EnableTotalRecordCount", "true")
	return path, q
}

// all lists a whole library.
func (l *lister) all(ctx context.Context, lib backend.Library, size int) error {
	path, q := l.query(lib, url.Values{"SortBy": {"DateCreated,SortName"}, "SortOrder": {"Ascending"}})
	return l.c.pages(ctx, path, q, size, func(dtos []itemDTO) (bool, error) {
		return false, l.emit(ctx, lib, dtos, nil)
	})
}

// since lists a library's items played at or after t, newest first, then
// its resumable items played at or after t, newest first, each item once.
//
// Resumable items stop at t too, on the assumption (from the servers'
// session code, not checked against a running server) that playback
// stamps LastPlayedDate when it starts, so a position that moved since t
// comes with a date at or after t. A position changed through the UserData
// endpoint alone keeps the old date (only non-null fields are applied);
// the import's progress rule would not take such a change anyway (its
// date is not newer than the one recorded), except on an item with no
// date at all, which sorts last and is left to the full reconcile.
//
// With resumable false it lists played items only (ListOptions.PlayedOnly:
// the caller reads the items in progress with InProgress, which sees a
// long session too).
func (l *lister) since(ctx context.Context, lib backend.Library, size int, t time.Time, resumable bool) error {
	seen := map[string]bool{}
	if err := l.newest(ctx, lib, size, t, url.Values{"IsPlayed": {"true"}}, seen); err != nil || !resumable {
		return err
	}
	return l.newest(ctx, lib, size, t, url.Values{"Filters": {"IsResumable"}}, seen)
}

// newest lists a library's items matching filter sorted by DatePlayed,
// newest first, up to the first one played before t.
func (l *lister) newest(ctx context.Context, lib backend.Library, size int, t time.Time, filter url.Values, seen map[string]bool) error {
	filter.Set("SortBy", "DatePlayed,SortName")
	filter.Set("SortOrder", "Descending")
	path, q := l.query(lib, filter)
	var prev time.Time // the last date seen, to check the order
	first := true
	return l.c.pages(ctx, path, q, size, func(dtos []itemDTO) (bool, error) {
		// The early stop relies on the order, so check all of each page,
		// not only the part before the stop.
		n := -1
		for i := range dtos {
			at, err := dtoLastPlayed(&dtos[i])
			if err != nil {
				return false, fmt.Errorf("listing %s items: %w: %v", l.c.fl.Kind, backend.ErrBadResponse, err)
			}
			if !first && at.After(prev) {
				return false, fmt.Errorf("listing %s items: %w: not sorted by DatePlayed, newest first (%s after %s)",
					l.c.fl.Kind, backend.ErrBadResponse, at.Format(time.RFC3339), prev.Format(time.RFC3339))
			}
			first, prev = false, at
			if n < 0 && at.Before(t) {
				n = i // older than Since, and so is everything after it
			}
		}
		if n < 0 {
			return false, l.emit(ctx, lib, dtos, seen)
		}
		return true, l.emit(ctx, lib, dtos[:n], seen)
	})
}

func dtoLastPlayed(d *itemDTO) (time.Time, error) {
	if d.UserData == nil {
		return time.Time{}, nil
	}
	return ParseDate(d.UserData.LastPlayedDate)
}

// emit maps a page, adds the series' GUIDs and hands it to the callback.
// Items already in seen (when not nil) are skipped and the rest recorded.
func (l *lister) emit(ctx context.Context, lib backend.Library, dtos []itemDTO, seen map[string]bool) error {
	if err := l.c.seriesGUIDs(ctx, l.uid, dtos, l.series); err != nil {
		return err
	}
	l.buf = l.buf[:0]
	for i := range dtos {
		it, ok, err := toItem(&dtos[i], lib.ID)
		if err != nil {
			return fmt.Errorf("listing %s items: %w: %v", l.c.fl.Kind, backend.ErrBadResponse, err)
		}
		if !ok {
			continue
		}
		if seen != nil {
			if seen[it.ID] {
				continue
			}
			seen[it.ID] = true
		}
		if it.Type == backend.Episode {
			it.ShowGUIDs = l.series[it.ShowID]
		}
		l.buf = append(l.buf, it)
	}
	if len(l.buf) == 0 {
		return nil
	}
	if err := l.page(l.buf); err != nil {
		return err
	}
	return ctx.Err()
}

// pages requests q page by page and calls f with each page's new items
// until the announced total is reached or f says stop.
//
// It checks that the server really paged: every page after the first
// starts one item early (StartIndex-1, Limit+1), so that its first item
// must be the last one of the previous page. A skipped or repeated page,
// or a server that ignores StartIndex, breaks that chain even where the
// answer does not echo StartIndex (Emby). Items added in front while
// listing (a play, when sorted by DatePlayed) shift the chain by as many
// as the total grew: those repeats are dropped. Any other inconsistency
// is ErrBadResponse. Every round moves forward or ends, so it never loops.
func (c *Client) pages(ctx context.Context, path string, q url.Values, size int, f func([]itemDTO) (stop bool, err error)) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("listing %s items: %w: "+format, append([]any{c.fl.Kind, backend.ErrBadResponse}, args...)...)
	}
	start, first, last := 0, -1, -1 // next unseen index; first and latest totals
	anchor := ""                    // id of the last item seen
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		from, limit := start, size
		if anchor != "" {
			from, limit = start-1, size+1
		}
		q.Set("StartIndex", strconv.Itoa(from))
		q.Set("Limit", strconv.Itoa(limit))
		p, err := c.getPage(ctx, path, q, limit)
		if errors.Is(err, errTooMany) {
			return fail("asked for %d items, got more: the server ignored Limit", limit)
		}
		if err != nil {
			return fmt.Errorf("listing %s items: %w", c.fl.Kind, err)
		}
		n, total := len(p.Items), p.TotalRecordCount
		switch {
		case c.fl.StartIndexEchoed && p.StartIndex != nil && *p.StartIndex != from:
			return fail("asked for items from %d, got them from %d", from, *p.StartIndex)
		case n > limit:
			return fail("asked for %d items, got %d: the server ignored Limit", limit, n)
		case from+n > total:
			return fail("items %d to %d are beyond the announced total of %d", from, from+n, total)
		case n == 0 && start < total:
			return fail("no items at %d of an announced %d", from, total)
		case first >= 0 && total < first:
			// Items vanished mid-listing: later ones moved up and would be missed.
			return fail("the total fell from %d to %d during the listing", first, total)
		case first >= 0 && total > 2*first+size:
			return fail("the total grew from %d to %d during the listing", first, total)
		}
		if first < 0 {
			first, last = total, total
		}
		items := p.Items
		if anchor != "" {
			k := slices.IndexFunc(items, func(d itemDTO) bool { return d.ID == anchor })
			switch {
			case k < 0:
				return fail("the page at %d does not follow the previous one: the server skipped or repeated items", start)
			case k > total-last:
				return fail("the page at %d repeats %d items: the server ignored StartIndex", start, k)
			}
			items = items[k+1:]
			start += k // k items were added in front of the anchor
		}
		if len(items) == 0 && start < total {
			return fail("no new items at %d of an announced %d", start, total)
		}
		stop, err := f(items)
		if err != nil || stop {
			return err
		}
		start += len(items)
		if start >= total {
			return nil
		}
		anchor, last = p.Items[n-1].ID, total
	}
}

// getPage reads one QueryResult page, of at most maxItems items when
// maxItems is above 0 (errTooMany).
func (c *Client) getPage(ctx context.Context, path string, q url.Values, maxItems int) (itemsPage, error) {
	resp, err := c.send(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return itemsPage{}, err
	}
	defer resp.Body.Close()
	if err := checkJSON(resp); err != nil {
		return itemsPage{}, err
	}
	p, err := decodeItems(resp.Body, maxItems)
	if err != nil {
		return itemsPage{}, bodyError(ctx, resp, err)
	}
	return p, nil
}

// seriesGUIDs reads the GUIDs of the page's series not yet in cache,
// batched by Ids=.
func (c *Client) seriesGUIDs(ctx context.Context, uid string, dtos []itemDTO, cache map[string][]backend.GUID) error {
	var missing []string
	asked := map[string]bool{}
	for i := range dtos {
		id := dtos[i].SeriesID
		if dtos[i].Type != "Episode" || id == "" || asked[id] {
			continue
		}
		if _, ok := cache[id]; !ok {
			asked[id] = true
			missing = append(missing, id)
		}
	}
	for len(missing) > 0 {
		batch := missing[:min(getBatch, len(missing))]
		missing = missing[len(batch):]
		q := url.Values{"Ids": {strings.Join(batch, ",")}, "Fields": {"ProviderIds"}, "EnableUserData": {"false"}, "EnableImages": {"false"}}
		path := c.itemsRoute(uid, q)
		p, err := c.getPage(ctx, path, q, 0)
		if err != nil {
			return fmt.Errorf("reading %s series: %w", c.fl.Kind, err)
		}
		for _, id := range batch {
			cache[id] = nil // unless found below: a series that is gone
		}
		for i := range p.Items {
			if asked[p.Items[i].ID] {
				cache[p.Items[i].ID] = NormalizeProviderIDs(p.Items[i].ProviderIDs)
			}
		}
	}
	return nil
}

// Get reads the items with the given ids, up to 100 per request (Ids=).
// Unknown ids, and on Jellyfin ids that are not GUIDs, are absent from
// the result. Items carry the server's spelling of their id (Jellyfin: 32
// lower-case hex digits, also when asked for in the dashed form). Get
// cannot tell an item's library: Item.Library is empty.
func (c *Client) Get(ctx context.Context, ids []string) ([]backend.Item, error) {
	var want []string
	asked := map[string]bool{}
	for _, id := range ids {
		if id == "" || (c.fl.GUIDItemIDs && !validGUID(id)) {
			continue
		}
		if k := c.idKey(id); !asked[k] {
			asked[k] = true
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	uid, err := c.user(ctx)
	if err != nil {
		return nil, err
	}
	series := map[string][]backend.GUID{}
	var out []backend.Item
	for len(want) > 0 {
		batch := want[:min(getBatch, len(want))]
		want = want[len(batch):]
		q := url.Values{
			"Ids":            {strings.Join(batch, ",")},
			"Fields":         {itemFields},
			"EnableUserData": {"true"},
			"EnableImages":   {"false"},
		}
		path := c.itemsRoute(uid, q)
		p, err := c.getPage(ctx, path, q, 0)
		if err != nil {
			return nil, fmt.Errorf("reading %s items: %w", c.fl.Kind, err)
		}
		if err := c.seriesGUIDs(ctx, uid, p.Items, series); err != nil {
			return nil, err
		}
		for i := range p.Items {
			it, ok, err := toItem(&p.Items[i], "")
			if err != nil {
				return nil, fmt.Errorf("reading %s items: %w: %v", c.fl.Kind, backend.ErrBadResponse, err)
			}
			if !ok || !asked[c.idKey(it.ID)] {
				continue
			}
			if it.Type == backend.Episode {
				it.ShowGUIDs = series[it.ShowID]
			}
			out = append(out, it)
		}
	}
	return out, nil
}

// idKey is the form ids are compared in: GUIDs without dashes, lower case.
func (c *Client) idKey(id string) string {
	if c.fl.GUIDItemIDs {
		return normalizeGUID(id)
	}
	return id
}

// --- Writes --------------------------------------------------------------

// itemID checks an id before it goes into a path: a malformed one cannot
// name an item.
func (c *Client) itemID(id string) error {
	if id == "" || (c.fl.GUIDItemIDs && !validGUID(id)) {
		return fmt.Errorf("item %q: %w", id, backend.ErrNotFound)
	}
	return nil
}

// MarkPlayed marks an item played at at (POST PlayedItems/{id}?DatePlayed=
// in the flavour's layout, UTC; a zero at lets the server stamp its own
// clock). The servers also clear the resume position and count a play.
// An unknown id is ErrNotFound.
func (c *Client) MarkPlayed(ctx context.Context, id string, at time.Time) error {
	if err := c.write(ctx, http.MethodPost, id, at, true); err != nil {
		return fmt.Errorf("marking %s played on %s: %w", id, c.fl.Kind, err)
	}
	return nil
}

// MarkUnplayed marks an item unplayed (DELETE PlayedItems/{id}), which
// also clears its play count, date and resume position. An unknown id is
// ErrNotFound.
func (c *Client) MarkUnplayed(ctx context.Context, id string) error {
	if err := c.write(ctx, http.MethodDelete, id, time.Time{}, false); err != nil {
		return fmt.Errorf("marking %s unplayed on %s: %w", id, c.fl.Kind, err)
	}
	return nil
}

func (c *Client) write(ctx context.Context, method, id string, at time.Time, played bool) error {
	if err := c.itemID(id); err != nil {
		return err
	}
	uid, err := c.user(ctx)
	if err != nil {
		return err
	}
	q := url.Values{}
	if played && !at.IsZero() {
		q.Set("DatePlayed", at.UTC().Format(c.fl.DatePlayedLayout))
	}
	resp, err := c.send(ctx, method, c.playedRoute(uid, id, q), q, nil)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// SetProgress sets the resume position (POST UserData with only
// PlaybackPositionTicks: the servers apply just the fields sent). duration
// is not needed. Where the server answers the new user data (Jellyfin),
// a position other than the one sent is ErrBadResponse. An unknown id is
// ErrNotFound.
func (c *Client) SetProgress(ctx context.Context, id string, position, duration time.Duration) error {
	if err := c.setProgress(ctx, id, position); err != nil {
		return fmt.Errorf("setting the %s resume position of %s: %w", c.fl.Kind, id, err)
	}
	return nil
}

func (c *Client) setProgress(ctx context.Context, id string, position time.Duration) error {
	if err := c.itemID(id); err != nil {
		return err
	}
	if position < 0 {
		return fmt.Errorf("negative position %s", position)
	}
	uid, err := c.user(ctx)
	if err != nil {
		return err
	}
	ticks := int64(position / tick)
	body, _ := json.Marshal(map[string]int64{"PlaybackPositionTicks": ticks})
	q := url.Values{}
	resp, err := c.send(ctx, http.MethodPost, c.userDataRoute(uid, id, q), q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !c.fl.UserDataReturnsBody {
		discard(resp)
		return nil
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return bodyError(ctx, resp, err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil // some versions answer 204-style empty bodies
	}
	var got userDataDTO
	if err := json.Unmarshal(raw, &got); err != nil {
		return bodyError(ctx, resp, err)
	}
	if got.PlaybackPositionTicks != ticks {
		return fmt.Errorf("%w: position sent %d ticks, the server kept %d", backend.ErrBadResponse, ticks, got.PlaybackPositionTicks)
	}
	return nil
}
