package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"

	"strings"
	"sync"
	"time"

	"playmark/sync/backend"
)

// Signing in to the simulated Jellyfin and Emby (../shared/docs/API-NOTES.md §8):
//
//   - POST /Users/AuthenticateByName {"Username","Pw"} with the client's
//     identity in the Authorization (Jellyfin) or X-Emby-Authorization
//     (Emby) header: Client, Device, DeviceId, Version. A missing identity
//     is 400, a wrong name or password 401. The answer is an
//     AuthenticationResult {User, SessionInfo, AccessToken, ServerId};
//     the token is a user token, one per user and device: signing in again
//     from the same DeviceId replaces the device's previous token, as the
//     servers do.
//   - Jellyfin only: GET /QuickConnect/Enabled, POST /QuickConnect/Initiate
//     (Secret and a six-digit Code, for ten minutes), GET
//     /QuickConnect/Connect?secret= (Authenticated once approved),
//     POST /QuickConnect/Authorize?code=[&userId=] (a signed-in user
//     approves, the real route), POST /Users/AuthenticateWithQuickConnect
//     {"Secret"}. ApproveQuickConnect and SetQuickConnect are the test
//     controls. Emby has none of these (404).
//
// Passwords are per user (SetPassword; a user without one has the empty
// password, as on a fresh server).

// mbAuth is the sign-in state of a simulated Jellyfin or Emby.
type mbAuth struct {
	mu        sync.Mutex
	passwords map[string]string          // user id -> password
	sessions  map[string]*mbUser         // access token -> user
	devices   map[[2]string]string       // (user id, device id) -> its token
	qc        map[string]*mbQuickConnect // secret -> request
	qcOff     bool                       // Quick Connect disabled
	qcAuto    time.Duration              // approve by itself after this long; 0: never
	qcAutoFor string                     // the user name auto-approval signs in
}

type mbQuickConnect struct {
	secret, code       string
	device, deviceName string
	app, appVersion    string
	created            time.Time
	user               *mbUser // set once approved
	used               bool
}

// mbIdentity is the client identity of a sign-in request, or ok false.
func (s *MediaBrowserServer) mbIdentity(r *http.Request) (map[string]string, bool) {
	headers := []string{"Authorization"}
	if s.fl.legacyAuth || s.fl.kind == backend.Emby {
		headers = append(headers, "X-Emby-Authorization")
	}
	for _, h := range headers {
		scheme, params := mbParseAuth(r.Header.Get(h))
		if !strings.EqualFold(scheme, "MediaBrowser") && !strings.EqualFold(scheme, "Emby") {
			continue
		}
		if params["client"] != "" && params["deviceid"] != "" && params["device"] != "" && params["version"] != "" {
			return params, true
		}
	}
	return nil, false
}

// SetPassword sets user name's password; false when there is no such user.
func (s *MediaBrowserServer) SetPassword(name, password string) bool {
	s.mu.RLock()
	u := s.userByName(name)
	s.mu.RUnlock()
	if u == nil {
		return false
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.passwords == nil {
		s.auth.passwords = map[string]string{}
	}
	s.auth.passwords[u.id] = password
	return true
}

// AddUser adds a user with its own (empty) play state and password.
func (s *MediaBrowserServer) AddUser(name, password string, admin bool) (id string) {
	s.mu.Lock()
	u := &mbUser{id: mbRandomHex(), name: name, admin: admin, token: mbRandomHex(), data: make([]mbUserData, len(s.nodes))}
	s.users = append(s.users, u)
	s.mu.Unlock()
	s.SetPassword(name, password)
	return u.id
}

// UserByName is the id of the user called name ("" when none).
func (s *MediaBrowserServer) UserByName(name string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.userByName(name); u != nil {
		return u.id
	}
	return ""
}

func (s *MediaBrowserServer) userByName(name string) *mbUser {
	for _, u := range s.users {
		if strings.EqualFold(u.name, name) {
			return u
		}
	}
	return nil
}

// SetQuickConnect turns Quick Connect on or off (it is on by default on
// the simulated Jellyfin) and, with autoApprove > 0, has every request
// approved as user name that long after it was made.
func (s *MediaBrowserServer) SetQuickConnect(on bool, autoApprove time.Duration, name string) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.qcOff, s.auth.qcAuto, s.auth.qcAutoFor = !on, autoApprove, name
}

// ApproveQuickConnect approves the pending request with code as user
// name, as that user would on another device; false when there is none.
func (s *MediaBrowserServer) ApproveQuickConnect(code, name string) bool {
	s.mu.RLock()
	u := s.userByName(name)
	s.mu.RUnlock()
	if u == nil {
		return false
	}
	return s.approveQC(code, u)
}

func (s *MediaBrowserServer) approveQC(code string, u *mbUser) bool {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, q := range s.auth.qc {
		if q.code == code && !q.used && time.Since(q.created) < 10*time.Minute {
			q.user = u
			return true
		}
	}
	return false
}

// authUser is the user a sign-in token belongs to (nil when none).
func (s *MediaBrowserServer) authUser(tok string) *mbUser {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return s.auth.sessions[tok]
}

// RevokeSessions forgets every token made by a sign-in (not the users'
// built-in tokens), as an admin signing out every device does.
func (s *MediaBrowserServer) RevokeSessions() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.sessions, s.auth.devices = nil, nil
}

// newSession makes user u's token for the device in id, replacing the
// device's previous one.
func (s *MediaBrowserServer) newSession(u *mbUser, id map[string]string) string {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.sessions == nil {
		s.auth.sessions, s.auth.devices = map[string]*mbUser{}, map[[2]string]string{}
	}
	key := [2]string{u.id, id["deviceid"]}
	if old, ok := s.auth.devices[key]; ok {
		delete(s.auth.sessions, old)
	}
	tok := mbRandomHex()
	s.auth.sessions[tok] = u
	s.auth.devices[key] = tok
	return tok
}

// authRoute resolves the sign-in routes; ok false for every other path.
func (s *MediaBrowserServer) authRoute(r *http.Request, is func(...string) bool, q mbQuery) (mbRoute, bool) {
	get, post := http.MethodGet, http.MethodPost
	jf := s.fl.kind == backend.Jellyfin
	switch {
	case is("users", "authenticatebyname"):
		return mbRoute{[]string{post}, true, func(w http.ResponseWriter, _ mbCaller) { s.serveAuthByName(w, r) }}, true
	case jf && is("quickconnect", "enabled"):
		return mbRoute{[]string{get}, true, func(w http.ResponseWriter, _ mbCaller) {
			s.auth.mu.Lock()
			on := !s.auth.qcOff
			s.auth.mu.Unlock()
			s.writeJSON(w, on)
		}}, true
	case jf && is("quickconnect", "initiate"):
		return mbRoute{[]string{post}, true, func(w http.ResponseWriter, _ mbCaller) { s.serveQCInitiate(w, r) }}, true
	case jf && is("quickconnect", "connect"):
		return mbRoute{[]string{get}, true, func(w http.ResponseWriter, _ mbCaller) { s.serveQCConnect(w, q.get("secret")) }}, true
	case jf && is("quickconnect", "authorize"):
		return mbRoute{[]string{post}, false, func(w http.ResponseWriter, who mbCaller) {
			u, ok := s.resolveUser(w, who, q.get("userid"))
			if !ok {
				return
			}
			if u == nil { // an API key names no user
				s.fail(w, http.StatusBadRequest, "userId is required")
				return
			}
			if !s.approveQC(q.get("code"), u) {
				s.fail(w, http.StatusNotFound, "Unknown quick connect code")
				return
			}
			s.writeJSON(w, true)
		}}, true
	case jf && is("users", "authenticatewithquickconnect"):
		return mbRoute{[]string{post}, true, func(w http.ResponseWriter, _ mbCaller) { s.serveQCAuth(w, r) }}, true
	}
	return mbRoute{}, false
}

func (s *MediaBrowserServer) authResult(u *mbUser, tok string, id map[string]string) map[string]any {
	s.mu.RLock()
	user := s.userOut(u)
	s.mu.RUnlock()
	return map[string]any{
		"User": user,
		"SessionInfo": map[string]any{
			"Id": mbRandomHex(), "UserId": u.id, "UserName": u.name, "Client": id["client"],
			"DeviceName": id["device"], "DeviceId": id["deviceid"], "ApplicationVersion": id["version"],
			"LastActivityDate": mbDate(s.now().UnixNano(), false), "IsActive": true, "ServerId": s.serverID,
		},
		"AccessToken": tok,
		"ServerId":    s.serverID,
	}
}

func (s *MediaBrowserServer) serveAuthByName(w http.ResponseWriter, r *http.Request) {
	id, ok := s.mbIdentity(r)
	if !ok {
		s.fail(w, http.StatusBadRequest, "Client, Device, DeviceId and Version are required in the Authorization header")
		return
	}
	var in struct {
		Username string `json:"Username"`
		Pw       string `json:"Pw"`
		Password string `json:"Password"` // Emby's older clients
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err := json.Unmarshal(body, &in); err != nil || in.Username == "" {
		s.fail(w, http.StatusBadRequest, "Username is required")
		return
	}
	pw := in.Pw
	if pw == "" && s.fl.kind == backend.Emby {
		pw = in.Password
	}
	s.mu.RLock()
	u := s.userByName(in.Username)
	s.mu.RUnlock()
	s.auth.mu.Lock()
	want := ""
	if u != nil {
		want = s.auth.passwords[u.id]
	}
	s.auth.mu.Unlock()
	if u == nil || pw != want {
		// Both servers answer a bad name and a bad password alike.
		if s.fl.problemJSON {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "Error processing request.")
			return
		}
		s.fail(w, http.StatusUnauthorized, "")
		return
	}
	s.writeJSON(w, s.authResult(u, s.newSession(u, id), id))
}

func (s *MediaBrowserServer) qcOut(q *mbQuickConnect) map[string]any {
	return map[string]any{
		"Authenticated": q.user != nil, "Secret": q.secret, "Code": q.code, "DeviceId": q.device,
		"DeviceName": q.deviceName, "AppName": q.app, "AppVersion": q.appVersion,
		"DateAdded": mbDate(q.created.UnixNano(), false),
	}
}

func (s *MediaBrowserServer) serveQCInitiate(w http.ResponseWriter, r *http.Request) {
	id, ok := s.mbIdentity(r)
	if !ok {
		s.fail(w, http.StatusBadRequest, "Client, Device, DeviceId and Version are required in the Authorization header")
		return
	}
	s.auth.mu.Lock()
	if s.auth.qcOff {
		s.auth.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized) // Jellyfin: "Quick connect is disabled"
		_, _ = io.WriteString(w, "Quick connect is disabled")
		return
	}
	if s.auth.qc == nil {
		s.auth.qc = map[string]*mbQuickConnect{}
	}
	q := &mbQuickConnect{
		secret: mbRandomHex() + mbRandomHex(), code: fmt.Sprintf("%06d", rand.IntN(1_000_000)),
		device: id["deviceid"], deviceName: id["device"], app: id["client"], appVersion: id["version"],
		created: time.Now().UTC(),
	}
	s.auth.qc[q.secret] = q
	out := s.qcOut(q)
	auto, autoFor := s.auth.qcAuto, s.auth.qcAutoFor
	s.auth.mu.Unlock()
	if auto > 0 {
		time.AfterFunc(auto, func() { s.ApproveQuickConnect(q.code, autoFor) })
	}
	s.writeJSON(w, out)
}

func (s *MediaBrowserServer) qcBySecret(secret string) *mbQuickConnect {
	q := s.auth.qc[secret]
	if q == nil || q.used || time.Since(q.created) >= 10*time.Minute {
		return nil
	}
	return q
}

func (s *MediaBrowserServer) serveQCConnect(w http.ResponseWriter, secret string) {
	s.auth.mu.Lock()
	q := s.qcBySecret(secret)
	var out map[string]any
	if q != nil {
		out = s.qcOut(q)
	}
	s.auth.mu.Unlock()
	if q == nil {
		s.fail(w, http.StatusNotFound, "Unknown secret")
		return
	}
	s.writeJSON(w, out)
}

func (s *MediaBrowserServer) serveQCAuth(w http.ResponseWriter, r *http.Request) {
	id, ok := s.mbIdentity(r)
	if !ok {
		s.fail(w, http.StatusBadRequest, "Client, Device, DeviceId and Version are required in the Authorization header")
		return
	}
	var in struct {
		Secret string `json:"Secret"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err := json.Unmarshal(body, &in); err != nil || in.Secret == "" {
		s.fail(w, http.StatusBadRequest, "Secret is required")
		return
	}
	s.auth.mu.Lock()
	q := s.qcBySecret(in.Secret)
	var u *mbUser
	if q != nil && q.user != nil {
		u, q.used = q.user, true
	}
	s.auth.mu.Unlock()
	if u == nil {
		s.fail(w, http.StatusUnauthorized, "")
		return
	}
	s.writeJSON(w, s.authResult(u, s.newSession(u, id), id))
}
