package simulate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"playmark/sync/backend"
)

// MediaBrowserServer is a simulated Jellyfin or Emby server (the two share
// one API family; NewJellyfin and NewEmby pick the flavour). It implements
// Server and serves, over real HTTP:
//
//   - GET /System/Info/Public (no token), /System/Info
//   - GET /Users (Jellyfin: array; Emby: legacy array), /Users/Query (Emby:
//     QueryResult), /Users/Me (Jellyfin: 400 for an API key), /Users/{u}
//   - GET /Users/{u}/Views, /Users/{u}/Items, /Users/{u}/Items/{id} and the
//     Jellyfin routes /UserViews, /Items, /Items/{id} with ?userId=
//   - POST, DELETE /Users/{u}/PlayedItems/{id} (Emby also POST …/Delete),
//     Jellyfin /UserPlayedItems/{id}
//   - GET, POST /Users/{u}/Items/{id}/UserData, Jellyfin /UserItems/{id}/UserData
//   - GET /socket (Jellyfin) or /embywebsocket (Emby): the notification
//     websocket, with the usual token (header, ApiKey, or api_key where
//     legacy auth is on). It greets with ForceKeepAlive (Data: seconds),
//     answers each KeepAlive with one, closes a socket silent for longer,
//     and pushes UserDataChanged {UserId, UserDataList:[UserItemDataDto]}
//     whenever a user's play state changes, to that user's sockets and to
//     API-key sockets.
//
// With Options.WebhookURL (or SetWebhookURL) set, every change of a
// user's play state of a movie or episode is also posted there: Jellyfin
// as the webhook plugin's Generic destination with "Send All Properties"
// (one flat JSON object, UserDataSaved, text/plain); Emby as its native
// webhook, multipart/form-data with the JSON in the "data" field
// (item.markplayed, item.markunplayed, and playback.stop when SetWatch
// moves a position).
//
// Paths and query keys are case-insensitive, as on the real servers; Emby
// also answers under the /emby prefix. Each user has an own token and play
// state; besides the default user (Token, UserID) there is a second,
// non-admin user (OtherUser) and an admin API key with no user (APIKey).
//
// Ids: Jellyfin items are 32-hex GUIDs (dashed accepted as input), Emby
// items numeric strings; user and server ids are 32-hex on both. Series and
// seasons are items too, with the show's external ids on the series.
//
// Listing keeps memory per item small and pages in O(page) once a query's
// order is known (orders by DateCreated and SortName are precomputed per
// library; other orders and filters are computed once and cached).
type MediaBrowserServer struct {
	fl       mbFlavor
	cat      *Catalog
	now      func() time.Time
	name     string
	serverID string
	idPrefix uint64 // high half of Jellyfin item ids
	faults   Faults
	requests atomic.Int64
	http     *http.Server
	url      string
	closed   sync.Once

	mu        sync.RWMutex
	nodes     []mbNode
	byNum     map[uint32]int32 // nodes whose id changed (Replace)
	nextNum   uint32
	mediaNode []int32 // catalog media index -> node, -1 when not on this server
	views     []int32
	children  map[int32][]int32
	users     []*mbUser
	apiKey    string
	version   uint64 // bumped when metadata changes (Replace)

	aux      sync.Mutex // lazily built indexes, guarded separately so readers can build them
	orders   map[int32]*mbOrder
	provider map[string][]int32
	cache    []mbCached

	notify    *notifier
	keepAlive atomic.Int64 // socket keep-alive (ForceKeepAlive) in seconds

	auth mbAuth // sign-in: passwords, session tokens, Quick Connect (mbauth.go)
}

// mbFlavor is how the simulated Jellyfin and Emby differ: data, not code.
type mbFlavor struct {
	kind          backend.Kind
	product       string
	version       string
	defaultName   string
	tokens        [3]string // default user, other user, API key
	guidIDs       bool      // item ids are 32-hex GUIDs (Jellyfin) or numbers (Emby)
	newRoutes     bool      // Jellyfin 10.9+ /Items?userId=, /UserItems, /UserPlayedItems, /UserViews
	usersMe       bool      // GET /Users/Me
	usersQuery    bool      // GET /Users/Query answers a QueryResult
	pathPrefix    string    // optional prefix every route also answers under
	startIndex    bool      // QueryResult carries StartIndex
	isoDatePlayed bool      // DatePlayed may be ISO-8601 besides yyyyMMddHHmmss
	userDataBody  bool      // POST UserData answers with the UserItemDataDto
	deleteAlias   bool      // POST …/Delete as an alias for DELETE
	anyProviderID bool      // AnyProviderIdEquals filter
	legacyAuth    bool      // X-Emby-Token, X-MediaBrowser-Token, api_key, the "Emby" scheme
	authSchemes   []string  // accepted Authorization schemes
	msDates       bool      // user-data dates written with 3 fraction digits when whole milliseconds
	problemJSON   bool      // 4xx bodies are ProblemDetails JSON (Jellyfin); else plain text (Emby)
	zeroDataID    bool      // listings carry an all-zero UserData.ItemId (a Jellyfin quirk)
	dataServerID  bool      // UserItemDataDto carries ServerId (Emby)
	// Behaviours that changed between versions (API-NOTES section 7).
	replayUnplays bool // playback start sets Played=false on a resumable video (Jellyfin 10.5-10.11)
	gatedUserData bool // listings omit LastPlayedDate and PlayCount unless Fields names them (Emby 4.8+)
	socketOwnUser bool // UserDataChanged goes to that user's sockets only; an API key hears nothing (Jellyfin)
}

func mbJellyfin(legacy bool) mbFlavor {
	return mbFlavor{
		kind:          backend.Jellyfin,
		product:       "Jellyfin Server",
		version:       "10.11.8",
		defaultName:   "Jellyfin",
		tokens:        [3]string{"9f2c41d07be34a6c8e5d1b2a3c4d5e6f", "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "c0ffee00c0ffee00c0ffee00c0ffee00"},
		guidIDs:       true,
		newRoutes:     true,
		usersMe:       true,
		startIndex:    true,
		isoDatePlayed: true,
		userDataBody:  true,
		legacyAuth:    legacy,
		authSchemes:   []string{"MediaBrowser"},
		msDates:       true,
		problemJSON:   true,
		zeroDataID:    true,
		replayUnplays: true,
		socketOwnUser: true,
	}
}

func mbEmby() mbFlavor {
	return mbFlavor{
		kind:          backend.Emby,
		product:       "Emby Server",
		version:       "4.8.11.0",
		defaultName:   "Emby",
		tokens:        [3]string{"e1d2c3b4a59687786950a4b3c2d1e0f1", "5e4d3c2b1a09f8e7d6c5b4a392817065", "abcdef0123456789abcdef0123456789"},
		usersQuery:    true,
		pathPrefix:    "/emby",
		deleteAlias:   true,
		anyProviderID: true,
		legacyAuth:    true,
		authSchemes:   []string{"Emby", "MediaBrowser"},
		dataServerID:  true,
		gatedUserData: true,
	}
}

// Node kinds.
const (
	mbView uint8 = iota
	mbSeries
	mbSeason
	mbMovie
	mbEpisode
)

var mbKindNames = [...]string{mbView: "CollectionFolder", mbSeries: "Series", mbSeason: "Season", mbMovie: "Movie", mbEpisode: "Episode"}

// mbNode is one item of the server's tree: a library (view), series,
// season, movie or episode. It is kept small: 1,000,000 media are 32 MB.
type mbNode struct {
	added  int64 // DateCreated (and DateLastSaved), unix nanoseconds
	num    uint32
	parent int32
	view   int32
	ref    int32 // media index (movie, episode), show index (series, season), view number (view)
	season int16
	kind   uint8
}

// mbUser is one account with its own play state, indexed by node.
type mbUser struct {
	id      string
	name    string
	admin   bool
	token   string
	data    []mbUserData
	version uint64 // bumped on every change of data
}

type mbUserData struct {
	last   int64 // LastPlayedDate, unix nanoseconds; 0 when null
	pos    int64 // PlaybackPositionTicks
	count  int32
	played bool
}

type mbOrder struct{ created, name []int32 }

type mbCached struct {
	key string
	ids []int32
}

const (
	mbNumBase   = 1000
	mbCacheSize = 6
	mbChunk     = 500
)

var mbViewDefs = []struct{ name, collection string }{
	{"Movies", "movies"},
	{"Shows", "tvshows"},
	{"Music", "music"},
}

// NewJellyfin starts a simulated Jellyfin server over c: 10.11 unless
// opt.Version names another. With opt.LegacyAuth false it authenticates
// like 12.0: only the MediaBrowser Authorization scheme and ?ApiKey=
// carry a token. From 12.0 on, starting playback no longer clears Played.
func NewJellyfin(c *Catalog, opt Options) (*MediaBrowserServer, error) {
	fl := mbJellyfin(opt.LegacyAuth)
	if opt.Version != "" {
		major, _, err := parseVersion(opt.Version)
		if err != nil {
			return nil, err
		}
		fl.version = opt.Version
		fl.replayUnplays = major < 12
	}
	return newMediaBrowser(c, opt, fl)
}

// NewEmby starts a simulated Emby server over c: 4.8 unless opt.Version
// names another. Before 4.8, listings carry LastPlayedDate and PlayCount
// without being asked.
func NewEmby(c *Catalog, opt Options) (*MediaBrowserServer, error) {
	fl := mbEmby()
	if opt.Version != "" {
		major, minor, err := parseVersion(opt.Version)
		if err != nil {
			return nil, err
		}
		fl.version = opt.Version
		fl.gatedUserData = major > 4 || (major == 4 && minor >= 8)
	}
	return newMediaBrowser(c, opt, fl)
}

// parseVersion reads the major and minor numbers of a version such as
// "10.11.8" or "4.7".
func parseVersion(v string) (major, minor int, err error) {
	parts := strings.Split(v, ".")
	major, err = strconv.Atoi(parts[0])
	if err == nil && len(parts) > 1 {
		minor, err = strconv.Atoi(parts[1])
	}
	if err != nil || major < 0 || minor < 0 {
		return 0, 0, fmt.Errorf("simulate: version %q: want numbers such as 10.11 or 4.8", v)
	}
	return major, minor, nil
}

func newMediaBrowser(c *Catalog, opt Options, fl mbFlavor) (*MediaBrowserServer, error) {
	s := &MediaBrowserServer{
		fl:       fl,
		cat:      c,
		now:      opt.Now,
		name:     opt.Name,
		serverID: mbRandomHex(),
		idPrefix: rand.Uint64(),
		byNum:    map[uint32]int32{},
		children: map[int32][]int32{},
		apiKey:   fl.tokens[2],
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.name == "" {
		s.name = fl.defaultName
	}
	token := opt.Token
	if token == "" {
		token = fl.tokens[0]
	}
	s.build(opt.Only)
	s.users = []*mbUser{
		{id: mbRandomHex(), name: "admin", admin: true, token: token, data: make([]mbUserData, len(s.nodes))},
		{id: mbRandomHex(), name: "guest", token: fl.tokens[1], data: make([]mbUserData, len(s.nodes))},
	}
	for k, w := range opt.Watches {
		if n, ok := s.nodeOf(k); ok {
			s.users[0].data[n] = mbFromWatch(w)
		}
	}

	addr := opt.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("starting simulated %s: %w", fl.kind, err)
	}
	s.url = "http://" + ln.Addr().String()
	s.notify = newNotifier(opt.WebhookURL)
	s.keepAlive.Store(60)
	inner := s.faults.Wrap(http.HandlerFunc(s.serve))
	s.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			inner.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// build lays out the tree: views, then series and seasons, then media.
func (s *MediaBrowserServer) build(only func(Media) bool) {
	c := s.cat
	for i := range mbViewDefs {
		s.views = append(s.views, s.add(mbNode{kind: mbView, parent: -1, view: int32(i), ref: int32(i)}))
	}
	s.mediaNode = make([]int32, len(c.Media))
	series := map[int]int32{}
	seasons := map[[2]int]int32{}
	for i := range c.Media {
		m := &c.Media[i]
		s.mediaNode[i] = -1
		if only != nil && !only(*m) {
			continue
		}
		if m.Type == backend.Episode {
			show, ok := c.shows[m.ShowKey]
			if !ok {
				continue // an episode of a show the catalog does not have
			}
			sn, ok := series[show]
			if !ok {
				sn = s.add(mbNode{kind: mbSeries, parent: 1, view: 1, ref: int32(show)})
				series[show] = sn
			}
			key := [2]int{show, m.Season}
			if _, ok := seasons[key]; !ok {
				seasons[key] = s.add(mbNode{kind: mbSeason, parent: sn, view: 1, ref: int32(show), season: int16(m.Season)})
			}
		}
		s.mediaNode[i] = 0 // placed below
	}
	for i := range c.Media {
		if s.mediaNode[i] < 0 {
			continue
		}
		m := &c.Media[i]
		n := mbNode{kind: mbMovie, parent: 0, view: 0, ref: int32(i), added: m.Added.UnixNano()}
		if m.Type == backend.Episode {
			se := seasons[[2]int{c.shows[m.ShowKey], m.Season}]
			n.kind, n.parent, n.view = mbEpisode, se, 1
		}
		s.mediaNode[i] = s.add(n)
		// A folder was created when its first file was.
		for p := n.parent; p >= 0; p = s.nodes[p].parent {
			if a := &s.nodes[p].added; *a == 0 || n.added < *a {
				*a = n.added
			}
		}
	}
	for i, n := range s.nodes {
		if n.parent >= 0 {
			s.children[n.parent] = append(s.children[n.parent], int32(i))
		}
	}
	s.nextNum = mbNumBase + uint32(len(s.nodes))
}

func (s *MediaBrowserServer) add(n mbNode) int32 {
	i := int32(len(s.nodes))
	n.num = mbNumBase + uint32(i)
	s.nodes = append(s.nodes, n)
	return i
}

func mbFromWatch(w Watch) mbUserData {
	d := mbUserData{played: w.Played, count: int32(w.PlayCount), pos: int64(w.Position / 100)}
	if !w.LastPlayed.IsZero() {
		d.last = w.LastPlayed.UnixNano() / 100 * 100
	}
	return d
}

func (d mbUserData) watch() Watch {
	w := Watch{Played: d.played, PlayCount: int(d.count), Position: time.Duration(d.pos) * 100}
	if d.last != 0 {
		w.LastPlayed = time.Unix(0, d.last).UTC()
	}
	return w
}

// --- The Server interface ------------------------------------------------

// URL is the base URL (http://127.0.0.1:PORT).
func (s *MediaBrowserServer) URL() string { return s.url }

// Token is the default user's access token.
func (s *MediaBrowserServer) Token() string { return s.users[0].token }

// UserID is the default user's 32-hex id.
func (s *MediaBrowserServer) UserID() string { return s.users[0].id }

// ServerID is the server's 32-hex id.
func (s *MediaBrowserServer) ServerID() string { return s.serverID }

// OtherUser returns the id and token of the second, non-admin user, whose
// play state is separate from the default user's and starts empty.
func (s *MediaBrowserServer) OtherUser() (id, token string) { return s.users[1].id, s.users[1].token }

// APIKey is an admin API key: it may act for any user named in the
// request but has no user of its own (Jellyfin's /Users/Me answers 400).
func (s *MediaBrowserServer) APIKey() string { return s.apiKey }

// Faults is the fault injector in front of the API.
func (s *MediaBrowserServer) Faults() *Faults { return &s.faults }

// Requests is the number of HTTP requests received, faulted ones included.
func (s *MediaBrowserServer) Requests() int64 { return s.requests.Load() }

// Close stops the server and its websockets. It may be called more than
// once.
func (s *MediaBrowserServer) Close() {
	s.closed.Do(func() {
		_ = s.http.Close()
		s.notify.close()
	})
}

// SetWebhookURL sets (or, with "", clears) where webhooks go.
func (s *MediaBrowserServer) SetWebhookURL(u string) { s.notify.setWebhookURL(u) }

// WebhooksDelivered is the number of webhooks the receiver answered 2xx.
func (s *MediaBrowserServer) WebhooksDelivered() int64 { return s.notify.delivered.Load() }

// Sockets is the number of notification websockets connected.
func (s *MediaBrowserServer) Sockets() int { return s.notify.socketCount() }

// DropSockets closes every notification websocket, as a network blip does.
func (s *MediaBrowserServer) DropSockets() { s.notify.dropSockets() }

// SetSocketKeepAlive sets the keep-alive announced to new websockets
// (ForceKeepAlive, whole seconds, at least 1; default 60): clients send
// KeepAlive at half of it, and a socket silent for longer is closed.
func (s *MediaBrowserServer) SetSocketKeepAlive(d time.Duration) {
	s.keepAlive.Store(max(1, int64(d/time.Second)))
}

// KeepAlives is the number of KeepAlive messages clients have sent.
func (s *MediaBrowserServer) KeepAlives() int64 { return s.notify.keepAlives.Load() }

// RemoteID is the server's id of media k, or "" when it does not have it.
func (s *MediaBrowserServer) RemoteID(k string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodeOf(k)
	if !ok {
		return ""
	}
	return s.itemID(n)
}

// Watch is the default user's play state of media k.
func (s *MediaBrowserServer) Watch(k string) Watch { return s.WatchOf(s.users[0].id, k) }

// WatchOf is the play state of media k for the user with id userID.
func (s *MediaBrowserServer) WatchOf(userID, k string) Watch {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.userByID(userID)
	n, ok := s.nodeOf(k)
	if u == nil || !ok {
		return Watch{}
	}
	return u.data[n].watch()
}

// SetWatch sets the default user's play state of media k; like a change
// made in the server's own app, it leaves DateLastSaved alone.
func (s *MediaBrowserServer) SetWatch(k string, w Watch) { s.SetWatchOf(s.users[0].id, k, w) }

// SetWatchOf sets the play state of media k for the user with id userID,
// as SetWatch does for the default user.
func (s *MediaBrowserServer) SetWatchOf(userID, k string, w Watch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByID(userID)
	if n, ok := s.nodeOf(k); ok && u != nil {
		before := u.data[n]
		u.data[n] = mbFromWatch(w)
		u.version++
		s.announceLocked(u, []int32{n}, []mbUserData{before}, mbByApp)
	}
}

// Replace gives media k a new id and DateCreated; every user's play state
// of it is gone, as when a file is replaced and the server rescans.
func (s *MediaBrowserServer) Replace(k string, added time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodeOf(k)
	if !ok {
		return
	}
	node := &s.nodes[n]
	delete(s.byNum, node.num)
	node.num = s.nextNum
	s.nextNum++
	s.byNum[node.num] = n
	node.added = added.UnixNano()
	for _, u := range s.users {
		u.data[n] = mbUserData{}
		u.version++
	}
	s.version++
	s.aux.Lock()
	s.orders = nil
	s.cache = nil
	s.aux.Unlock()
}

func (s *MediaBrowserServer) nodeOf(k string) (int32, bool) {
	i, ok := s.cat.media[k]
	if !ok || s.mediaNode[i] < 0 {
		return 0, false
	}
	return s.mediaNode[i], true
}

// --- Ids -----------------------------------------------------------------

// Jellyfin ids hide the node number behind an invertible 64-bit mix, so
// that they look like GUIDs yet need no map to resolve.
const (
	mbMul1 = 0x9e3779b97f4a7c15
	mbMul2 = 0xbf58476d1ce4e5b9
)

var mbInv1, mbInv2 = mbInverse(mbMul1), mbInverse(mbMul2)

func mbInverse(a uint64) uint64 {
	x := a // Newton's iteration for the inverse modulo 2^64 (a is odd)
	for range 6 {
		x *= 2 - a*x
	}
	return x
}

func mbMix(x uint64) uint64 {
	x *= mbMul1
	x ^= x >> 32
	return x * mbMul2
}

func mbUnmix(x uint64) uint64 {
	x *= mbInv2
	x ^= x >> 32
	return x * mbInv1
}

func (s *MediaBrowserServer) itemID(n int32) string {
	num := s.nodes[n].num
	if !s.fl.guidIDs {
		return strconv.FormatUint(uint64(num), 10)
	}
	return fmt.Sprintf("%016x%016x", s.idPrefix, mbMix(uint64(num)))
}

// mbParseGUID accepts the 32-hex form and the dashed form, any case.
func mbParseGUID(id string) ([16]byte, bool) {
	var b [16]byte
	if len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-' {
		id = id[:8] + id[9:13] + id[14:18] + id[19:23] + id[24:]
	}
	if len(id) != 32 {
		return b, false
	}
	_, err := hex.Decode(b[:], []byte(id))
	return b, err == nil
}

// lookupID resolves an item id; ok is false for an unknown one. valid is
// false when the id is not even well-formed (Jellyfin answers 400 then).
func (s *MediaBrowserServer) lookupID(id string) (n int32, ok, valid bool) {
	var num uint64
	if s.fl.guidIDs {
		b, good := mbParseGUID(id)
		if !good {
			return 0, false, false
		}
		hi, lo := beUint64(b[:8]), beUint64(b[8:])
		if hi != s.idPrefix {
			return 0, false, true
		}
		num = mbUnmix(lo)
	} else {
		v, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return 0, false, true
		}
		num = v
	}
	if num > 0xffffffff {
		return 0, false, true
	}
	if i := int64(num) - mbNumBase; i >= 0 && i < int64(len(s.nodes)) && uint64(s.nodes[i].num) == num {
		return int32(i), true, true
	}
	if i, ok := s.byNum[uint32(num)]; ok {
		return i, true, true
	}
	return 0, false, true
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func mbRandomHex() string { return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64()) }

func (s *MediaBrowserServer) userByID(id string) *mbUser {
	b, ok := mbParseGUID(id)
	if !ok {
		return nil
	}
	norm := hex.EncodeToString(b[:])
	for _, u := range s.users {
		if u.id == norm {
			return u
		}
	}
	return nil
}

// --- Auth ----------------------------------------------------------------

// mbCaller is who sent a request: a user, or an API key (user nil).
type mbCaller struct {
	user   *mbUser
	apiKey bool
}

func (c mbCaller) admin() bool { return c.apiKey || (c.user != nil && c.user.admin) }

// mbParseAuth parses `Scheme Key="value", Key=value, …`. Values may be
// quoted or not and are URL-decoded; keys are case-insensitive.
func mbParseAuth(h string) (scheme string, params map[string]string) {
	h = strings.TrimSpace(h)
	sp := strings.IndexAny(h, " \t")
	if sp < 0 {
		return h, nil
	}
	scheme, rest := h[:sp], h[sp+1:]
	params = map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if d, err := url.QueryUnescape(v); err == nil {
			v = d
		}
		params[k] = v
	}
	return scheme, params
}

func (s *MediaBrowserServer) token(r *http.Request, q mbQuery) string {
	fl := s.fl
	headers := []string{"Authorization"}
	if fl.legacyAuth {
		headers = append(headers, "X-Emby-Authorization")
	}
	schemes := fl.authSchemes
	if fl.legacyAuth && !slices.Contains(schemes, "Emby") {
		schemes = append(slices.Clone(schemes), "Emby")
	}
	for _, h := range headers {
		scheme, params := mbParseAuth(r.Header.Get(h))
		if !slices.ContainsFunc(schemes, func(s string) bool { return strings.EqualFold(s, scheme) }) {
			continue
		}
		if t := params["token"]; t != "" {
			return t
		}
	}
	if fl.legacyAuth {
		for _, h := range []string{"X-Emby-Token", "X-MediaBrowser-Token"} {
			if t := r.Header.Get(h); t != "" {
				return t
			}
		}
	}
	if t := q.get("apikey"); t != "" {
		return t
	}
	if fl.legacyAuth {
		if t := q.get("api_key"); t != "" {
			return t
		}
	}
	if fl.kind == backend.Emby {
		if t := q.get("x-emby-token"); t != "" {
			return t
		}
	}
	return ""
}

func (s *MediaBrowserServer) caller(tok string) (mbCaller, bool) {
	if tok == "" {
		return mbCaller{}, false
	}
	if tok == s.apiKey {
		return mbCaller{apiKey: true}, true
	}
	for _, u := range s.users {
		if u.token == tok {
			return mbCaller{user: u}, true
		}
	}
	if u := s.authUser(tok); u != nil {
		return mbCaller{user: u}, true
	}
	return mbCaller{}, false
}

// --- Query strings -------------------------------------------------------

// mbQuery is a query string with case-insensitive keys, as ASP.NET binds.
type mbQuery map[string][]string

func mbParseQuery(raw string) mbQuery {
	v, _ := url.ParseQuery(raw)
	q := make(mbQuery, len(v))
	for k, vs := range v {
		lk := strings.ToLower(k)
		q[lk] = append(q[lk], vs...)
	}
	return q
}

func (q mbQuery) get(k string) string {
	if vs := q[k]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// list splits comma-separated and repeated values.
func (q mbQuery) list(k string) []string {
	var out []string
	for _, v := range q[k] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

var errMBBadParam = errors.New("bad parameter")

func (q mbQuery) boolean(k string) (*bool, error) {
	v := q.get(k)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		return nil, fmt.Errorf("%w: %s=%q", errMBBadParam, k, v)
	}
	return &b, nil
}

func (q mbQuery) integer(k string) (int, bool, error) {
	v := q.get(k)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%w: %s=%q", errMBBadParam, k, v)
	}
	return n, true, nil
}

func (q mbQuery) date(k string) (int64, error) {
	v := q.get(k)
	if v == "" {
		return 0, nil
	}
	t, err := mbParseISO(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q", errMBBadParam, k, v)
	}
	return t.UnixNano(), nil
}

func mbParseISO(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02T15:04:05.9999999", v) // no zone: UTC, as .NET reads it here
}

// --- Responses -----------------------------------------------------------

func (s *MediaBrowserServer) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

// fail answers an error the way the flavour does: Jellyfin ProblemDetails
// JSON (401 with an empty body), Emby plain text.
func (s *MediaBrowserServer) fail(w http.ResponseWriter, status int, detail string) {
	if s.fl.problemJSON {
		if status == http.StatusUnauthorized {
			w.WriteHeader(status)
			return
		}
		section := map[int]string{400: "15.5.1", 403: "15.5.4", 404: "15.5.5", 405: "15.5.6"}[status]
		body := map[string]any{
			"type":    "https://tools.ietf.org/html/rfc9110#section-" + section,
			"title":   http.StatusText(status),
			"status":  status,
			"traceId": fmt.Sprintf("00-%s-%016x-00", mbRandomHex(), rand.Uint64()),
		}
		if detail != "" && status == http.StatusBadRequest {
			body["detail"] = detail
		}
		b, _ := json.Marshal(body)
		w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(b)
		return
	}
	msg := detail
	switch {
	case status == http.StatusUnauthorized:
		msg = "Access token is invalid or expired."
	case msg == "":
		msg = http.StatusText(status)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// mbDate writes a .NET round-trip date: 7 fraction digits, or 3 when the
// flavour does so and the time is whole milliseconds.
func mbDate(ns int64, ms bool) string {
	t := time.Unix(0, ns).UTC()
	if ms && t.Nanosecond()%int(time.Millisecond) == 0 {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05.0000000Z")
}

// --- Routing -------------------------------------------------------------

func (s *MediaBrowserServer) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if p := s.fl.pathPrefix; p != "" && len(path) >= len(p) && strings.EqualFold(path[:len(p)], p) &&
		(len(path) == len(p) || path[len(p)] == '/') {
		path = path[len(p):]
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	lower := make([]string, len(seg))
	for i, p := range seg {
		lower[i] = strings.ToLower(p)
	}
	q := mbParseQuery(r.URL.RawQuery)
	is := func(pattern ...string) bool {
		if len(pattern) != len(lower) {
			return false
		}
		for i, p := range pattern {
			if p != "*" && p != lower[i] {
				return false
			}
		}
		return true
	}
	route := s.route(r, seg, is, q)
	if route.handler == nil {
		s.fail(w, http.StatusNotFound, "")
		return
	}
	if !slices.Contains(route.methods, r.Method) {
		s.fail(w, http.StatusMethodNotAllowed, "")
		return
	}
	var who mbCaller
	if !route.public {
		s.mu.RLock()
		caller, ok := s.caller(s.token(r, q))
		s.mu.RUnlock()
		if !ok {
			s.fail(w, http.StatusUnauthorized, "")
			return
		}
		who = caller
	}
	route.handler(w, who)
}

// mbRoute is what a path resolves to: the methods it answers, whether it
// needs a token, and the handler.
type mbRoute struct {
	methods []string
	public  bool
	handler func(w http.ResponseWriter, who mbCaller)
}

// route resolves a request's path. As with ASP.NET, routing comes first:
// an unknown path is 404 whatever the token.
func (s *MediaBrowserServer) route(r *http.Request, seg []string, is func(...string) bool, q mbQuery) mbRoute {
	if rt, ok := s.authRoute(r, is, q); ok {
		return rt
	}
	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	fl := s.fl
	switch {
	case is("system", "info", "public"):
		return mbRoute{[]string{get}, true, func(w http.ResponseWriter, _ mbCaller) { s.serveInfo(w, false) }}
	case is("system", "info"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, _ mbCaller) { s.serveInfo(w, true) }}
	case is("users"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) { s.serveUsers(w, who, false) }}
	case is("users", "query") && fl.usersQuery:
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) { s.serveUsers(w, who, true) }}
	case is("users", "me") && fl.usersMe:
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			if who.user == nil {
				s.fail(w, http.StatusBadRequest, "") // an API key has no user
				return
			}
			s.serveUser(w, who, who.user.id)
		}}
	case is("users", "*"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) { s.serveUser(w, who, seg[1]) }}
	case is("users", "*", "views"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, seg[1], func(u *mbUser) { s.serveViews(w, u) })
		}}
	case is("userviews") && fl.newRoutes:
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, q.get("userid"), func(u *mbUser) { s.serveViews(w, u) })
		}}
	case is("users", "*", "items"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, seg[1], func(u *mbUser) { s.serveItems(w, q, u) })
		}}
	case is("items"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withOptionalUser(w, who, q.get("userid"), func(u *mbUser) { s.serveItems(w, q, u) })
		}}
	case is("users", "*", "items", "*"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, seg[1], func(u *mbUser) { s.serveItem(w, seg[3], u) })
		}}
	case is("items", "*"):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withOptionalUser(w, who, q.get("userid"), func(u *mbUser) { s.serveItem(w, seg[1], u) })
		}}
	case is("users", "*", "playeditems", "*"):
		return mbRoute{[]string{post, del}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, seg[1], func(u *mbUser) { s.servePlayed(w, r.Method == post, seg[3], q, u) })
		}}
	case is("users", "*", "playeditems", "*", "delete") && fl.deleteAlias:
		return mbRoute{[]string{post}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, seg[1], func(u *mbUser) { s.servePlayed(w, false, seg[3], q, u) })
		}}
	case is("userplayeditems", "*") && fl.newRoutes:
		return mbRoute{[]string{post, del}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, q.get("userid"), func(u *mbUser) { s.servePlayed(w, r.Method == post, seg[1], q, u) })
		}}
	case is("users", "*", "items", "*", "userdata"):
		return mbRoute{[]string{get, post}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, seg[1], func(u *mbUser) { s.serveUserData(w, r, seg[3], u) })
		}}
	case (is("socket") && fl.kind == backend.Jellyfin) || (is("embywebsocket") && fl.kind == backend.Emby):
		return mbRoute{[]string{get}, false, func(w http.ResponseWriter, who mbCaller) { s.serveSocket(w, r, who) }}
	case is("sessions", "playing"), is("sessions", "playing", "progress"), is("sessions", "playing", "stopped"):
		phase := map[int]PlaybackPhase{2: PlaybackStart, 3: PlaybackProgress}[len(seg)]
		if len(seg) == 3 && strings.EqualFold(seg[2], "stopped") {
			phase = PlaybackStop
		}
		return mbRoute{[]string{post}, false, func(w http.ResponseWriter, who mbCaller) { s.servePlayback(w, r, who, phase) }}
	case is("useritems", "*", "userdata") && fl.newRoutes:
		return mbRoute{[]string{get, post}, false, func(w http.ResponseWriter, who mbCaller) {
			s.withUser(w, who, q.get("userid"), func(u *mbUser) { s.serveUserData(w, r, seg[1], u) })
		}}
	}
	return mbRoute{}
}

// withUser resolves the user a user-scoped route acts for: the one named
// (path or userId), else the caller's own. A caller may act only for itself
// unless it is an admin or an API key.
func (s *MediaBrowserServer) withUser(w http.ResponseWriter, who mbCaller, id string, f func(*mbUser)) {
	u, ok := s.resolveUser(w, who, id)
	if !ok {
		return
	}
	if u == nil {
		s.fail(w, http.StatusNotFound, "user not found")
		return
	}
	f(u)
}

// withOptionalUser is withUser for routes that also work without a user
// (an API key listing items): u is then nil and no user data is written.
func (s *MediaBrowserServer) withOptionalUser(w http.ResponseWriter, who mbCaller, id string, f func(*mbUser)) {
	if u, ok := s.resolveUser(w, who, id); ok {
		f(u)
	}
}

func (s *MediaBrowserServer) resolveUser(w http.ResponseWriter, who mbCaller, id string) (*mbUser, bool) {
	if id == "" {
		return who.user, true
	}
	s.mu.RLock()
	u := s.userByID(id)
	s.mu.RUnlock()
	if u == nil {
		if _, ok := mbParseGUID(id); !ok && s.fl.problemJSON {
			s.fail(w, http.StatusBadRequest, "The value '"+id+"' is not valid.")
			return nil, false
		}
		s.fail(w, http.StatusNotFound, "user not found")
		return nil, false
	}
	if !who.admin() && who.user != u {
		s.fail(w, http.StatusForbidden, "")
		return nil, false
	}
	return u, true
}

// --- System and users ----------------------------------------------------

func (s *MediaBrowserServer) serveInfo(w http.ResponseWriter, full bool) {
	info := map[string]any{
		"LocalAddress": s.url,
		"ServerName":   s.name,
		"Version":      s.fl.version,
		"Id":           s.serverID,
	}
	if s.fl.kind == backend.Jellyfin {
		info["ProductName"] = s.fl.product
		info["OperatingSystem"] = ""
		info["StartupWizardCompleted"] = true
	} else {
		info["LocalAddresses"] = []string{s.url}
		info["RemoteAddresses"] = []string{}
	}
	if full {
		info["OperatingSystemDisplayName"] = "Linux"
		info["HasPendingRestart"] = false
		info["IsShuttingDown"] = false
		info["SupportsLibraryMonitor"] = true
		info["CanSelfRestart"] = true
		info["HasUpdateAvailable"] = false
	}
	s.writeJSON(w, info)
}

type mbUserOut struct {
	Name                      string      `json:"Name"`
	ServerID                  string      `json:"ServerId"`
	ID                        string      `json:"Id"`
	HasPassword               bool        `json:"HasPassword"`
	HasConfiguredPassword     bool        `json:"HasConfiguredPassword"`
	HasConfiguredEasyPassword bool        `json:"HasConfiguredEasyPassword"`
	EnableAutoLogin           bool        `json:"EnableAutoLogin"`
	LastActivityDate          string      `json:"LastActivityDate,omitempty"`
	Policy                    mbPolicyOut `json:"Policy"`
	Configuration             mbConfigOut `json:"Configuration"`
	DateCreated               string      `json:"DateCreated,omitempty"`
}

type mbPolicyOut struct {
	IsAdministrator  bool `json:"IsAdministrator"`
	IsHidden         bool `json:"IsHidden"`
	IsDisabled       bool `json:"IsDisabled"`
	EnableAllFolders bool `json:"EnableAllFolders"`
	// Jellyfin's UserPolicy requires these; it names its default providers.
	AuthenticationProviderID string `json:"AuthenticationProviderId,omitempty"`
	PasswordResetProviderID  string `json:"PasswordResetProviderId,omitempty"`
}

type mbConfigOut struct {
	PlayDefaultAudioTrack bool `json:"PlayDefaultAudioTrack"`
	HidePlayedInLatest    bool `json:"HidePlayedInLatest"`
}

func (s *MediaBrowserServer) userOut(u *mbUser) mbUserOut {
	o := mbUserOut{
		Name:     u.name,
		ServerID: s.serverID,
		ID:       u.id,
		Policy:   mbPolicyOut{IsAdministrator: u.admin, EnableAllFolders: true},
		Configuration: mbConfigOut{
			PlayDefaultAudioTrack: true,
			HidePlayedInLatest:    true,
		},
	}
	if s.fl.kind == backend.Jellyfin {
		o.Policy.AuthenticationProviderID = "Jellyfin.Server.Implementations.Users.DefaultAuthenticationProvider"
		o.Policy.PasswordResetProviderID = "Jellyfin.Server.Implementations.Users.DefaultPasswordResetProvider"
	}
	if s.fl.kind == backend.Emby {
		o.DateCreated = "2024-01-01T00:00:00.0000000Z"
	}
	return o
}

func (s *MediaBrowserServer) serveUsers(w http.ResponseWriter, who mbCaller, query bool) {
	var out []mbUserOut
	s.mu.RLock()
	for _, u := range s.users {
		// Without admin rights a caller sees only itself.
		if who.admin() || who.user == u {
			out = append(out, s.userOut(u))
		}
	}
	s.mu.RUnlock()
	if query {
		s.writeJSON(w, map[string]any{"Items": out, "TotalRecordCount": len(out)})
		return
	}
	s.writeJSON(w, out)
}

func (s *MediaBrowserServer) serveUser(w http.ResponseWriter, who mbCaller, id string) {
	s.withUser(w, who, id, func(u *mbUser) {
		s.mu.RLock()
		o := s.userOut(u)
		s.mu.RUnlock()
		s.writeJSON(w, o)
	})
}

// --- Items ---------------------------------------------------------------

// mbItemOut is a BaseItemDto with the fields this simulator knows.
type mbItemOut struct {
	Name              string             `json:"Name"`
	ServerID          string             `json:"ServerId"`
	ID                string             `json:"Id"`
	DateCreated       string             `json:"DateCreated,omitempty"`
	SortName          string             `json:"SortName,omitempty"`
	Path              string             `json:"Path,omitempty"`
	ProviderIDs       *map[string]string `json:"ProviderIds,omitempty"`
	ParentID          string             `json:"ParentId,omitempty"`
	RunTimeTicks      int64              `json:"RunTimeTicks,omitempty"`
	ProductionYear    int                `json:"ProductionYear,omitempty"`
	IndexNumber       *int               `json:"IndexNumber,omitempty"`
	ParentIndexNumber *int               `json:"ParentIndexNumber,omitempty"`
	IsFolder          bool               `json:"IsFolder"`
	Type              string             `json:"Type"`
	CollectionType    string             `json:"CollectionType,omitempty"`
	SeriesName        string             `json:"SeriesName,omitempty"`
	SeriesID          string             `json:"SeriesId,omitempty"`
	SeasonID          string             `json:"SeasonId,omitempty"`
	SeasonName        string             `json:"SeasonName,omitempty"`
	UserData          *mbUserDataOut     `json:"UserData,omitempty"`
	MediaType         string             `json:"MediaType,omitempty"`
	LocationType      string             `json:"LocationType"`
}

// mbUserDataOut is a UserItemDataDto.
type mbUserDataOut struct {
	PlayedPercentage      *float64 `json:"PlayedPercentage,omitempty"`
	UnplayedItemCount     *int     `json:"UnplayedItemCount,omitempty"`
	PlaybackPositionTicks int64    `json:"PlaybackPositionTicks"`
	PlayCount             int32    `json:"PlayCount"`
	IsFavorite            bool     `json:"IsFavorite"`
	LastPlayedDate        string   `json:"LastPlayedDate,omitempty"`
	Played                bool     `json:"Played"`
	Key                   string   `json:"Key"`
	ItemID                string   `json:"ItemId"`
	ServerID              string   `json:"ServerId,omitempty"`
}

// mbFields is what Fields= asked for.
type mbFields struct {
	providerIDs, path, created, saved, parentID, sortName, all bool
	// Emby 4.8+: listings carry UserData.LastPlayedDate and the real
	// PlayCount only when asked for by these.
	userDataDate, userDataCount bool
}

func mbParseFields(q mbQuery) mbFields {
	var f mbFields
	for _, v := range q.list("fields") {
		switch strings.ToLower(v) {
		case "providerids":
			f.providerIDs = true
		case "path":
			f.path = true
		case "datecreated":
			f.created = true
		case "datelastsaved":
			f.saved = true
		case "parentid":
			f.parentID = true
		case "sortname":
			f.sortName = true
		case "userdatalastplayeddate":
			f.userDataDate = true
		case "userdataplaycount":
			f.userDataCount = true
		}
	}
	return f
}

// name is the display name of node n; caller holds s.mu.
func (s *MediaBrowserServer) nodeName(n int32) string {
	node := &s.nodes[n]
	switch node.kind {
	case mbView:
		return mbViewDefs[node.ref].name
	case mbSeries:
		return s.cat.Shows[node.ref].Title
	case mbSeason:
		return "Season " + strconv.Itoa(int(node.season))
	}
	return s.cat.Media[node.ref].Title
}

func (s *MediaBrowserServer) providerIDs(n int32) map[string]string {
	node := &s.nodes[n]
	var gs []backend.GUID
	switch node.kind {
	case mbSeries:
		gs = s.cat.Shows[node.ref].GUIDs
	case mbMovie, mbEpisode:
		gs = s.cat.Media[node.ref].GUIDs
	}
	out := make(map[string]string, len(gs))
	for _, g := range gs {
		out[mbProviderKey(g.Kind)] = g.Value
	}
	return out
}

// mbProviderKey is the server's spelling of a provider name.
func mbProviderKey(kind string) string {
	switch kind {
	case "imdb":
		return "Imdb"
	case "tmdb":
		return "Tmdb"
	case "tvdb":
		return "Tvdb"
	case "tvmaze":
		return "TvMaze"
	case "tvrage":
		return "TvRage"
	case "anidb":
		return "AniDB"
	}
	if kind == "" {
		return kind
	}
	r, size := utf8.DecodeRuneInString(kind)
	return string(unicode.ToUpper(r)) + kind[size:]
}

// dataKey is UserItemDataDto.Key: the servers key user data by external
// ids, so that it survives a rescan; an id-less item falls back to its id.
func (s *MediaBrowserServer) dataKey(n int32) string {
	node := &s.nodes[n]
	switch node.kind {
	case mbMovie:
		if gs := s.cat.Media[node.ref].GUIDs; len(gs) > 0 {
			return gs[len(gs)-1].Value
		}
	case mbEpisode:
		m := &s.cat.Media[node.ref]
		if show, ok := s.cat.Show(m.ShowKey); ok && len(show.GUIDs) > 0 {
			return fmt.Sprintf("%s%03d%03d", show.GUIDs[0].Value, m.Season, m.Episode)
		}
	case mbSeries:
		if gs := s.cat.Shows[node.ref].GUIDs; len(gs) > 0 {
			return gs[0].Value
		}
	}
	return s.itemID(n)
}

func (s *MediaBrowserServer) runtime(n int32) int64 {
	node := &s.nodes[n]
	if node.kind == mbMovie || node.kind == mbEpisode {
		return int64(s.cat.Media[node.ref].Duration / 100)
	}
	return 0
}

func (s *MediaBrowserServer) userDataOut(n int32, u *mbUser, listing bool) *mbUserDataOut {
	d := u.data[n]
	o := &mbUserDataOut{
		PlaybackPositionTicks: d.pos,
		PlayCount:             d.count,
		Played:                d.played,
		Key:                   s.dataKey(n),
		ItemID:                s.itemID(n),
	}
	if d.last != 0 {
		o.LastPlayedDate = mbDate(d.last, s.fl.msDates)
	}
	if rt := s.runtime(n); d.pos > 0 && rt > 0 {
		p := float64(d.pos) * 100 / float64(rt)
		o.PlayedPercentage = &p
	}
	if k := s.nodes[n].kind; k == mbSeries || k == mbSeason {
		unplayed := 0
		s.eachDescendant(n, func(c int32) {
			if ck := s.nodes[c].kind; (ck == mbEpisode) && !u.data[c].played {
				unplayed++
			}
		})
		o.UnplayedItemCount = &unplayed
		o.Played = unplayed == 0
	}
	if listing && s.fl.zeroDataID {
		o.ItemID = "00000000000000000000000000000000"
	}
	if s.fl.dataServerID {
		o.ServerID = s.serverID
	}
	return o
}

func (s *MediaBrowserServer) eachDescendant(n int32, f func(int32)) {
	for _, c := range s.children[n] {
		f(c)
		s.eachDescendant(c, f)
	}
}

// itemOut renders node n; caller holds s.mu (read).
func (s *MediaBrowserServer) itemOut(n int32, u *mbUser, f mbFields, listing bool) mbItemOut {
	node := &s.nodes[n]
	o := mbItemOut{
		Name:         s.nodeName(n),
		ServerID:     s.serverID,
		ID:           s.itemID(n),
		Type:         mbKindNames[node.kind],
		IsFolder:     node.kind <= mbSeason,
		LocationType: "FileSystem",
		RunTimeTicks: s.runtime(n),
	}
	var path string
	switch node.kind {
	case mbView:
		o.CollectionType = mbViewDefs[node.ref].collection
		path = "/config/root/default/" + o.Name
	case mbSeries:
		show := &s.cat.Shows[node.ref]
		o.ProductionYear = show.Year
		path = "/media/tv/" + show.Title
	case mbSeason:
		show := &s.cat.Shows[node.ref]
		o.IndexNumber = new(int(node.season))
		o.SeriesName, o.SeriesID = show.Title, s.itemID(node.parent)
		path = fmt.Sprintf("/media/tv/%s/Season %02d", show.Title, node.season)
	case mbMovie, mbEpisode:
		m := &s.cat.Media[node.ref]
		o.ProductionYear = m.Year
		o.MediaType = "Video"
		path = m.Path
		if node.kind == mbEpisode {
			season := &s.nodes[node.parent]
			o.IndexNumber = new(m.Episode)
			o.ParentIndexNumber = new(m.Season)
			o.SeriesName = s.cat.Shows[season.ref].Title
			o.SeriesID = s.itemID(season.parent)
			o.SeasonID = s.itemID(node.parent)
			o.SeasonName = s.nodeName(node.parent)
		}
	}
	if f.all || f.created {
		o.DateCreated = mbDate(node.added, false)
	}
	if f.all || f.sortName {
		o.SortName = strings.ToLower(o.Name)
	}
	if f.all || f.path {
		o.Path = path
	}
	if f.all || f.providerIDs {
		p := s.providerIDs(n)
		o.ProviderIDs = &p
	}
	if (f.all || f.parentID) && node.parent >= 0 {
		o.ParentID = s.itemID(node.parent)
	}
	if u != nil && node.kind != mbView {
		o.UserData = s.userDataOut(n, u, listing)
		if listing && s.fl.gatedUserData && !f.all {
			// Emby 4.8+ (CrossWatch #1047, Reclaimerr #83): without
			// the Fields, no date and a count of 0.
			if !f.userDataDate {
				o.UserData.LastPlayedDate = ""
			}
			if !f.userDataCount {
				o.UserData.PlayCount = 0
			}
		}
	}
	return o
}

func (s *MediaBrowserServer) serveViews(w http.ResponseWriter, u *mbUser) {
	s.mu.RLock()
	items := make([]mbItemOut, 0, len(s.views))
	for _, v := range s.views {
		items = append(items, s.itemOut(v, u, mbFields{path: true, created: true}, true))
	}
	s.mu.RUnlock()
	res := map[string]any{"Items": items, "TotalRecordCount": len(items)}
	if s.fl.startIndex {
		res["StartIndex"] = 0
	}
	s.writeJSON(w, res)
}

func (s *MediaBrowserServer) serveItem(w http.ResponseWriter, id string, u *mbUser) {
	s.mu.RLock()
	n, ok, valid := s.lookupID(id)
	var o mbItemOut
	if ok {
		o = s.itemOut(n, u, mbFields{all: true}, false)
	}
	s.mu.RUnlock()
	switch {
	case !valid && s.fl.problemJSON:
		s.fail(w, http.StatusBadRequest, "The value '"+id+"' is not valid.")
	case !ok:
		s.fail(w, http.StatusNotFound, "")
	default:
		s.writeJSON(w, o)
	}
}

// mbListing is a parsed /Items request.
type mbListing struct {
	user      *mbUser
	ids       []int32
	hasIDs    bool
	parent    int32 // -1: the root
	recursive bool
	types     uint8 // bit per kind; 0: all
	exclude   uint8
	played    *bool
	resumable bool
	folder    *bool
	minSaved  int64
	providers []string // lower-case "kind.value"
	sortBy    string   // created, name, played, "" (default)
	desc      bool
}

func (s *MediaBrowserServer) parseListing(q mbQuery, u *mbUser) (mbListing, error) {
	l := mbListing{user: u, parent: -1}
	var err error
	if rec, err := q.boolean("recursive"); err != nil {
		return l, err
	} else if rec != nil {
		l.recursive = *rec
	}
	kinds := func(key string) (uint8, error) {
		var m uint8
		for _, t := range q.list(key) {
			i := slices.IndexFunc(mbKindNames[:], func(k string) bool { return strings.EqualFold(k, t) })
			if i < 0 {
				if s.fl.problemJSON && !slices.ContainsFunc(mbOtherKinds, func(k string) bool { return strings.EqualFold(k, t) }) {
					return 0, fmt.Errorf("%w: %s=%q", errMBBadParam, key, t)
				}
				continue // a kind this server has no items of
			}
			m |= 1 << i
		}
		return m, nil
	}
	if l.types, err = kinds("includeitemtypes"); err != nil {
		return l, err
	}
	if len(q.list("includeitemtypes")) > 0 && l.types == 0 {
		l.types = 1 << 7 // only kinds this server has none of
	}
	if l.exclude, err = kinds("excludeitemtypes"); err != nil {
		return l, err
	}
	if p := q.get("parentid"); p != "" {
		n, ok, valid := s.lookupID(p)
		switch {
		case !valid && s.fl.problemJSON:
			return l, fmt.Errorf("%w: parentId=%q", errMBBadParam, p)
		case !ok:
			l.parent = -2 // unknown: nothing
		default:
			l.parent = n
		}
	}
	if ids := q.list("ids"); len(ids) > 0 {
		l.hasIDs = true
		seen := make(map[int32]bool, len(ids))
		for _, id := range ids {
			n, ok, valid := s.lookupID(id)
			if !valid && s.fl.problemJSON {
				return l, fmt.Errorf("%w: ids=%q", errMBBadParam, id)
			}
			if ok && !seen[n] {
				seen[n] = true
				l.ids = append(l.ids, n)
			}
		}
	}
	if l.played, err = q.boolean("isplayed"); err != nil {
		return l, err
	}
	for _, f := range q.list("filters") {
		switch strings.ToLower(f) {
		case "isplayed":
			l.played = new(true)
		case "isunplayed":
			l.played = new(false)
		case "isresumable":
			l.resumable = true
		case "isfolder":
			l.folder = new(true)
		case "isnotfolder":
			l.folder = new(false)
		}
	}
	if l.folder == nil {
		if l.folder, err = q.boolean("isfolder"); err != nil {
			return l, err
		}
	}
	// Both filter on DateLastSaved, which user-data changes do not touch
	// (verified in Jellyfin's source; assumed for Emby).
	for _, k := range []string{"mindatelastsaved", "mindatelastsavedforuser"} {
		v, err := q.date(k)
		if err != nil {
			return l, err
		}
		l.minSaved = max(l.minSaved, v)
	}
	if s.fl.anyProviderID {
		for _, p := range q.list("anyprovideridequals") {
			kind, val, ok := strings.Cut(p, ".")
			if ok && kind != "" && val != "" {
				l.providers = append(l.providers, strings.ToLower(kind)+"."+val)
			}
		}
	}
	if sb := q.list("sortby"); len(sb) > 0 {
		switch strings.ToLower(sb[0]) {
		case "datecreated":
			l.sortBy = "created"
		case "sortname", "name":
			l.sortBy = "name"
		case "dateplayed":
			l.sortBy = "played"
		}
	}
	if so := q.list("sortorder"); len(so) > 0 {
		l.desc = strings.EqualFold(so[0], "Descending")
	}
	if l.user == nil { // no user: no user filters
		l.played, l.resumable = nil, false
		if l.sortBy == "played" {
			l.sortBy = ""
		}
	}
	return l, nil
}

// Kinds the real servers have that this simulator has no items of.
var mbOtherKinds = []string{"BoxSet", "Folder", "Audio", "MusicAlbum", "MusicArtist", "MusicVideo", "Playlist", "Video", "Trailer", "Photo", "PhotoAlbum", "Person", "Program", "TvChannel", "Book", "AudioBook", "Genre", "Studio"}

func (l *mbListing) key(s *MediaBrowserServer) string {
	userPart := ""
	if l.user != nil && (l.played != nil || l.resumable || l.sortBy == "played") {
		userPart = fmt.Sprintf("%s@%d", l.user.id, l.user.version)
	}
	return fmt.Sprintf("v%d|%s|p%d|r%v|t%d|x%d|pl%v|res%v|f%v|ms%d|pr%v|s%s|d%v",
		s.version, userPart, l.parent, l.recursive, l.types, l.exclude, mbBoolKey(l.played),
		l.resumable, mbBoolKey(l.folder), l.minSaved, l.providers, l.sortBy, l.desc)
}

func mbBoolKey(b *bool) string {
	if b == nil {
		return "-"
	}
	return strconv.FormatBool(*b)
}

// match applies the filters to node n; caller holds s.mu.
func (s *MediaBrowserServer) match(l *mbListing, n int32) bool {
	node := &s.nodes[n]
	bit := uint8(1) << node.kind
	if l.types != 0 && l.types&bit == 0 || l.exclude&bit != 0 {
		return false
	}
	if l.folder != nil && *l.folder != (node.kind <= mbSeason) {
		return false
	}
	if l.minSaved != 0 && node.added < l.minSaved {
		return false
	}
	if l.user != nil {
		d := &l.user.data[n]
		if l.played != nil && *l.played != d.played {
			return false
		}
		if l.resumable && d.pos <= 0 {
			return false
		}
	}
	return true
}

// result is the whole ordered id list of a listing, cached while neither
// the metadata nor (when it matters) the user's data changes, so that each
// further page costs O(page). Caller holds s.mu (read); the slice is shared
// and must not be modified.
func (s *MediaBrowserServer) result(l *mbListing) []int32 {
	if l.hasIDs {
		out := make([]int32, 0, len(l.ids))
		for _, n := range l.ids {
			if s.match(l, n) {
				out = append(out, n)
			}
		}
		return out
	}
	key := l.key(s)
	s.aux.Lock()
	for i, c := range s.cache {
		if c.key == key {
			// Move to the front: most recently used.
			copy(s.cache[1:i+1], s.cache[:i])
			s.cache[0] = c
			s.aux.Unlock()
			return c.ids
		}
	}
	s.aux.Unlock()

	var out []int32
	base := s.candidates(l)
	if len(l.providers) > 0 {
		idx := s.providerIndex()
		seen := map[int32]bool{}
		for _, p := range l.providers {
			for _, n := range idx[p] {
				seen[n] = true
			}
		}
		for _, n := range base {
			if seen[n] && s.match(l, n) {
				out = append(out, n)
			}
		}
	} else {
		out = make([]int32, 0, len(base))
		for _, n := range base {
			if s.match(l, n) {
				out = append(out, n)
			}
		}
	}
	if l.desc && l.sortBy != "played" && l.sortBy != "" {
		slices.Reverse(out)
	}
	if l.sortBy == "played" {
		data := l.user.data
		slices.SortStableFunc(out, func(a, b int32) int {
			if l.desc {
				return mbCmp(data[b].last, data[a].last)
			}
			return mbCmp(data[a].last, data[b].last)
		})
	}

	s.aux.Lock()
	s.cache = append([]mbCached{{key, out}}, s.cache...)
	if len(s.cache) > mbCacheSize {
		s.cache = s.cache[:mbCacheSize]
	}
	s.aux.Unlock()
	return out
}

func mbCmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// candidates is the ordered list a listing filters: the precomputed order
// of a library (or of everything) for recursive listings, the children of
// the parent otherwise. The slice must not be modified.
func (s *MediaBrowserServer) candidates(l *mbListing) []int32 {
	switch {
	case l.parent == -2:
		return nil
	case l.recursive && (l.parent == -1 || s.nodes[l.parent].kind == mbView):
		return s.order(l.parent, l.sortBy == "name")
	case l.recursive:
		var out []int32
		s.eachDescendant(l.parent, func(c int32) { out = append(out, c) })
		s.sortCreated(out)
		return out
	case l.parent == -1:
		return s.views
	default:
		out := slices.Clone(s.children[l.parent])
		if l.sortBy == "name" {
			s.sortName(out)
		} else {
			s.sortCreated(out)
		}
		return out
	}
}

// order returns a precomputed order of view v's descendants (v = -1:
// every item), by name or by DateCreated, building it on first use.
func (s *MediaBrowserServer) order(v int32, byName bool) []int32 {
	s.aux.Lock()
	defer s.aux.Unlock()
	o := s.orders[v]
	if o == nil {
		o = &mbOrder{}
		if s.orders == nil {
			s.orders = map[int32]*mbOrder{}
		}
		s.orders[v] = o
	}
	dst := &o.created
	if byName {
		dst = &o.name
	}
	if *dst != nil {
		return *dst
	}
	all := []int32{}
	for i := range s.nodes {
		if k := s.nodes[i].kind; k != mbView && (v == -1 || s.nodes[i].view == s.nodes[v].ref) {
			all = append(all, int32(i))
		}
	}
	if byName {
		s.sortName(all)
	} else {
		s.sortCreated(all)
	}
	*dst = all
	return all
}

func (s *MediaBrowserServer) sortCreated(ns []int32) {
	slices.SortFunc(ns, func(a, b int32) int {
		if c := mbCmp(s.nodes[a].added, s.nodes[b].added); c != 0 {
			return c
		}
		if c := mbFoldCmp(s.nodeName(a), s.nodeName(b)); c != 0 {
			return c
		}
		return int(a - b)
	})
}

// sortName orders by name (case-insensitive), then DateCreated. Names are
// ranked once, so the sort itself compares integers: a library of 1,000,000
// items has few distinct episode names and many ties.
func (s *MediaBrowserServer) sortName(ns []int32) {
	names := map[string]uint32{}
	for _, n := range ns {
		names[s.nodeName(n)] = 0
	}
	distinct := make([]string, 0, len(names))
	for name := range names {
		distinct = append(distinct, name)
	}
	slices.SortFunc(distinct, func(a, b string) int {
		if c := mbFoldCmp(a, b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for i, name := range distinct {
		names[name] = uint32(i)
	}
	type key struct {
		rank  uint32
		n     int32
		added int64
	}
	keys := make([]key, len(ns))
	for i, n := range ns {
		keys[i] = key{names[s.nodeName(n)], n, s.nodes[n].added}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.rank != b.rank {
			return mbCmp(int64(a.rank), int64(b.rank))
		}
		if c := mbCmp(a.added, b.added); c != 0 {
			return c
		}
		return int(a.n - b.n)
	})
	for i, k := range keys {
		ns[i] = k.n
	}
}

// mbFoldCmp compares case-insensitively without allocating.
func mbFoldCmp(a, b string) int {
	for a != "" && b != "" {
		if ca, cb := a[0], b[0]; ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			if 'A' <= ca && ca <= 'Z' {
				ca += 'a' - 'A'
			}
			if 'A' <= cb && cb <= 'Z' {
				cb += 'a' - 'A'
			}
			if ca != cb {
				return int(ca) - int(cb)
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra, rb = unicode.ToLower(ra), unicode.ToLower(rb); ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// providerIndex maps "kind.value" to the items carrying that id, built on
// the first AnyProviderIdEquals query (Replace keeps ids, so it lasts).
func (s *MediaBrowserServer) providerIndex() map[string][]int32 {
	s.aux.Lock()
	defer s.aux.Unlock()
	if s.provider != nil {
		return s.provider
	}
	s.provider = map[string][]int32{}
	for i := range s.nodes {
		n := int32(i)
		var gs []backend.GUID
		switch s.nodes[i].kind {
		case mbSeries:
			gs = s.cat.Shows[s.nodes[i].ref].GUIDs
		case mbMovie, mbEpisode:
			gs = s.cat.Media[s.nodes[i].ref].GUIDs
		}
		for _, g := range gs {
			k := strings.ToLower(g.Kind) + "." + g.Value
			s.provider[k] = append(s.provider[k], n)
		}
	}
	return s.provider
}

func (s *MediaBrowserServer) serveItems(w http.ResponseWriter, q mbQuery, u *mbUser) {
	start, _, err := q.integer("startindex")
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, hasLimit, err := q.integer("limit")
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	withCount := true
	if b, err := q.boolean("enabletotalrecordcount"); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	} else if b != nil {
		withCount = *b
	}
	userData := u
	if b, err := q.boolean("enableuserdata"); err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	} else if b != nil && !*b {
		userData = nil
	}
	fields := mbParseFields(q)

	s.mu.RLock()
	l, err := s.parseListing(q, u)
	if err != nil {
		s.mu.RUnlock()
		s.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	all := s.result(&l)
	s.mu.RUnlock()

	total := len(all)
	page := all[min(start, total):]
	if hasLimit && limit < len(page) {
		page = page[:limit]
	}
	if !withCount {
		total = len(page)
	}

	// Stream the page in chunks, taking the lock per chunk, so that a slow
	// reader never holds up writers and no page is built whole in memory.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	var buf bytes.Buffer
	buf.WriteString(`{"Items":[`)
	for i := 0; i < len(page); i += mbChunk {
		s.mu.RLock()
		for j, n := range page[i:min(i+mbChunk, len(page))] {
			if i+j > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(s.itemOut(n, userData, fields, true))
			buf.Write(b)
		}
		s.mu.RUnlock()
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		buf.Reset()
	}
	fmt.Fprintf(&buf, `],"TotalRecordCount":%d`, total)
	if s.fl.startIndex {
		fmt.Fprintf(&buf, `,"StartIndex":%d`, start)
	}
	buf.WriteByte('}')
	_, _ = w.Write(buf.Bytes())
}

// --- Play state ----------------------------------------------------------

// mbParseDatePlayed reads DatePlayed: yyyyMMddHHmmss (UTC) everywhere, ISO
// 8601 only where the flavour accepts it (Emby answers 400).
func (s *MediaBrowserServer) parseDatePlayed(v string) (int64, error) {
	if t, err := time.Parse("20060102150405", v); err == nil {
		return t.UnixNano(), nil
	}
	if s.fl.isoDatePlayed {
		if t, err := mbParseISO(v); err == nil {
			return t.UnixNano() / 100 * 100, nil
		}
	}
	return 0, fmt.Errorf("%w: DatePlayed=%q", errMBBadParam, v)
}

// item resolves an item id for a write; status is the error to answer
// (after releasing the lock), 0 when found. Caller holds s.mu.
func (s *MediaBrowserServer) item(id string) (n int32, status int) {
	n, ok, valid := s.lookupID(id)
	switch {
	case !valid && s.fl.problemJSON:
		return 0, http.StatusBadRequest
	case !ok:
		return 0, http.StatusNotFound
	}
	return n, 0
}

// servePlayed marks an item played (Jellyfin's BaseItem.MarkPlayed) or
// unplayed, and answers the new UserItemDataDto.
func (s *MediaBrowserServer) servePlayed(w http.ResponseWriter, played bool, id string, q mbQuery, u *mbUser) {
	var date int64
	if v := q.get("dateplayed"); played && v != "" {
		d, err := s.parseDatePlayed(v)
		if err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
		date = d
	}
	s.mu.Lock()
	n, status := s.item(id)
	if status != 0 {
		s.mu.Unlock()
		s.fail(w, status, "")
		return
	}
	targets := []int32{n}
	if k := s.nodes[n].kind; k == mbSeries || k == mbSeason || k == mbView {
		targets = targets[:0] // a folder: its episodes and movies
		s.eachDescendant(n, func(c int32) {
			if k := s.nodes[c].kind; k == mbMovie || k == mbEpisode {
				targets = append(targets, c)
			}
		})
	}
	now := s.now().UnixNano() / 100 * 100
	befores := make([]mbUserData, len(targets))
	for i, t := range targets {
		d := &u.data[t]
		befores[i] = *d
		if !played {
			*d = mbUserData{}
			continue
		}
		if date != 0 {
			d.count++
		}
		d.count = max(d.count, 1)
		d.pos = 0
		switch {
		case date != 0:
			d.last = date
		case d.last == 0:
			d.last = now
		}
		d.played = true
	}
	u.version++
	s.announceLocked(u, targets, befores, mbByPlayed)
	out := s.userDataOut(n, u, false)
	s.mu.Unlock()
	s.writeJSON(w, out)
}

// mbUserDataIn is UpdateUserItemDataDto: only non-null fields apply.
type mbUserDataIn struct {
	PlaybackPositionTicks *int64  `json:"PlaybackPositionTicks"`
	PlayCount             *int32  `json:"PlayCount"`
	Played                *bool   `json:"Played"`
	LastPlayedDate        *string `json:"LastPlayedDate"`
	IsFavorite            *bool   `json:"IsFavorite"`
}

func (s *MediaBrowserServer) serveUserData(w http.ResponseWriter, r *http.Request, id string, u *mbUser) {
	if r.Method == http.MethodGet {
		s.mu.RLock()
		n, status := s.item(id)
		var out *mbUserDataOut
		if status == 0 {
			out = s.userDataOut(n, u, false)
		}
		s.mu.RUnlock()
		if status != 0 {
			s.fail(w, status, "")
			return
		}
		s.writeJSON(w, out)
		return
	}
	var in mbUserDataIn
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		s.fail(w, http.StatusBadRequest, "invalid UserItemDataDto")
		return
	}
	var last int64
	if in.LastPlayedDate != nil {
		t, err := mbParseISO(*in.LastPlayedDate)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "invalid LastPlayedDate")
			return
		}
		last = t.UnixNano() / 100 * 100
	}
	s.mu.Lock()
	n, status := s.item(id)
	if status != 0 {
		s.mu.Unlock()
		s.fail(w, status, "")
		return
	}
	d := &u.data[n]
	before := *d
	if in.PlaybackPositionTicks != nil {
		d.pos = max(*in.PlaybackPositionTicks, 0)
	}
	if in.PlayCount != nil {
		d.count = max(*in.PlayCount, 0)
	}
	if in.Played != nil {
		d.played = *in.Played
	}
	if in.LastPlayedDate != nil {
		d.last = last
	}
	u.version++
	s.announceLocked(u, []int32{n}, []mbUserData{before}, mbByUserData)
	out := s.userDataOut(n, u, false)
	s.mu.Unlock()
	if !s.fl.userDataBody {
		w.WriteHeader(http.StatusOK) // Emby: "Operation successful. Empty response."
		return
	}
	s.writeJSON(w, out)
}

var _ Server = (*MediaBrowserServer)(nil)

// --- Notifications: webhooks and the websocket ---------------------------

// How a play state changed, which shapes what the servers announce.
type mbChangeSource int

const (
	mbByApp              mbChangeSource = iota // SetWatch: the user, in the server's own app
	mbByPlayed                                 // the PlayedItems endpoints
	mbByUserData                               // the UserData endpoint
	mbByPlaybackStart                          // a player's session started (/Sessions/Playing)
	mbByPlaybackProgress                       // a session's progress report
	mbByPlaybackStop                           // a session ended
)

// announceLocked tells websockets and webhooks that user u's play state
// of nodes went from befores to what it is now. Unchanged nodes are left
// out. Caller holds s.mu for writing.
func (s *MediaBrowserServer) announceLocked(u *mbUser, nodes []int32, befores []mbUserData, src mbChangeSource) {
	if !s.notify.listening() {
		return // nobody listens: a benchmark's bulk writes stay cheap
	}
	hook := s.notify.webhookURL() != ""
	var list []*mbUserDataOut
	for i, n := range nodes {
		before, after := befores[i], u.data[n]
		if before == after {
			continue
		}
		list = append(list, s.userDataOut(n, u, false))
		if k := s.nodes[n].kind; hook && (k == mbMovie || k == mbEpisode) {
			s.webhookLocked(u, n, before, after, src)
		}
	}
	if len(list) == 0 {
		return
	}
	if s.fl.socketOwnUser {
		// Jellyfin's UserDataChangeNotifier also sends each changed
		// episode's series (UnplayedItemCount, Played false until all
		// are played).
		parents := map[int32]bool{}
		for i, n := range nodes {
			if s.nodes[n].kind != mbEpisode || befores[i] == u.data[n] {
				continue
			}
			if series := s.nodes[s.nodes[n].parent].parent; !parents[series] {
				parents[series] = true
				list = append(list, s.userDataOut(series, u, false))
			}
		}
	}
	msg, err := json.Marshal(map[string]any{
		"MessageType": "UserDataChanged",
		"Data":        map[string]any{"UserId": u.id, "UserDataList": list},
		"MessageId":   mbRandomHex(),
	})
	if err != nil {
		return
	}
	s.notify.broadcast(func(user string, admin bool) bool {
		if s.fl.socketOwnUser {
			// Jellyfin sends it to that user's sessions only: a socket
			// opened with an API key has no user and hears nothing
			// (jellyfin #13479).
			return user == u.id
		}
		return admin || user == u.id
	}, msg)
}

// webhookLocked queues the webhook the flavour sends for one change.
func (s *MediaBrowserServer) webhookLocked(u *mbUser, n int32, before, after mbUserData, src mbChangeSource) {
	now := s.now()
	it := s.itemOut(n, u, mbFields{all: true}, false)
	if s.fl.kind == backend.Jellyfin {
		reason := "PlaybackFinished"
		switch {
		case src == mbByPlaybackStart:
			reason = "PlaybackStart"
		case src == mbByPlaybackStop:
		case before.played != after.played:
			reason = "TogglePlayed"
		case src == mbByUserData:
			reason = "UpdateUserData"
		}
		p := map[string]any{
			"ServerId": s.serverID, "ServerName": s.name, "ServerVersion": s.fl.version, "ServerUrl": s.url,
			"NotificationType": "UserDataSaved",
			"Timestamp":        now.Format("2006-01-02T15:04:05.0000000-07:00"),
			"UtcTimestamp":     now.UTC().Format("2006-01-02T15:04:05.0000000Z"),
			"Name":             it.Name, "ItemId": it.ID, "ItemType": it.Type, "RunTimeTicks": it.RunTimeTicks, "Year": it.ProductionYear,
			"UserId": u.id, "NotificationUsername": u.name,
			"Played": after.played, "PlayCount": after.count, "PlaybackPositionTicks": after.pos,
			"Favorite": false, "SaveReason": reason,
		}
		if after.last != 0 {
			p["LastPlayedDate"] = mbDate(after.last, false)
		}
		if it.SeriesName != "" {
			p["SeriesName"] = it.SeriesName
			p["SeasonNumber"] = *it.ParentIndexNumber
			p["EpisodeNumber"] = *it.IndexNumber
		}
		if it.ProviderIDs != nil {
			for k, v := range *it.ProviderIDs {
				p["Provider_"+strings.ToLower(k)] = v
			}
		}
		body, err := json.Marshal(p)
		if err == nil {
			s.notify.post("text/plain; charset=utf-8", "Jellyfin-Server/"+s.fl.version, body)
		}
		return
	}
	event, title := "", ""
	switch {
	case !before.played && after.played:
		event, title = "item.markplayed", u.name+" marked "+it.Name+" as played"
	case before.played && !after.played:
		event, title = "item.markunplayed", u.name+" marked "+it.Name+" as unplayed"
	case src == mbByApp && after.pos != before.pos:
		event, title = "playback.stop", u.name+" has finished playing "+it.Name+" on Simulated Player"
	default:
		return // Emby has no event for other user-data writes
	}
	p := map[string]any{
		"Title": title, "Date": mbDate(now.UnixNano()/100*100, false), "Event": event,
		"User":   map[string]any{"Name": u.name, "Id": u.id},
		"Item":   it,
		"Server": map[string]any{"Name": s.name, "Id": s.serverID, "Version": s.fl.version},
	}
	if event == "playback.stop" {
		p["Session"] = map[string]any{"RemoteEndPoint": "127.0.0.1", "Client": "Simulated Player", "DeviceName": "Simulator",
			"DeviceId": "simulated-device", "ApplicationVersion": s.fl.version, "Id": mbRandomHex()}
		p["PlaybackInfo"] = map[string]any{"PlayedToCompletion": false, "PositionTicks": after.pos, "PlaylistIndex": 0, "PlaylistLength": 1}
	}
	data, err := json.Marshal(p)
	if err != nil {
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("data", string(data))
	_ = mw.Close()
	s.notify.post(mw.FormDataContentType(), "Emby Server/"+s.fl.version, buf.Bytes())
}

// serveSocket serves the notification websocket for caller who.
func (s *MediaBrowserServer) serveSocket(w http.ResponseWriter, r *http.Request, who mbCaller) {
	user := ""
	if who.user != nil {
		user = who.user.id
	}
	secs := s.keepAlive.Load()
	greeting, _ := json.Marshal(map[string]any{"MessageType": "ForceKeepAlive", "Data": secs, "MessageId": mbRandomHex()})
	keepAlive, _ := json.Marshal(map[string]any{"MessageType": "KeepAlive", "MessageId": mbRandomHex()})
	s.notify.serveSocket(w, r, user, who.apiKey, time.Duration(secs)*time.Second, greeting, func(msg []byte, reply func([]byte)) {
		var m struct{ MessageType string }
		if json.Unmarshal(msg, &m) == nil && m.MessageType == "KeepAlive" {
			s.notify.keepAlives.Add(1)
			reply(keepAlive)
		}
	})
}
