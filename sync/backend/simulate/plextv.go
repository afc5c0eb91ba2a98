package simulate

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"

	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PlexTV is a simulated plex.tv over real HTTP: the account service a
// "Sign in with Plex" speaks to (../shared/docs/API-NOTES.md §8). It serves
//
//   - POST /api/v2/pins[?strong=true] (needs X-Plex-Client-Identifier) and
//     GET /api/v2/pins/{id} (the same client only; 404 once expired), with
//     authToken null until the PIN is approved: by Approve, by
//     POST /simulate/approve?code=, or by itself after AutoApprove;
//   - GET /api/v2/user: the token's account;
//   - GET /api/v2/resources: the servers added with AddServer, each with
//     the token's user's accessToken on it and its connections;
//   - GET /api/v2/home/users and POST /api/v2/home/users/{uuid}/switch[?pin=]
//     (201; a protected profile without its PIN, or a wrong one, is 403);
//   - GET /api/servers/{machineId}/shared_servers: the friends, in XML
//     (owner only);
//   - GET /auth: a page standing in for app.plex.tv's sign-in page.
//
// Errors are plex.tv's JSON {"errors":[{code,message,status}]}. Home users
// and friends are accounts on every simulated Plex server added, each with
// a server token of their own (as PMS gets them from plex.tv), so each has
// their own play state there. Revoke replaces a user's server token: the
// old one is then rejected by the server, and resources gives the new one.
type PlexTV struct {
	opt      PlexTVOptions
	faults   *Faults
	requests atomic.Int64
	ln       net.Listener
	srv      *http.Server
	url      string

	mu      sync.Mutex
	nextID  int64
	pins    map[int64]*tvPin
	owner   *tvUser
	users   []*tvUser // the home, owner first
	friends []*tvUser
	servers []*tvServer
}

// PlexTVOptions configures a simulated plex.tv.
type PlexTVOptions struct {
	// Listen is the address to listen on; "" means 127.0.0.1:0.
	Listen string
	// AutoApprove approves a PIN by itself this long after it was made;
	// 0 leaves it to Approve.
	AutoApprove time.Duration
	// PinTTL is how long a PIN lives; 0 means 15 minutes, as plex.tv.
	PinTTL time.Duration
	// Owner is the account's name; "" means "owner".
	Owner string
}

// TVConnection is one address a server is announced at.
type TVConnection struct {
	URI   string
	Local bool
	Relay bool
}

type tvPin struct {
	id       int64
	code     string
	clientID string
	created  time.Time
	expires  time.Time
	token    string // set once approved
}

type tvUser struct {
	id         int64
	uuid       string
	name       string
	email      string
	token      string // plex.tv token
	pin        string // home users with a PIN
	admin      bool
	guest      bool
	restricted bool
	home       bool
	friend     bool
}

type tvServer struct {
	plex    *PlexServer
	conns   []TVConnection
	created time.Time
	// accounts: plex.tv user id -> server account id
	accounts map[int64]int
}

// NewPlexTV starts a simulated plex.tv with one account (the owner, the
// home's admin) and no servers.
func NewPlexTV(opt PlexTVOptions) (*PlexTV, error) {
	if opt.PinTTL <= 0 {
		opt.PinTTL = 15 * time.Minute
	}
	if opt.Owner == "" {
		opt.Owner = "owner"
	}
	t := &PlexTV{opt: opt, faults: &Faults{}, pins: map[int64]*tvPin{}, nextID: 1000}
	t.owner = t.newUserLocked(opt.Owner)
	t.owner.admin, t.owner.home = true, true
	t.users = []*tvUser{t.owner}
	addr := opt.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulated plex.tv: %w", err)
	}
	t.ln = ln
	t.url = "http://" + ln.Addr().String()
	t.srv = &http.Server{Handler: t.count(t.faults.Wrap(http.HandlerFunc(t.serve))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

func tvRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (t *PlexTV) newUserLocked(name string) *tvUser {
	t.nextID++
	return &tvUser{
		id: t.nextID, uuid: tvRandom(8), name: name,
		email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.invalid",
		token: "tv-" + tvRandom(10),
	}
}

// URL is the base URL (PLAYMARK_PLEXTV_URL points the app here).
func (t *PlexTV) URL() string { return t.url }

// OwnerToken is the owner's plex.tv token (what an approved PIN gives).
func (t *PlexTV) OwnerToken() string { return t.owner.token }

// Faults is the fault injector in front of the API.
func (t *PlexTV) Faults() *Faults { return t.faults }

// Requests is the number of requests served.
func (t *PlexTV) Requests() int64 { return t.requests.Load() }

// Close stops plex.tv (not the servers).
func (t *PlexTV) Close() { _ = t.srv.Close() }

// AddServer announces s as one of the owner's servers, at conns (none:
// s.URL() as a local connection). The owner's token on it is s.Token();
// every home user and friend already known gets an account on it.
func (t *PlexTV) AddServer(s *PlexServer, conns ...TVConnection) error {
	if len(conns) == 0 {
		conns = []TVConnection{{URI: s.URL(), Local: true}}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	srv := &tvServer{plex: s, conns: conns, created: time.Now().UTC(), accounts: map[int64]int{t.owner.id: 1}}
	t.servers = append(t.servers, srv)
	for _, u := range append(t.users[1:], t.friends...) {
		if err := t.joinLocked(srv, u); err != nil {
			return err
		}
	}
	return nil
}

func (t *PlexTV) joinLocked(srv *tvServer, u *tvUser) error {
	id, err := srv.plex.AddAccount(u.name, "srv-"+tvRandom(10))
	if err != nil {
		return err
	}
	srv.accounts[u.id] = id
	return nil
}

// AddHomeUser adds a member to the owner's Plex Home (managed: a
// restricted profile without an own plex.tv login; pin, when set,
// protects the profile) with an account on every server. It returns the
// plex.tv user id.
func (t *PlexTV) AddHomeUser(name, pin string, managed bool) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.newUserLocked(name)
	u.home, u.pin, u.restricted = true, pin, managed
	for _, srv := range t.servers {
		if err := t.joinLocked(srv, u); err != nil {
			return 0, err
		}
	}
	t.users = append(t.users, u)
	return u.id, nil
}

// AddGuest adds the Plex Home's guest profile (listed with guest: true).
func (t *PlexTV) AddGuest() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.newUserLocked("Guest")
	u.home, u.guest, u.restricted = true, true, true
	t.users = append(t.users, u)
	return u.id
}

// AddFriend adds a friend every server is shared with, with an account on
// each. It returns the plex.tv user id.
func (t *PlexTV) AddFriend(name string) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.newUserLocked(name)
	u.friend = true
	for _, srv := range t.servers {
		if err := t.joinLocked(srv, u); err != nil {
			return 0, err
		}
	}
	t.friends = append(t.friends, u)
	return u.id, nil
}

func (t *PlexTV) userByName(name string) *tvUser {
	for _, u := range append(t.users, t.friends...) {
		if strings.EqualFold(u.name, name) {
			return u
		}
	}
	return nil
}

func (t *PlexTV) serverByID(machineID string) *tvServer {
	for _, s := range t.servers {
		if s.plex.ServerID() == machineID {
			return s
		}
	}
	return nil
}

// ServerAccount is the id of user name's account on server s (for
// AccountWatch and SetAccountWatch); false when there is none.
func (t *PlexTV) ServerAccount(s *PlexServer, name string) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.userByName(name)
	srv := t.serverByID(s.ServerID())
	if u == nil || srv == nil {
		return 0, false
	}
	id, ok := srv.accounts[u.id]
	return id, ok
}

// Revoke gives user name a new token on server s: the old one is
// rejected from now on, and resources (or shared_servers) give the new.
func (t *PlexTV) Revoke(s *PlexServer, name string) error {
	id, ok := t.ServerAccount(s, name)
	if !ok {
		return fmt.Errorf("simulated plex.tv: %s has no account on %s", name, s.ServerID())
	}
	s.SetAccountToken(id, "srv-"+tvRandom(10))
	return nil
}

// Approve approves the PIN with code as the owner; false when there is
// no such live PIN.
func (t *PlexTV) Approve(code string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pins {
		if p.code == code && time.Now().Before(p.expires) {
			p.token = t.owner.token
			return true
		}
	}
	return false
}

func (t *PlexTV) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.requests.Add(1)
		h.ServeHTTP(w, r)
	})
}

// tvError writes plex.tv's JSON error.
func tvError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": code, "message": msg, "status": status}}})
}

func tvJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (t *PlexTV) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	method := func(m string) bool {
		if r.Method != m {
			tvError(w, http.StatusMethodNotAllowed, 1000, "Method not allowed")
			return false
		}
		return true
	}
	switch {
	case p == "/auth":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body><h1>Simulated plex.tv</h1><p>This stands in for app.plex.tv's sign-in page. ")
		if t.opt.AutoApprove > 0 {
			fmt.Fprintf(w, "The code is approved by itself %s after it was made.", t.opt.AutoApprove)
		} else {
			fmt.Fprint(w, "Approve a code with POST /simulate/approve?code=CODE.")
		}
		fmt.Fprint(w, "</p></body></html>")
		return
	case p == "/simulate/approve":
		if method(http.MethodPost) {
			if !t.Approve(r.URL.Query().Get("code")) {
				tvError(w, http.StatusNotFound, 1020, "Code not found or expired")
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
		return
	case p == "/api/v2/pins":
		if method(http.MethodPost) {
			t.newPin(w, r)
		}
		return
	case strings.HasPrefix(p, "/api/v2/pins/"):
		if method(http.MethodGet) {
			t.getPin(w, r, strings.TrimPrefix(p, "/api/v2/pins/"))
		}
		return
	}
	me := t.caller(r)
	if me == nil {
		tvError(w, http.StatusUnauthorized, 1001, "User could not be authenticated")
		return
	}
	switch {
	case p == "/api/v2/user":
		if method(http.MethodGet) {
			tvJSON(w, http.StatusOK, t.userOut(me, false))
		}
	case p == "/api/v2/resources":
		if method(http.MethodGet) {
			t.resources(w, me)
		}
	case p == "/api/v2/home/users":
		if method(http.MethodGet) {
			t.homeUsers(w, me)
		}
	case strings.HasPrefix(p, "/api/v2/home/users/") && strings.HasSuffix(p, "/switch"):
		if method(http.MethodPost) {
			t.switchUser(w, r, me, strings.TrimSuffix(strings.TrimPrefix(p, "/api/v2/home/users/"), "/switch"))
		}
	case strings.HasPrefix(p, "/api/servers/") && strings.HasSuffix(p, "/shared_servers"):
		if method(http.MethodGet) {
			t.sharedServers(w, me, strings.TrimSuffix(strings.TrimPrefix(p, "/api/servers/"), "/shared_servers"))
		}
	default:
		tvError(w, http.StatusNotFound, 1002, "Not found")
	}
}

func (t *PlexTV) caller(r *http.Request) *tvUser {
	tok := plexParam(r, "X-Plex-Token")
	if tok == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range append(t.users, t.friends...) {
		if u.token == tok {
			return u
		}
	}
	return nil
}

func (t *PlexTV) pinOut(p *tvPin) map[string]any {
	var tok any
	if p.token != "" {
		tok = p.token
	}
	return map[string]any{
		"id": p.id, "code": p.code, "product": "0", "trusted": false, "qr": "https://plex.tv/api/v2/pins/qr/" + p.code,
		"clientIdentifier": p.clientID, "location": map[string]any{"code": "XX", "country": "Simulated"},
		"expiresIn": max(0, int(time.Until(p.expires).Seconds())), "createdAt": p.created.Format(time.RFC3339),
		"expiresAt": p.expires.Format(time.RFC3339), "authToken": tok, "newRegistration": nil,
	}
}

func (t *PlexTV) newPin(w http.ResponseWriter, r *http.Request) {
	client := plexParam(r, "X-Plex-Client-Identifier")
	if client == "" {
		tvError(w, http.StatusBadRequest, 1000, "X-Plex-Client-Identifier is missing")
		return
	}
	if plexParam(r, "X-Plex-Product") == "" {
		tvError(w, http.StatusBadRequest, 1000, "X-Plex-Product is missing")
		return
	}
	code := strings.ToUpper(tvRandom(2))
	if r.URL.Query().Get("strong") == "true" {
		code = tvRandom(12) // a long code for a link, as plex.tv's strong PINs
	}
	now := time.Now().UTC().Truncate(time.Second)
	t.mu.Lock()
	t.nextID++
	p := &tvPin{id: t.nextID * 7919, code: code, clientID: client, created: now, expires: now.Add(t.opt.PinTTL)}
	t.pins[p.id] = p
	out := t.pinOut(p)
	t.mu.Unlock()
	if d := t.opt.AutoApprove; d > 0 {
		time.AfterFunc(d, func() { t.Approve(code) })
	}
	tvJSON(w, http.StatusCreated, out)
}

func (t *PlexTV) getPin(w http.ResponseWriter, r *http.Request, idText string) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pins[id]
	if p == nil || p.clientID != plexParam(r, "X-Plex-Client-Identifier") || !time.Now().Before(p.expires) {
		tvErrorLocked(w, http.StatusNotFound, 1020, "Code not found or expired")
		return
	}
	tvJSON(w, http.StatusOK, t.pinOut(p))
}

// tvErrorLocked is tvError (it takes no lock; the name says it is safe
// under t.mu).
func tvErrorLocked(w http.ResponseWriter, status, code int, msg string) {
	tvError(w, status, code, msg)
}

func (t *PlexTV) userOut(u *tvUser, withToken bool) map[string]any {
	out := map[string]any{
		"id": u.id, "uuid": u.uuid, "username": u.name, "title": u.name, "email": u.email,
		"thumb": "https://plex.tv/users/" + u.uuid + "/avatar", "home": u.home, "guest": u.guest,
		"restricted": u.restricted, "protected": u.pin != "", "admin": u.admin, "homeAdmin": u.admin,
		"hasPassword": !u.restricted,
	}
	if withToken {
		out["authToken"] = u.token
	}
	return out
}

func (t *PlexTV) resources(w http.ResponseWriter, me *tvUser) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []map[string]any{{
		// A player: clients must keep only what provides "server".
		"name": "Living room TV", "product": "Plex for Android (TV)", "productVersion": "10.0",
		"clientIdentifier": "player-" + strconv.FormatInt(me.id, 10), "provides": "client,player,pubsub-player",
		"accessToken": nil, "owned": true, "connections": []any{},
	}}
	for _, s := range t.servers {
		acc, ok := s.accounts[me.id]
		if !ok || (me.friend && acc == 0) {
			continue
		}
		var conns []map[string]any
		for _, c := range s.conns {
			host, port := c.URI, 0
			if i := strings.LastIndex(c.URI, ":"); i > 0 {
				port, _ = strconv.Atoi(c.URI[i+1:])
				host = strings.TrimPrefix(strings.TrimPrefix(c.URI[:i], "http://"), "https://")
			}
			proto := "http"
			if strings.HasPrefix(c.URI, "https:") {
				proto = "https"
			}
			conns = append(conns, map[string]any{"protocol": proto, "address": host, "port": port, "uri": c.URI, "local": c.Local, "relay": c.Relay, "IPv6": false})
		}
		out = append(out, map[string]any{
			"name": s.plex.name, "product": "Plex Media Server", "productVersion": plexVersion, "platform": "Linux",
			"device": "PC", "clientIdentifier": s.plex.ServerID(), "createdAt": s.created.Format(time.RFC3339),
			"provides": "server", "ownerId": nil, "sourceTitle": nil, "publicAddress": "203.0.113.7",
			"accessToken": s.plex.AccountToken(acc), "owned": me.admin, "home": me.home && !me.admin, "synced": false,
			"relay": true, "presence": true, "httpsRequired": false, "connections": conns,
		})
	}
	tvJSON(w, http.StatusOK, out)
}

func (t *PlexTV) homeUsers(w http.ResponseWriter, me *tvUser) {
	if !me.home {
		tvError(w, http.StatusNotFound, 1002, "Not found") // not in a home
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	users := make([]map[string]any, 0, len(t.users))
	for _, u := range t.users {
		users = append(users, t.userOut(u, false))
	}
	tvJSON(w, http.StatusOK, map[string]any{
		"id": 77, "name": t.owner.name + "'s home", "guestUserID": nil, "guestEnabled": false, "subscription": true, "users": users,
	})
}

func (t *PlexTV) switchUser(w http.ResponseWriter, r *http.Request, me *tvUser, idText string) {
	if !me.home {
		tvError(w, http.StatusForbidden, 1003, "Not a member of this home")
		return
	}
	// The v2 route names the user by uuid (the numeric id is the legacy
	// /api/home/users/{id}/switch's): a numeric id finds no one.
	t.mu.Lock()
	var target *tvUser
	for _, u := range t.users {
		if u.uuid == idText {
			target = u
		}
	}
	t.mu.Unlock()
	switch {
	case target == nil:
		tvError(w, http.StatusNotFound, 1002, "User not found")
	case target.pin != "" && r.URL.Query().Get("pin") != target.pin:
		tvError(w, http.StatusForbidden, 1041, "Invalid PIN")
	case target.guest:
		tvError(w, http.StatusForbidden, 1003, "The guest profile cannot be switched to here")
	default:
		tvJSON(w, http.StatusCreated, t.userOut(target, true))
	}
}

type tvSharedServers struct {
	XMLName           xml.Name         `xml:"MediaContainer"`
	FriendlyName      string           `xml:"friendlyName,attr"`
	Identifier        string           `xml:"identifier,attr"`
	MachineIdentifier string           `xml:"machineIdentifier,attr"`
	Size              int              `xml:"size,attr"`
	SharedServer      []tvSharedServer `xml:"SharedServer"`
}

type tvSharedServer struct {
	ID                int64  `xml:"id,attr"`
	Username          string `xml:"username,attr"`
	Email             string `xml:"email,attr"`
	UserID            int64  `xml:"userID,attr"`
	AccessToken       string `xml:"accessToken,attr"`
	Name              string `xml:"name,attr"`
	AcceptedAt        int64  `xml:"acceptedAt,attr"`
	InvitedAt         int64  `xml:"invitedAt,attr"`
	AllowSync         string `xml:"allowSync,attr"`
	Owned             string `xml:"owned,attr"`
	AllLibraries      string `xml:"allLibraries,attr"`
	NumLibraries      int    `xml:"numLibraries,attr"`
	MachineIdentifier string `xml:"machineIdentifier,attr"`
}

func (t *PlexTV) sharedServers(w http.ResponseWriter, me *tvUser, machineID string) {
	if !me.admin {
		tvError(w, http.StatusUnauthorized, 1001, "User could not be authenticated")
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.serverByID(machineID)
	if s == nil {
		tvError(w, http.StatusNotFound, 1002, "Server not found")
		return
	}
	out := tvSharedServers{FriendlyName: "myPlex", Identifier: "com.plexapp.plugins.myplex", MachineIdentifier: machineID}
	for i, f := range t.friends {
		acc, ok := s.accounts[f.id]
		if !ok {
			continue
		}
		out.SharedServer = append(out.SharedServer, tvSharedServer{
			ID: int64(9000 + i), Username: f.name, Email: f.email, UserID: f.id, AccessToken: s.plex.AccountToken(acc),
			Name: s.plex.name, AcceptedAt: s.created.Unix(), InvitedAt: s.created.Unix(), AllowSync: "1", Owned: "1",
			AllLibraries: "1", NumLibraries: 2, MachineIdentifier: machineID,
		})
	}
	out.Size = len(out.SharedServer)
	b, _ := xml.Marshal(out)
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// RevokeAccount signs the owner out everywhere: the owner's plex.tv token
// is rejected from now on (servers keep their own tokens).
func (t *PlexTV) RevokeAccount() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.owner.token = "tv-" + tvRandom(10)
}
