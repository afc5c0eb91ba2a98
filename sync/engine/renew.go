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
// rejected token is derived again once through the TokenRenewer, and the
// backend opened again with the new one; b is updated. The transport is
// returned also on failure, for the request count.
func (r *run) openChecked(ctx context.Context, b *state.Backend) (backend.Backend, *backend.Transport, error) {
	client, t, err := r.e.Open(ctx, *b)
	if err != nil {
		return nil, nil, err
	}
	err = r.checkIdentity(ctx, client, b)
	renew := r.e.renewer()
	if err == nil || !errors.Is(err, backend.ErrUnauthorized) || renew == nil {
		return client, t, err
	}
	nb, rerr := renew(ctx, *b)
	if rerr != nil {
		r.e.log.Info("token rejected and not renewed", "backend", b.Name, "why", rerr.Error())
		return client, t, err
	}
	r.e.log.Info("token rejected; derived again from the account", "backend", b.Name)
	*b = nb
	client, t2, err := r.e.Open(ctx, *b)
	if err != nil {
		return nil, t, err
	}
	return client, t2, r.checkIdentity(ctx, client, b)
}
