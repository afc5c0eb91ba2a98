package simulate

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"playmark/sync/backend"
)

// The simulated Plex server's fixed facts.
const (
	// plexDefaultToken is the default user's token when Options.Token is "".
	plexDefaultToken = "simulated-plex-owner-token"
	// plexGuestToken is the token of the second account, "guest" (id 2),
	// whose watch state is separate from the default user's.
	plexGuestToken = "simulated-plex-guest-token"

	plexVersion      = "1.41.3.9314-a0bfb8370"
	plexLibraryIdent = "com.plexapp.plugins.library"
	plexFirstKey     = 1001 // ratingKeys start here, so they never look like indices
	plexMovieSection = 1
	plexShowSection  = 2
	plexMusicSection = 3 // an empty music library, which clients must skip
)

// Plex metadata type numbers (official spec, "Media Queries").
const (
	plexTypeMovie   = 1
	plexTypeShow    = 2
	plexTypeSeason  = 3
	plexTypeEpisode = 4
)

// PlexServer is a simulated Plex Media Server over real HTTP. It serves
// the endpoints a sync client uses, in the real server's shapes and units
// (../shared/docs/API-NOTES.md §2 and the §6 checklist):
//
//   - GET /identity (no token), GET / (friendlyName), GET /accounts;
//   - GET /library/sections (one movie section "1", one show section "2",
//     an empty music section "3");
//   - GET|HEAD /library/sections/{id}/all with type=1|2|3|4, includeGuids,
//     X-Plex-Container-Start/Size paging (header or query), the
//     lastViewedAt>>= / <<= media query filters and sort=addedAt or
//     lastViewedAt (each optionally :desc);
//   - GET /library/metadata/{id,id,...};
//   - GET|PUT /:/scrobble and /:/unscrobble, GET|POST /:/timeline;
//   - GET /:/websockets/notifications (also /:/websocket/notifications,
//     the official spec's spelling): the notification websocket. Playback
//     (a timeline report, or SetWatch moving the position) is pushed as
//     {"NotificationContainer":{"type":"playing","PlaySessionStateNotification":[…]}};
//     a mark or un-mark only as a "timeline" entry, as PMS has no
//     notification that says "watched". The owner's socket sees every
//     account's sessions, another account's only its own.
//
// With Options.WebhookURL (or SetWebhookURL) set it posts the owner's
// webhooks there: multipart/form-data with the JSON in the "payload" part
// (and a thumbnail part for media.play), media.scrobble when an item gets
// played (SetWatch, /:/scrobble, a timeline report past 90 %), media.play,
// pause or stop for timeline reports and media.stop when SetWatch moves a
// position. There is none for an un-watch, as on PMS. Every account's
// plays are sent, as to an owner's webhook: Account.id is the plex.tv
// account id (PlexTVAccountID for the owner, the local id for others),
// "user" is true only for the owner's own plays and "owner" always.
//
// Answers are XML unless the request accepts application/json; errors are
// the real server's small HTML pages. Watch state is kept per account:
// the default user is account 1 (the owner, Options.Token) and a second
// account "guest" (id 2) uses GuestToken. Zero watch fields
// (viewCount, viewOffset, lastViewedAt) are omitted, as Plex does.
//
// The server is safe for concurrent use and sized for catalogs of a
// million items: about 100 bytes of state per item, and a page of a
// listing costs O(page) once the order is known.
type PlexServer struct {
	cat       *Catalog
	opt       Options
	name      string
	token     string
	machineID string
	faults    *Faults
	requests  atomic.Int64
	ln        net.Listener
	srv       *http.Server
	url       string
	mediaIdx  map[string]int // Media.Key -> catalog index, when the catalog has no index

	mu       sync.Mutex
	objs     []plexObj
	byKey    []int32 // ratingKey-plexFirstKey -> obj index; -1 once replaced
	ofMedia  []int32 // catalog media index -> obj index; -1 when not on this server
	kids     map[int32][]int32
	order    [5][]int32 // by type number: obj indices sorted by (addedAt, ratingKey)
	accounts []*plexAccount
	gen      uint64 // bumped on every change a listing can see
	cache    map[plexListKey][]int32

	notify *notifier
}

// plexObj is one metadata item: a movie, show, season or episode.
type plexObj struct {
	added  int64 // epoch seconds (updatedAt of a show or season is its last child's)
	ref    int32 // movies and episodes: catalog media index; shows and seasons: catalog show index
	parent int32 // episodes: season obj; seasons: show obj; otherwise -1
	key    int32 // ratingKey
	num    int32 // season number of a season
	typ    uint8
	legacy bool // shows and seasons: every episode uses the legacy agent
}

// plexWatch is one account's play state of one item, in Plex's units.
type plexWatch struct {
	viewCount    int32
	viewOffset   int64 // ms
	lastViewedAt int64 // epoch seconds
}

type plexAccount struct {
	id    int
	name  string
	token string
	watch map[int32]plexWatch // by obj index
}

type plexListKey struct {
	account int
	typ     int
	filter  string
	sort    string
	gen     uint64
}

// NewPlex starts a simulated Plex server over c (movies in section "1",
// shows in section "2"), listening on opt.Listen or 127.0.0.1:0.
func NewPlex(c *Catalog, opt Options) (*PlexServer, error) {
	if c == nil {
		return nil, errors.New("simulated plex: no catalog")
	}
	s := &PlexServer{
		cat:    c,
		opt:    opt,
		name:   opt.Name,
		token:  opt.Token,
		faults: &Faults{},
		kids:   map[int32][]int32{},
		cache:  map[plexListKey][]int32{},
	}
	if s.name == "" {
		s.name = "Simulated Plex"
	}
	if s.token == "" {
		s.token = plexDefaultToken
	}
	if s.token == plexGuestToken {
		return nil, errors.New("simulated plex: the default token must differ from the guest token")
	}
	s.accounts = []*plexAccount{
		{id: 0, name: ""}, // PMS lists a nameless system account 0
		{id: 1, name: "owner", token: s.token, watch: map[int32]plexWatch{}},
		{id: 2, name: "guest", token: plexGuestToken, watch: map[int32]plexWatch{}},
	}
	if c.media == nil {
		s.mediaIdx = make(map[string]int, len(c.Media))
		for i, m := range c.Media {
			s.mediaIdx[m.Key] = i
		}
	}
	s.build()
	for k, w := range opt.Watches {
		if oi, ok := s.objOfMedia(k); ok {
			s.setWatchLocked(s.accounts[1], oi, w)
		}
	}

	addr := opt.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulated plex: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	sum := sha1.Sum([]byte("plex|" + s.name + "|" + ln.Addr().String()))
	s.machineID = hex.EncodeToString(sum[:])
	s.notify = newNotifier(opt.WebhookURL)
	s.srv = &http.Server{
		Handler:           s.count(s.faults.Wrap(http.HandlerFunc(s.serve))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

var _ Server = (*PlexServer)(nil)

// URL is the server's base URL.
func (s *PlexServer) URL() string { return s.url }

// Token is the default user's (the owner's) token.
func (s *PlexServer) Token() string { return s.token }

// GuestToken is the token of the second account, "guest" (id 2).
func (s *PlexServer) GuestToken() string { return plexGuestToken }

// UserID is the owner's server-local account id, "1".
func (s *PlexServer) UserID() string { return "1" }

// ServerID is the machineIdentifier.
func (s *PlexServer) ServerID() string { return s.machineID }

// Faults is the fault injector in front of the API.
func (s *PlexServer) Faults() *Faults { return s.faults }

// Requests is the number of HTTP requests received, faulted ones included.
func (s *PlexServer) Requests() int64 { return s.requests.Load() }

// Close stops the server and drops open connections, websockets included.
func (s *PlexServer) Close() {
	_ = s.srv.Close()
	s.notify.close()
}

// SetWebhookURL sets (or, with "", clears) where the owner's webhooks go.
func (s *PlexServer) SetWebhookURL(u string) { s.notify.setWebhookURL(u) }

// WebhooksDelivered is the number of webhooks the receiver answered 2xx.
func (s *PlexServer) WebhooksDelivered() int64 { return s.notify.delivered.Load() }

// Sockets is the number of notification websockets connected.
func (s *PlexServer) Sockets() int { return s.notify.socketCount() }

// DropSockets closes every notification websocket, as a network blip does.
func (s *PlexServer) DropSockets() { s.notify.dropSockets() }

// PlexTVAccountID is the owner's plex.tv account id, which webhooks carry
// as Account.id (the server-local id is 1).
func (s *PlexServer) PlexTVAccountID() int { return plexOwnerPlexTV }

// RemoteID is the current ratingKey of media k, or "" when the server
// does not have it.
func (s *PlexServer) RemoteID(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	oi, ok := s.objOfMedia(k)
	if !ok {
		return ""
	}
	return strconv.Itoa(int(s.objs[oi].key))
}

// Watch is the default user's play state of media k.
func (s *PlexServer) Watch(k string) Watch { return s.watchOf(1, k) }

// GuestWatch is the guest account's play state of media k.
func (s *PlexServer) GuestWatch(k string) Watch { return s.watchOf(2, k) }

func (s *PlexServer) watchOf(account int, k string) Watch {
	s.mu.Lock()
	defer s.mu.Unlock()
	oi, ok := s.objOfMedia(k)
	if !ok {
		return Watch{}
	}
	pw := s.accounts[account].watch[oi]
	w := Watch{
		Played:    pw.viewCount > 0,
		PlayCount: int(pw.viewCount),
		Position:  time.Duration(pw.viewOffset) * time.Millisecond,
	}
	if pw.lastViewedAt != 0 {
		w.LastPlayed = time.Unix(pw.lastViewedAt, 0).UTC()
	}
	return w
}

// SetWatch sets the default user's play state of media k. Plex has no
// "played" flag of its own: a played item has viewCount >= 1, so Played
// with a zero PlayCount stores 1 and an unplayed Watch stores no count.
// Times are kept to the second and positions to the millisecond.
func (s *PlexServer) SetWatch(k string, w Watch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if oi, ok := s.objOfMedia(k); ok {
		a := s.accounts[1]
		before := a.watch[oi]
		s.setWatchLocked(a, oi, w)
		s.announceLocked(a, oi, before, a.watch[oi])
	}
}

func (s *PlexServer) setWatchLocked(a *plexAccount, oi int32, w Watch) {
	var pw plexWatch
	if w.Played {
		pw.viewCount = int32(max(w.PlayCount, 1))
	}
	if !w.LastPlayed.IsZero() {
		pw.lastViewedAt = w.LastPlayed.Unix()
	}
	pw.viewOffset = w.Position.Milliseconds()
	if pw == (plexWatch{}) {
		delete(a.watch, oi)
	} else {
		a.watch[oi] = pw
	}
	s.gen++
}

// Replace gives media k a new ratingKey and addedAt and forgets every
// account's play state of it, as Plex does when a file is replaced.
func (s *PlexServer) Replace(k string, added time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	oi, ok := s.objOfMedia(k)
	if !ok {
		return
	}
	o := &s.objs[oi]
	s.byKey[int(o.key)-plexFirstKey] = -1
	o.key = int32(plexFirstKey + len(s.byKey))
	s.byKey = append(s.byKey, oi)
	ord := s.order[o.typ]
	if i := slices.Index(ord, oi); i >= 0 {
		ord = slices.Delete(ord, i, i+1)
	}
	o.added = added.Unix()
	i, _ := slices.BinarySearchFunc(ord, oi, s.cmpAdded)
	s.order[o.typ] = slices.Insert(ord, i, oi)
	for _, a := range s.accounts {
		delete(a.watch, oi)
	}
	s.gen++
}

// objOfMedia finds the obj of catalog media k; s.mu need not be held (the
// catalog and ofMedia do not change).
func (s *PlexServer) objOfMedia(k string) (int32, bool) {
	var i int
	var ok bool
	if s.mediaIdx != nil {
		i, ok = s.mediaIdx[k]
	} else {
		i, ok = s.cat.media[k]
	}
	if !ok || i >= len(s.ofMedia) || s.ofMedia[i] < 0 {
		return 0, false
	}
	return s.ofMedia[i], true
}

// build assigns ratingKeys in catalog order (a show and its season get
// theirs when their first episode is met) and precomputes the orders.
func (s *PlexServer) build() {
	c := s.cat
	showIdx := make(map[string]int, len(c.Shows))
	for i, sh := range c.Shows {
		showIdx[sh.Key] = i
	}
	s.objs = make([]plexObj, 0, len(c.Media)+len(c.Shows)*3)
	s.ofMedia = make([]int32, len(c.Media))
	add := func(o plexObj) int32 {
		o.key = int32(plexFirstKey + len(s.byKey))
		s.objs = append(s.objs, o)
		oi := int32(len(s.objs) - 1)
		s.byKey = append(s.byKey, oi)
		return oi
	}
	showObj := map[int]int32{}
	seasonObj := map[[2]int]int32{}
	for i := range c.Media {
		s.ofMedia[i] = -1
		m := &c.Media[i]
		if s.opt.Only != nil && !s.opt.Only(*m) {
			continue
		}
		switch m.Type {
		case backend.Movie:
			s.ofMedia[i] = add(plexObj{typ: plexTypeMovie, ref: int32(i), parent: -1, added: m.Added.Unix()})
		case backend.Episode:
			si, ok := showIdx[m.ShowKey]
			if !ok {
				continue // an episode of no known show cannot be shown
			}
			sh, ok := showObj[si]
			if !ok {
				sh = add(plexObj{typ: plexTypeShow, ref: int32(si), parent: -1, added: m.Added.Unix(), legacy: true})
				showObj[si] = sh
			}
			se, ok := seasonObj[[2]int{si, m.Season}]
			if !ok {
				se = add(plexObj{typ: plexTypeSeason, ref: int32(si), parent: sh, num: int32(m.Season), added: m.Added.Unix(), legacy: true})
				seasonObj[[2]int{si, m.Season}] = se
			}
			ep := add(plexObj{typ: plexTypeEpisode, ref: int32(i), parent: se, added: m.Added.Unix()})
			s.ofMedia[i] = ep
			for _, d := range []int32{sh, se} {
				s.kids[d] = append(s.kids[d], ep)
				o := &s.objs[d]
				o.added = min(o.added, m.Added.Unix())
				o.legacy = o.legacy && m.LegacyPlex
			}
		}
	}
	for oi := range s.objs {
		t := s.objs[oi].typ
		s.order[t] = append(s.order[t], int32(oi))
	}
	for t := range s.order {
		slices.SortFunc(s.order[t], s.cmpAdded)
	}
}

func (s *PlexServer) cmpAdded(a, b int32) int {
	oa, ob := &s.objs[a], &s.objs[b]
	if oa.added != ob.added {
		if oa.added < ob.added {
			return -1
		}
		return 1
	}
	return int(oa.key) - int(ob.key)
}

func (s *PlexServer) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	})
}

// plexParam reads an X-Plex-* parameter from the header or the query, as
// PMS accepts both.
func plexParam(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return r.URL.Query().Get(name)
}

func plexHTMLError(w http.ResponseWriter, status int) {
	text := http.StatusText(status)
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><head><title>%s</title></head><body><h1>%d %s</h1></body></html>", text, status, text)
}

func (s *PlexServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Plex-Protocol", "1.0")
	p := r.URL.Path
	if p == "/identity" {
		if !plexMethod(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.identity(w, r)
		return
	}
	a := s.account(plexParam(r, "X-Plex-Token"))
	if a == nil {
		plexHTMLError(w, http.StatusUnauthorized)
		return
	}
	switch {
	case p == "/":
		if plexMethod(w, r, http.MethodGet, http.MethodHead) {
			s.root(w, r)
		}
	case p == "/accounts":
		if plexMethod(w, r, http.MethodGet, http.MethodHead) {
			s.listAccounts(w, r, a)
		}
	case p == "/library/sections" || p == "/library/sections/all":
		if plexMethod(w, r, http.MethodGet, http.MethodHead) {
			s.sections(w, r)
		}
	case strings.HasPrefix(p, "/library/sections/") && strings.HasSuffix(p, "/all"):
		if plexMethod(w, r, http.MethodGet, http.MethodHead) {
			s.sectionAll(w, r, a, strings.TrimSuffix(strings.TrimPrefix(p, "/library/sections/"), "/all"))
		}
	case strings.HasPrefix(p, "/library/metadata/") && !strings.Contains(strings.TrimPrefix(p, "/library/metadata/"), "/"):
		if plexMethod(w, r, http.MethodGet, http.MethodHead) {
			s.metadata(w, r, a, strings.TrimPrefix(p, "/library/metadata/"))
		}
	case p == "/:/scrobble" || p == "/:/unscrobble":
		if plexMethod(w, r, http.MethodGet, http.MethodPut) {
			s.scrobble(w, r, a, p == "/:/scrobble")
		}
	case p == "/:/timeline":
		if plexMethod(w, r, http.MethodGet, http.MethodPost) {
			s.timeline(w, r, a)
		}
	case p == "/:/websockets/notifications" || p == "/:/websocket/notifications":
		if plexMethod(w, r, http.MethodGet) {
			s.notify.serveSocket(w, r, strconv.Itoa(a.id), a.id == 1, 0, nil, nil)
		}
	default:
		plexHTMLError(w, http.StatusNotFound)
	}
}

func plexMethod(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	if slices.Contains(allowed, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	plexHTMLError(w, http.StatusMethodNotAllowed)
	return false
}

func (s *PlexServer) account(token string) *plexAccount {
	if token == "" {
		return nil
	}
	for _, a := range s.accounts {
		if a.token != "" && a.token == token {
			return a
		}
	}
	return nil
}

// plexContainer is a MediaContainer, rendered as JSON or XML.
type plexContainer struct {
	XMLName             xml.Name         `json:"-" xml:"MediaContainer"`
	Size                int              `json:"size" xml:"size,attr"`
	TotalSize           *int             `json:"totalSize,omitempty" xml:"totalSize,attr,omitempty"`
	Offset              *int             `json:"offset,omitempty" xml:"offset,attr,omitempty"`
	AllowSync           *bool            `json:"allowSync,omitempty" xml:"allowSync,attr,omitempty"`
	Claimed             *bool            `json:"claimed,omitempty" xml:"claimed,attr,omitempty"`
	Identifier          string           `json:"identifier,omitempty" xml:"identifier,attr,omitempty"`
	FriendlyName        string           `json:"friendlyName,omitempty" xml:"friendlyName,attr,omitempty"`
	MachineIdentifier   string           `json:"machineIdentifier,omitempty" xml:"machineIdentifier,attr,omitempty"`
	Version             string           `json:"version,omitempty" xml:"version,attr,omitempty"`
	Platform            string           `json:"platform,omitempty" xml:"platform,attr,omitempty"`
	MyPlex              *bool            `json:"myPlex,omitempty" xml:"myPlex,attr,omitempty"`
	LibrarySectionID    int              `json:"librarySectionID,omitempty" xml:"librarySectionID,attr,omitempty"`
	LibrarySectionTitle string           `json:"librarySectionTitle,omitempty" xml:"librarySectionTitle,attr,omitempty"`
	Title1              string           `json:"title1,omitempty" xml:"title1,attr,omitempty"`
	Title2              string           `json:"title2,omitempty" xml:"title2,attr,omitempty"`
	ViewGroup           string           `json:"viewGroup,omitempty" xml:"viewGroup,attr,omitempty"`
	PlaybackState       string           `json:"playbackState,omitempty" xml:"playbackState,attr,omitempty"`
	SkipCount           *int             `json:"skipCount,omitempty" xml:"skipCount,attr,omitempty"`
	ViewCount           *int             `json:"viewCount,omitempty" xml:"viewCount,attr,omitempty"`
	ViewOffset          *int64           `json:"viewOffset,omitempty" xml:"viewOffset,attr,omitempty"`
	Directory           []plexSection    `json:"Directory,omitempty" xml:"Directory"`
	Account             []plexAccountOut `json:"Account,omitempty" xml:"Account"`
	Metadata            []plexMeta       `json:"Metadata,omitempty" xml:"Metadata"`
}

type plexSection struct {
	Key       string         `json:"key" xml:"key,attr"`
	Type      string         `json:"type" xml:"type,attr"`
	Title     string         `json:"title" xml:"title,attr"`
	Agent     string         `json:"agent" xml:"agent,attr"`
	Scanner   string         `json:"scanner" xml:"scanner,attr"`
	Language  string         `json:"language" xml:"language,attr"`
	UUID      string         `json:"uuid" xml:"uuid,attr"`
	UpdatedAt int64          `json:"updatedAt" xml:"updatedAt,attr"`
	ScannedAt int64          `json:"scannedAt" xml:"scannedAt,attr"`
	Location  []plexLocation `json:"Location" xml:"Location"`
}

type plexLocation struct {
	ID   int    `json:"id" xml:"id,attr"`
	Path string `json:"path" xml:"path,attr"`
}

type plexAccountOut struct {
	ID                      int    `json:"id" xml:"id,attr"`
	Key                     string `json:"key" xml:"key,attr"`
	Name                    string `json:"name" xml:"name,attr"`
	DefaultAudioLanguage    string `json:"defaultAudioLanguage" xml:"defaultAudioLanguage,attr"`
	AutoSelectAudio         bool   `json:"autoSelectAudio" xml:"autoSelectAudio,attr"`
	DefaultSubtitleLanguage string `json:"defaultSubtitleLanguage" xml:"defaultSubtitleLanguage,attr"`
	SubtitleMode            int    `json:"subtitleMode" xml:"subtitleMode,attr"`
	Thumb                   string `json:"thumb" xml:"thumb,attr"`
}

// plexMeta is one Metadata element. Its XML element name is Video for
// movies and episodes and Directory for shows and seasons, as in PMS.
type plexMeta struct {
	XMLName              xml.Name        `json:"-"`
	RatingKey            string          `json:"ratingKey" xml:"ratingKey,attr"`
	Key                  string          `json:"key" xml:"key,attr"`
	ParentRatingKey      string          `json:"parentRatingKey,omitempty" xml:"parentRatingKey,attr,omitempty"`
	GrandparentRatingKey string          `json:"grandparentRatingKey,omitempty" xml:"grandparentRatingKey,attr,omitempty"`
	GUID                 string          `json:"guid" xml:"guid,attr"`
	ParentGUID           string          `json:"parentGuid,omitempty" xml:"parentGuid,attr,omitempty"`
	GrandparentGUID      string          `json:"grandparentGuid,omitempty" xml:"grandparentGuid,attr,omitempty"`
	Type                 string          `json:"type" xml:"type,attr"`
	Title                string          `json:"title" xml:"title,attr"`
	GrandparentKey       string          `json:"grandparentKey,omitempty" xml:"grandparentKey,attr,omitempty"`
	ParentKey            string          `json:"parentKey,omitempty" xml:"parentKey,attr,omitempty"`
	GrandparentTitle     string          `json:"grandparentTitle,omitempty" xml:"grandparentTitle,attr,omitempty"`
	ParentTitle          string          `json:"parentTitle,omitempty" xml:"parentTitle,attr,omitempty"`
	LibrarySectionTitle  string          `json:"librarySectionTitle,omitempty" xml:"librarySectionTitle,attr,omitempty"`
	LibrarySectionID     int             `json:"librarySectionID,omitempty" xml:"librarySectionID,attr,omitempty"`
	LibrarySectionKey    string          `json:"librarySectionKey,omitempty" xml:"librarySectionKey,attr,omitempty"`
	Index                *int            `json:"index,omitempty" xml:"index,attr,omitempty"`
	ParentIndex          *int            `json:"parentIndex,omitempty" xml:"parentIndex,attr,omitempty"`
	ViewCount            int             `json:"viewCount,omitempty" xml:"viewCount,attr,omitempty"`
	ViewOffset           int64           `json:"viewOffset,omitempty" xml:"viewOffset,attr,omitempty"`
	LastViewedAt         int64           `json:"lastViewedAt,omitempty" xml:"lastViewedAt,attr,omitempty"`
	Year                 int             `json:"year,omitempty" xml:"year,attr,omitempty"`
	Duration             int64           `json:"duration,omitempty" xml:"duration,attr,omitempty"`
	AddedAt              int64           `json:"addedAt" xml:"addedAt,attr"`
	UpdatedAt            int64           `json:"updatedAt" xml:"updatedAt,attr"`
	LeafCount            *int            `json:"leafCount,omitempty" xml:"leafCount,attr,omitempty"`
	ViewedLeafCount      *int            `json:"viewedLeafCount,omitempty" xml:"viewedLeafCount,attr,omitempty"`
	ChildCount           *int            `json:"childCount,omitempty" xml:"childCount,attr,omitempty"`
	Media                []plexMediaElem `json:"Media,omitempty" xml:"Media"`
	Guid                 []plexGUIDElem  `json:"Guid,omitempty" xml:"Guid"`
}

type plexMediaElem struct {
	ID        int            `json:"id" xml:"id,attr"`
	Duration  int64          `json:"duration,omitempty" xml:"duration,attr,omitempty"`
	Container string         `json:"container,omitempty" xml:"container,attr,omitempty"`
	Part      []plexPartElem `json:"Part" xml:"Part"`
}

type plexPartElem struct {
	ID        int    `json:"id" xml:"id,attr"`
	Key       string `json:"key" xml:"key,attr"`
	Duration  int64  `json:"duration,omitempty" xml:"duration,attr,omitempty"`
	File      string `json:"file" xml:"file,attr"`
	Container string `json:"container,omitempty" xml:"container,attr,omitempty"`
}

type plexGUIDElem struct {
	ID string `json:"id" xml:"id,attr"`
}

// write renders c as JSON when the client accepts it, XML otherwise.
// HEAD gets the headers only.
func (s *PlexServer) write(w http.ResponseWriter, r *http.Request, c *plexContainer) {
	asJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	if asJSON {
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false) // PMS writes <, > and & as they are
		_ = enc.Encode(struct {
			MediaContainer *plexContainer
		}{c})
	} else {
		_, _ = bw.WriteString(xml.Header)
		_ = xml.NewEncoder(bw).Encode(c)
		_ = bw.WriteByte('\n')
	}
	_ = bw.Flush()
}

func plexBool(b bool) *bool { return &b }
func plexInt(i int) *int    { return &i }

func (s *PlexServer) identity(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, &plexContainer{Claimed: plexBool(true), MachineIdentifier: s.machineID, Version: plexVersion})
}

func (s *PlexServer) root(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, &plexContainer{
		AllowSync:         plexBool(true),
		FriendlyName:      s.name,
		MachineIdentifier: s.machineID,
		Version:           plexVersion,
		Platform:          "Linux",
		MyPlex:            plexBool(true),
	})
}

// listAccounts lists every account to the owner and only their own to
// anyone else (a managed user may not see the others).
func (s *PlexServer) listAccounts(w http.ResponseWriter, r *http.Request, me *plexAccount) {
	c := &plexContainer{Identifier: "com.plexapp.system.accounts"}
	for _, a := range s.accounts {
		if me.id != 1 && a.id != me.id {
			continue
		}
		c.Account = append(c.Account, plexAccountOut{
			ID: a.id, Key: "/accounts/" + strconv.Itoa(a.id), Name: a.name,
			DefaultAudioLanguage: "en", AutoSelectAudio: true, DefaultSubtitleLanguage: "en",
		})
	}
	c.Size = len(c.Account)
	s.write(w, r, c)
}

func (s *PlexServer) sections(w http.ResponseWriter, r *http.Request) {
	updated := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	c := &plexContainer{AllowSync: plexBool(false), Title1: "Plex Library"}
	for _, sec := range []struct {
		id                         int
		typ, title, agent, scanner string
		path                       string
	}{
		{plexMovieSection, "movie", "Movies", "tv.plex.agents.movie", "Plex Movie", "/media/movies"},
		{plexShowSection, "show", "TV Shows", "tv.plex.agents.series", "Plex TV Series", "/media/tv"},
		{plexMusicSection, "artist", "Music", "tv.plex.agents.music", "Plex Music", "/media/music"},
	} {
		c.Directory = append(c.Directory, plexSection{
			Key: strconv.Itoa(sec.id), Type: sec.typ, Title: sec.title, Agent: sec.agent, Scanner: sec.scanner,
			Language: "en-US", UUID: fmt.Sprintf("5e1a0000-0000-4000-8000-%012d", sec.id),
			UpdatedAt: updated, ScannedAt: updated,
			Location: []plexLocation{{ID: sec.id, Path: sec.path}},
		})
	}
	c.Size = len(c.Directory)
	s.write(w, r, c)
}

func plexSectionOf(typ uint8) int {
	if typ == plexTypeMovie {
		return plexMovieSection
	}
	return plexShowSection
}

func plexSectionTitle(sec int) string {
	switch sec {
	case plexMovieSection:
		return "Movies"
	case plexShowSection:
		return "TV Shows"
	}
	return "Music"
}

// plexFilter is one media query condition on lastViewedAt.
type plexFilter struct {
	op    string // ">>", "<<", ">", "<", "", "!"
	value int64
}

func (f plexFilter) match(v int64) bool {
	if v == 0 { // never viewed: lastViewedAt is null and no comparison holds
		return f.op == "!"
	}
	switch f.op {
	case ">>":
		return v > f.value
	case "<<":
		return v < f.value
	case ">":
		return v >= f.value
	case "<":
		return v <= f.value
	case "!":
		return v != f.value
	}
	return v == f.value
}

// plexDate parses a media query date: epoch seconds, or relative to now
// ("-3d", "+2h"; units s m h d w mon y).
func plexDate(v string, now time.Time) (int64, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && !strings.HasPrefix(v, "+") && !strings.HasPrefix(v, "-") {
		return n, true
	}
	if len(v) < 2 || (v[0] != '-' && v[0] != '+') {
		return 0, false
	}
	num := strings.TrimRight(v[1:], "abcdefghijklmnopqrstuvwxyz")
	unit := v[1+len(num):]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, false
	}
	secs := map[string]int64{"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mon": 30 * 86400, "y": 365 * 86400}
	mul, ok := secs[unit]
	if !ok {
		return 0, false
	}
	if v[0] == '-' {
		n = -n
	}
	return now.Unix() + n*mul, true
}

// sectionAll answers /library/sections/{id}/all.
func (s *PlexServer) sectionAll(w http.ResponseWriter, r *http.Request, a *plexAccount, id string) {
	sec, err := strconv.Atoi(id)
	if err != nil || sec < plexMovieSection || sec > plexMusicSection {
		plexHTMLError(w, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	typ := map[int]int{plexMovieSection: plexTypeMovie, plexShowSection: plexTypeShow}[sec]
	if v := q.Get("type"); v != "" {
		if typ, err = strconv.Atoi(v); err != nil {
			plexHTMLError(w, http.StatusBadRequest)
			return
		}
	}
	valid := (sec == plexMovieSection && typ == plexTypeMovie) ||
		(sec == plexShowSection && typ >= plexTypeShow && typ <= plexTypeEpisode)
	start, size, ok := plexPaging(r)
	if !ok {
		plexHTMLError(w, http.StatusBadRequest)
		return
	}
	var filters []plexFilter
	var filterKey []string
	for k, vs := range q {
		field, op, found := strings.Cut(k, "lastViewedAt")
		if !found || (field != "" && field != "episode." && field != "movie.") {
			continue
		}
		if !slices.Contains([]string{">>", "<<", ">", "<", "", "!"}, op) {
			plexHTMLError(w, http.StatusBadRequest)
			return
		}
		for _, v := range vs {
			n, ok := plexDate(v, s.now())
			if !ok {
				plexHTMLError(w, http.StatusBadRequest)
				return
			}
			filters = append(filters, plexFilter{op: op, value: n})
			filterKey = append(filterKey, op+"="+strconv.FormatInt(n, 10))
		}
	}
	// unwatched=0 lists watched items only, unwatched=1 unwatched ones
	// (the "Media Queries" docs; python-plexapi uses both).
	unwatched := -1
	if v := q.Get("unwatched"); v != "" {
		if v != "0" && v != "1" {
			plexHTMLError(w, http.StatusBadRequest)
			return
		}
		unwatched = int(v[0] - '0')
		filterKey = append(filterKey, "unwatched="+v)
	}
	slices.Sort(filterKey) // the cache key must not depend on map order
	sortField, desc := plexSort(q.Get("sort"))
	includeGuids := q.Get("includeGuids") == "1"

	s.mu.Lock()
	var list []int32
	if valid {
		list = s.listLocked(a, typ, filters, unwatched, strings.Join(filterKey, "&"), sortField, desc)
	}
	total := len(list)
	from := min(start, total)
	to := total
	if size >= 0 {
		to = min(from+size, total)
	}
	c := &plexContainer{
		AllowSync:           plexBool(true),
		Identifier:          plexLibraryIdent,
		LibrarySectionID:    sec,
		LibrarySectionTitle: plexSectionTitle(sec),
		Title1:              plexSectionTitle(sec),
		Title2:              "All " + plexSectionTitle(sec),
		ViewGroup:           map[int]string{1: "movie", 2: "show", 3: "season", 4: "episode"}[typ],
		Offset:              plexInt(start),
		TotalSize:           plexInt(total),
	}
	if r.Method != http.MethodHead && to > from {
		c.Metadata = make([]plexMeta, 0, to-from)
		for _, oi := range list[from:to] {
			c.Metadata = append(c.Metadata, s.metaLocked(a, oi, includeGuids, false))
		}
	}
	s.mu.Unlock()
	c.Size = to - from
	w.Header().Set("X-Plex-Container-Start", strconv.Itoa(start))
	w.Header().Set("X-Plex-Container-Total-Size", strconv.Itoa(total))
	s.write(w, r, c)
}

// plexPaging reads X-Plex-Container-Start and -Size; size -1 means all.
func plexPaging(r *http.Request) (start, size int, ok bool) {
	size = -1
	if v := plexParam(r, "X-Plex-Container-Start"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		start = n
	}
	if v := plexParam(r, "X-Plex-Container-Size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		size = n
	}
	return start, size, true
}

// plexSort reads the first field of a sort parameter. addedAt is the
// default; an unknown field falls back to it.
func plexSort(v string) (field string, desc bool) {
	first, _, _ := strings.Cut(v, ",")
	name, feats, _ := strings.Cut(first, ":")
	desc = strings.Contains(feats, "desc")
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:] // episode.addedAt, movie.lastViewedAt...
	}
	if name == "lastViewedAt" {
		return name, desc
	}
	return "addedAt", desc
}

// listLocked returns the obj indices of one listing, in order. The plain
// addedAt order is precomputed; anything else is computed once per state
// generation and cached, so that paging through it stays O(page).
func (s *PlexServer) listLocked(a *plexAccount, typ int, filters []plexFilter, unwatched int, filterKey, sortField string, desc bool) []int32 {
	base := s.order[typ]
	if len(filters) == 0 && unwatched < 0 && sortField == "addedAt" && !desc {
		return base
	}
	key := plexListKey{account: a.id, typ: typ, filter: filterKey, sort: fmt.Sprintf("%s:%v", sortField, desc), gen: s.gen}
	if l, ok := s.cache[key]; ok {
		return l
	}
	var out []int32
	if len(filters) == 0 && unwatched < 0 {
		out = slices.Clone(base)
	} else {
		for _, oi := range base {
			v := s.lastViewedLocked(a, oi)
			ok := unwatched < 0 || (a.watch[oi].viewCount == 0) == (unwatched == 1)
			for _, f := range filters {
				ok = ok && f.match(v)
			}
			if ok {
				out = append(out, oi)
			}
		}
	}
	if sortField == "lastViewedAt" {
		lv := make(map[int32]int64, len(out))
		for _, oi := range out {
			lv[oi] = s.lastViewedLocked(a, oi)
		}
		sort.SliceStable(out, func(i, j int) bool { return lv[out[i]] < lv[out[j]] })
	}
	if desc {
		slices.Reverse(out)
	}
	for k := range s.cache {
		if k.gen != s.gen || len(s.cache) >= 8 {
			delete(s.cache, k)
		}
	}
	s.cache[key] = out
	return out
}

// lastViewedLocked is an item's lastViewedAt for a, or for a show or season
// the latest of its episodes'.
func (s *PlexServer) lastViewedLocked(a *plexAccount, oi int32) int64 {
	switch s.objs[oi].typ {
	case plexTypeShow, plexTypeSeason:
		var last int64
		for _, k := range s.kids[oi] {
			last = max(last, a.watch[k].lastViewedAt)
		}
		return last
	}
	return a.watch[oi].lastViewedAt
}

func plexHex(kind string, key string) string {
	h := fnv.New64a()
	h.Write([]byte(kind + "/" + key))
	return fmt.Sprintf("%024x", h.Sum64())
}

// plexAgentBase is the legacy agent guid of a list of external ids
// (without the ?lang suffix), preferring tvdb for shows and imdb for
// movies, or "" when no legacy agent would have matched.
func plexAgentBase(gs []backend.GUID, show bool) string {
	prefs := []string{"imdb", "tmdb", "tvdb"}
	if show {
		prefs = []string{"tvdb", "tmdb", "imdb"}
	}
	agent := map[string]string{"imdb": "imdb", "tmdb": "themoviedb", "tvdb": "thetvdb"}
	for _, k := range prefs {
		for _, g := range gs {
			if g.Kind == k {
				return "com.plexapp.agents." + agent[k] + "://" + g.Value
			}
		}
	}
	return ""
}

func plexGUIDElems(gs []backend.GUID) []plexGUIDElem {
	out := make([]plexGUIDElem, 0, len(gs))
	for _, g := range gs {
		out = append(out, plexGUIDElem{ID: g.Kind + "://" + g.Value})
	}
	return out
}

// guidsLocked is the top-level guid of obj oi and its Guid[] ids.
func (s *PlexServer) guidsLocked(oi int32) (string, []plexGUIDElem) {
	o := &s.objs[oi]
	key := strconv.Itoa(int(o.key))
	switch o.typ {
	case plexTypeMovie:
		m := &s.cat.Media[o.ref]
		if m.LegacyPlex {
			if b := plexAgentBase(m.GUIDs, false); b != "" {
				return b + "?lang=en", nil
			}
		}
		if len(m.GUIDs) == 0 {
			return "local://" + key, nil
		}
		return "plex://movie/" + plexHex("movie", m.Key), plexGUIDElems(m.GUIDs)
	case plexTypeEpisode:
		m := &s.cat.Media[o.ref]
		if m.LegacyPlex {
			if b := plexAgentBase(s.cat.Shows[s.objs[o.parent].ref].GUIDs, true); b != "" {
				return fmt.Sprintf("%s/%d/%d?lang=en", b, m.Season, m.Episode), nil
			}
		}
		if len(m.GUIDs) == 0 {
			return "local://" + key, nil
		}
		return "plex://episode/" + plexHex("episode", m.Key), plexGUIDElems(m.GUIDs)
	case plexTypeShow:
		sh := &s.cat.Shows[o.ref]
		if o.legacy {
			if b := plexAgentBase(sh.GUIDs, true); b != "" {
				return b + "?lang=en", nil
			}
		}
		if len(sh.GUIDs) == 0 {
			return "local://" + key, nil
		}
		return "plex://show/" + plexHex("show", sh.Key), plexGUIDElems(sh.GUIDs)
	default: // season
		sh := &s.cat.Shows[o.ref]
		if o.legacy {
			if b := plexAgentBase(sh.GUIDs, true); b != "" {
				return fmt.Sprintf("%s/%d?lang=en", b, o.num), nil
			}
		}
		return "plex://season/" + plexHex("season", sh.Key+"/"+strconv.Itoa(int(o.num))), nil
	}
}

func plexContainerOf(p string) string {
	if ext := strings.TrimPrefix(path.Ext(p), "."); ext != "" {
		return strings.ToLower(ext)
	}
	return "mkv"
}

// metaLocked renders obj oi as a for a listing (withSection false: the
// section is on the container) or a metadata answer.
func (s *PlexServer) metaLocked(a *plexAccount, oi int32, withGuids, withSection bool) plexMeta {
	o := &s.objs[oi]
	key := strconv.Itoa(int(o.key))
	guid, guids := s.guidsLocked(oi)
	m := plexMeta{
		XMLName:   xml.Name{Local: "Video"},
		RatingKey: key,
		Key:       "/library/metadata/" + key,
		GUID:      guid,
		AddedAt:   o.added,
		UpdatedAt: o.added,
	}
	if withGuids {
		m.Guid = guids
	}
	if withSection {
		sec := plexSectionOf(o.typ)
		m.LibrarySectionID = sec
		m.LibrarySectionTitle = plexSectionTitle(sec)
		m.LibrarySectionKey = "/library/sections/" + strconv.Itoa(sec)
	}
	switch o.typ {
	case plexTypeMovie, plexTypeEpisode:
		md := &s.cat.Media[o.ref]
		m.Type = string(md.Type)
		m.Title = md.Title
		m.Year = md.Year
		m.Duration = md.Duration.Milliseconds()
		if md.Path != "" || md.Duration > 0 {
			ct := plexContainerOf(md.Path)
			m.Media = []plexMediaElem{{ID: int(o.key), Duration: m.Duration, Container: ct, Part: []plexPartElem{{
				ID: int(o.key), Key: fmt.Sprintf("/library/parts/%d/%d/file.%s", o.key, o.added, ct),
				Duration: m.Duration, File: md.Path, Container: ct,
			}}}}
		}
		w := a.watch[oi]
		m.ViewCount = int(w.viewCount)
		m.ViewOffset = w.viewOffset
		m.LastViewedAt = w.lastViewedAt
		if o.typ == plexTypeEpisode {
			se := &s.objs[o.parent]
			sh := &s.objs[se.parent]
			show := &s.cat.Shows[sh.ref]
			m.ParentRatingKey = strconv.Itoa(int(se.key))
			m.GrandparentRatingKey = strconv.Itoa(int(sh.key))
			m.ParentKey = "/library/metadata/" + m.ParentRatingKey
			m.GrandparentKey = "/library/metadata/" + m.GrandparentRatingKey
			m.ParentGUID, _ = s.guidsLocked(o.parent)
			m.GrandparentGUID, _ = s.guidsLocked(se.parent)
			m.ParentTitle = fmt.Sprintf("Season %d", md.Season)
			m.GrandparentTitle = show.Title
			m.ParentIndex = plexInt(md.Season)
			m.Index = plexInt(md.Episode)
		}
	case plexTypeShow, plexTypeSeason:
		m.XMLName.Local = "Directory"
		m.Key += "/children"
		show := &s.cat.Shows[o.ref]
		var viewed int
		var updated int64
		for _, k := range s.kids[oi] {
			if a.watch[k].viewCount > 0 {
				viewed++
			}
			updated = max(updated, s.objs[k].added)
		}
		m.UpdatedAt = updated
		m.LeafCount = plexInt(len(s.kids[oi]))
		m.ViewedLeafCount = plexInt(viewed)
		if o.typ == plexTypeShow {
			m.Type = "show"
			m.Title = show.Title
			m.Year = show.Year
			var seasons []int32
			for _, k := range s.kids[oi] {
				if p := s.objs[k].parent; !slices.Contains(seasons, p) {
					seasons = append(seasons, p)
				}
			}
			m.ChildCount = plexInt(len(seasons))
			m.Index = plexInt(1)
		} else {
			m.Type = "season"
			m.Title = fmt.Sprintf("Season %d", o.num)
			m.Index = plexInt(int(o.num))
			m.ParentRatingKey = strconv.Itoa(int(s.objs[o.parent].key))
			m.ParentKey = "/library/metadata/" + m.ParentRatingKey
			m.ParentGUID, _ = s.guidsLocked(o.parent)
			m.ParentTitle = show.Title
			m.ParentIndex = plexInt(1)
		}
	}
	return m
}

// metadata answers /library/metadata/{ids}. Unknown ids are left out;
// when none is known the answer is 404.
func (s *PlexServer) metadata(w http.ResponseWriter, r *http.Request, a *plexAccount, ids string) {
	s.mu.Lock()
	c := &plexContainer{AllowSync: plexBool(true), Identifier: plexLibraryIdent}
	for _, id := range strings.Split(ids, ",") {
		oi, ok := s.objOfKeyLocked(strings.TrimSpace(id))
		if !ok {
			continue
		}
		m := s.metaLocked(a, oi, true, true)
		if c.LibrarySectionID == 0 {
			c.LibrarySectionID = m.LibrarySectionID
			c.LibrarySectionTitle = m.LibrarySectionTitle
		}
		c.Metadata = append(c.Metadata, m)
	}
	s.mu.Unlock()
	if len(c.Metadata) == 0 {
		plexHTMLError(w, http.StatusNotFound)
		return
	}
	c.Size = len(c.Metadata)
	s.write(w, r, c)
}

func (s *PlexServer) objOfKeyLocked(id string) (int32, bool) {
	n, err := strconv.Atoi(id)
	if err != nil || n < plexFirstKey || n-plexFirstKey >= len(s.byKey) {
		return 0, false
	}
	oi := s.byKey[n-plexFirstKey]
	return oi, oi >= 0
}

// itemKey finds the ratingKey a scrobble or timeline request names: the
// key parameter (a ratingKey or /library/metadata/N), ratingKey, or a uri
// ending in /library/metadata/N.
func plexItemKey(q map[string][]string, names ...string) string {
	for _, n := range names {
		if vs := q[n]; len(vs) > 0 && vs[0] != "" {
			v := vs[0]
			if i := strings.LastIndex(v, "/library/metadata/"); i >= 0 {
				v = v[i+len("/library/metadata/"):]
			}
			return v
		}
	}
	return ""
}

func (s *PlexServer) now() time.Time {
	if s.opt.Now != nil {
		return s.opt.Now()
	}
	return time.Now()
}

// scrobble marks an item (or every episode of a show or season) played,
// stamping now; unscrobble forgets its play state.
func (s *PlexServer) scrobble(w http.ResponseWriter, r *http.Request, a *plexAccount, played bool) {
	q := r.URL.Query()
	ident := q.Get("identifier")
	key := plexItemKey(q, "key", "uri")
	if ident == "" || key == "" {
		plexHTMLError(w, http.StatusBadRequest)
		return
	}
	if ident != plexLibraryIdent {
		plexHTMLError(w, http.StatusNotFound)
		return
	}
	now := s.now().Unix()
	s.mu.Lock()
	oi, ok := s.objOfKeyLocked(key)
	if ok {
		targets := []int32{oi}
		if t := s.objs[oi].typ; t == plexTypeShow || t == plexTypeSeason {
			targets = s.kids[oi]
		}
		for _, t := range targets {
			before := a.watch[t]
			if played {
				a.watch[t] = plexWatch{viewCount: before.viewCount + 1, lastViewedAt: now}
			} else {
				delete(a.watch, t)
			}
			s.announceLocked(a, t, before, a.watch[t])
		}
		s.gen++
	}
	s.mu.Unlock()
	if !ok {
		plexHTMLError(w, http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// timeline records a playback report. Like PMS it ignores a report without
// X-Plex-Client-Identifier or duration; past 90 % of the duration the item
// counts as watched (viewCount+1, offset cleared). A report at time 0 does
// not clear a resume position (only unscrobble does).
func (s *PlexServer) timeline(w http.ResponseWriter, r *http.Request, a *plexAccount) {
	q := r.URL.Query()
	key := plexItemKey(q, "ratingKey", "key")
	if key == "" {
		plexHTMLError(w, http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	if state == "" {
		state = "stopped"
	}
	if !slices.Contains([]string{"stopped", "paused", "playing", "buffering"}, state) {
		plexHTMLError(w, http.StatusBadRequest)
		return
	}
	tm, errT := strconv.ParseInt(q.Get("time"), 10, 64)
	dur, errD := strconv.ParseInt(q.Get("duration"), 10, 64)
	if q.Get("time") != "" && errT != nil || q.Get("duration") != "" && errD != nil {
		plexHTMLError(w, http.StatusBadRequest)
		return
	}
	apply := plexParam(r, "X-Plex-Client-Identifier") != "" && errD == nil && dur > 0 && errT == nil && tm > 0
	now := s.now().Unix()
	s.mu.Lock()
	oi, ok := s.objOfKeyLocked(key)
	if ok && (s.objs[oi].typ == plexTypeShow || s.objs[oi].typ == plexTypeSeason) {
		apply = false
	}
	var pw plexWatch
	if ok {
		pw = a.watch[oi]
		if apply {
			before := pw
			if tm*10 >= dur*9 {
				pw = plexWatch{viewCount: pw.viewCount + 1, lastViewedAt: now}
			} else {
				pw.viewOffset = tm
				pw.lastViewedAt = now
			}
			a.watch[oi] = pw
			s.gen++
			s.playbackLocked(a, oi, state, tm, pw.viewCount > before.viewCount)
		}
	}
	s.mu.Unlock()
	if !ok {
		plexHTMLError(w, http.StatusNotFound)
		return
	}
	playback := "progress"
	if state == "stopped" {
		playback = "stopped"
	}
	s.write(w, r, &plexContainer{
		PlaybackState: playback,
		SkipCount:     plexInt(0),
		ViewCount:     plexInt(int(pw.viewCount)),
		ViewOffset:    &pw.viewOffset,
	})
}

// --- Notifications: webhooks and the websocket ---------------------------

// plexOwnerPlexTV is the owner's plex.tv account id. Webhooks carry
// plex.tv ids; on the server the owner is account 1, and every other
// account's local id is its plex.tv id.
const plexOwnerPlexTV = 50310427

// announceLocked tells webhooks and websockets that account a's play state
// of obj oi went from before to after, as PMS would: a new play is
// media.scrobble, a moved position is a stopped playback; an un-watch has
// no webhook, only a timeline entry. Caller holds s.mu.
func (s *PlexServer) announceLocked(a *plexAccount, oi int32, before, after plexWatch) {
	if !s.notify.listening() {
		return // nobody listens: a benchmark's bulk writes stay cheap
	}
	switch {
	case after.viewCount > before.viewCount:
		s.webhookLocked(a, oi, "media.scrobble")
		s.timelineEntryLocked(oi)
	case after.viewCount == 0 && before.viewCount > 0:
		s.timelineEntryLocked(oi)
	case after.viewOffset != before.viewOffset && after.viewOffset > 0:
		s.webhookLocked(a, oi, "media.stop")
		s.sessionLocked(a, oi, "stopped", after.viewOffset)
	}
}

// playbackLocked announces a timeline report: the play session's state
// on the websocket and media.play, pause or stop as a webhook, then
// media.scrobble when the report made the item played.
func (s *PlexServer) playbackLocked(a *plexAccount, oi int32, state string, offset int64, scrobbled bool) {
	if !s.notify.listening() {
		return
	}
	if event := map[string]string{"playing": "media.play", "paused": "media.pause", "stopped": "media.stop"}[state]; event != "" {
		s.webhookLocked(a, oi, event)
	}
	s.sessionLocked(a, oi, state, offset)
	if scrobbled {
		s.webhookLocked(a, oi, "media.scrobble")
		s.timelineEntryLocked(oi)
	}
}

// webhookLocked queues one webhook in PMS's format: multipart/form-data
// with the JSON in the "payload" part, and a JPEG thumbnail part for the
// events that carry one.
func (s *PlexServer) webhookLocked(a *plexAccount, oi int32, event string) {
	if s.notify.webhookURL() == "" {
		return
	}
	tvID := a.id
	if a.id == 1 {
		tvID = plexOwnerPlexTV
	}
	sectionType := "movie"
	if s.objs[oi].typ != plexTypeMovie {
		sectionType = "show"
	}
	payload := map[string]any{
		"event": event,
		"user":  a.id == 1, // the webhook is the owner's: "user" only for the owner's own plays
		"owner": true,
		"Account": map[string]any{
			"id": tvID, "thumb": "https://plex.tv/users/" + plexHex("account", a.name) + "/avatar", "title": a.name,
		},
		"Server": map[string]any{"title": s.name, "uuid": s.machineID},
		"Player": map[string]any{"local": true, "publicAddress": "127.0.0.1", "title": "Simulated player", "uuid": "simulated-player"},
		"Metadata": struct {
			LibrarySectionType string `json:"librarySectionType"`
			plexMeta
		}{sectionType, s.metaLocked(a, oi, true, true)},
	}
	js, err := json.Marshal(payload)
	if err != nil {
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write(js)
	if event == "media.play" || event == "library.new" || event == "media.rate" {
		th := textproto.MIMEHeader{}
		th.Set("Content-Disposition", `form-data; name="thumb"; filename="thumb.jpg"`)
		th.Set("Content-Type", "image/jpeg")
		tw, _ := mw.CreatePart(th)
		_, _ = tw.Write([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0xff, 0xd9})
	}
	_ = mw.Close()
	s.notify.post(mw.FormDataContentType(), "PlexMediaServer/"+plexVersion, buf.Bytes())
}

// sessionLocked pushes a play session's state to the websockets that may
// see account a's sessions.
func (s *PlexServer) sessionLocked(a *plexAccount, oi int32, state string, offset int64) {
	key := strconv.Itoa(int(s.objs[oi].key))
	msg, err := json.Marshal(map[string]any{"NotificationContainer": map[string]any{
		"type": "playing", "size": 1,
		"PlaySessionStateNotification": []map[string]any{{
			"sessionKey": "1", "clientIdentifier": "simulated-player", "guid": "", "ratingKey": key, "url": "",
			"key": "/library/metadata/" + key, "viewOffset": offset, "playQueueItemID": 1, "state": state,
		}},
	}})
	if err != nil {
		return
	}
	me := strconv.Itoa(a.id)
	s.notify.broadcast(func(user string, admin bool) bool { return admin || user == me }, msg)
}

// timelineEntryLocked pushes a library timeline entry for obj oi, which
// is all PMS says about a mark.
func (s *PlexServer) timelineEntryLocked(oi int32) {
	o := &s.objs[oi]
	msg, err := json.Marshal(map[string]any{"NotificationContainer": map[string]any{
		"type": "timeline", "size": 1,
		"TimelineEntry": []map[string]any{{
			"identifier": plexLibraryIdent, "sectionID": strconv.Itoa(plexSectionOf(o.typ)), "itemID": strconv.Itoa(int(o.key)),
			"type": int(o.typ), "state": 5, "updatedAt": s.now().Unix(),
		}},
	}})
	if err != nil {
		return
	}
	s.notify.broadcast(func(string, bool) bool { return true }, msg)
}
