package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Accounts a user signed in with (plex.tv, or a Jellyfin or Emby user),
// and the backends made from them.
//
// An account's token, and a protected Plex Home user's PIN, are secrets
// like backend tokens: with a keyring they live there (the column holds a
// marker; the keyring names them "account:NAME" and "pin:backend-ID",
// which no backend name can be) and without one in the database. They are
// in no history row and no backup (backups hold play state only), and
// String never shows them.

// Account kinds: plex.tv, or one user on a Jellyfin or Emby server.
const (
	AccountPlexTV   = "plextv"
	AccountJellyfin = "jellyfin"
	AccountEmby     = "emby"
)

// Account is one sign-in.
type Account struct {
	ID       int64
	Name     string
	Kind     string // AccountPlexTV, AccountJellyfin, AccountEmby
	URL      string // plex.tv's base URL, or the server's
	UserID   string
	UserName string
	ServerID string // Jellyfin/Emby: the server's id
	Admin    bool
	Token    string // resolved from the keyring by Account; "" in Accounts' list
	Created  time.Time

	TokenInKeyring bool // for display; set by the store
}

// String names the account without its token.
func (a Account) String() string { return fmt.Sprintf("%s (%s, %s)", a.Name, a.Kind, a.UserName) }

// AccountLink says a backend was made from an account, and whose token it
// holds: the account's own (RelationSelf), a Plex Home user's
// (RelationHome, by switch, with PIN when the profile has one) or a
// friend's (RelationFriend, from shared_servers).
type AccountLink struct {
	BackendID  int64
	AccountID  int64
	ServerID   string // Plex machineIdentifier (Jellyfin/Emby: the server id)
	Relation   string
	RemoteUser string // the home user's plex.tv uuid, or the friend's plex.tv user id
	PIN        string // resolved by BackendLink
}

// Link relations.
const (
	RelationSelf   = "self"
	RelationHome   = "home"
	RelationFriend = "friend"
)

func accountKey(name string) string { return "account:" + name }
func pinKey(backendID int64) string { return "pin:backend-" + strconv.FormatInt(backendID, 10) }

// putSecret gives the keyring value under key and returns what the
// column holds: a new marker, or value itself when there is no keyring,
// no value, or the keyring refuses it.
func (s *Store) putSecret(ctx context.Context, key, value string) string {
	if s.keyring == nil || value == "" {
		return value
	}
	if err := s.keyring.Set(ctx, key, value); err != nil {
		return value
	}
	m := newMarker()
	s.cachePut(key, cachedToken{m, value})
	return m
}

// getSecret resolves a column written by putSecret.
func (s *Store) getSecret(ctx context.Context, key, col, what string) (string, error) {
	if !isMarker(col) {
		return col, nil
	}
	if s.keyring == nil {
		return "", &tokenError{fmt.Sprintf("%s: %v (this Playmark runs without it)", what, ErrTokenUnavailable), nil}
	}
	if tok, ok := s.cached(key, col); ok {
		return tok, nil
	}
	tok, err := s.keyring.Get(ctx, key)
	if err != nil {
		return "", &tokenError{fmt.Sprintf("%s: %v", what, ErrTokenUnavailable), err}
	}
	s.cachePut(key, cachedToken{col, tok})
	return tok, nil
}

func (s *Store) dropSecret(ctx context.Context, key, col string) {
	s.cacheDrop(key)
	if isMarker(col) && s.keyring != nil {
		_ = s.keyring.Delete(ctx, key)
	}
}

// AddAccount stores a new account (ErrExists when the name is taken).
func (s *Store) AddAccount(ctx context.Context, a Account) (Account, error) {
	if a.Token == "" {
		return a, fmt.Errorf("adding account %q: no token", a.Name)
	}
	if _, err := s.Account(ctx, a.Name); err == nil {
		return a, fmt.Errorf("account %q: %w", a.Name, ErrExists)
	}
	a.Created = s.now().UTC().Truncate(time.Second)
	col := s.putSecret(ctx, accountKey(a.Name), a.Token)
	res, err := s.db.ExecContext(ctx, `INSERT INTO accounts (name, kind, url, user_id, user_name, server_id, admin, token, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Name, a.Kind, a.URL, a.UserID, a.UserName, a.ServerID, a.Admin, col, a.Created.Unix())
	if err != nil {
		s.dropSecret(ctx, accountKey(a.Name), col)
		if isUnique(err) {
			return a, fmt.Errorf("account %q: %w", a.Name, ErrExists)
		}
		return a, fmt.Errorf("adding account %q: %w", a.Name, err)
	}
	a.ID, _ = res.LastInsertId()
	a.TokenInKeyring = isMarker(col)
	return a, nil
}

// SetAccountToken replaces an account's token (a new sign-in).
func (s *Store) SetAccountToken(ctx context.Context, name, token string) error {
	var old string
	if err := s.db.QueryRowContext(ctx, `SELECT token FROM accounts WHERE name=?`, name).Scan(&old); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("account %q: %w", name, ErrNotFound)
	} else if err != nil {
		return err
	}
	col := s.putSecret(ctx, accountKey(name), token)
	if _, err := s.db.ExecContext(ctx, `UPDATE accounts SET token=? WHERE name=?`, col, name); err != nil {
		return fmt.Errorf("saving account %q: %w", name, err)
	}
	if !isMarker(col) && isMarker(old) {
		s.dropSecret(ctx, accountKey(name), old)
	}
	return nil
}

const accountCols = `id, name, kind, url, user_id, user_name, server_id, admin, token, created`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var cr int64
	err := row.Scan(&a.ID, &a.Name, &a.Kind, &a.URL, &a.UserID, &a.UserName, &a.ServerID, &a.Admin, &a.Token, &cr)
	a.Created = fromUnix(cr)
	a.TokenInKeyring = isMarker(a.Token)
	return a, err
}

// Account returns the account named name with its token (read from the
// keyring when it is there), or ErrNotFound.
func (s *Store) Account(ctx context.Context, name string) (Account, error) {
	a, err := scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE name=?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return a, err
	}
	a.Token, err = s.getSecret(ctx, accountKey(a.Name), a.Token, fmt.Sprintf("account %q", a.Name))
	return a, err
}

// AccountByID is Account by id.
func (s *Store) AccountByID(ctx context.Context, id int64) (Account, error) {
	var name string
	if err := s.db.QueryRowContext(ctx, `SELECT name FROM accounts WHERE id=?`, id).Scan(&name); errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("account %d: %w", id, ErrNotFound)
	} else if err != nil {
		return Account{}, err
	}
	return s.Account(ctx, name)
}

// Accounts lists the accounts by name, without their tokens.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		a.Token = ""
		out = append(out, a)
	}
	return out, rows.Err()
}

// RemoveAccount deletes an account and its links (the backends made from
// it stay, with the tokens they have, but are no longer renewed), and its
// secrets in the keyring.
func (s *Store) RemoveAccount(ctx context.Context, name string) error {
	var id int64
	var col string
	if err := s.db.QueryRowContext(ctx, `SELECT id, token FROM accounts WHERE name=?`, name).Scan(&id, &col); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("account %q: %w", name, ErrNotFound)
	} else if err != nil {
		return err
	}
	pins := map[int64]string{}
	rows, err := s.db.QueryContext(ctx, `SELECT backend_id, pin FROM account_backends WHERE account_id=?`, id)
	if err != nil {
		return err
	}
	for rows.Next() {
		var b int64
		var p string
		if err := rows.Scan(&b, &p); err != nil {
			rows.Close()
			return err
		}
		pins[b] = p
	}
	rows.Close()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM accounts WHERE id=?`, id); err != nil {
		return fmt.Errorf("removing account %q: %w", name, err)
	}
	s.dropSecret(ctx, accountKey(name), col)
	for b, p := range pins {
		s.dropSecret(ctx, pinKey(b), p)
	}
	return nil
}

// LinkBackendAccount records that backend l.BackendID was made from account
// l.AccountID (replacing an earlier link).
func (s *Store) LinkBackendAccount(ctx context.Context, l AccountLink) error {
	col := s.putSecret(ctx, pinKey(l.BackendID), l.PIN)
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO account_backends (backend_id, account_id, server_id, relation, remote_user, pin)
		VALUES (?, ?, ?, ?, ?, ?)`, l.BackendID, l.AccountID, l.ServerID, l.Relation, l.RemoteUser, col)
	if err != nil {
		s.dropSecret(ctx, pinKey(l.BackendID), col)
		return fmt.Errorf("linking backend %d to its account: %w", l.BackendID, err)
	}
	return nil
}

// BackendLink is the account link of a backend (with its PIN), or
// ErrNotFound when the backend was not made from an account.
func (s *Store) BackendLink(ctx context.Context, backendID int64) (AccountLink, error) {
	l := AccountLink{BackendID: backendID}
	err := s.db.QueryRowContext(ctx, `SELECT account_id, server_id, relation, remote_user, pin FROM account_backends WHERE backend_id=?`, backendID).
		Scan(&l.AccountID, &l.ServerID, &l.Relation, &l.RemoteUser, &l.PIN)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("backend %d has no account: %w", backendID, ErrNotFound)
	}
	if err != nil {
		return l, err
	}
	l.PIN, err = s.getSecret(ctx, pinKey(backendID), l.PIN, fmt.Sprintf("the PIN of backend %d", backendID))
	return l, err
}

// AccountBackends names the backends made from account id.
func (s *Store) AccountBackends(ctx context.Context, id int64) ([]string, error) {
	return s.strings(ctx, `SELECT b.name FROM account_backends l JOIN backends b ON b.id = l.backend_id WHERE l.account_id=? ORDER BY b.name`, id)
}

// strings runs query, whose rows are one text column, and returns them.
func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// moveAccountSecrets moves the account tokens and PINs still in the
// database into the keyring (SetKeyring), each read back before its
// database copy is replaced by a marker; then the file is scrubbed.
func (s *Store) moveAccountSecrets(ctx context.Context) error {
	type plain struct {
		q          string
		id         int64
		key, value string
	}
	var todo []plain
	collect := func(query, update string, key func(id int64, name string) string) error {
		rows, err := s.db.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var name, v string
			if err := rows.Scan(&id, &name, &v); err != nil {
				return err
			}
			if v != "" && !isMarker(v) {
				todo = append(todo, plain{update, id, key(id, name), v})
			}
		}
		return rows.Err()
	}
	if err := collect(`SELECT id, name, token FROM accounts`, `UPDATE accounts SET token=? WHERE id=?`,
		func(_ int64, name string) string { return accountKey(name) }); err != nil {
		return fmt.Errorf("moving account tokens into the system keyring: %w", err)
	}
	if err := collect(`SELECT backend_id, '', pin FROM account_backends`, `UPDATE account_backends SET pin=? WHERE backend_id=?`,
		func(id int64, _ string) string { return pinKey(id) }); err != nil {
		return fmt.Errorf("moving PINs into the system keyring: %w", err)
	}
	var errs []error
	moved := 0
	for _, p := range todo {
		if err := s.keyring.Set(ctx, p.key, p.value); err != nil {
			errs = append(errs, fmt.Errorf("%s stays in the database: %w", p.key, err))
			continue
		}
		if got, err := s.keyring.Get(ctx, p.key); err != nil || got != p.value {
			errs = append(errs, fmt.Errorf("%s stays in the database: the keyring did not give it back", p.key))
			continue
		}
		m := newMarker()
		if _, err := s.db.ExecContext(ctx, p.q, m, p.id); err != nil {
			return err
		}
		s.cachePut(p.key, cachedToken{m, p.value})
		moved++
	}
	if moved > 0 {
		if err := s.scrub(ctx); err != nil {
			errs = append(errs, fmt.Errorf("account secrets moved into the system keyring, but old copies may remain in %s: %w", s.path, err))
		}
	}
	return errors.Join(errs...)
}
