package engine

import (
	"context"
	"errors"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// TokenRenewer derives a backend's token again after its server rejected
// it (a backend made from a signed-in account: see package accounts),
// saves it, and returns the backend with it. It fails when it cannot; the
// run then reports the server's rejection as before.
type TokenRenewer func(ctx context.Context, b state.Backend) (state.Backend, error)

// SetTokenRenewer has every import and export derive a rejected token
// again with f, once, without asking anyone, before giving up on the
// backend. nil turns it off.
func (e *Engine) SetTokenRenewer(f TokenRenewer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.renew = f
}

func (e *Engine) renewer() TokenRenewer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.renew
}

// ClientID is this install's stable id (X-Plex-Client-Identifier,
// DeviceId), made on first use.
func (e *Engine) ClientID(ctx context.Context) (string, error) { return e.clientID(ctx) }

// openChecked opens backend b and checks who answers (checkIdentity). A
// rejected token is derived again once (renewAndOpen); b is updated. The
// transport is returned also on failure, for the request count.
func (r *run) openChecked(ctx context.Context, b *state.Backend) (backend.Backend, *backend.Transport, error) {
	client, t, err := r.e.Open(ctx, *b)
	if err != nil {
		return nil, nil, err
	}
	err = r.checkIdentity(ctx, client, b)
	if !errors.Is(err, backend.ErrUnauthorized) {
		return client, t, err
	}
	c2, t2, ok := r.renewAndOpen(ctx, b)
	if !ok {
		return client, t, err
	}
	return c2, t2, r.checkIdentity(ctx, c2, b)
}

// renewAndOpen derives b's rejected token again through the
// TokenRenewer and opens b with the new one; ok is false when there is no
// renewer or it could not (the caller then reports the rejection).
func (r *run) renewAndOpen(ctx context.Context, b *state.Backend) (backend.Backend, *backend.Transport, bool) {
	renew := r.e.renewer()
	if renew == nil {
		return nil, nil, false
	}
	nb, err := renew(ctx, *b)
	if err != nil {
		r.e.log.Info("token rejected and not renewed", "backend", b.Name, "why", err.Error())
		return nil, nil, false
	}
	r.e.log.Info("token rejected; derived again from the account", "backend", b.Name)
	*b = nb
	client, t, err := r.e.Open(ctx, *b)
	if err != nil {
		return nil, nil, false
	}
	return client, t, true
}

// rejected says the server refused the token.
func rejected(err error) bool { return errors.Is(err, backend.ErrUnauthorized) }
