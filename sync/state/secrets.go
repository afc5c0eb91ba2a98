package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"playmark/sync/secret"
)

// Tokens and the system keyring.
//
// With a keyring (SetKeyring), a backend's token lives there and its
// token column holds a marker: keyringMarker and a random tag that is new
// with every save. Without one, the column holds the token, as it always
// did. A store without a keyring that meets a marker fails the read with
// ErrTokenUnavailable: it never hands the marker, or an empty token, to a
// server.
//
// Resolved tokens are cached by backend name and marker: a read costs no
// keyring call until the token is saved again, by this process or another
// (whose save writes a new marker).

// keyringMarker starts the token column of a backend whose token is in
// the system keyring.
const keyringMarker = "keyring:"

// ErrTokenUnavailable is returned, wrapped with the backend's name, when a
// backend's token is in the system keyring and cannot be read from it: the
// store has no keyring, the keyring is locked or not answering, or the
// secret was deleted there.
var ErrTokenUnavailable = errors.New("token is in the system keyring, which is not available")

// tokenError is ErrTokenUnavailable for one backend, with the keyring's
// error (if any) also in its chain, in words for the user.
type tokenError struct {
	msg string
	err error
}

func (e *tokenError) Error() string { return e.msg }

func (e *tokenError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrTokenUnavailable}
	}
	return []error{ErrTokenUnavailable, e.err}
}

type cachedToken struct{ marker, token string }

func isMarker(tok string) bool { return strings.HasPrefix(tok, keyringMarker) }

func newMarker() string {
	var b [8]byte
	rand.Read(b[:])
	return keyringMarker + hex.EncodeToString(b[:])
}

// SetKeyring keeps the backends' tokens in k from now on, and moves into
// it the tokens still in the database (each read back from k before its
// database copy is dropped; then the database file is rewritten so that
// no old copy lingers in free pages or the write-ahead log). Call it once,
// right after Open, before the store is shared.
//
// A token that cannot be moved stays in the database, usable, and the
// error says which; the store keeps k either way. The store owns k from
// now on: Close closes it when it has a Close method.
func (s *Store) SetKeyring(ctx context.Context, k secret.Keyring) error {
	s.keyring = k
	if k == nil || s.readOnly {
		return nil // a read-only store reads tokens where they are
	}
	return errors.Join(s.moveTokensToKeyring(ctx), s.moveAccountSecrets(ctx)) // accounts.go
}

func (s *Store) moveTokensToKeyring(ctx context.Context) error {
	// The write lock is held throughout, so that no other process saves a
	// backend between our read and our write.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("moving tokens into the system keyring: %w", err)
	}
	defer tx.Rollback()
	type plain struct {
		id          int64
		name, token string
	}
	var todo []plain
	rows, err := tx.QueryContext(ctx, `SELECT id, name, token FROM backends ORDER BY name`)
	if err != nil {
		return fmt.Errorf("moving tokens into the system keyring: %w", err)
	}
	for rows.Next() {
		var p plain
		if err := rows.Scan(&p.id, &p.name, &p.token); err != nil {
			rows.Close()
			return fmt.Errorf("moving tokens into the system keyring: %w", err)
		}
		if p.token != "" && !isMarker(p.token) {
			todo = append(todo, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("moving tokens into the system keyring: %w", err)
	}
	if len(todo) == 0 {
		return nil
	}
	var errs []error
	moved := map[string]cachedToken{}
	for _, p := range todo {
		if err := s.keyring.Set(ctx, p.name, p.token); err != nil {
			errs = append(errs, fmt.Errorf("backend %q: its token stays in the database: %w", p.name, err))
			continue
		}
		if got, err := s.keyring.Get(ctx, p.name); err != nil || got != p.token {
			errs = append(errs, fmt.Errorf("backend %q: its token stays in the database: the keyring did not give it back (%v)", p.name, err))
			continue
		}
		m := newMarker()
		if _, err := tx.ExecContext(ctx, `UPDATE backends SET token=? WHERE id=?`, m, p.id); err != nil {
			return fmt.Errorf("moving tokens into the system keyring: %w", err)
		}
		moved[p.name] = cachedToken{m, p.token}
	}
	if len(moved) > 0 {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("moving tokens into the system keyring: %w", err)
		}
		for name, c := range moved {
			s.cachePut(name, c)
		}
		if err := s.scrub(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tokens moved into the system keyring, but old copies may remain in %s: %w", s.path, err))
		}
	}
	return errors.Join(errs...)
}

// scrub rewrites the database file and empties the write-ahead log, so
// that no deleted or overwritten content (a token moved to the keyring)
// survives in free space.
func (s *Store) scrub(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM`); err != nil {
		return err
	}
	var busy, logFrames, done int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
		return err
	}
	if busy != 0 {
		return errors.New("another Playmark is reading the database; the old copies go at its next checkpoint")
	}
	return nil
}

// resolveToken turns b's token column into its token: a marker is looked
// up in the keyring (or the cache).
func (s *Store) resolveToken(ctx context.Context, b *Backend) error {
	if !isMarker(b.Token) {
		return nil
	}
	marker := b.Token
	b.Token, b.TokenInKeyring = "", true
	if s.keyring == nil {
		return &tokenError{fmt.Sprintf("backend %q: %v (this Playmark runs without it)", b.Name, ErrTokenUnavailable), nil}
	}
	if tok, ok := s.cached(b.Name, marker); ok {
		b.Token = tok
		return nil
	}
	tok, err := s.keyring.Get(ctx, b.Name)
	switch {
	case errors.Is(err, secret.ErrNotFound):
		return &tokenError{fmt.Sprintf("backend %q: its token is missing from the system keyring (deleted there?); remove the backend and add it again", b.Name), err}
	case err != nil:
		why := strings.TrimPrefix(err.Error(), secret.ErrUnavailable.Error()+": ")
		return &tokenError{fmt.Sprintf("backend %q: %v: %s", b.Name, ErrTokenUnavailable, why), err}
	}
	s.cachePut(b.Name, cachedToken{marker, tok})
	b.Token = tok
	return nil
}

// tokenColumn decides what UpdateBackend writes for b, whose row now has
// name oldName and token column oldCol: the token itself (no keyring, or
// no token), the old marker (the keyring already has this token), or a
// new marker, with put saying that the keyring must be given the token.
func (s *Store) tokenColumn(b Backend, oldName, oldCol string) (col string, put bool) {
	if s.keyring == nil || b.Token == "" {
		return b.Token, false
	}
	if isMarker(oldCol) && oldName == b.Name {
		if tok, ok := s.cached(oldName, oldCol); ok && tok == b.Token {
			return oldCol, false
		}
	}
	return newMarker(), true
}

// putToken gives the keyring the token of the backend with id, whose
// token column tx has just set to the marker col, and returns the column
// as it stands. A keyring that refuses (locked since SetKeyring, or
// wanting the user's confirmation) leaves the token in the database
// instead, so that saving a backend never depends on the keyring; the
// next SetKeyring moves it.
func (s *Store) putToken(ctx context.Context, tx *sql.Tx, id int64, name, token, col string) (string, error) {
	if err := s.keyring.Set(ctx, name, token); err == nil {
		return col, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE backends SET token=? WHERE id=?`, token, id); err != nil {
		return "", err
	}
	return token, nil
}

// afterTokenSave updates the cache and the keyring once a backend that was
// oldName with token column oldCol is saved as name with column col:
// the secret of a renamed backend, or of one whose token left the
// keyring, is deleted (best effort: at worst an unused secret remains).
func (s *Store) afterTokenSave(ctx context.Context, oldName, oldCol, name, col, token string) {
	if oldName != name || !isMarker(col) {
		s.cacheDrop(oldName)
		if isMarker(oldCol) && s.keyring != nil {
			_ = s.keyring.Delete(ctx, oldName)
		}
	}
	if isMarker(col) {
		s.cachePut(name, cachedToken{col, token})
	}
}

func (s *Store) cached(name, marker string) (string, bool) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	c, ok := s.tokens[name]
	return c.token, ok && c.marker == marker
}

func (s *Store) cachePut(name string, c cachedToken) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]cachedToken{}
	}
	s.tokens[name] = c
}

func (s *Store) cacheDrop(name string) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	delete(s.tokens, name)
}

// closeKeyring closes the keyring the store was given, if it can be.
func (s *Store) closeKeyring() {
	if c, ok := s.keyring.(io.Closer); ok {
		c.Close()
	}
}

// rowToken reads the name and token column of the backend with id (or,
// with id 0, of the one named name) inside tx; name is also what an
// ErrNotFound names.
func rowToken(ctx context.Context, tx *sql.Tx, id int64, name string) (string, string, error) {
	q, arg := `SELECT name, token FROM backends WHERE id=?`, any(id)
	if id == 0 {
		q, arg = `SELECT name, token FROM backends WHERE name=?`, name
	}
	var n, tok string
	err := tx.QueryRowContext(ctx, q, arg).Scan(&n, &tok)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("backend %q: %w", name, ErrNotFound)
	}
	return n, tok, err
}
