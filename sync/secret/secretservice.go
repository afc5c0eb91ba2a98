package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// CallTimeout bounds each call to the Secret Service, whatever the
// caller's context allows: a keyring that would wait for the user (an
// unlock or confirmation dialog) counts as unavailable instead of hanging
// a sync.
const CallTimeout = 5 * time.Second

const (
	busName         = "org.freedesktop.secrets"
	servicePath     = dbus.ObjectPath("/org/freedesktop/secrets")
	ifaceService    = "org.freedesktop.Secret.Service"
	ifaceCollection = "org.freedesktop.Secret.Collection"
	ifaceItem       = "org.freedesktop.Secret.Item"
	ifacePrompt     = "org.freedesktop.Secret.Prompt"
	noPrompt        = dbus.ObjectPath("/")
)

// wireSecret is the Secret Service's Secret struct, (oayays).
type wireSecret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// SecretService is a Keyring in the default collection of the freedesktop
// Secret Service on the session bus, with a "plain" session (the secret
// travels unencrypted over the user's own bus connection, as libsecret
// does by default). Items carry the attributes application=playmark,
// config-dir=DIR and backend=NAME, so that
// `secret-tool lookup application playmark config-dir DIR backend NAME`
// finds them.
//
// Every operation checks the collection again: one that was locked since
// is unlocked when that needs no prompt, else the operation fails with
// ErrUnavailable. It never shows a prompt.
type SecretService struct {
	conn *dbus.Conn
	dir  string

	mu      sync.Mutex // one operation at a time; guards session
	session dbus.ObjectPath
}

var _ Keyring = (*SecretService)(nil)

// OpenSecretService connects to the Secret Service for the config dir
// configDir. It returns an error wrapping ErrUnavailable, within ctx's
// deadline or CallTimeout, when there is no session bus, no Secret Service
// on it, no default collection, or the default collection is locked and
// unlocking it would need a prompt. It never launches a bus; it may start
// a Secret Service that the bus knows how to activate.
// The caller closes it (a Store that is given it does).
func OpenSecretService(ctx context.Context, configDir string) (*SecretService, error) {
	addr := sessionBusAddress()
	if addr == "" {
		return nil, fmt.Errorf("%w: no session bus", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	conn, err := connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	s := &SecretService{conn: conn, dir: configDir}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.prepare(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// sessionBusAddress is the session bus's address, or "" when there is
// none. Unlike godbus's own look-up it never runs dbus-launch (which
// would start a bus, and on some systems want X11) and never changes the
// environment.
func sessionBusAddress() string {
	switch a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); {
	case a == "disabled:":
		return ""
	case a != "" && a != "autolaunch:":
		return a
	}
	if run := os.Getenv("XDG_RUNTIME_DIR"); run != "" {
		p := filepath.Join(run, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + dbus.EscapeBusAddressValue(p)
		}
	}
	return ""
}

// connect dials and authenticates within ctx. A bus that accepts the
// socket but never answers is left to a goroutine that closes it if it
// ever does.
func connect(ctx context.Context, addr string) (*dbus.Conn, error) {
	type result struct {
		conn *dbus.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := dbus.Connect(addr)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%w: connecting to the session bus: %v", ErrUnavailable, r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, fmt.Errorf("%w: the session bus did not answer in time", ErrUnavailable)
	}
}

// Close ends the session and the bus connection.
func (s *SecretService) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.conn.Object(busName, s.session).CallWithContext(ctx, "org.freedesktop.Secret.Session.Close", 0)
		cancel()
		s.session = ""
	}
	return s.conn.Close()
}

// Set implements Keyring: CreateItem in the default collection with
// Replace, so that an item with the same attributes is overwritten.
func (s *SecretService) Set(ctx context.Context, backend, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	coll, session, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	props := map[string]dbus.Variant{
		ifaceItem + ".Label":      dbus.MakeVariant(fmt.Sprintf("Playmark token for %s (%s)", backend, s.dir)),
		ifaceItem + ".Attributes": dbus.MakeVariant(s.attributes(backend)),
	}
	value := wireSecret{Session: session, Parameters: []byte{}, Value: []byte(secret), ContentType: "text/plain"}
	var item, prompt dbus.ObjectPath
	if err := s.call(ctx, coll, ifaceCollection+".CreateItem", props, value, true).Store(&item, &prompt); err != nil {
		return s.fail("storing the secret", err)
	}
	if prompt != noPrompt {
		s.dismiss(prompt)
		return fmt.Errorf("%w: storing the secret needs the user's confirmation", ErrUnavailable)
	}
	return nil
}

// Get implements Keyring.
func (s *SecretService) Get(ctx context.Context, backend string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	coll, session, err := s.prepare(ctx)
	if err != nil {
		return "", err
	}
	items, err := s.search(ctx, coll, backend)
	if err != nil {
		return "", err
	}
	if len(items) == 0 {
		return "", ErrNotFound
	}
	var value wireSecret
	if err := s.call(ctx, items[0], ifaceItem+".GetSecret", session).Store(&value); err != nil {
		return "", s.fail("reading the secret", err)
	}
	return string(value.Value), nil
}

// Delete implements Keyring.
func (s *SecretService) Delete(ctx context.Context, backend string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	coll, _, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	items, err := s.search(ctx, coll, backend)
	if err != nil {
		return err
	}
	for _, item := range items {
		var prompt dbus.ObjectPath
		if err := s.call(ctx, item, ifaceItem+".Delete").Store(&prompt); err != nil {
			return s.fail("deleting the secret", err)
		}
		if prompt != noPrompt {
			s.dismiss(prompt)
			return fmt.Errorf("%w: deleting the secret needs the user's confirmation", ErrUnavailable)
		}
	}
	return nil
}

func (s *SecretService) attributes(backend string) map[string]string {
	return map[string]string{"application": "playmark", "config-dir": s.dir, "backend": backend}
}

func (s *SecretService) search(ctx context.Context, coll dbus.ObjectPath, backend string) ([]dbus.ObjectPath, error) {
	var items []dbus.ObjectPath
	if err := s.call(ctx, coll, ifaceCollection+".SearchItems", s.attributes(backend)).Store(&items); err != nil {
		return nil, s.fail("searching the keyring", err)
	}
	return items, nil
}

// prepare opens the session if there is none and returns the default
// collection, unlocked. s.mu is held.
func (s *SecretService) prepare(ctx context.Context) (coll, session dbus.ObjectPath, err error) {
	if s.session == "" {
		var out dbus.Variant
		var path dbus.ObjectPath
		if err := s.call(ctx, servicePath, ifaceService+".OpenSession", "plain", dbus.MakeVariant("")).Store(&out, &path); err != nil {
			return "", "", s.fail("opening a session with the Secret Service", err)
		}
		s.session = path
	}
	if err := s.call(ctx, servicePath, ifaceService+".ReadAlias", "default").Store(&coll); err != nil {
		return "", "", s.fail("finding the default keyring", err)
	}
	if coll == noPrompt || coll == "" {
		return "", "", fmt.Errorf("%w: the Secret Service has no default keyring", ErrUnavailable)
	}
	var locked dbus.Variant
	if err := s.call(ctx, coll, "org.freedesktop.DBus.Properties.Get", ifaceCollection, "Locked").Store(&locked); err != nil {
		return "", "", s.fail("reading the keyring's lock state", err)
	}
	if l, _ := locked.Value().(bool); l {
		var unlocked []dbus.ObjectPath
		var prompt dbus.ObjectPath
		if err := s.call(ctx, servicePath, ifaceService+".Unlock", []dbus.ObjectPath{coll}).Store(&unlocked, &prompt); err != nil {
			return "", "", s.fail("unlocking the keyring", err)
		}
		if prompt != noPrompt {
			s.dismiss(prompt)
			return "", "", fmt.Errorf("%w: the keyring is locked", ErrUnavailable)
		}
		if !slices.Contains(unlocked, coll) {
			return "", "", fmt.Errorf("%w: the keyring is locked", ErrUnavailable)
		}
	}
	return coll, s.session, nil
}

// call makes one method call, bounded by CallTimeout.
func (s *SecretService) call(ctx context.Context, path dbus.ObjectPath, method string, args ...any) *dbus.Call {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	return s.conn.Object(busName, path).CallWithContext(ctx, method, 0, args...)
}

// fail classifies a failed call as ErrUnavailable and forgets the session,
// which may be what failed (the service restarted): the next operation
// opens a new one.
func (s *SecretService) fail(what string, err error) error {
	s.session = ""
	var derr dbus.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: the Secret Service did not answer in time", ErrUnavailable, what)
	case errors.As(err, &derr) && derr.Name == "org.freedesktop.Secret.Error.IsLocked":
		return fmt.Errorf("%w: %s: the keyring is locked", ErrUnavailable, what)
	case errors.As(err, &derr) && (derr.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || derr.Name == "org.freedesktop.DBus.Error.NameHasNoOwner"):
		return fmt.Errorf("%w: no Secret Service on the session bus", ErrUnavailable)
	case errors.As(err, &derr):
		return fmt.Errorf("%w: %s: %s", ErrUnavailable, what, strings.Join(append([]string{derr.Name}, errorBody(derr)...), ": "))
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}

func errorBody(e dbus.Error) []string {
	var out []string
	for _, b := range e.Body {
		if s, ok := b.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dismiss closes a prompt the service made, so that nothing waits for the
// user on Playmark's behalf.
func (s *SecretService) dismiss(prompt dbus.ObjectPath) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.conn.Object(busName, prompt).CallWithContext(ctx, ifacePrompt+".Dismiss", 0)
}
