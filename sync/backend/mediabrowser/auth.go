package mediabrowser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"playmark/sync/backend"
)

// Signing in to Jellyfin and Emby (../shared/docs/API-NOTES.md §8): by user name and
// password (POST /Users/AuthenticateByName), or on Jellyfin by Quick
// Connect (a six-digit code the user approves from a signed-in app). Both
// give a user token, which the live socket also needs. The requests carry
// the client's identity (Client, Device, DeviceId, Version) in the header
// the flavour uses, with no token; the password travels in the body only
// and never appears in an error.

// ErrQuickConnectDisabled: the server has Quick Connect turned off.
var ErrQuickConnectDisabled = errors.New("quick connect is turned off on this server")

// ErrQuickConnectExpired: the code was not approved in time (ten minutes)
// or the server forgot it.
var ErrQuickConnectExpired = errors.New("the quick connect code expired before it was approved")

// Session is a successful sign-in.
type Session struct {
	Token    string // the user's access token
	UserID   string
	UserName string
	Admin    bool
	ServerID string
}

// Authenticator signs in to one Jellyfin or Emby server.
type Authenticator struct {
	fl      Flavor
	base    string
	headers http.Header
	tr      *backend.Transport
}

// NewAuthenticator returns an Authenticator for the server at cfg.URL
// (cfg.Token is not used; cfg.ClientID is the DeviceId).
func NewAuthenticator(cfg backend.Config, fl Flavor) (*Authenticator, error) {
	cfg.Token = "sign-in" // New insists on one; it is dropped below
	c, err := New(cfg, fl)
	if err != nil {
		return nil, err
	}
	cfg.Token = ""
	cfg.UserID = ""
	h := authHeaders(fl, cfg)
	h.Del("X-Emby-Token")
	if v := h.Get("Authorization"); v != "" {
		h.Set("Authorization", strings.TrimSuffix(v, `, Token=""`))
	}
	return &Authenticator{fl: fl, base: c.base, headers: h, tr: c.tr}, nil
}

func (a *Authenticator) send(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in == nil {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	}
	for k, v := range a.headers {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.tr.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := checkJSON(resp); err != nil {
		return err
	}
	if out == nil {
		discard(resp)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return bodyError(ctx, resp, err)
	}
	return nil
}

type authResult struct {
	AccessToken string `json:"AccessToken"`
	ServerID    string `json:"ServerId"`
	User        struct {
		ID     string `json:"Id"`
		Name   string `json:"Name"`
		Policy struct {
			IsAdministrator bool `json:"IsAdministrator"`
		} `json:"Policy"`
	} `json:"User"`
}

func (r authResult) session(path string) (Session, error) {
	if r.AccessToken == "" || r.User.ID == "" {
		return Session{}, fmt.Errorf("POST %s: %w: no AccessToken or user in the answer", path, backend.ErrBadResponse)
	}
	return Session{Token: r.AccessToken, UserID: normalizeGUID(r.User.ID), UserName: r.User.Name, Admin: r.User.Policy.IsAdministrator, ServerID: r.ServerID}, nil
}

// SignIn signs in with a user name and password. A wrong name or password
// is backend.ErrUnauthorized.
func (a *Authenticator) SignIn(ctx context.Context, user, password string) (Session, error) {
	const path = "/Users/AuthenticateByName"
	var r authResult
	if err := a.send(ctx, http.MethodPost, path, nil, map[string]string{"Username": user, "Pw": password}, &r); err != nil {
		if errors.Is(err, backend.ErrUnauthorized) {
			return Session{}, fmt.Errorf("%s refused the user name or password: %w", a.fl.Kind, backend.ErrUnauthorized)
		}
		return Session{}, fmt.Errorf("signing in: %w", err)
	}
	return r.session(path)
}

// QuickConnect is a pending Quick Connect request: the user approves Code
// from a signed-in Jellyfin app (Settings > Quick Connect).
type QuickConnect struct {
	Secret string
	Code   string
}

// QuickConnectEnabled says whether the server offers Quick Connect. Emby
// has none: false.
func (a *Authenticator) QuickConnectEnabled(ctx context.Context) (bool, error) {
	if a.fl.Kind != backend.Jellyfin {
		return false, nil
	}
	var on bool
	err := a.send(ctx, http.MethodGet, "/QuickConnect/Enabled", nil, nil, &on)
	if errors.Is(err, backend.ErrNotFound) {
		return false, nil
	}
	return on, err
}

type qcWire struct {
	Authenticated bool   `json:"Authenticated"`
	Secret        string `json:"Secret"`
	Code          string `json:"Code"`
}

// StartQuickConnect asks the server for a Quick Connect code.
func (a *Authenticator) StartQuickConnect(ctx context.Context) (QuickConnect, error) {
	on, err := a.QuickConnectEnabled(ctx)
	if err != nil {
		return QuickConnect{}, fmt.Errorf("quick connect: %w", err)
	}
	if !on {
		return QuickConnect{}, ErrQuickConnectDisabled
	}
	var w qcWire
	if err := a.send(ctx, http.MethodPost, "/QuickConnect/Initiate", nil, nil, &w); err != nil {
		if errors.Is(err, backend.ErrUnauthorized) {
			return QuickConnect{}, ErrQuickConnectDisabled
		}
		return QuickConnect{}, fmt.Errorf("quick connect: %w", err)
	}
	if w.Secret == "" || w.Code == "" {
		return QuickConnect{}, fmt.Errorf("quick connect: %w: no secret or code in the answer", backend.ErrBadResponse)
	}
	return QuickConnect{Secret: w.Secret, Code: w.Code}, nil
}

// WaitQuickConnect polls q every interval (a second when 0) until it is
// approved, then signs in with it. A request the server no longer knows
// (expired) is ErrQuickConnectExpired.
func (a *Authenticator) WaitQuickConnect(ctx context.Context, q QuickConnect, interval time.Duration) (Session, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var w qcWire
		err := a.send(ctx, http.MethodGet, "/QuickConnect/Connect", url.Values{"secret": {q.Secret}}, nil, &w)
		switch {
		case errors.Is(err, backend.ErrNotFound):
			return Session{}, ErrQuickConnectExpired
		case err != nil && !errors.Is(err, backend.ErrUnreachable):
			return Session{}, fmt.Errorf("quick connect: %w", err)
		case err == nil && w.Authenticated:
			const path = "/Users/AuthenticateWithQuickConnect"
			var r authResult
			if err := a.send(ctx, http.MethodPost, path, nil, map[string]string{"Secret": q.Secret}, &r); err != nil {
				return Session{}, fmt.Errorf("quick connect: %w", err)
			}
			return r.session(path)
		}
		select {
		case <-ctx.Done():
			return Session{}, ctx.Err()
		case <-t.C:
		}
	}
}
