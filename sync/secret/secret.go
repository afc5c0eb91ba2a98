// Package secret keeps backend tokens in the operating system's keyring.
//
// Keyring is the one interface the store uses; Open opens the system's.
// On Linux and the BSDs it is the freedesktop Secret Service
// (org.freedesktop.secrets on the session D-Bus: GNOME Keyring, KeePassXC,
// recent KWallet), spoken directly with godbus (SecretService). On Windows
// it is the Credential Manager and on macOS the Keychain, through
// go-keyring (OSKeyring, oskeyring.go).
//
// A secret is named by the backend it belongs to and the config dir of the
// Playmark that stored it, so that two config dirs never share a token.
// Secrets never appear in errors.
package secret

import (
	"context"
	"errors"
)

// Errors callers classify with errors.Is.
var (
	// ErrUnavailable: there is no keyring to use right now (no session
	// bus, no Secret Service, the keyring is locked and unlocking it would
	// need the user, or it did not answer in time).
	ErrUnavailable = errors.New("system keyring not available")
	// ErrNotFound: the keyring works but holds no secret for that backend.
	ErrNotFound = errors.New("no secret in the system keyring")
)

// Keyring stores one secret per backend name. Implementations are safe
// for concurrent use and bound every call in time, also when ctx has no
// deadline.
type Keyring interface {
	// Set stores secret for backend, replacing any secret it had.
	// It fails with an error wrapping ErrUnavailable.
	Set(ctx context.Context, backend, secret string) error
	// Get returns backend's secret: ErrNotFound when there is none, an
	// error wrapping ErrUnavailable when the keyring cannot be read.
	Get(ctx context.Context, backend string) (string, error)
	// Delete removes backend's secret; removing a secret that is not
	// there is not an error. It fails with an error wrapping
	// ErrUnavailable.
	Delete(ctx context.Context, backend string) error
}
