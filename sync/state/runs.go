package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Run is one import, export or sync, with its per-backend figures.
type Run struct {
	ID       int64
	Kind     string // import, export, sync, webhook
	Trigger  string // cli, schedule, tray, window, webhook
	DryRun   bool
	Started  time.Time
	Finished time.Time // zero while running
	Status   string    // running, ok, failed, cancelled, held, interrupted
	Message  string
	Backends []RunBackend
}

// Run statuses.
const (
	RunRunning     = "running"
	RunOK          = "ok"
	RunFailed      = "failed"
	RunCancelled   = "cancelled"
	RunHeld        = "held"
	RunInterrupted = "interrupted"
)

// RunBackend is what one phase of a run did on one backend.
type RunBackend struct {
	Phase     string // import or export
	Backend   string
	Mode      string // quick, full, push
	Read      int
	Added     int // items new to the local state (import)
	Changed   int
	Skipped   int
	Failed    int
	Unmatched int
	Requests  int64
	Duration  time.Duration
	Error     string
	Rejected  bool // Error is the server rejecting the token (backend.ErrUnauthorized)
}

// StartRun records a run as running and returns its id.
func (s *Store) StartRun(ctx context.Context, kind, trigger string, dry bool) (int64, error) {
	if err := s.db.writable(); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO runs (kind, trigger, dry_run, started) VALUES (?, ?, ?, ?) RETURNING id`,
		kind, trigger, dry, s.now().Unix()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("recording run: %w", s.classify(err))
	}
	return id, nil
}

// RecordPhase records one backend's figures for one phase of run id as
// soon as the phase ends, so that a run that never finishes (killed,
// crashed) still shows what it did before (FinishRun records them again).
func (s *Store) RecordPhase(ctx context.Context, id int64, b RunBackend) error {
	return s.classify(recordPhase(ctx, s.db, id, b))
}

func recordPhase(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id int64, b RunBackend) error {
	if _, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO run_backends (run_id, phase, backend, mode, read, added, changed, skipped, failed, unmatched, requests, millis, error, rejected)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, b.Phase, b.Backend, b.Mode, b.Read, b.Added, b.Changed, b.Skipped, b.Failed, b.Unmatched,
		b.Requests, b.Duration.Milliseconds(), b.Error, b.Rejected); err != nil {
		return fmt.Errorf("recording run figures: %w", err)
	}
	return nil
}

// FinishRun records how run id ended and its per-backend figures.
func (s *Store) FinishRun(ctx context.Context, id int64, status, msg string, backends []RunBackend) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, b := range backends {
		if err := recordPhase(ctx, tx, id, b); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status=?, message=?, finished=? WHERE id=?`, status, msg, s.now().Unix(), id); err != nil {
		return fmt.Errorf("finishing run: %w", s.classify(err))
	}
	return s.classify(tx.Commit())
}

// Runs lists the newest runs first, at most limit, with their figures.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, trigger, dry_run, started, finished, status, message FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	var out []Run
	idx := map[int64]int{}
	for rows.Next() {
		var r Run
		var st, fin int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.Trigger, &r.DryRun, &st, &fin, &r.Status, &r.Message); err != nil {
			rows.Close()
			return nil, err
		}
		r.Started, r.Finished = fromUnix(st), fromUnix(fin)
		idx[r.ID] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	// A run recorded as running while no process holds the run lock has
	// died: show it as interrupted (the next run records it so).
	for i := range out {
		if out[i].Status == RunRunning && !s.runLockHeld() {
			for j := i; j < len(out); j++ {
				if out[j].Status == RunRunning {
					out[j].Status, out[j].Message = RunInterrupted, interruptedMessage
				}
			}
			break
		}
	}
	brows, err := s.db.QueryContext(ctx, `SELECT run_id, phase, backend, mode, read, added, changed, skipped, failed, unmatched, requests, millis, error, rejected
		FROM run_backends WHERE run_id >= ? ORDER BY run_id, phase DESC, backend`, out[len(out)-1].ID)
	if err != nil {
		return nil, err
	}
	defer brows.Close()
	for brows.Next() {
		var id, ms int64
		var b RunBackend
		if err := brows.Scan(&id, &b.Phase, &b.Backend, &b.Mode, &b.Read, &b.Added, &b.Changed, &b.Skipped, &b.Failed, &b.Unmatched, &b.Requests, &ms, &b.Error, &b.Rejected); err != nil {
			return nil, err
		}
		b.Duration = time.Duration(ms) * time.Millisecond
		if i, ok := idx[id]; ok {
			out[i].Backends = append(out[i].Backends, b)
		}
	}
	return out, brows.Err()
}

// LastRun returns the newest finished, non-dry run whose kind is one of
// kinds, and whether there is one.
func (s *Store) LastRun(ctx context.Context, kinds ...string) (Run, bool, error) {
	runs, err := s.Runs(ctx, 50)
	if err != nil {
		return Run{}, false, err
	}
	for _, r := range runs {
		if r.DryRun || r.Status == RunRunning {
			continue
		}
		for _, k := range kinds {
			if r.Kind == k {
				return r, true, nil
			}
		}
	}
	return Run{}, false, nil
}

// Changes lists the history entries of run id, oldest first, at most limit.
func (s *Store) Changes(ctx context.Context, runID int64, limit int) ([]Change, error) {
	return s.ChangesFor(ctx, runID, 0, limit)
}

// ChangesFor lists the history entries of run id that are person's play
// state (0: everyone's), as Changes.
func (s *Store) ChangesFor(ctx context.Context, runID, person int64, limit int) ([]Change, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, at, item_id, item, target, before, after, reason, person_id FROM changes
		WHERE run_id=? AND (?=0 OR person_id=?) ORDER BY id LIMIT ?`, runID, person, person, limit)
	if err != nil {
		return nil, fmt.Errorf("listing changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var at int64
		if err := rows.Scan(&c.ID, &c.RunID, &at, &c.ItemID, &c.Item, &c.Target, &c.Before, &c.After, &c.Reason, &c.PersonID); err != nil {
			return nil, err
		}
		c.At = fromUnix(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Held is an export the mass-change guard is holding for the user.
type Held struct {
	ID        int64
	RunID     int64
	Backend   string
	Created   time.Time
	Unwatches int // items the export would mark unwatched
	Watched   int // items the backend has watched
	Status    string
}

// Hold records a held export. An older held entry for the same backend is
// replaced: the newest plan is the one to decide on.
func (s *Store) Hold(ctx context.Context, h Held) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM held WHERE backend=? AND status='held'`, h.Backend); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO held (run_id, backend, created, unwatches, watched) VALUES (?, ?, ?, ?, ?)`,
		h.RunID, h.Backend, s.now().Unix(), h.Unwatches, h.Watched); err != nil {
		return fmt.Errorf("recording held export: %w", err)
	}
	return tx.Commit()
}

// HeldExports lists the exports waiting for the user.
func (s *Store) HeldExports(ctx context.Context) ([]Held, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, backend, created, unwatches, watched, status FROM held WHERE status='held' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Held
	for rows.Next() {
		var h Held
		var cr int64
		if err := rows.Scan(&h.ID, &h.RunID, &h.Backend, &cr, &h.Unwatches, &h.Watched, &h.Status); err != nil {
			return nil, err
		}
		h.Created = fromUnix(cr)
		out = append(out, h)
	}
	return out, rows.Err()
}

// ResolveHeld marks the held export of backend as applied or discarded.
func (s *Store) ResolveHeld(ctx context.Context, backend, status string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE held SET status=? WHERE backend=? AND status='held'`, status, backend)
	return err
}
