package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"playmark/sync/backend"
	"playmark/sync/backend/kinds"
	"playmark/sync/state"
)

// Connection is what connecting to a server found, for the command line
// and the window alike: who the server is, its users, the user the backend
// will act as and that user's libraries.
type Connection struct {
	// Kind is the server's family as the server itself says (its public
	// identity, no token needed); "" when it did not say.
	Kind backend.Kind
	// Info is the server's name, version and id, and the user the backend
	// acts as (UserID "" while NeedUser).
	Info backend.ServerInfo
	// Users are the accounts the token may see (all of them for an admin);
	// nil when the server would not list them.
	Users []backend.User
	// NeedUser: the token has no user of its own (a Jellyfin or Emby API
	// key) and none was given: one of Users must be chosen.
	NeedUser bool
	// Libraries are the user's movie and show libraries; LibrariesErr says
	// why they could not be listed.
	Libraries    []backend.Library
	LibrariesErr error
}

// Errors Connect refuses a configuration with, besides the backend kinds
// (backend.ErrUnauthorized for a rejected token, backend.ErrUnreachable
// for a server that does not answer).
var (
	// ErrWrongKind: the server is of another family than configured
	// (see *KindError).
	ErrWrongKind = errors.New("the server is of another type")
	// ErrNoSuchUser: the server has no user by the name or id given
	// (see *UserError).
	ErrNoSuchUser = errors.New("no such user")
)

// KindError is a server of another family than configured. It matches
// ErrWrongKind.
type KindError struct {
	URL       string
	Want, Got backend.Kind
}

func (e *KindError) Error() string {
	return fmt.Sprintf("%s is a %s server, not %s: use --type %s", e.URL, e.Got, e.Want, e.Got)
}

// Is makes errors.Is(err, ErrWrongKind) true.
func (e *KindError) Is(target error) bool { return target == ErrWrongKind }

// UserError is a user the server does not have. It matches ErrNoSuchUser.
type UserError struct {
	Kind  backend.Kind
	URL   string
	User  string         // as given
	Users []backend.User // the server's users the token may see
}

func (e *UserError) Error() string {
	msg := fmt.Sprintf("%s at %s has no user %q", e.Kind, e.URL, e.User)
	if len(e.Users) > 0 {
		msg += "; its users are " + UserNames(e.Users)
	}
	return msg
}

// Is makes errors.Is(err, ErrNoSuchUser) true.
func (e *UserError) Is(target error) bool { return target == ErrNoSuchUser }

// UserNames lists users by name, for a sentence: "admin, guest".
func UserNames(users []backend.User) string {
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, u.Name)
	}
	return strings.Join(names, ", ")
}

// FindUser returns the user whose name (case-insensitively) or id is
// given, and whether there is one.
func FindUser(users []backend.User, nameOrID string) (backend.User, bool) {
	want := strings.TrimSpace(nameOrID)
	norm := func(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }
	for _, u := range users {
		if u.ID == want || norm(u.ID) == norm(want) {
			return u, true
		}
	}
	for _, u := range users {
		if strings.EqualFold(u.Name, want) {
			return u, true
		}
	}
	return backend.User{}, false
}

// Connect connects to the server b describes, changing nothing: it asks
// the server what it is (refusing one of another family with a
// *KindError), checks the token (backend.ErrUnauthorized), resolves
// b.UserID when given as a name or id (refusing a user the server does
// not have with a *UserError) and lists the users and the user's
// libraries. The returned Info.UserID is the id to save. A server that
// does not answer fails with an error matching backend.ErrUnreachable.
func (e *Engine) Connect(ctx context.Context, b state.Backend) (Connection, error) {
	var conn Connection
	kind := b.Kind
	opt := e.transport
	opt.PinnedCert = b.Options.TrustCert
	got, err := kinds.Probe(ctx, backend.NewTransport(opt), b.URL)
	if err != nil {
		return conn, err
	}
	conn.Kind = got
	if got != "" && got != kind {
		return conn, &KindError{URL: b.URL, Want: kind, Got: got}
	}

	// The users, as a client with no user configured sees them (a token
	// that may not list users sees its own user alone, where the server
	// can tell which).
	wantUser := strings.TrimSpace(b.UserID)
	anon := b
	anon.UserID = ""
	client, _, err := e.Open(ctx, anon)
	if err != nil {
		return conn, err
	}
	users, uerr := client.Users(ctx)
	if errors.Is(uerr, backend.ErrUnauthorized) || errors.Is(uerr, backend.ErrUnreachable) || ctx.Err() != nil {
		// Identify below says it in the same words as everywhere else.
		uerr = nil
	}
	if uerr == nil {
		conn.Users = users
	}
	if wantUser != "" && !kind.TokenIsUser() {
		u, ok := FindUser(users, wantUser)
		switch {
		case ok:
			b.UserID = u.ID
		case conn.Users != nil:
			// Make sure it is the user that is missing, not the token.
			if _, err := client.Identify(ctx); err != nil {
				return conn, err
			}
			return conn, &UserError{Kind: kind, URL: b.URL, User: wantUser, Users: users}
		default:
			b.UserID = wantUser // the users could not be listed: ask for this one
		}
		if client, _, err = e.Open(ctx, b); err != nil {
			return conn, err
		}
	}
	info, err := client.Identify(ctx)
	var se *backend.StatusError
	if err != nil && wantUser != "" && !kind.TokenIsUser() &&
		(errors.Is(err, backend.ErrNotFound) || (errors.As(err, &se) && se.Status == http.StatusBadRequest)) {
		return conn, &UserError{Kind: kind, URL: b.URL, User: wantUser, Users: conn.Users}
	}
	if err != nil {
		return conn, err
	}
	if wantUser != "" && kind.TokenIsUser() && info.UserID != "" {
		// A token of such a kind is one account: a --user naming another is a
		// mistake, not a choice.
		if _, ok := FindUser([]backend.User{{ID: info.UserID, Name: info.UserName}}, wantUser); !ok {
			return conn, &UserError{Kind: kind, URL: b.URL, User: wantUser, Users: []backend.User{{ID: info.UserID, Name: info.UserName}}}
		}
	}
	conn.Info = info
	if info.UserID == "" && !kind.TokenIsUser() {
		conn.NeedUser = true
		return conn, nil
	}
	conn.Libraries, conn.LibrariesErr = client.Libraries(ctx)
	return conn, nil
}
