package state

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Item is the canonical play state of one movie or episode.
type Item struct {
	ID        int64
	Type      string // movie or episode
	Title     string
	Year      int
	ShowTitle string
	Season    int
	Episode   int

	Watched bool
	Updated time.Time // time of the current play state
	Via     string    // backend that last changed it
	// Explicit is true once a play or an un-watch set the state; false
	// while the item was never watched anywhere (its Updated is then only
	// the time it was added), which any remote play outranks.
	Explicit   bool
	Progress   time.Duration
	ProgressAt time.Time
	Duration   time.Duration
	Created    time.Time
	Seq        int64 // change sequence of the last play-state change
	// IDsHash is the hash of the external ids last indexed for it, from
	// any backend (0: none recorded).
	IDsHash uint32
}

// Label is how the item is named to a person: "Title (Year)" or
// "Show S01E02".
func (it Item) Label() string {
	if it.Type == "episode" {
		return fmt.Sprintf("%s S%02dE%02d", it.ShowTitle, it.Season, it.Episode)
	}
	if it.Year > 0 {
		return fmt.Sprintf("%s (%d)", it.Title, it.Year)
	}
	return it.Title
}

// Remote is what one backend knows of an item: the sub-record.
type Remote struct {
	BackendID int64
	RemoteID  string
	ItemID    int64
	Watched   bool
	PlayCount int
	PlayedAt  time.Time
	AddedAt   time.Time
	Progress  time.Duration
	Duration  time.Duration
	Library   string
	ShowID    string
	Path      string
	IDsHash   uint32 // hash of the external ids last recorded from this backend
	Seen      time.Time
}

// Unmatched is an item a backend has that could not be matched.
type Unmatched struct {
	Backend   string
	RemoteID  string
	Type      string
	Title     string
	ShowTitle string
	Season    int
	Episode   int
	Path      string
	Seen      time.Time
}

// Change is one entry of the history.
type Change struct {
	ID     int64
	RunID  int64
	At     time.Time
	ItemID int64
	Item   string // label
	Target string // "local" or a backend name
	Before string
	After  string
	Reason string
	// PersonID is whose play state changed (0 when recording: the
	// transaction's person).
	PersonID int64
}

// Tx is one write transaction over the play state. It holds prepared
// statements, so that the per-item work of a run is cheap. A Tx is used by
// one goroutine; Commit or Rollback ends it.
type Tx struct {
	tx   *sql.Tx
	conn *sql.Conn // the connection of its own (BeginImport), else nil
	// raw are the driver's statements on conn, args and vals buffers for
	// their arguments and a row (raw.go).
	raw  map[string]driver.Stmt
	args []driver.NamedValue
	vals []driver.Value
	s    *Store
	ctx  context.Context
	seq  int64 // this transaction's change sequence, allocated on first use
	now  func() time.Time
	stmt map[string]*sql.Stmt
	// person is whose play state the item reads and writes are (SetPerson);
	// 0 until set or first needed, then the first person.
	person int64
	// shows caches the show each show id names (show_ids), as read or
	// claimed in this transaction; a rollback to a savepoint empties it.
	shows map[string]int64 // by showKey
	// guids are the external ids claimed (AddGUID) and not yet written:
	// see flushGUIDs.
	guids pendingGUIDs
	// showMaybe, when set, says whether a show id may be recorded: false
	// answers a look-up without asking SQLite (SetShowFilter).
	showMaybe func(IDPair) bool
}

// maxCachedShows bounds the show ids a transaction remembers (and hands
// on, Continue): about 3 per show, so a library of a million items (some
// 40,000 shows) fits.
const maxCachedShows = 250000

// Continue takes over what prev, a transaction of the same run that has
// just committed, knew of the recorded show ids: a large import writes
// in batches, and each batch would otherwise look every show it meets up
// again (a library listed by date meets most shows in every batch).
// What prev knew is committed, so it stays true.
func (t *Tx) Continue(prev *Tx) {
	if t.shows == nil && len(prev.shows) <= maxCachedShows {
		t.shows, prev.shows = prev.shows, nil
	}
}

// SetShowFilter makes show id look-ups ask maybe first: false must mean
// that the show id is not recorded (no false negatives; a false positive
// costs only the query). A large import sets the filter it keeps of the
// recorded ids: each new show's ids would otherwise cost a query that
// must miss. nil removes it.
func (t *Tx) SetShowFilter(maybe func(IDPair) bool) { t.showMaybe = maybe }

// SetPerson makes the transaction's item reads and writes person id's
// play state (a run sets the person of the backend it works on).
func (t *Tx) SetPerson(id int64) { t.person = id }

// Person is whose play state the transaction reads and writes: the one
// SetPerson named, else the first person (made when there is none).
func (t *Tx) Person() (int64, error) {
	if t.person != 0 {
		return t.person, nil
	}
	id, err := firstPerson(t.ctx, t.tx, t.now, "")
	if err != nil {
		return 0, err
	}
	t.person = id
	return id, nil
}

// Begin starts a write transaction. SQLite allows one writer at a time:
// Begin waits (up to the busy timeout) for another writer to finish.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("starting transaction: %w", err)
	}
	// Statements run without the caller's cancellation: a cancelled
	// context already rolls the whole transaction back (database/sql),
	// and a cancellable context costs the driver a goroutine per
	// statement (a profile showed ~8 % of an import).
	return &Tx{tx: tx, s: s, ctx: context.WithoutCancel(ctx), now: s.now, stmt: map[string]*sql.Stmt{}}, nil
}

// BeginImport is Begin for an import's batch: the same transaction, on a
// connection of its own whose foreign-key checks are off until it ends.
// An import writes only rows whose parents exist by construction (its
// backend and person, items it read or made in the transaction) and
// deletes no parent row, so the checks, a look-up of each parent for
// every row written (7-9 % of a large import), cannot fail there.
// TestImportBatchChecksNoForeignKeys shows they are off in the batch and
// on again after it; the engine's tests run PRAGMA foreign_key_check
// after imports.
func (s *Store) BeginImport(ctx context.Context) (*Tx, error) {
	if err := s.db.writable(); err != nil {
		return nil, err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting transaction: %w", s.classify(err))
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys=OFF`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("starting transaction: %w", s.classify(err))
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		restoreForeignKeys(conn)
		return nil, fmt.Errorf("starting transaction: %w", s.classify(err))
	}
	return &Tx{tx: tx, conn: conn, s: s, ctx: context.WithoutCancel(ctx), now: s.now, stmt: map[string]*sql.Stmt{}}, nil
}

// restoreForeignKeys turns a connection's foreign-key checks on again and
// gives it back to the pool; a connection whose checks are not on after
// it (the pragma does nothing inside a transaction, which a failed commit
// can leave open) is closed instead, which also ends that transaction.
func restoreForeignKeys(conn *sql.Conn) {
	ctx := context.Background()
	on := 0
	_, err := conn.ExecContext(ctx, `PRAGMA foreign_keys=ON`)
	if err == nil {
		err = conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&on)
	}
	if err != nil || on != 1 {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}

// Commit makes the transaction's changes durable (the external ids
// still pending first).
func (t *Tx) Commit() error {
	if err := t.flushGUIDs(); err != nil {
		_ = t.Rollback()
		return err
	}
	err := t.tx.Commit()
	t.release()
	return t.s.classify(err)
}

// Rollback discards the transaction's changes. It is safe after Commit.
func (t *Tx) Rollback() error {
	t.guids.reset()
	err := t.tx.Rollback()
	t.release()
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// release gives back a connection of its own (BeginImport), once.
func (t *Tx) release() {
	if t.conn != nil {
		t.closeRaw()
		restoreForeignKeys(t.conn)
		t.conn = nil
	}
}

func (t *Tx) prep(q string) (*sql.Stmt, error) {
	if st, ok := t.stmt[q]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(t.ctx, q)
	if err != nil {
		return nil, err
	}
	t.stmt[q] = st
	return st, nil
}

func (t *Tx) exec(q string, args ...any) error {
	_, err := t.execResult(q, args...)
	return err
}

// SetCacheSize sets the page cache of the transaction's connection to
// kib KiB, until set again (a connection outlives its transactions: set
// CacheKiB back before the last commit).
func (t *Tx) SetCacheSize(kib int) error {
	return t.exec(fmt.Sprintf("PRAGMA cache_size=-%d", kib))
}

// Seq is this transaction's change sequence number, allocated on first
// use: every play-state change made in the transaction carries it.
func (t *Tx) Seq() (int64, error) {
	if t.seq != 0 {
		return t.seq, nil
	}
	st, err := t.prep(`UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING CAST(value AS INTEGER)`)
	if err != nil {
		return 0, err
	}
	if err := st.QueryRowContext(t.ctx).Scan(&t.seq); err != nil {
		return 0, fmt.Errorf("allocating change sequence: %w", err)
	}
	return t.seq, nil
}

// itemCols are an item's columns: its identity from items i, its play
// state from the person's plays p (outer-joined: no row is the state of
// an item the person never played).
const itemCols = `i.id, i.type, i.title, i.year, i.show_title, i.season, i.episode, COALESCE(p.watched, 0), COALESCE(p.updated, i.created),
	COALESCE(p.via, ''), COALESCE(p.explicit, 0), COALESCE(p.progress, 0), COALESCE(p.progress_at, 0), i.duration, i.created, COALESCE(p.seq, 0), i.ids_hash`

// itemsFrom is the FROM clause itemCols reads from, for the
// transaction's person. The person is part of the statement's text, not
// a parameter: each statement is prepared once per person and
// transaction, and a bound integer in a join may make SQLite re-prepare
// on every binding (see EpisodeItem).
func (t *Tx) itemsFrom() (string, error) {
	person, err := t.Person()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`items i LEFT JOIN plays p ON p.person_id=%d AND p.item_id=i.id`, person), nil
}

// playsJoin joins items i to the transaction's person's plays p.
func (t *Tx) playsJoin() (string, error) {
	person, err := t.Person()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`LEFT JOIN plays p ON p.person_id=%d AND p.item_id=i.id`, person), nil
}

// itemRow receives the columns itemCols names, in a Scan of its own or
// of a wider row.
type itemRow struct {
	it                      Item
	upd, pat, cr, prog, dur int64
}

func (r *itemRow) dest() []any {
	it := &r.it
	return []any{num[int64]{&it.ID}, &it.Type, &it.Title, num[int]{&it.Year}, &it.ShowTitle, num[int]{&it.Season}, num[int]{&it.Episode}, &it.Watched,
		num[int64]{&r.upd}, &it.Via, &it.Explicit, num[int64]{&r.prog}, num[int64]{&r.pat}, num[int64]{&r.dur}, num[int64]{&r.cr}, num[int64]{&it.Seq}, num[uint32]{&it.IDsHash}}
}

// item is the scanned item, its times and durations converted.
func (r *itemRow) item() Item {
	it := r.it
	it.Updated, it.ProgressAt, it.Created = fromUnix(r.upd), fromUnix(r.pat), fromUnix(r.cr)
	it.Progress, it.Duration = time.Duration(r.prog)*time.Millisecond, time.Duration(r.dur)*time.Millisecond
	return it
}

// num receives an INTEGER column into an integer field. database/sql
// converts an int64 to an int by way of text, and to an int64 by
// reflection: a look-up reads 17 columns, and the conversions were a
// quarter of its cost.
type num[T ~int | ~int64 | ~uint32] struct{ p *T }

func (n num[T]) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*n.p = T(v)
	case nil:
		*n.p = 0
	default:
		return fmt.Errorf("an integer column holds %T", src)
	}
	return nil
}

func scanItem(row interface{ Scan(...any) error }) (Item, error) {
	var r itemRow
	err := row.Scan(r.dest()...)
	return r.item(), err
}

// itemQuery runs a query selecting itemCols and reads
// the one item it finds; ok is false when none.
func (t *Tx) itemQuery(q string, args ...any) (Item, bool, error) {
	var r itemRow
	ok, err := t.queryRow(q, args, r.dest()...)
	if !ok || err != nil {
		return Item{}, false, err
	}
	return r.item(), true, nil
}

// EpisodeItem finds an episode by its relative id (one of its show's
// external ids plus season and episode numbers) and reads it.
func (t *Tx) EpisodeItem(kind, value string, season, episode int) (Item, bool, error) {
	show, ok, err := t.show(IDPair{kind, value})
	if err != nil || !ok {
		return Item{}, false, err
	}
	// A sub-select, not a join: with a join, the planner (STAT4 is
	// compiled in) marks the integer parameters as plan-relevant and
	// SQLite re-prepares the statement on every new binding (a profile
	// showed the parser at 40 % of this query).
	from, err := t.itemsFrom()
	if err != nil {
		return Item{}, false, err
	}
	return t.itemQuery(`SELECT `+itemCols+` FROM `+from+` WHERE i.id =
		(SELECT item_id FROM episodes WHERE show_id=? AND season=? AND episode=?)`, show, season, episode)
}

// show is the show that show id g names, if any.
func (t *Tx) show(g IDPair) (int64, bool, error) {
	if id, ok := t.shows[showKey(g)]; ok {
		return id, true, nil
	}
	if t.showMaybe != nil && !t.showMaybe(g) {
		return 0, false, nil
	}
	var id int64
	if ok, err := t.queryRow(`SELECT show_id FROM show_ids WHERE kind=? AND value=?`, []any{g.Kind, g.Value}, num[int64]{&id}); !ok || err != nil {
		return 0, false, err
	}
	t.cacheShow(g, id)
	return id, true, nil
}

func (t *Tx) cacheShow(g IDPair, id int64) {
	if strings.IndexByte(g.Kind, 0) >= 0 {
		return // showKey would not tell it apart: not cached
	}
	if t.shows == nil || len(t.shows) >= maxCachedShows {
		t.shows = map[string]int64{}
	}
	t.shows[showKey(g)] = id
}

// showKey is a show id as one string of its own: a cache that outlives
// a batch must not hold on to the listing's strings (and a string is
// half an IDPair's size).
func showKey(g IDPair) string { return g.Kind + "\x00" + g.Value }

// GUIDItem finds an item of type typ by one of its external ids and
// reads it.
func (t *Tx) GUIDItem(typ, kind, value string) (Item, bool, error) {
	from, err := t.itemsFrom()
	if err != nil {
		return Item{}, false, err
	}
	key := guidKey(typ, kind, value)
	it, ok, err := t.itemQuery(fmt.Sprintf(guidItemSQL, itemCols, from), typ, kind, value, key, key+guidProbes-1)
	if ok || err != nil {
		return it, ok, err
	}
	// A claim already written is older than any pending one, and keeps
	// the id when the pending ones are written: ask the pending ones last.
	id, ok := t.guids.claims[guidKeyOf(typ, kind, value)]
	if !ok || strings.IndexByte(typ, 0) >= 0 || strings.IndexByte(kind, 0) >= 0 {
		return Item{}, false, nil
	}
	return t.itemQuery(`SELECT `+itemCols+` FROM `+from+` WHERE i.id=?`, id)
}

// RemoteItem reads a backend's sub-record by remote id together with its
// item, in one query.
func (t *Tx) RemoteItem(backendID int64, remoteID string) (Remote, Item, bool, error) {
	join, err := t.playsJoin()
	if err != nil {
		return Remote{}, Item{}, false, err
	}
	var r remoteRow
	var it itemRow
	ok, err := t.queryRow(`SELECT `+prefixed("r.", remoteCols)+`, `+itemCols+` FROM remotes r JOIN items i ON i.id = r.item_id `+join+`
		WHERE r.backend_id=? AND r.remote_id=?`, []any{backendID, remoteID}, append(r.dest(), it.dest()...)...)
	if !ok || err != nil {
		return Remote{}, Item{}, false, err
	}
	return r.remote(), it.item(), true, nil
}

// played says whether it holds a play state of its own: an item never
// played nor started (the state of an item without a plays row) needs no
// row.
func played(it *Item) bool { return it.Watched || it.Explicit || it.Progress > 0 }

// CreateItem inserts a new item and sets its ID. Its play state becomes
// the transaction's person's, with this transaction's sequence number;
// a state of never played is not written (it is what no row says).
func (t *Tx) CreateItem(it *Item) error {
	if it.Created.IsZero() {
		it.Created = t.now().UTC().Truncate(time.Second)
	}
	// The new id from the connection (sqlite3_last_insert_rowid), not
	// RETURNING: that costs a temporary table and a result set per row
	// (a profile: about a third of this call).
	res, err := t.execResult(`INSERT INTO items (type, title, year, show_title, season, episode, duration, created, ids_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, it.Type, it.Title, it.Year, it.ShowTitle, it.Season, it.Episode,
		it.Duration.Milliseconds(), unix(it.Created), it.IDsHash)
	if err != nil {
		return err
	}
	if it.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	if !played(it) {
		it.Seq = 0
		return nil
	}
	return t.SavePlay(it)
}

// SaveItem writes it: its identity, and when playState is true its play
// state (SavePlay). Otherwise only metadata changed and exports do not
// see it.
func (t *Tx) SaveItem(it *Item, playState bool) error {
	if err := t.exec(`UPDATE items SET title=?, year=?, show_title=?, season=?, episode=?, duration=?, ids_hash=? WHERE id=?`,
		it.Title, it.Year, it.ShowTitle, it.Season, it.Episode, it.Duration.Milliseconds(), it.IDsHash, it.ID); err != nil {
		return err
	}
	if !playState {
		return nil
	}
	return t.SavePlay(it)
}

// SavePlay writes its play state (only) as the transaction's person's,
// with this transaction's sequence number, so that exports to that
// person's backends see it.
func (t *Tx) SavePlay(it *Item) error {
	seq, err := t.Seq()
	if err != nil {
		return err
	}
	person, err := t.Person()
	if err != nil {
		return err
	}
	it.Seq = seq
	return t.exec(`INSERT INTO plays (person_id, item_id, watched, updated, via, explicit, progress, progress_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (person_id, item_id) DO UPDATE SET watched=excluded.watched, updated=excluded.updated, via=excluded.via,
		explicit=excluded.explicit, progress=excluded.progress, progress_at=excluded.progress_at, seq=excluded.seq`,
		person, it.ID, it.Watched, unix(it.Updated), it.Via, it.Explicit, it.Progress.Milliseconds(), unix(it.ProgressAt), seq)
}

// SetItemIDsHash records the hash of the external ids last indexed for
// item id (Item.IDsHash).
func (t *Tx) SetItemIDsHash(id int64, hash uint32) error {
	return t.exec(`UPDATE items SET ids_hash=? WHERE id=?`, hash, id)
}

// AddGUID claims an external id for item id. An id another item already
// claimed stays with that item (first claim wins), without an error.
//
// The claim is written later, with the transaction's other pending claims
// in key order (flushGUIDs), before the transaction commits, makes a
// savepoint or reads the index; GUIDItem sees it meanwhile.
func (t *Tx) AddGUID(id int64, typ, kind, value string) error {
	if strings.IndexByte(typ, 0) >= 0 || strings.IndexByte(kind, 0) >= 0 {
		// Not a key guidKeyOf can write (no client makes one): at once.
		if won, err := t.claimSlot(id, typ, kind, value); err != nil || !won {
			return err
		}
		return t.writeItemIDs([]guidRow{{id, typ, kind, value}})
	}
	t.guids.add(guidKeyOf(typ, kind, value), id)
	if len(t.guids.claims) >= maxPendingGUIDs {
		return t.flushGUIDs()
	}
	return nil
}

// guidKeyOf is an external id as one string: type, kind and value
// joined by NULs (a copy, so that pending claims hold no listing's
// strings).
func guidKeyOf(typ, kind, value string) string { return typ + "\x00" + kind + "\x00" + value }

// pendingGUIDs are claims not yet written (by guidKeyOf), the first per
// key.
type pendingGUIDs struct {
	claims map[string]int64
}

func (p *pendingGUIDs) add(k string, id int64) {
	if p.claims == nil {
		p.claims = map[string]int64{}
	}
	if _, ok := p.claims[k]; !ok { // first claim wins
		p.claims[k] = id
	}
}

func (p *pendingGUIDs) reset() { clear(p.claims) }

// maxPendingGUIDs bounds the claims held in memory (a batch of a full
// import claims about 50,000).
const maxPendingGUIDs = 200000

// flushGUIDs writes the pending claims: their guid_keys slots in key
// order (the B-tree then takes them page by page, each page read and
// dirtied once, instead of a random page per claim), then the won
// claims' item_ids rows in item order. A claim already written keeps its
// id: first claim wins, as when each was written at once.
func (t *Tx) flushGUIDs() error {
	p := &t.guids
	if len(p.claims) == 0 {
		return nil
	}
	type claim struct {
		key int64
		k   string
	}
	claims := make([]claim, 0, len(p.claims))
	for k := range p.claims {
		typ, rest, _ := strings.Cut(k, "\x00")
		kind, value, _ := strings.Cut(rest, "\x00")
		claims = append(claims, claim{guidKey(typ, kind, value), k})
	}
	slices.SortFunc(claims, func(a, b claim) int { return cmp.Compare(a.key, b.key) })
	won := make([]guidRow, 0, len(claims))
	for _, c := range claims {
		typ, rest, _ := strings.Cut(c.k, "\x00")
		kind, value, _ := strings.Cut(rest, "\x00")
		id := p.claims[c.k]
		ok, err := t.claimSlot(id, typ, kind, value)
		if err != nil {
			return err
		}
		if ok {
			won = append(won, guidRow{id, typ, kind, value})
		}
	}
	if err := t.writeItemIDs(won); err != nil {
		return err
	}
	p.reset()
	return nil
}

// AddEpisodeID records an episode's relative id (show external id,
// season, episode). First claim wins.
func (t *Tx) AddEpisodeID(id int64, kind, value string, season, episode int) error {
	return t.AddEpisode(id, []IDPair{{kind, value}}, season, episode)
}

// AddEpisode records item id as episode season x episode of the show its
// show ids name. Show ids no show has yet join the show the others name
// (the first of them), or a new one; the episode is recorded under each
// show named (one, unless earlier imports saw the ids apart). First claim
// wins, for a show id as for an episode.
func (t *Tx) AddEpisode(id int64, showIDs []IDPair, season, episode int) error {
	var shows [4]int64
	named := shows[:0]
	var unclaimed []IDPair
	for _, g := range showIDs {
		s, ok, err := t.show(g)
		if err != nil {
			return err
		}
		if !ok {
			unclaimed = append(unclaimed, g)
		} else if !slices.Contains(named, s) {
			named = append(named, s)
		}
	}
	if len(unclaimed) > 0 {
		var owner int64
		if len(named) > 0 {
			owner = named[0]
		} else {
			if _, err := t.queryRow(`SELECT COALESCE(MAX(show_id), 0) + 1 FROM show_ids`, nil, num[int64]{&owner}); err != nil {
				return err
			}
			named = append(named, owner)
		}
		for _, g := range unclaimed {
			if err := t.exec(`INSERT INTO show_ids (kind, value, show_id) VALUES (?, ?, ?)`, g.Kind, g.Value, owner); err != nil {
				return err
			}
			t.cacheShow(g, owner)
		}
	}
	for _, s := range named {
		if err := t.exec(`INSERT INTO episodes (show_id, season, episode, item_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, s, season, episode, id); err != nil {
			return err
		}
	}
	return nil
}

const remoteCols = `backend_id, remote_id, item_id, watched, play_count, played_at, added_at, progress, duration, library, show_id, path, ids_hash, seen`

// remoteRow receives the columns remoteCols names, as itemRow does.
type remoteRow struct {
	r                       Remote
	pa, aa, prog, dur, seen int64
}

func (x *remoteRow) dest() []any {
	r := &x.r
	return []any{num[int64]{&r.BackendID}, &r.RemoteID, num[int64]{&r.ItemID}, &r.Watched, num[int]{&r.PlayCount}, num[int64]{&x.pa}, num[int64]{&x.aa},
		num[int64]{&x.prog}, num[int64]{&x.dur}, &r.Library, &r.ShowID, &r.Path, num[uint32]{&r.IDsHash}, num[int64]{&x.seen}}
}

// remote is the scanned sub-record, its times and durations converted.
func (x *remoteRow) remote() Remote {
	r := x.r
	r.PlayedAt, r.AddedAt, r.Seen = fromUnix(x.pa), fromUnix(x.aa), fromUnix(x.seen)
	r.Progress, r.Duration = time.Duration(x.prog)*time.Millisecond, time.Duration(x.dur)*time.Millisecond
	return r
}

func scanRemote(row interface{ Scan(...any) error }) (Remote, error) {
	var x remoteRow
	err := row.Scan(x.dest()...)
	return x.remote(), err
}

// Remote reads a backend's sub-record by remote id.
func (t *Tx) Remote(backendID int64, remoteID string) (Remote, bool, error) {
	st, err := t.prep(`SELECT ` + remoteCols + ` FROM remotes WHERE backend_id=? AND remote_id=?`)
	if err != nil {
		return Remote{}, false, err
	}
	r, err := scanRemote(st.QueryRowContext(t.ctx, backendID, remoteID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// PutRemote inserts or replaces a sub-record.
func (t *Tx) PutRemote(r Remote) error {
	return t.exec(`INSERT INTO remotes (`+remoteCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (backend_id, remote_id) DO UPDATE SET item_id=excluded.item_id, watched=excluded.watched, play_count=excluded.play_count,
		played_at=excluded.played_at, added_at=excluded.added_at, progress=excluded.progress, duration=excluded.duration,
		library=excluded.library, show_id=excluded.show_id, path=excluded.path, ids_hash=excluded.ids_hash, seen=excluded.seen`,
		r.BackendID, r.RemoteID, r.ItemID, r.Watched, r.PlayCount, unix(r.PlayedAt), unix(r.AddedAt),
		r.Progress.Milliseconds(), r.Duration.Milliseconds(), r.Library, r.ShowID, r.Path, r.IDsHash, unix(r.Seen))
}

// ForgetUnseen deletes a backend's sub-records and unmatched entries that
// its last complete listing (which started at since) did not show: the
// items are gone from that server.
func (t *Tx) ForgetUnseen(backendID int64, since time.Time) (int64, error) {
	st, err := t.prep(`DELETE FROM remotes WHERE backend_id=? AND seen<?`)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(t.ctx, backendID, unix(since))
	if err != nil {
		return 0, err
	}
	if err := t.ForgetUnseenUnmatched(backendID, since); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ForgetUnseenUnmatched is ForgetUnseen for the unmatched entries alone:
// after the first import of a backend (no sub-records when it began,
// so every one it has was seen by this listing), there is nothing else
// to forget, and looking costs a read of every sub-record it wrote.
func (t *Tx) ForgetUnseenUnmatched(backendID int64, since time.Time) error {
	return t.exec(`DELETE FROM unmatched WHERE backend_id=? AND seen<?`, backendID, unix(since))
}

// PutUnmatched records (or refreshes) an item that could not be matched.
func (t *Tx) PutUnmatched(backendID int64, u Unmatched) error {
	return t.exec(`INSERT INTO unmatched (backend_id, remote_id, type, title, show_title, season, episode, path, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (backend_id, remote_id) DO UPDATE SET type=excluded.type, title=excluded.title, show_title=excluded.show_title,
		season=excluded.season, episode=excluded.episode, path=excluded.path, seen=excluded.seen`,
		backendID, u.RemoteID, u.Type, u.Title, u.ShowTitle, u.Season, u.Episode, u.Path, unix(u.Seen))
}

// RecordChange appends c to the history.
func (t *Tx) RecordChange(c Change) error {
	if c.At.IsZero() {
		c.At = t.now()
	}
	if c.PersonID == 0 {
		p, err := t.Person()
		if err != nil {
			return err
		}
		c.PersonID = p
	}
	return t.exec(`INSERT INTO changes (run_id, at, item_id, item, target, before, after, reason, person_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.RunID, unix(c.At), c.ItemID, c.Item, c.Target, c.Before, c.After, c.Reason, c.PersonID)
}

// Changed is an item that changed since an export cursor, with the
// sub-records of the backend being exported to (none when it lacks it).
type Changed struct {
	Item    Item
	Remotes []Remote
}

// ChangedSince lists the items whose play state, for backend id's
// person, changed after seq (up to and including upTo) with backend id's
// sub-records of them. It reads through the transaction, so a dry run
// sees its own planned changes.
func (t *Tx) ChangedSince(backendID, after, upTo int64) ([]Changed, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+itemCols+`, r.remote_id IS NOT NULL, `+
		coalesced("r.", remoteCols)+`
		FROM plays p INDEXED BY plays_seq JOIN items i ON i.id=p.item_id
		LEFT JOIN remotes r INDEXED BY remotes_item ON r.item_id=i.id AND r.backend_id=?
		WHERE p.person_id=(SELECT person_id FROM backends WHERE id=?) AND p.seq>? AND p.seq<=? ORDER BY i.id`, backendID, backendID, after, upTo)
	if err != nil {
		return nil, fmt.Errorf("listing changed items: %w", err)
	}
	defer rows.Close()
	var out []Changed
	for rows.Next() {
		var ir itemRow
		var has bool
		var rr remoteRow
		dest := append(append(ir.dest(), &has), rr.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		it, r := ir.item(), rr.remote()
		if n := len(out); n > 0 && out[n-1].Item.ID == it.ID {
			out[n-1].Remotes = append(out[n-1].Remotes, r)
			continue
		}
		c := Changed{Item: it}
		if has {
			c.Remotes = []Remote{r}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountChanged is how many items' play state, for backend id's person,
// changed after sequence number after.
func (t *Tx) CountChanged(backendID, after int64) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, `SELECT COUNT(*) FROM plays WHERE person_id=(SELECT person_id FROM backends WHERE id=?) AND seq>?`, backendID, after).Scan(&n)
	return n, err
}

// MaxSeq is the newest change sequence number.
func (t *Tx) MaxSeq() (int64, error) {
	var n int64
	err := t.tx.QueryRowContext(t.ctx, `SELECT CAST(value AS INTEGER) FROM settings WHERE key='seq'`).Scan(&n)
	return n, err
}

// countWatchedSQL counts a backend's watched sub-records from the partial
// index remotes_watched alone (TestWatchedCountReadsItsIndex).
const countWatchedSQL = `SELECT COUNT(*) FROM remotes WHERE backend_id=? AND watched=1`

// CountWatchedRemotes is how many items backend id has marked watched, by
// its sub-records: the base of the mass-change guard.
func (t *Tx) CountWatchedRemotes(backendID int64) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, countWatchedSQL, backendID).Scan(&n)
	return n, err
}

// Savepoint marks a point the transaction can roll back to, so that one
// failing backend's part of a shared (dry-run) transaction can be undone.
// The pending external ids are written first: what is pending is then
// always newer than the newest savepoint.
func (t *Tx) Savepoint(name string) error {
	if err := t.flushGUIDs(); err != nil {
		return err
	}
	return t.exec("SAVEPOINT " + name)
}

// RollbackTo undoes everything since the savepoint and releases it.
func (t *Tx) RollbackTo(name string) error {
	t.shows = nil // what it claimed since may be undone
	t.guids.reset()
	if err := t.exec("ROLLBACK TO " + name); err != nil {
		return err
	}
	return t.exec("RELEASE " + name)
}

// Release keeps everything since the savepoint.
func (t *Tx) Release(name string) error { return t.exec("RELEASE " + name) }

// Counts are totals for the status line.
type Counts struct {
	Items, Watched, InProgress, Unmatched, Held int
	// Plays is the number of play states kept (a person's, of an item
	// they played, started or un-watched).
	Plays int
}

// Counts reads the totals, over everyone: an item is counted once, its
// watched and in-progress marks once per person.
func (s *Store) Counts(ctx context.Context) (Counts, error) { return s.CountsFor(ctx, 0) }

// CountsFor reads the totals of person id (0: everyone): the items are
// everyone's, the marks, unmatched items and held exports the person's.
func (s *Store) CountsFor(ctx context.Context, person int64) (Counts, error) {
	var c Counts
	who, args := "", []any{}
	if person != 0 {
		who = " AND person_id=?"
		args = []any{person, person, person, person, person}
	}
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM plays WHERE watched=1`+who+`),
		(SELECT COUNT(*) FROM plays WHERE watched=0 AND progress>0`+who+`),
		(SELECT COUNT(*) FROM unmatched WHERE backend_id IN (SELECT id FROM backends WHERE 1`+who+`)),
		(SELECT COUNT(*) FROM held WHERE status='held' AND backend IN (SELECT name FROM backends WHERE 1`+who+`)),
		(SELECT COUNT(*) FROM plays WHERE 1`+who+`)`, args...).
		Scan(&c.Items, &c.Watched, &c.InProgress, &c.Unmatched, &c.Held, &c.Plays)
	return c, err
}

// UnmatchedItems lists unmatched items, newest first, at most limit.
func (s *Store) UnmatchedItems(ctx context.Context, limit int) ([]Unmatched, error) {
	return s.UnmatchedItemsFor(ctx, 0, limit)
}

// UnmatchedItemsFor lists person id's backends' unmatched items (0:
// everyone's), as UnmatchedItems.
func (s *Store) UnmatchedItemsFor(ctx context.Context, person int64, limit int) ([]Unmatched, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT b.name, u.remote_id, u.type, u.title, u.show_title, u.season, u.episode, u.path, u.seen
		FROM unmatched u JOIN backends b ON b.id=u.backend_id WHERE ?=0 OR b.person_id=?
		ORDER BY b.name, u.show_title, u.title, u.season, u.episode LIMIT ?`, person, person, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Unmatched
	for rows.Next() {
		var u Unmatched
		var seen int64
		if err := rows.Scan(&u.Backend, &u.RemoteID, &u.Type, &u.Title, &u.ShowTitle, &u.Season, &u.Episode, &u.Path, &seen); err != nil {
			return nil, err
		}
		u.Seen = fromUnix(seen)
		out = append(out, u)
	}
	return out, rows.Err()
}

func prefixed(p, cols string) string {
	out := ""
	for i, c := range splitCols(cols) {
		if i > 0 {
			out += ", "
		}
		out += p + c
	}
	return out
}

// coalesced selects columns of an outer-joined table with zero values in
// place of NULLs.
func coalesced(p, cols string) string {
	out := ""
	for i, c := range splitCols(cols) {
		if i > 0 {
			out += ", "
		}
		switch c {
		case "remote_id", "library", "show_id", "path":
			out += "COALESCE(" + p + c + ", '')"
		default:
			out += "COALESCE(" + p + c + ", 0)"
		}
	}
	return out
}

func splitCols(cols string) []string {
	return strings.FieldsFunc(cols, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// IDPair is one external id.
type IDPair struct{ Kind, Value string }

// ItemIDs is an item with its external ids and, for episodes, its show's,
// and whose play state Item holds.
type ItemIDs struct {
	Person  Person
	Item    Item
	IDs     []IDPair
	ShowIDs []IDPair
}

// EachItem calls fn for every person's play state of every item they
// have one of (person by person, in id order) with the item's ids,
// streaming (three ordered queries merged), so that a backup of a large
// library never sits in memory.
func (s *Store) EachItem(ctx context.Context, fn func(ItemIDs) error) error {
	people, err := s.People(ctx)
	if err != nil {
		return err
	}
	for _, p := range people {
		if err := s.eachItemOf(ctx, p, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) eachItemOf(ctx context.Context, person Person, fn func(ItemIDs) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	items, err := tx.QueryContext(ctx, `SELECT `+itemCols+` FROM plays p JOIN items i ON i.id=p.item_id WHERE p.person_id=? ORDER BY i.id`, person.ID)
	if err != nil {
		return err
	}
	defer items.Close()
	guids, err := tx.QueryContext(ctx, `SELECT item_id, kind, value FROM item_ids ORDER BY item_id, type, kind, value`)
	if err != nil {
		return err
	}
	defer guids.Close()
	eps, err := tx.QueryContext(ctx, `SELECT e.item_id, s.kind, s.value FROM episodes e JOIN show_ids s ON s.show_id=e.show_id ORDER BY e.item_id, s.kind`)
	if err != nil {
		return err
	}
	defer eps.Close()
	type cursor struct {
		rows *sql.Rows
		ok   bool
		id   int64
		p    IDPair
	}
	next := func(c *cursor) error {
		c.ok = c.rows.Next()
		if c.ok {
			return c.rows.Scan(&c.id, &c.p.Kind, &c.p.Value)
		}
		return c.rows.Err()
	}
	g, e := &cursor{rows: guids}, &cursor{rows: eps}
	if err := next(g); err != nil {
		return err
	}
	if err := next(e); err != nil {
		return err
	}
	for items.Next() {
		it, err := scanItem(items)
		if err != nil {
			return err
		}
		rec := ItemIDs{Person: person, Item: it}
		for g.ok && g.id <= it.ID {
			if g.id == it.ID {
				rec.IDs = append(rec.IDs, g.p)
			}
			if err := next(g); err != nil {
				return err
			}
		}
		for e.ok && e.id <= it.ID {
			if e.id == it.ID && !slicesContains(rec.ShowIDs, e.p) {
				rec.ShowIDs = append(rec.ShowIDs, e.p)
			}
			if err := next(e); err != nil {
				return err
			}
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return items.Err()
}

func slicesContains(s []IDPair, p IDPair) bool {
	for _, x := range s {
		if x == p {
			return true
		}
	}
	return false
}

// CountIDs is the number of external and relative ids recorded.
func (t *Tx) CountIDs() (int, error) {
	if err := t.flushGUIDs(); err != nil {
		return 0, err
	}
	var n int
	err := t.tx.QueryRowContext(t.ctx, `SELECT (SELECT COUNT(*) FROM item_ids) + (SELECT COUNT(*) FROM episodes e JOIN show_ids s ON s.show_id=e.show_id)`).Scan(&n)
	return n, err
}

// EachID calls fn for every recorded external id (isEpisode false: type,
// kind, value) and relative episode id (isEpisode true: kind, value,
// season, episode).
func (t *Tx) EachID(fn func(typ, kind, value string, season, episode int, isEpisode bool)) error {
	if err := t.flushGUIDs(); err != nil {
		return err
	}
	rows, err := t.tx.QueryContext(t.ctx, `SELECT type, kind, value FROM item_ids`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var typ, kind, value string
		if err := rows.Scan(&typ, &kind, &value); err != nil {
			rows.Close()
			return err
		}
		fn(typ, kind, value, 0, 0, false)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = t.tx.QueryContext(t.ctx, `SELECT s.kind, s.value, e.season, e.episode FROM episodes e JOIN show_ids s ON s.show_id=e.show_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, value string
		var season, episode int
		if err := rows.Scan(&kind, &value, &season, &episode); err != nil {
			return err
		}
		fn("", kind, value, season, episode, true)
	}
	return rows.Err()
}

// EachShowID calls fn for every recorded show id.
func (t *Tx) EachShowID(fn func(IDPair)) error {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT kind, value FROM show_ids`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g IDPair
		if err := rows.Scan(&g.Kind, &g.Value); err != nil {
			return err
		}
		fn(g)
	}
	return rows.Err()
}

// HasRemotes says whether backend id has any sub-record yet.
func (t *Tx) HasRemotes(backendID int64) (bool, error) {
	var one int
	err := t.tx.QueryRowContext(t.ctx, `SELECT 1 FROM remotes WHERE backend_id=? LIMIT 1`, backendID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
