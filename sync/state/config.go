package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"playmark/sync/backend"
)

// ImportMode is a backend's import switch.
type ImportMode string

// Import modes: off; metadata only (refresh ids and sub-records, never the
// play state, never create items); full (play state too).
const (
	ImportOff      ImportMode = "off"
	ImportMetadata ImportMode = "metadata"
	ImportFull     ImportMode = "full"
)

// ParseImportMode accepts off, metadata and full.
func ParseImportMode(s string) (ImportMode, error) {
	switch ImportMode(s) {
	case ImportOff, ImportMetadata, ImportFull:
		return ImportMode(s), nil
	}
	return "", fmt.Errorf("unknown import mode %q (want off, metadata or full)", s)
}

// BackendOptions are a backend's less common settings.
type BackendOptions struct {
	Libraries   []string `json:"libraries,omitempty"`     // library ids to sync; empty: all
	MaxInFlight int      `json:"max_in_flight,omitempty"` // requests at once; 0: default
	// WebhookSecret is the unguessable part of this backend's webhook URL;
	// made when webhooks are first turned on.
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// TrustCert is the hex SHA-256 of a certificate the user chose to
	// trust for this server (self-signed); empty: normal verification.
	TrustCert string `json:"trust_cert,omitempty"`
	// Live keeps a connection to the server's notification websocket open
	// and applies its events as they come.
	Live bool `json:"live,omitempty"`
}

// Backend is one configured server as one user.
type Backend struct {
	ID         int64
	Name       string
	Kind       backend.Kind
	URL        string
	Token      string // also when kept in the system keyring: the store reads it from there
	UserID     string
	UserName   string
	ServerID   string
	ServerName string
	Import     ImportMode
	Export     bool
	Options    BackendOptions
	// PersonID is the person the backend belongs to (Person their name,
	// set by the store). AddBackend with 0 gives it the first person.
	PersonID int64
	Person   string

	// TokenInKeyring says the token is kept in the system keyring, not in
	// the database (for display; set by the store, ignored when saving).
	TokenInKeyring bool

	ImportCursor   time.Time // remote time the last good import covered
	LastFullImport time.Time // when a full listing last succeeded
	ExportCursor   int64     // items.seq the last good export covered
	LastImport     time.Time
	LastExport     time.Time
	LastError      string // the last run's failure, "" when it went well
	// LastErrorRejected says LastError was the server rejecting the token
	// (backend.ErrUnauthorized).
	LastErrorRejected bool
	LastErrorAt       time.Time
	Created           time.Time
}

// MaskedToken is the token as it may be shown: its last four characters.
func (b Backend) MaskedToken() string { return MaskToken(b.Token) }

// MaskToken hides all but the last four characters of a secret.
func MaskToken(t string) string {
	if len(t) <= 4 {
		return strings.Repeat("•", len(t))
	}
	return "••••" + t[len(t)-4:]
}

const backendCols = `id, name, kind, url, token, user_id, user_name, server_id, server_name, import_mode, export, options,
	import_cursor, last_full_import, export_cursor, last_import, last_export, last_error, last_error_at, created, last_error_rejected,
	person_id, COALESCE((SELECT name FROM people WHERE people.id=backends.person_id), '')`

func scanBackend(row interface{ Scan(...any) error }) (Backend, error) {
	var b Backend
	var opts string
	var ic, lfi, li, le, lea, cr int64
	err := row.Scan(&b.ID, &b.Name, &b.Kind, &b.URL, &b.Token, &b.UserID, &b.UserName, &b.ServerID, &b.ServerName,
		&b.Import, &b.Export, &opts, &ic, &lfi, &b.ExportCursor, &li, &le, &b.LastError, &lea, &cr, &b.LastErrorRejected, &b.PersonID, &b.Person)
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(opts), &b.Options); err != nil {
		return b, fmt.Errorf("backend %s: bad options: %w", b.Name, err)
	}
	b.ImportCursor, b.LastFullImport, b.LastImport, b.LastExport, b.LastErrorAt, b.Created =
		fromUnix(ic), fromUnix(lfi), fromUnix(li), fromUnix(le), fromUnix(lea), fromUnix(cr)
	return b, nil
}

// AddBackend stores a new backend and returns it with its id. A backend
// with the same name fails with ErrExists. With a keyring (SetKeyring) the
// token goes there; when the keyring refuses it, it stays in the database
// (TokenInKeyring false) until the next SetKeyring moves it.
func (s *Store) AddBackend(ctx context.Context, b Backend) (Backend, error) {
	if isMarker(b.Token) {
		return b, fmt.Errorf("adding backend %q: the token is a keyring marker, not a token", b.Name)
	}
	if err := b.Validate(); err != nil {
		return b, err
	}
	opts, _ := json.Marshal(b.Options)
	if b.Import == "" {
		b.Import = ImportFull
	}
	b.Created = s.now().UTC().Truncate(time.Second)
	col, put := s.tokenColumn(b, "", "")
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
	}
	defer tx.Rollback()
	if b.PersonID == 0 {
		if b.PersonID, err = firstPerson(ctx, tx, s.now, b.UserName); err != nil {
			return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
		}
	} else if err := personExists(ctx, tx, b.PersonID); err != nil {
		return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT name FROM people WHERE id=?`, b.PersonID).Scan(&b.Person); err != nil {
		return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO backends (name, kind, url, token, user_id, user_name, server_id, server_name, import_mode, export, options, created, person_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.Name, b.Kind, b.URL, col, b.UserID, b.UserName, b.ServerID, b.ServerName, b.Import, b.Export, string(opts), b.Created.Unix(), b.PersonID)
	if err != nil {
		if isUnique(err) {
			return b, fmt.Errorf("backend %q: %w", b.Name, ErrExists)
		}
		return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
	}
	b.ID, _ = res.LastInsertId()
	// The keyring is written last, inside the transaction: a name taken
	// already never gets its secret overwritten.
	if put {
		if col, err = s.putToken(ctx, tx, b.ID, b.Name, b.Token, col); err != nil {
			return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		if isMarker(col) {
			_ = s.keyring.Delete(ctx, b.Name)
		}
		return b, fmt.Errorf("adding backend %q: %w", b.Name, err)
	}
	if isMarker(col) {
		s.cachePut(b.Name, cachedToken{col, b.Token})
	}
	b.TokenInKeyring = isMarker(col)
	return b, nil
}

// UpdateBackend saves b's configuration (not its cursors or results).
// With a keyring a changed token goes there (or, when the keyring refuses
// it, stays in the database, as AddBackend); a renamed backend's old
// secret is deleted.
func (s *Store) UpdateBackend(ctx context.Context, b Backend) error {
	if isMarker(b.Token) {
		return fmt.Errorf("saving backend %q: the token is a keyring marker, not a token", b.Name)
	}
	if err := b.Validate(); err != nil {
		return err
	}
	opts, _ := json.Marshal(b.Options)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("saving backend %q: %w", b.Name, err)
	}
	defer tx.Rollback()
	oldName, oldCol, err := rowToken(ctx, tx, b.ID, b.Name)
	if err != nil {
		return err
	}
	col, put := s.tokenColumn(b, oldName, oldCol)
	if _, err := tx.ExecContext(ctx, `UPDATE backends SET name=?, kind=?, url=?, token=?, user_id=?, user_name=?, server_id=?, server_name=?,
		import_mode=?, export=?, options=? WHERE id=?`,
		b.Name, b.Kind, b.URL, col, b.UserID, b.UserName, b.ServerID, b.ServerName, b.Import, b.Export, string(opts), b.ID); err != nil {
		if isUnique(err) {
			return fmt.Errorf("backend %q: %w", b.Name, ErrExists)
		}
		return fmt.Errorf("saving backend %q: %w", b.Name, err)
	}
	if put {
		if col, err = s.putToken(ctx, tx, b.ID, b.Name, b.Token, col); err != nil {
			return fmt.Errorf("saving backend %q: %w", b.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("saving backend %q: %w", b.Name, err)
	}
	s.afterTokenSave(ctx, oldName, oldCol, b.Name, col, b.Token)
	return nil
}

// Backend returns the backend named name, or ErrNotFound. A token kept in
// the system keyring is read from there; when it cannot be, the error
// wraps ErrTokenUnavailable and names the backend.
func (s *Store) Backend(ctx context.Context, name string) (Backend, error) {
	b, err := scanBackend(s.db.QueryRowContext(ctx, `SELECT `+backendCols+` FROM backends WHERE name=?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("backend %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return b, err
	}
	return b, s.resolveToken(ctx, &b)
}

// Backends lists every backend by name. Tokens are resolved as by
// Backend; one that cannot be fails the list, with one error per such
// backend.
func (s *Store) Backends(ctx context.Context) ([]Backend, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+backendCols+` FROM backends ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing backends: %w", err)
	}
	defer rows.Close()
	var out []Backend
	for rows.Next() {
		b, err := scanBackend(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close() // before any keyring call
	var errs []error
	for i := range out {
		if err := s.resolveToken(ctx, &out[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// RemoveBackend deletes a backend and everything it knows (sub-records,
// unmatched items). Items stay: other backends may know them. Its token
// is deleted from the system keyring, as far as the keyring lets it (a
// locked keyring, or a store without one, keeps it: removing a backend
// never depends on the keyring). During a run it is refused (ErrBusy).
func (s *Store) RemoveBackend(ctx context.Context, name string) error {
	return s.removeBackend(ctx, name, false)
}

// RemoveBackendAfterRun is RemoveBackend for a caller that would rather
// wait for a run in progress to end than be refused (the window, whose
// writes already run in the background, in the order they were asked for).
func (s *Store) RemoveBackendAfterRun(ctx context.Context, name string) error {
	return s.removeBackend(ctx, name, true)
}

func (s *Store) removeBackend(ctx context.Context, name string, wait bool) error {
	// A run in progress writes the backend's records as it goes: removing
	// it under the run would break them (a foreign key error, mid-run).
	release, err := s.LockRuns(ctx, wait)
	if errors.Is(err, ErrBusy) {
		return fmt.Errorf("backend %q cannot be removed while a run is in progress: %w", name, ErrBusy)
	}
	if err != nil {
		return err
	}
	defer release()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("removing backend %q: %w", name, err)
	}
	defer tx.Rollback()
	_, col, err := rowToken(ctx, tx, 0, name)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM backends WHERE name=?`, name)
	if err != nil {
		return fmt.Errorf("removing backend %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("backend %q: %w", name, ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("removing backend %q: %w", name, err)
	}
	s.cacheDrop(name)
	if isMarker(col) && s.keyring != nil {
		_ = s.keyring.Delete(ctx, name)
	}
	return nil
}

// ImportDone records a successful import of backend id: the cursor covers
// up to cursor, and full says the listing was complete.
func (s *Store) ImportDone(ctx context.Context, id int64, cursor time.Time, full bool) error {
	now := s.now().Unix()
	q := `UPDATE backends SET import_cursor=?, last_import=? WHERE id=?`
	args := []any{unix(cursor), now, id}
	if full {
		q = `UPDATE backends SET import_cursor=?, last_import=?, last_full_import=? WHERE id=?`
		args = []any{unix(cursor), now, now, id}
	}
	_, err := s.db.ExecContext(ctx, q, args...)
	return err
}

// ExportDone records a successful export of backend id up to seq.
func (s *Store) ExportDone(ctx context.Context, id int64, seq int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE backends SET export_cursor=?, last_export=? WHERE id=?`, seq, s.now().Unix(), id)
	return err
}

// SetBackendError records why the last run of backend id failed, or, with
// an empty msg, that it went well; rejected says the server rejected the
// token. Cursors are not touched.
func (s *Store) SetBackendError(ctx context.Context, id int64, msg string, rejected bool) error {
	at := s.now().Unix()
	if msg == "" {
		at, rejected = 0, false
	}
	_, err := s.db.ExecContext(ctx, `UPDATE backends SET last_error=?, last_error_at=?, last_error_rejected=? WHERE id=?`, msg, at, rejected, id)
	return err
}

// SetIdentity records what the server said about itself and the user.
func (s *Store) SetIdentity(ctx context.Context, id int64, serverID, serverName, userID, userName string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE backends SET server_id=?, server_name=?,
		user_id=CASE WHEN ?<>'' THEN ? ELSE user_id END, user_name=? WHERE id=?`,
		serverID, serverName, userID, userID, userName, id)
	return err
}

// Task is one of the two scheduled tasks.
type Task struct {
	Name    string // import or export
	Cron    string
	Enabled bool
}

// Tasks returns the import and export tasks.
func (s *Store) Tasks(ctx context.Context) ([]Task, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, cron, enabled FROM tasks ORDER BY name DESC`)
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		var t Task
		if err := rows.Scan(&t.Name, &t.Cron, &t.Enabled); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetTask saves a task. The caller validates the cron expression.
func (s *Store) SetTask(ctx context.Context, t Task) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tasks SET cron=?, enabled=? WHERE name=?`, t.Cron, t.Enabled, t.Name)
	if err != nil {
		return fmt.Errorf("saving task %s: %w", t.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("task %q: %w (want import or export)", t.Name, ErrNotFound)
	}
	return nil
}

// Settings are the user's preferences that shape sync.
type Settings struct {
	ProgressMin     time.Duration // smallest resume position worth syncing (default 60 s)
	ExportThreshold int           // changes above which an export compares everything (default 1000)
	GuardPercent    int           // hold an export that un-watches more than this share ... (default 10)
	GuardMin        int           // ... once it un-watches at least this many (default 5)
	GuardCount      int           // or more than this many at all (default 100)
	ReplayTracking  bool          // keep progress on played items (a re-watch)
	Notifications   bool          // desktop notifications for errors and held changes
	NotifySuccess   bool          // and a summary after each good run
	FullEvery       time.Duration // a full reconcile at least this often (default 24 h)
	ClientID        string        // this install's id (X-Plex-Client-Identifier, DeviceId)
	// WebhookListen is the address the webhook listener binds, e.g.
	// "0.0.0.0:8787"; empty means webhooks are off (the default).
	WebhookListen string
}

// DefaultSettings are the settings of a new install.
func DefaultSettings() Settings {
	return Settings{
		ProgressMin:     60 * time.Second,
		ExportThreshold: 1000,
		GuardPercent:    10,
		GuardMin:        5,
		GuardCount:      100,
		Notifications:   true,
		FullEvery:       24 * time.Hour,
	}
}

// Settings reads the settings, defaults filling what was never set.
func (s *Store) Settings(ctx context.Context) (Settings, error) {
	st := DefaultSettings()
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return st, fmt.Errorf("reading settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return st, err
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "progress_min_ms":
			st.ProgressMin = time.Duration(n) * time.Millisecond
		case "export_threshold":
			st.ExportThreshold = int(n)
		case "guard_percent":
			st.GuardPercent = int(n)
		case "guard_min":
			st.GuardMin = int(n)
		case "guard_count":
			st.GuardCount = int(n)
		case "replay_tracking":
			st.ReplayTracking = n != 0
		case "notifications":
			st.Notifications = n != 0
		case "notify_success":
			st.NotifySuccess = n != 0
		case "full_every_s":
			st.FullEvery = time.Duration(n) * time.Second
		case "client_id":
			st.ClientID = v
		case "webhook_listen":
			st.WebhookListen = v
		}
	}
	return st, rows.Err()
}

// SaveSettings writes every setting.
func (s *Store) SaveSettings(ctx context.Context, st Settings) error {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	kv := map[string]string{
		"progress_min_ms":  strconv.FormatInt(st.ProgressMin.Milliseconds(), 10),
		"export_threshold": strconv.Itoa(st.ExportThreshold),
		"guard_percent":    strconv.Itoa(st.GuardPercent),
		"guard_min":        strconv.Itoa(st.GuardMin),
		"guard_count":      strconv.Itoa(st.GuardCount),
		"replay_tracking":  b(st.ReplayTracking),
		"notifications":    b(st.Notifications),
		"notify_success":   b(st.NotifySuccess),
		"full_every_s":     strconv.FormatInt(int64(st.FullEvery/time.Second), 10),
		"client_id":        st.ClientID,
		"webhook_listen":   st.WebhookListen,
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for k, v := range kv {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value`, k, v); err != nil {
			return fmt.Errorf("saving settings: %w", err)
		}
	}
	return tx.Commit()
}
