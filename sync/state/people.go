package state

// People: every backend is one user on one server and belongs to one
// person; each person has their own play state (the plays table), while
// the media identity (items and their ids) is everyone's.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Person is someone in the household: their backends share one play state.
type Person struct {
	ID   int64
	Name string
}

// NameKey is how person and user names are compared: case and spaces
// ignored ("Anna Lee" is "annalee").
func NameKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		if !unicode.IsSpace(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// firstPerson is the person with the lowest id, made (named name, or
// "me") when there is none yet.
func firstPerson(ctx context.Context, q querier, now func() time.Time, name string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM people ORDER BY id LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if strings.TrimSpace(name) == "" {
			name = "me"
		}
		return addPerson(ctx, q, now, name)
	}
	return id, err
}

func addPerson(ctx context.Context, q querier, now func() time.Time, name string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, errors.New("a person needs a name")
	}
	res, err := q.ExecContext(ctx, `INSERT INTO people (name, created) VALUES (?, ?)`, name, now().Unix())
	if err != nil {
		if isUnique(err) {
			return 0, fmt.Errorf("person %q: %w", name, ErrExists)
		}
		return 0, fmt.Errorf("adding person %q: %w", name, err)
	}
	return res.LastInsertId()
}

// People lists everyone, by id (the first person first).
func (s *Store) People(ctx context.Context) ([]Person, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM people ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing people: %w", err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		var p Person
		if err := rows.Scan(&p.ID, &p.Name); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PersonByName finds a person by name, case and spaces ignored
// (NameKey), or fails with ErrNotFound.
func (s *Store) PersonByName(ctx context.Context, name string) (Person, error) {
	people, err := s.People(ctx)
	if err != nil {
		return Person{}, err
	}
	for _, p := range people {
		if NameKey(p.Name) == NameKey(name) {
			return p, nil
		}
	}
	return Person{}, fmt.Errorf("person %q: %w", name, ErrNotFound)
}

// EnsurePerson is the person named name (case and spaces ignored),
// added when there is none.
func (s *Store) EnsurePerson(ctx context.Context, name string) (Person, error) {
	if p, err := s.PersonByName(ctx, name); err == nil || !errors.Is(err, ErrNotFound) {
		return p, err
	}
	id, err := addPerson(ctx, s.db, s.now, name)
	if err != nil {
		return Person{}, err
	}
	return Person{ID: id, Name: strings.TrimSpace(name)}, nil
}

// RenamePerson renames person id. A name another person has (case and
// spaces ignored) fails with ErrExists: merge them instead.
func (s *Store) RenamePerson(ctx context.Context, id int64, name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return errors.New("a person needs a name")
	}
	if p, err := s.PersonByName(ctx, name); err == nil && p.ID != id {
		return fmt.Errorf("person %q: %w", p.Name, ErrExists)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE people SET name=? WHERE id=?`, name, id)
	if err != nil {
		return fmt.Errorf("renaming person %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("person %d: %w", id, ErrNotFound)
	}
	return nil
}

func personExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM people WHERE id=?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("person %d: %w", id, ErrNotFound)
	}
	return err
}

// MergePeople makes person from one with person into: from's backends
// and history become into's, and from's play states merge into into's by
// the newer-wins rule (an explicit play or un-watch outranks a state never
// set; between two, the later; a resume position by its own time). Every
// state that changed takes a new change sequence, and the moved backends
// export from the start, so that the next export brings all of them to the
// merged state; the exports held for either's backends are dropped, with a
// note in history. from is then deleted.
func (s *Store) MergePeople(ctx context.Context, from, into int64) error {
	if from == into {
		return errors.New("merging a person with themselves")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range []int64{from, into} {
		if err := personExists(ctx, tx, id); err != nil {
			return err
		}
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING CAST(value AS INTEGER)`).Scan(&seq); err != nil {
		return fmt.Errorf("allocating change sequence: %w", err)
	}
	// The exports held for either's backends were planned from a watch
	// state the merge changes: dropped, with a note; the next run plans
	// them again from the merged state.
	var fromName, intoName string
	tx.QueryRowContext(ctx, `SELECT name FROM people WHERE id=?`, from).Scan(&fromName)
	tx.QueryRowContext(ctx, `SELECT name FROM people WHERE id=?`, into).Scan(&intoName)
	rows, err := tx.QueryContext(ctx, `UPDATE held SET status='dropped' WHERE status='held'
		AND backend IN (SELECT name FROM backends WHERE person_id IN (?, ?)) RETURNING backend`, from, into)
	if err != nil {
		return fmt.Errorf("merging person %d into %d: %w", from, into, err)
	}
	var dropped []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		dropped = append(dropped, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(dropped) > 0 {
		slices.Sort(dropped)
		msg := fmt.Sprintf("%s merged into %s: the exports held for %s were planned from the watch states before the merge and were dropped; the next run plans them again.",
			fromName, intoName, strings.Join(dropped, ", "))
		if err := noteRun(ctx, tx, s.now(), msg); err != nil {
			return err
		}
	}
	steps := []struct {
		q    string
		args []any
	}{
		// The watched state: from's where it is newer.
		{`UPDATE plays AS i SET watched=f.watched, updated=f.updated, via=f.via, explicit=f.explicit, seq=?
			FROM plays AS f WHERE i.person_id=? AND f.person_id=? AND f.item_id=i.item_id
			AND (f.explicit > i.explicit OR (f.explicit = i.explicit AND f.updated > i.updated))`, []any{seq, into, from}},
		// The resume position: from's where it is newer.
		{`UPDATE plays AS i SET progress=f.progress, progress_at=f.progress_at, seq=?
			FROM plays AS f WHERE i.person_id=? AND f.person_id=? AND f.item_id=i.item_id AND f.progress_at > i.progress_at`, []any{seq, into, from}},
		// What only from had becomes into's.
		{`UPDATE plays SET person_id=?, seq=? WHERE person_id=? AND item_id NOT IN (SELECT item_id FROM plays WHERE person_id=?)`, []any{into, seq, from, into}},
		{`DELETE FROM plays WHERE person_id=?`, []any{from}},
		{`UPDATE backends SET person_id=?, export_cursor=0 WHERE person_id=?`, []any{into, from}},
		{`UPDATE changes SET person_id=? WHERE person_id=?`, []any{into, from}},
		{`DELETE FROM people WHERE id=?`, []any{from}},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("merging person %d into %d: %w", from, into, err)
		}
	}
	return tx.Commit()
}

// LinkBackend moves backend to person: from then on it syncs with that
// person's play state. What the store knew of the backend (its
// sub-records and played counts) was read for its former person, so it is
// forgotten: the next import reads it whole into the new person's state,
// and the next export starts from the beginning; an export held for it by
// the mass-change guard is dropped, with a note in history. Linking a
// backend to the person it has changes nothing.
func (s *Store) LinkBackend(ctx context.Context, backend string, person int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := personExists(ctx, tx, person); err != nil {
		return err
	}
	var id, was int64
	err = tx.QueryRowContext(ctx, `SELECT id, person_id FROM backends WHERE name=?`, backend).Scan(&id, &was)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("backend %q: %w", backend, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if was == person {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE backends SET person_id=?, export_cursor=0, import_cursor=0, last_full_import=0 WHERE id=?`, person, id); err != nil {
		return fmt.Errorf("linking backend %q to person %d: %w", backend, person, err)
	}
	for _, q := range []string{`DELETE FROM remotes WHERE backend_id=?`, `DELETE FROM played_counts WHERE backend_id=?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("linking backend %q to person %d: %w", backend, person, err)
		}
	}
	// An export the mass-change guard holds for the backend was planned
	// from its former person's state: applying it now would write that
	// person's un-watches to the new person's server. It is dropped, with
	// a note in history; the next run plans again for the new person.
	var unwatches int
	err = tx.QueryRowContext(ctx, `UPDATE held SET status='dropped' WHERE backend=? AND status='held' RETURNING unwatches`, backend).Scan(&unwatches)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("linking backend %q to person %d: %w", backend, person, err)
	default:
		var from, to string
		tx.QueryRowContext(ctx, `SELECT name FROM people WHERE id=?`, was).Scan(&from)
		tx.QueryRowContext(ctx, `SELECT name FROM people WHERE id=?`, person).Scan(&to)
		msg := fmt.Sprintf("%s moved from %s to %s: the export held for it (%s to mark unwatched, planned from %s's watch state) was dropped; the next run plans it again for %s.",
			backend, from, to, countNoun(unwatches, "item"), from, to)
		if err := noteRun(ctx, tx, s.now(), msg); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ErrHasBackends means a person still has backends linked: removing them
// would remove those backends too, which the caller must ask for.
var ErrHasBackends = errors.New("has backends linked")

// HasBackendsError is ErrHasBackends with the person and their backends'
// names, so that a caller can say which to move.
type HasBackendsError struct {
	Person   string
	Backends []string
}

func (e *HasBackendsError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Person, ErrHasBackends, strings.Join(e.Backends, ", "))
}

func (e *HasBackendsError) Is(target error) bool { return target == ErrHasBackends }

// PersonRemoved is what RemovePerson removed.
type PersonRemoved struct {
	Person   Person
	Plays    int      // play states (items they had watched, started or un-watched)
	Backends []string // backends removed with them (withBackends)
}

// RemovePerson removes person id and their play state. A person with
// backends linked is refused with a *HasBackendsError (ErrHasBackends)
// unless withBackends, which removes those backends too (as RemoveBackend
// does: their sub-records, unmatched items and tokens) and drops their
// held exports. The media identity stays (it is everyone's), and so does
// history: runs and changes are a record of what was done. A note in
// history says what went. The caller holds the run lock (LockRuns) and
// has made a backup: the engine's RemovePerson does both.
func (s *Store) RemovePerson(ctx context.Context, id int64, withBackends bool) (PersonRemoved, error) {
	var out PersonRemoved
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return out, err
	}
	defer tx.Rollback()
	err = tx.QueryRowContext(ctx, `SELECT id, name FROM people WHERE id=?`, id).Scan(&out.Person.ID, &out.Person.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("person %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return out, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, token FROM backends WHERE person_id=? ORDER BY name`, id)
	if err != nil {
		return out, err
	}
	var markers []string // backends whose token is in the keyring
	for rows.Next() {
		var name, tok string
		if err := rows.Scan(&name, &tok); err != nil {
			rows.Close()
			return out, err
		}
		out.Backends = append(out.Backends, name)
		if isMarker(tok) {
			markers = append(markers, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	if len(out.Backends) > 0 && !withBackends {
		return out, &HasBackendsError{Person: out.Person.Name, Backends: out.Backends}
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plays WHERE person_id=?`, id).Scan(&out.Plays); err != nil {
		return out, err
	}
	fail := func(err error) (PersonRemoved, error) {
		return out, fmt.Errorf("removing %s: %w", out.Person.Name, s.classify(err))
	}
	for _, name := range out.Backends {
		if _, err := tx.ExecContext(ctx, `UPDATE held SET status='dropped' WHERE backend=? AND status='held'`, name); err != nil {
			return fail(err)
		}
	}
	for _, q := range []string{`DELETE FROM backends WHERE person_id=?`, `DELETE FROM plays WHERE person_id=?`, `DELETE FROM people WHERE id=?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fail(err)
		}
	}
	msg := fmt.Sprintf("Removed %s and their watch state (%s)", out.Person.Name, countNoun(out.Plays, "item"))
	if len(out.Backends) > 0 {
		msg += fmt.Sprintf(", with their backends %s", strings.Join(out.Backends, ", "))
	}
	if err := noteRun(ctx, tx, s.now(), msg+"."); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	for _, name := range out.Backends {
		s.cacheDrop(name)
	}
	if s.keyring != nil {
		for _, name := range markers {
			_ = s.keyring.Delete(ctx, name)
		}
	}
	return out, nil
}

// RunPeople is the kind of a history entry that records a change to the
// household (a person removed, a held export dropped by a move), not a
// sync run.
const RunPeople = "people"

// noteRun records a finished history entry of kind RunPeople saying msg.
func noteRun(ctx context.Context, q querier, now time.Time, msg string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO runs (kind, trigger, dry_run, started, finished, status, message) VALUES (?, 'user', 0, ?, ?, ?, ?)`,
		RunPeople, now.Unix(), now.Unix(), RunOK, msg)
	if err != nil {
		return fmt.Errorf("recording in history: %w", err)
	}
	return nil
}

func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// PersonBackends names person id's backends, by name (no token read).
func (s *Store) PersonBackends(ctx context.Context, id int64) ([]string, error) {
	return s.strings(ctx, `SELECT name FROM backends WHERE person_id=? ORDER BY name`, id)
}
