//go:build windows || darwin

package secret

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/zalando/go-keyring"
)

// OSKeyring is a Keyring in the system's own store through go-keyring:
// the Windows Credential Manager (a generic credential per backend,
// target "playmark:<backend> @ <config dir>") or the macOS Keychain (a
// generic password, service "playmark"). Every call is bounded by
// CallTimeout, as for the Secret Service. Linux keeps SecretService,
// which go-keyring's Linux side does not replace (see go.mod).
type OSKeyring struct {
	dir string
}

var _ Keyring = (*OSKeyring)(nil)

const osService = "playmark"

// Open opens the system keyring for the config dir configDir: here the
// Windows Credential Manager or the macOS Keychain. It reads a secret
// that is not there first, so that a store that cannot be used fails now
// (ErrUnavailable) rather than at the first token.
func Open(ctx context.Context, configDir string) (Keyring, error) {
	if abs, err := filepath.Abs(configDir); err == nil {
		configDir = abs
	}
	k := &OSKeyring{dir: configDir}
	// "(probe)" is no backend name (they are letters, digits, ., _, -).
	if _, err := k.Get(ctx, "(probe)"); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return k, nil
}

// user is the account name of backend's secret: the backend and the
// config dir, so that two config dirs never share a token.
func (k *OSKeyring) user(backend string) string { return backend + " @ " + k.dir }

// call runs f within ctx and CallTimeout; a call that does not return in
// time is left to finish on its own and counts as unavailable.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: no answer in time", ErrUnavailable)
	}
}

// classify maps go-keyring's errors to this package's.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("%w: the secret is too long for the system keyring", ErrUnavailable)
	default:
		// go-keyring's errors carry no secret.
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
}

// Set stores secret for backend.
func (k *OSKeyring) Set(ctx context.Context, backend, secret string) error {
	_, err := call(ctx, func() (struct{}, error) {
		return struct{}{}, classify(keyring.Set(osService, k.user(backend), secret))
	})
	return err
}

// Get returns backend's secret, or ErrNotFound.
func (k *OSKeyring) Get(ctx context.Context, backend string) (string, error) {
	return call(ctx, func() (string, error) {
		s, err := keyring.Get(osService, k.user(backend))
		return s, classify(err)
	})
}

// Delete removes backend's secret; one that is not there is no error.
func (k *OSKeyring) Delete(ctx context.Context, backend string) error {
	_, err := call(ctx, func() (struct{}, error) {
		err := classify(keyring.Delete(osService, k.user(backend)))
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
		return struct{}{}, err
	})
	return err
}

// Close does nothing: there is no connection to close.
func (k *OSKeyring) Close() error { return nil }
