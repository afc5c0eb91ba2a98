// Package accounts signs in to plex.tv, Jellyfin and Emby, lists what an
// account reaches (servers and their users), makes backends from an
// account without anyone pasting a token, and derives a backend's token
// again when its server rejects it.
//
// It sits between the clients (plextv, mediabrowser) and the store; the
// CLI and the window call it. Tokens never leave it in errors or logs.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/kinds"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/plextv"
	"playmark/sync/state"
)

// Errors callers classify with errors.Is.
var (
	// ErrNotLinked: the backend was not made from an account, so its
	// token cannot be derived again; the user must enter a new one.
	ErrNotLinked = errors.New("the backend was not made from an account")
	// ErrAccountRejected: the account's own sign-in was rejected (it
	// wraps backend.ErrUnauthorized too): only signing in again helps.
	ErrAccountRejected = errors.New("the account's sign-in was rejected")
)

// Manager does the account work over one store.
type Manager struct {
	Store *state.Store
	// ClientID is this install's stable id (X-Plex-Client-Identifier,
	// DeviceId).
	ClientID string
	// PlexTVURL is plex.tv's base URL; "" means plextv.URLFromEnv().
	PlexTVURL string
	// Transport tunes the HTTP requests (tests shorten timeouts).
	Transport backend.TransportOptions
	// PollInterval is how often a pending sign-in is polled; 0: a second.
	PollInterval time.Duration
}

func (m *Manager) plexTV(base string) (*plextv.Client, error) {
	if base == "" {
		base = m.PlexTVURL
	}
	if base == "" {
		base = plextv.URLFromEnv()
	}
	return plextv.New(plextv.Config{URL: base, ClientID: m.ClientID, Transport: backend.NewTransport(m.Transport)})
}

var nameClean = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// accountName is a free account name built from parts: "plex-anna",
// "jellyfin-ben"; a suffix when the name is taken by another sign-in.
func (m *Manager) accountName(ctx context.Context, kind, user string, same func(state.Account) bool) (string, bool, error) {
	base := strings.Trim(nameClean.ReplaceAllString(strings.ToLower(kind+"-"+user), "-"), "-._")
	if len(base) > 56 {
		base = base[:56]
	}
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name = base + "-" + strconv.Itoa(i)
		}
		a, err := m.Store.Account(ctx, name)
		if errors.Is(err, state.ErrNotFound) {
			return name, false, nil
		}
		if err != nil && !errors.Is(err, state.ErrTokenUnavailable) {
			return "", false, err
		}
		if same(a) {
			return name, true, nil
		}
	}
}

// save stores a new sign-in, or gives an account that is the same sign-in
// (same kind, URL and user) its new token.
func (m *Manager) save(ctx context.Context, a state.Account) (state.Account, error) {
	name, exists, err := m.accountName(ctx, a.Kind, a.UserName, func(o state.Account) bool {
		return o.Kind == a.Kind && o.URL == a.URL && o.UserID == a.UserID
	})
	if err != nil {
		return a, err
	}
	a.Name = name
	if exists {
		if err := m.Store.SetAccountToken(ctx, name, a.Token); err != nil {
			return a, err
		}
		return m.Store.Account(ctx, name)
	}
	return m.Store.AddAccount(ctx, a)
}

// --- Signing in ----------------------------------------------------------

// SignInPlex signs in to plex.tv with a PIN: show is given the link to
// open and the code, then SignInPlex polls until the PIN is approved
// (plextv.ErrPinExpired when it expires first) and saves the account.
func (m *Manager) SignInPlex(ctx context.Context, show func(link, code string)) (state.Account, error) {
	c, err := m.plexTV("")
	if err != nil {
		return state.Account{}, err
	}
	pin, err := c.NewPin(ctx)
	if err != nil {
		return state.Account{}, err
	}
	show(c.AuthURL(pin), pin.Code)
	tok, err := c.WaitPin(ctx, pin, m.PollInterval)
	if err != nil {
		return state.Account{}, err
	}
	acct, err := c.Account(ctx, tok)
	if err != nil {
		return state.Account{}, err
	}
	return m.save(ctx, state.Account{
		Kind: state.AccountPlexTV, URL: c.BaseURL(), UserID: strconv.FormatInt(acct.ID, 10),
		UserName: acct.Name(), Admin: true, Token: tok,
	})
}

func flavor(kind backend.Kind) (mediabrowser.Flavor, error) {
	if fl, ok := kinds.Flavor(kind); ok {
		return fl, nil
	}
	return mediabrowser.Flavor{}, fmt.Errorf("signing in by password is for jellyfin and emby, not %q", kind)
}

func (m *Manager) authenticator(kind backend.Kind, serverURL string) (*mediabrowser.Authenticator, error) {
	fl, err := flavor(kind)
	if err != nil {
		return nil, err
	}
	return mediabrowser.NewAuthenticator(backend.Config{Kind: kind, URL: serverURL, ClientID: m.ClientID, Transport: backend.NewTransport(m.Transport)}, fl)
}

func (m *Manager) saveSession(ctx context.Context, kind backend.Kind, serverURL string, s mediabrowser.Session) (state.Account, error) {
	return m.save(ctx, state.Account{
		Kind: string(kind), URL: strings.TrimRight(serverURL, "/"), UserID: s.UserID, UserName: s.UserName,
		ServerID: s.ServerID, Admin: s.Admin, Token: s.Token,
	})
}

// SignInPassword signs in to a Jellyfin or Emby server by user name and
// password and saves the account (the password is not kept).
func (m *Manager) SignInPassword(ctx context.Context, kind backend.Kind, serverURL, user, password string) (state.Account, error) {
	a, err := m.authenticator(kind, serverURL)
	if err != nil {
		return state.Account{}, err
	}
	s, err := a.SignIn(ctx, user, password)
	if err != nil {
		return state.Account{}, err
	}
	return m.saveSession(ctx, kind, serverURL, s)
}

// SignInQuickConnect signs in to a Jellyfin server by Quick Connect: show
// is given the six-digit code to approve from a signed-in Jellyfin app.
func (m *Manager) SignInQuickConnect(ctx context.Context, serverURL string, show func(code string)) (state.Account, error) {
	a, err := m.authenticator(backend.Jellyfin, serverURL)
	if err != nil {
		return state.Account{}, err
	}
	q, err := a.StartQuickConnect(ctx)
	if err != nil {
		return state.Account{}, err
	}
	show(q.Code)
	s, err := a.WaitQuickConnect(ctx, q, m.PollInterval)
	if err != nil {
		return state.Account{}, err
	}
	return m.saveSession(ctx, backend.Jellyfin, serverURL, s)
}

// --- What an account reaches ---------------------------------------------

// User is one person on a server an account reaches.
type User struct {
	ID        string // home users: plex.tv uuid; friends: plex.tv user id; Jellyfin/Emby: the server's user id
	Name      string
	Relation  string // state.RelationSelf, RelationHome, RelationFriend
	Admin     bool
	Guest     bool
	Protected bool // a Plex Home profile with a PIN
}

// Server is one server an account reaches.
type Server struct {
	Kind  backend.Kind
	ID    string // Plex machineIdentifier, Jellyfin/Emby server id
	Name  string
	URL   string // the address that answered as this server; "" when none did
	Err   error  // why no address answered (URL is "")
	Owned bool
	Users []User
	// UsersErr is why the users could not be listed (Users then holds the
	// account's own user only).
	UsersErr error
}

// Servers lists what account a reaches: for plex.tv every server with
// the address that answers, and its users (the account, the Plex Home,
// and on owned servers the friends); for Jellyfin or Emby the server and,
// for an admin, its users.
func (m *Manager) Servers(ctx context.Context, a state.Account) ([]Server, error) {
	if a.Kind == state.AccountPlexTV {
		return m.plexServers(ctx, a)
	}
	return m.mediaBrowserServers(ctx, a)
}

func accountErr(err error) error {
	if errors.Is(err, backend.ErrUnauthorized) {
		return fmt.Errorf("%w: %w", ErrAccountRejected, err)
	}
	return err
}

func (m *Manager) plexServers(ctx context.Context, a state.Account) ([]Server, error) {
	c, err := m.plexTV(a.URL)
	if err != nil {
		return nil, err
	}
	rs, err := c.Servers(ctx, a.Token)
	if err != nil {
		return nil, accountErr(err)
	}
	home, herr := c.HomeUsers(ctx, a.Token)
	var out []Server
	for _, r := range rs {
		s := Server{Kind: backend.Plex, ID: r.ClientIdentifier, Name: r.Name, Owned: r.Owned}
		s.URL, s.Err = c.Connect(ctx, r)
		s.Users = []User{{ID: a.UserID, Name: a.UserName, Relation: state.RelationSelf, Admin: r.Owned}}
		if herr != nil {
			s.UsersErr = herr
		}
		for _, u := range home {
			if strconv.FormatInt(u.ID, 10) == a.UserID || u.Admin && r.Owned && u.Name() == a.UserName {
				continue // the account itself
			}
			// Home users are switched to by uuid.
			s.Users = append(s.Users, User{ID: u.UUID, Name: u.Name(), Relation: state.RelationHome, Admin: u.Admin, Guest: u.Guest, Protected: u.Protected})
		}
		if r.Owned {
			friends, err := c.SharedServers(ctx, a.Token, r.ClientIdentifier)
			if err != nil {
				s.UsersErr = errors.Join(s.UsersErr, err)
			}
			for _, f := range friends {
				s.Users = append(s.Users, User{ID: strconv.FormatInt(f.UserID, 10), Name: f.Username, Relation: state.RelationFriend})
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *Manager) mbClient(a state.Account, userID string) (backend.Backend, error) {
	cfg := backend.Config{Kind: backend.Kind(a.Kind), URL: a.URL, Token: a.Token, UserID: userID, ClientID: m.ClientID, Transport: backend.NewTransport(m.Transport)}
	return kinds.Open(cfg)
}

func (m *Manager) mediaBrowserServers(ctx context.Context, a state.Account) ([]Server, error) {
	c, err := m.mbClient(a, a.UserID)
	if err != nil {
		return nil, err
	}
	info, err := c.Identify(ctx)
	s := Server{Kind: backend.Kind(a.Kind), ID: a.ServerID, Name: a.URL, URL: a.URL, Owned: a.Admin}
	if err != nil {
		if errors.Is(err, backend.ErrUnauthorized) {
			return nil, accountErr(err)
		}
		s.URL, s.Err = "", err
	} else {
		s.ID, s.Name = info.ServerID, info.Name
	}
	s.Users = []User{{ID: a.UserID, Name: a.UserName, Relation: state.RelationSelf, Admin: a.Admin}}
	if a.Admin && err == nil {
		us, uerr := c.Users(ctx)
		if uerr != nil {
			s.UsersErr = uerr
		}
		for _, u := range us {
			if u.ID != a.UserID {
				// An admin's token acts for any user: the token is the account's own.
				s.Users = append(s.Users, User{ID: u.ID, Name: u.Name, Relation: state.RelationSelf, Admin: u.Admin})
			}
		}
	}
	return []Server{s}, nil
}

// FindServer picks the server named or with id sel among what a reaches
// ("" when a reaches exactly one).
func FindServer(servers []Server, sel string) (Server, error) {
	var names []string
	for _, s := range servers {
		if sel == "" && len(servers) == 1 || strings.EqualFold(s.Name, sel) || s.ID == sel {
			return s, nil
		}
		names = append(names, s.Name)
	}
	if sel == "" {
		return Server{}, fmt.Errorf("the account reaches %d servers; name one of: %s", len(servers), strings.Join(names, ", "))
	}
	return Server{}, fmt.Errorf("the account reaches no server %q (it reaches: %s)", sel, strings.Join(names, ", "))
}

// FindUser picks the user named or with id sel on s ("": the account's own).
func FindUser(s Server, sel string) (User, error) {
	var names []string
	for _, u := range s.Users {
		if sel == "" && u.Relation == state.RelationSelf || strings.EqualFold(u.Name, sel) || u.ID == sel {
			return u, nil
		}
		names = append(names, u.Name)
	}
	return User{}, fmt.Errorf("server %s has no user %q (it has: %s)", s.Name, sel, strings.Join(names, ", "))
}

// --- Tokens ---------------------------------------------------------------

// Derive is the token user u (of relation rel, plex.tv user id remote, PIN
// pin) uses on server serverID, from account a.
func (m *Manager) Derive(ctx context.Context, a state.Account, serverID, rel, remote, pin string) (string, error) {
	if a.Kind != state.AccountPlexTV {
		return a.Token, nil // a Jellyfin/Emby user token (an admin's acts for any user)
	}
	c, err := m.plexTV(a.URL)
	if err != nil {
		return "", err
	}
	switch rel {
	case state.RelationSelf:
		tok, err := c.ServerToken(ctx, a.Token, serverID)
		return tok, accountErr(err)
	case state.RelationHome:
		userTok, err := c.Switch(ctx, a.Token, remote, pin)
		if err != nil {
			if errors.Is(err, backend.ErrUnauthorized) {
				// plex.tv refuses the switch: the account, or the PIN.
				if _, aerr := c.Account(ctx, a.Token); errors.Is(aerr, backend.ErrUnauthorized) {
					return "", accountErr(aerr)
				}
				return "", fmt.Errorf("plex.tv refused to switch to that home user (wrong or missing PIN?): %w", err)
			}
			return "", err
		}
		return c.ServerToken(ctx, userTok, serverID)
	case state.RelationFriend:
		friends, err := c.SharedServers(ctx, a.Token, serverID)
		if err != nil {
			return "", accountErr(err)
		}
		for _, f := range friends {
			if strconv.FormatInt(f.UserID, 10) == remote {
				if f.AccessToken == "" {
					break
				}
				return f.AccessToken, nil
			}
		}
		return "", fmt.Errorf("the server is no longer shared with that friend: %w", backend.ErrNotFound)
	}
	return "", fmt.Errorf("unknown account relation %q", rel)
}

// NewBackend is a backend made from an account, ready to be saved with
// SaveBackend: the server's address and the user's token.
func (m *Manager) NewBackend(ctx context.Context, a state.Account, s Server, u User, pin string) (state.Backend, state.AccountLink, error) {
	if s.URL == "" {
		return state.Backend{}, state.AccountLink{}, fmt.Errorf("no address of %s answered: %w", s.Name, s.Err)
	}
	if u.Protected && pin == "" {
		return state.Backend{}, state.AccountLink{}, fmt.Errorf("%s's profile has a PIN: give it (--pin)", u.Name)
	}
	tok, err := m.Derive(ctx, a, s.ID, u.Relation, u.ID, pin)
	if err != nil {
		return state.Backend{}, state.AccountLink{}, err
	}
	b := state.Backend{Kind: s.Kind, URL: s.URL, Token: tok, ServerID: s.ID, ServerName: s.Name, UserName: u.Name, Import: state.ImportFull}
	if !s.Kind.TokenIsUser() {
		b.UserID = u.ID
	}
	l := state.AccountLink{AccountID: a.ID, ServerID: s.ID, Relation: u.Relation, RemoteUser: u.ID, PIN: pin}
	if !s.Kind.TokenIsUser() || u.Relation == state.RelationSelf {
		l.RemoteUser, l.PIN = "", ""
	}
	return b, l, nil
}

// SaveBackend saves b (made by NewBackend) and its link to the account.
func (m *Manager) SaveBackend(ctx context.Context, b state.Backend, l state.AccountLink) (state.Backend, error) {
	b, err := m.Store.AddBackend(ctx, b)
	if err != nil {
		return b, err
	}
	l.BackendID = b.ID
	if err := m.Store.LinkBackendAccount(ctx, l); err != nil {
		_ = m.Store.RemoveBackend(ctx, b.Name)
		return b, err
	}
	return b, nil
}

// Renew derives backend b's token again from its account, after its
// server rejected it, and saves it: silently, with no one asked. It fails
// with ErrNotLinked for a backend not made from an account, with
// ErrAccountRejected when the account itself was rejected (sign in
// again), and with backend.ErrUnauthorized when the account gives the
// very token the server rejects.
func (m *Manager) Renew(ctx context.Context, b state.Backend) (state.Backend, error) {
	l, err := m.Store.BackendLink(ctx, b.ID)
	if errors.Is(err, state.ErrNotFound) {
		return b, fmt.Errorf("backend %s: %w", b.Name, ErrNotLinked)
	}
	if err != nil {
		return b, err
	}
	a, err := m.Store.AccountByID(ctx, l.AccountID)
	if err != nil {
		return b, err
	}
	tok, err := m.Derive(ctx, a, l.ServerID, l.Relation, l.RemoteUser, l.PIN)
	if err != nil {
		if errors.Is(err, ErrAccountRejected) {
			return b, fmt.Errorf("backend %s: account %s: %w; sign in again", b.Name, a.Name, err)
		}
		return b, fmt.Errorf("backend %s: deriving its token from account %s: %w", b.Name, a.Name, err)
	}
	if tok == b.Token {
		if a.Kind != state.AccountPlexTV {
			return b, fmt.Errorf("backend %s: account %s: %w: %w; sign in again", b.Name, a.Name, ErrAccountRejected, backend.ErrUnauthorized)
		}
		return b, fmt.Errorf("backend %s: plex.tv gives the token the server rejects: %w", b.Name, backend.ErrUnauthorized)
	}
	b.Token = tok
	if err := m.Store.UpdateBackend(ctx, b); err != nil {
		return b, err
	}
	return b, nil
}

// --- Households -------------------------------------------------------------

// DefaultSelection is the users a household takes when none are named:
// everyone but guests.
func DefaultSelection(users []User) []User {
	var out []User
	for _, u := range users {
		if !u.Guest {
			out = append(out, u)
		}
	}
	return out
}

// backendName is the name of user u's backend on server s:
// "<server>-<user>", lower case, spaces as dashes, only letters, digits,
// '.', '_' and '-' (a backend name's characters), at most 60 long (room
// for a number when the name is taken).
func backendName(s Server, u User) string {
	clean := func(x string) string {
		var b strings.Builder
		for _, r := range strings.Join(strings.Fields(strings.ToLower(x)), "-") {
			if r < 128 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				b.WriteRune(r)
			}
		}
		return strings.Trim(b.String(), "._-")
	}
	server := clean(s.Name)
	if server == "" {
		server = string(s.Kind)
	}
	user := clean(u.Name)
	if user == "" {
		user = clean(u.ID)
	}
	name := server + "-" + user
	if len(name) > 60 {
		name = strings.TrimRight(name[:60], "._-")
	}
	return name
}

// AddHousehold makes one backend for each of users on server s, from
// account a, and links each to a person by user name (case and spaces
// ignored: "Anna" on Plex and "anna" on Jellyfin are one person), adding
// people as needed. pins holds protected home users' PINs, by user id or
// name. Backends are named "<server>-<user>" (with a number added when
// another backend has the name); a user who has a backend on that server
// already keeps it, so that adding a household again adds only who is
// new. It returns the backends, saved, with PersonID and Person set; the
// users that could not be added (no PIN, a server no longer shared) are
// the error, the others are saved all the same.
func (m *Manager) AddHousehold(ctx context.Context, a state.Account, s Server, users []User, pins map[string]string) ([]state.Backend, error) {
	existing, err := m.Store.Backends(ctx)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, b := range existing {
		taken[b.Name] = true
	}
	var out []state.Backend
	var errs []error
	for _, u := range users {
		if i := slices.IndexFunc(existing, func(b state.Backend) bool {
			return b.ServerID == s.ID && s.ID != "" && state.NameKey(b.UserName) == state.NameKey(u.Name)
		}); i >= 0 {
			out = append(out, existing[i])
			continue
		}
		pin := pins[u.ID]
		if pin == "" {
			pin = pins[u.Name]
		}
		b, l, err := m.NewBackend(ctx, a, s, u, pin)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.Name, err))
			continue
		}
		p, err := m.Store.EnsurePerson(ctx, u.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.Name, err))
			continue
		}
		b.PersonID = p.ID
		base := backendName(s, u)
		b.Name = base
		for n := 2; taken[b.Name]; n++ {
			b.Name = fmt.Sprintf("%s-%d", base, n)
		}
		saved, err := m.SaveBackend(ctx, b, l)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.Name, err))
			continue
		}
		taken[saved.Name] = true
		out = append(out, saved)
	}
	return out, errors.Join(errs...)
}
