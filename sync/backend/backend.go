// Package backend defines the one interface every media server client
// implements (Plex, Jellyfin, Emby), the value types that cross it, and the
// error kinds callers classify failures with.
//
// The contract, which the conformance suite in backendtest checks for every
// implementation:
//
//   - Every method that does I/O takes a context and returns promptly when it
//     is cancelled.
//   - Times are UTC. A zero time.Time means "the server did not say".
//   - Durations (resume position, runtime) are time.Duration whatever unit the
//     server speaks (Plex milliseconds, Jellyfin/Emby 100 ns ticks).
//   - Errors wrap exactly one of the sentinel kinds below when the failure is
//     one of them, so callers use errors.Is; a *RateLimitError also carries
//     the server's Retry-After.
//   - A backend never logs and never puts its token in an error message.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Kind names a server family. The three kinds are the whole registry.
type Kind string

// The server families Playmark speaks to.
const (
	Plex     Kind = "plex"
	Jellyfin Kind = "jellyfin"
	Emby     Kind = "emby"
)

// ParseKind returns the Kind for s, or an error naming the accepted values.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case Plex, Jellyfin, Emby:
		return Kind(s), nil
	}
	return "", fmt.Errorf("unknown backend type %q (want plex, jellyfin or emby)", s)
}

// TokenIsUser reports whether a token of this kind is one user: a Plex
// token acts as exactly the account it belongs to, so there is no user to
// choose and none to save; a Jellyfin or Emby token (an admin's, an API
// key) may act for any user, so the backend names one.
func (k Kind) TokenIsUser() bool { return k == Plex }

// QuickConnect reports whether servers of this kind offer Quick Connect
// (a code shown here, approved in a signed-in app): Jellyfin only.
func (k Kind) QuickConnect() bool { return k == Jellyfin }

// ItemType is the type of a syncable item.
type ItemType string

// Item types. Shows and seasons are not items: an episode carries its show.
const (
	Movie   ItemType = "movie"
	Episode ItemType = "episode"
)

// GUID is one external id in normalised form: Kind is lower case (imdb,
// tmdb, tvdb, tvmaze, tvrage, anidb, ...), Value is the id as the provider
// writes it (imdb keeps its "tt" prefix; numeric ids have no leading zeros).
type GUID struct {
	Kind  string
	Value string
}

func (g GUID) String() string { return g.Kind + "://" + g.Value }

// Item is one movie or episode as one backend sees it, for the user the
// backend is configured with.
type Item struct {
	ID      string   // the backend's own id (Plex ratingKey, Jellyfin/Emby Id)
	Type    ItemType // Movie or Episode
	Title   string
	Year    int
	Library string // id of the library (Plex section key, Jellyfin/Emby view id)
	Path    string // file path of the first media part, if the server said

	// Episodes only.
	ShowID    string // the backend's id of the show
	ShowTitle string
	Season    int
	Episode   int
	ShowGUIDs []GUID // the show's external ids

	GUIDs []GUID // the item's own external ids, normalised, no duplicates

	Played     bool          // watched at least once and not un-watched since
	PlayCount  int           // 0 when the server omits it
	LastPlayed time.Time     // zero when never played (or un-watched)
	Progress   time.Duration // resume position; 0 when none
	Duration   time.Duration // runtime; 0 when unknown
	Added      time.Time     // when the server added the item
}

// ServerInfo identifies a server and the user a backend acts as.
type ServerInfo struct {
	Name     string // the server's friendly name
	Product  string // "Plex Media Server", "Jellyfin Server", "Emby Server"
	Version  string
	ServerID string // Plex machineIdentifier, Jellyfin/Emby server Id
	UserID   string // empty when the token has no user and none is configured
	UserName string
}

// User is one account on a server.
type User struct {
	ID    string
	Name  string
	Admin bool
}

// Library is one movie or show library.
type Library struct {
	ID    string
	Title string
	Type  ItemType // Movie for movie libraries, Episode for show libraries
}

// ListOptions narrows a listing.
type ListOptions struct {
	// Libraries limits the listing to these library ids; empty means every
	// movie and show library.
	Libraries []string
	// Since, when not zero, asks only for items whose play state can have
	// changed since then: every item whose LastPlayed is at or after Since
	// must be listed; a backend may list more but never needs the whole
	// library to answer. An
	// un-watch is NOT visible this way (servers forget the play date on
	// un-watch); only a full listing (zero Since) sees it.
	Since time.Time
	// PageSize is the number of items per request; 0 means the backend's
	// default.
	PageSize int
	// PlayedOnly, with Since, leaves out the items in progress that a
	// backend would otherwise list by date: the caller reads them with
	// ProgressLister.InProgress instead.
	PlayedOnly bool
}

// Capabilities says what a server can and cannot do, so the engine can
// plan around it instead of discovering it by failing.
type Capabilities struct {
	// BackdatePlayed is true when MarkPlayed records the given date. Plex
	// cannot: it stamps "now".
	BackdatePlayed bool
}

// Backend is one media server as one user.
//
// Implementations are safe for concurrent use. They bound the number of
// requests in flight to the server and retry 5xx and 429 answers with
// backoff (see Transport); they never retry other 4xx.
type Backend interface {
	// Kind is the server family.
	Kind() Kind
	// Capabilities says what the server supports.
	Capabilities() Capabilities
	// Identify returns the server's name, version and id and the user the
	// backend acts as. It fails with ErrUnauthorized on a rejected token.
	Identify(ctx context.Context) (ServerInfo, error)
	// Users lists the server's accounts (for the user to choose one).
	Users(ctx context.Context) ([]User, error)
	// Libraries lists movie and show libraries; others (music, photos) are
	// left out.
	Libraries(ctx context.Context) ([]Library, error)
	// Items pages through movies and episodes, calling page for each page in
	// server order. The page slice is only valid during the call; the
	// items in it (and the slices they hold) may be kept. If page
	// returns an error, Items stops and returns it. A server that ignores
	// the paging request, or answers a page inconsistent with the total it
	// announced, fails with ErrBadResponse rather than looping or silently
	// truncating.
	Items(ctx context.Context, opt ListOptions, page func([]Item) error) error
	// Get returns the items with the given ids, in any order, reading them
	// in as few requests as the API allows. Ids the server does not know are
	// absent from the result (not an error).
	Get(ctx context.Context, ids []string) ([]Item, error)
	// MarkPlayed marks an item played. at is the play date to record when
	// the server can back-date (Capabilities.BackdatePlayed); otherwise the
	// server stamps its own clock. It clears the resume position, as the
	// servers do.
	MarkPlayed(ctx context.Context, id string, at time.Time) error
	// MarkUnplayed marks an item unplayed and clears its resume position.
	MarkUnplayed(ctx context.Context, id string) error
	// SetProgress sets the resume position of an unplayed item. duration is
	// the item's runtime (Plex needs it); 0 lets the backend look it up.
	SetProgress(ctx context.Context, id string, position, duration time.Duration) error
}

// Config is what it takes to reach one backend.
type Config struct {
	Kind     Kind
	URL      string // base URL, e.g. http://host:32400 or http://host:8096
	Token    string
	UserID   string // Jellyfin/Emby user id; Plex: the server-local id, used only to tell whose a webhook is (the token is the user)
	ClientID string // a stable id of this Playmark install (X-Plex-Client-Identifier, DeviceId)
	// ServerID is the server's id as recorded by the first import ("" before
	// it): a webhook about another server is not this backend's.
	ServerID string
	// Transport carries the requests; nil means NewTransport(TransportOptions{}).
	Transport *Transport
}

// Error kinds. Every error a Backend returns for one of these reasons wraps
// the matching sentinel.
var (
	// ErrUnauthorized: the server rejected the token (401/403).
	ErrUnauthorized = errors.New("token rejected")
	// ErrNotFound: the item, user or path does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrUnreachable: no answer: refused, DNS, TLS, timeout, reset.
	ErrUnreachable = errors.New("server unreachable")
	// ErrRateLimited: 429 after retries; see RateLimitError.
	ErrRateLimited = errors.New("rate limited")
	// ErrBadResponse: an answer that is not what the API promises: 5xx after
	// retries, invalid or truncated JSON, wrong content, broken paging.
	ErrBadResponse = errors.New("bad response")
)

// RateLimitError is returned when the server keeps answering 429.
// It matches ErrRateLimited with errors.Is.
type RateLimitError struct {
	RetryAfter time.Duration // zero when the server did not say
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("rate limited (retry after %s)", e.RetryAfter)
	}
	return "rate limited"
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// StatusError is an HTTP answer with an unexpected status. It matches the
// sentinel kind its status maps to (401/403 ErrUnauthorized, 404
// ErrNotFound, 429 ErrRateLimited, 5xx ErrBadResponse).
type StatusError struct {
	Method string
	Path   string // the URL path only: never the query, which may hold a token
	Status int
	Body   string // the start of the body, for the log (trace ids and all)
}

// Error is one line: the status and, when the body says why in words
// (a ProblemDetails detail or title, a short plain-text message), that
// sentence; never the raw body.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if text := http.StatusText(e.Status); text != "" {
		msg += " " + text
	}
	if why := e.Reason(); why != "" && !strings.EqualFold(why, http.StatusText(e.Status)) {
		msg += ": " + why
	}
	return msg
}

// Reason is what the body says about the error, in one short sentence, or
// "" when it says nothing readable.
func (e *StatusError) Reason() string {
	body := strings.TrimSpace(e.Body)
	if body == "" {
		return ""
	}
	if strings.HasPrefix(body, "{") {
		// JSON: ProblemDetails (Jellyfin), or a message field. Read as
		// tokens: the body may be cut short, its start still says why.
		found := map[string]string{}
		dec := json.NewDecoder(strings.NewReader(body))
		depth := 0
		key := ""
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			switch v := tok.(type) {
			case json.Delim:
				if v == '{' || v == '[' {
					depth++
				} else {
					depth--
				}
				key = ""
				continue
			case string:
				if depth == 1 && key == "" && dec.More() {
					key = v
					continue
				}
				if depth == 1 && key != "" {
					found[key] = v
				}
			}
			key = ""
		}
		for _, k := range []string{"detail", "message", "Message", "error", "title"} {
			if v := strings.TrimSpace(found[k]); v != "" {
				return boundReason(v)
			}
		}
		return ""
	}
	// A secret taken out of the body (Redacted) is not markup.
	if strings.ContainsAny(strings.ReplaceAll(body, Redacted, ""), "{}[]<>") || strings.Count(body, " ") > 30 {
		return "" // markup or a dump, not a sentence
	}
	return boundReason(body)
}

func boundReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}

// Is maps the status to an error kind.
func (e *StatusError) Is(target error) bool {
	switch {
	case e.Status == 401 || e.Status == 403:
		return target == ErrUnauthorized
	case e.Status == 404:
		return target == ErrNotFound
	case e.Status == 429:
		return target == ErrRateLimited
	case e.Status >= 400:
		return target == ErrBadResponse
	}
	return false
}

// Describe turns an error from a backend into one short sentence a user can
// act on, naming the backend.
func Describe(name string, err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrUnauthorized):
		return fmt.Sprintf("token rejected by %s", name)
	case errors.Is(err, ErrUnreachable):
		var changed *CertChangedError
		if errors.As(err, &changed) {
			return fmt.Sprintf("%s: the certificate changed (SHA-256 %s, trusted %s): if you replaced it yourself, trust the new one with: playmark backend set %s --trust-cert %s", name, changed.Fingerprint, changed.Pinned, name, changed.Fingerprint)
		}
		if fp, ok := UntrustedCert(err); ok {
			return fmt.Sprintf("%s: the server's certificate is not trusted (SHA-256 %s); if it is your server's own certificate, trust it with: playmark backend set %s --trust-cert %s", name, fp, name, fp)
		}
		return fmt.Sprintf("%s is unreachable: %v", name, err)
	case errors.Is(err, ErrRateLimited):
		return fmt.Sprintf("%s is rate limiting us: %v", name, err)
	case errors.Is(err, ErrNotFound):
		return fmt.Sprintf("%s: not found: %v", name, err)
	case errors.Is(err, ErrBadResponse):
		return fmt.Sprintf("%s sent a bad response: %v", name, err)
	case errors.Is(err, context.Canceled):
		return fmt.Sprintf("%s: cancelled", name)
	}
	return fmt.Sprintf("%s: %v", name, err)
}
