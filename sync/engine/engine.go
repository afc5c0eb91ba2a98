// Package engine is Playmark's sync engine: import (every backend into the
// local state), export (the local state out to every backend), matching,
// the safety rules and the history, as ../shared/docs/SYNC-RULES.md and
// the README's "Sync rules" section describe. It is headless: the window,
// the tray, the CLI and the daemon all drive the same Engine.
//
// Runs never overlap: each takes the store's run lock (ErrBusy when
// another run holds it and the caller did not ask to wait). A backend that
// fails fails alone: the run goes on with the others, the failing
// backend's cursors stay, and the report names it and why.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/kinds"
	"playmark/sync/state"
)

// ErrBusy is returned when another run is in progress and the caller did
// not ask to wait.
var ErrBusy = state.ErrBusy

// Engine runs imports and exports over one store.
type Engine struct {
	store *state.Store
	log   *slog.Logger
	now   func() time.Time

	// Transport options for every backend (tests shorten timeouts).
	transport backend.TransportOptions
	pageSize  int // items per listing request; 0: each backend's default
	// backendDeadline bounds one backend's phases per run, and
	// identifyTimeout its first request of a phase (deadline.go).
	backendDeadline time.Duration
	identifyTimeout time.Duration

	ev events

	mu      sync.Mutex
	status  Status
	subs    []chan struct{}
	running context.CancelFunc
	renew   TokenRenewer // derives a rejected token again (renew.go)
}

// New returns an engine over store. log may be nil.
func New(store *state.Store, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, log: log, now: time.Now, ev: events{wake: make(chan struct{}, 1)}}
}

// SetClock replaces the engine's clock (tests).
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// SetTransportOptions sets the HTTP behaviour for every backend the
// engine opens from now on (timeouts, retries, requests in flight).
func (e *Engine) SetTransportOptions(o backend.TransportOptions) { e.transport = o }

// SetPageSize sets how many items each listing request asks for (tests
// and benchmarks); 0 restores each backend's default.
func (e *Engine) SetPageSize(n int) { e.pageSize = n }

// Store is the engine's store.
func (e *Engine) Store() *state.Store { return e.store }

// Open builds a client for a configured backend, by its kind
// (sync/backend/kinds, the registry of kinds).
func (e *Engine) Open(ctx context.Context, b state.Backend) (backend.Backend, *backend.Transport, error) {
	opt := e.transport
	if b.Options.MaxInFlight > 0 {
		opt.MaxInFlight = b.Options.MaxInFlight
	}
	opt.PinnedCert = b.Options.TrustCert
	tr := backend.NewTransport(opt)
	clientID, err := e.clientID(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg := backend.Config{
		Kind:      b.Kind,
		URL:       b.URL,
		Token:     b.Token,
		UserID:    b.UserID,
		ClientID:  clientID,
		ServerID:  b.ServerID,
		Transport: tr,
	}
	c, err := kinds.Open(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("backend %s: %w", b.Name, err)
	}
	return c, tr, nil
}

// clientID is this install's stable id, made on first use.
func (e *Engine) clientID(ctx context.Context) (string, error) {
	st, err := e.store.Settings(ctx)
	if err != nil {
		return "", err
	}
	if st.ClientID != "" {
		return st.ClientID, nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	st.ClientID = "playmark-" + hex.EncodeToString(b[:])
	if err := e.store.SaveSettings(ctx, st); err != nil {
		return "", err
	}
	return st.ClientID, nil
}

// Test connects to a backend and identifies the server and the user,
// without changing anything.
func (e *Engine) Test(ctx context.Context, b state.Backend) (backend.ServerInfo, error) {
	c, _, err := e.Open(ctx, b)
	if err != nil {
		return backend.ServerInfo{}, err
	}
	info, err := c.Identify(ctx)
	if err != nil {
		return info, errors.New(backend.Redact(backend.Describe(b.Name, err), b.Token, b.Options.WebhookSecret))
	}
	return info, nil
}

// RunOptions say what a run does.
type RunOptions struct {
	Backends []string // backend names; empty means every backend whose switch is on
	Full     bool     // import: a full reconcile; export: compare everything
	DryRun   bool     // plan everything, write nothing, move no cursor
	Yes      bool     // apply exports the mass-change guard would hold
	Wait     bool     // wait for a running run instead of failing with ErrBusy
	Trigger  string   // who asked: cli, schedule, tray, window, webhook
	// Person, when not 0, limits the run to that person's backends.
	Person int64
	// PlanExports, on an import's dry run, plans after the imports what
	// an export would then write to each selected backend, its Export
	// switch on or off: a first import's preview, which says per server
	// what would become watched, unwatched or resumed there (the
	// report's export phases, Mode "plan").
	PlanExports bool
	// Progress, when set, is called with each status change of this run
	// (besides the subscribers).
	Progress func(Status)
}

// Report is what a run did.
type Report struct {
	RunID    int64
	Kind     string
	DryRun   bool
	Started  time.Time
	Finished time.Time
	Status   string // state.RunOK, RunFailed, RunHeld, RunCancelled
	Backends []BackendReport
	// Changes are the changes made (or, in a dry run, planned), at most
	// maxReportChanges; the history has them all.
	Changes      []state.Change
	MoreChanges  int // changes beyond those listed
	Held         []state.Held
	Unmatched    int
	FailedReason string // one line naming the failed backends
}

// BackendReport is one backend's part of a run.
type BackendReport struct {
	state.RunBackend
	Err error
	// Watched and InProgress count the items an import read that the
	// server has watched, or has a resume position for (at least the
	// progress minimum): what a first import would record, which the
	// run's changes do not list. Not kept in the history.
	Watched, InProgress int
	// Found says how a quick import found what a listing by date cannot
	// show (un-watches, marks without a date, long sessions), "" when it
	// had nothing to find that way.
	Found string
	// WouldWatch, WouldUnwatch and WouldResume are an export's planned
	// writes in a dry run, by kind; ExportOff says the plan is for a
	// backend whose export is off (RunOptions.PlanExports).
	WouldWatch, WouldUnwatch, WouldResume int
	ExportOff                             bool
	// WouldHold says the mass-change guard would hold that plan (its
	// un-watches against the server's watched items, WouldOf): applying
	// it takes Apply in Held, --yes, or a higher limit in Settings.
	WouldHold bool
	WouldOf   int
}

const maxReportChanges = 500

// Failed lists the backends that failed.
func (r *Report) Failed() []BackendReport {
	var out []BackendReport
	for _, b := range r.Backends {
		if b.Err != nil {
			out = append(out, b)
		}
	}
	return out
}

// Changed is the number of changes made or planned.
func (r *Report) Changed() int {
	n := 0
	for _, b := range r.Backends {
		n += b.Changed
	}
	return n
}

// run is the state of one run in progress.
type run struct {
	e      *Engine
	id     int64
	kind   string
	opt    RunOptions
	report *Report
	tx     *state.Tx // dry runs share one transaction, rolled back at the end
	set    state.Settings
	// backedUp is set once this run has made its automatic backup.
	backedUp bool
	// known is the run's filter of recorded ids (full imports), kept up
	// to date as the run records ids.
	known *idFilter
	// budgets are the backends' deadlines and failures in this run.
	budgets budgets
	// secrets are the tokens and webhook secrets error texts must not show.
	secrets []string
}

func (r *run) addChange(c state.Change) {
	if len(r.report.Changes) < maxReportChanges {
		r.report.Changes = append(r.report.Changes, c)
	} else {
		r.report.MoreChanges++
	}
}

// Import pulls every selected backend into the local state.
func (e *Engine) Import(ctx context.Context, opt RunOptions) (*Report, error) {
	return e.do(ctx, "import", opt, func(ctx context.Context, r *run) error {
		if err := r.importAll(ctx); err != nil || !opt.DryRun || !opt.PlanExports {
			return err
		}
		return r.exportAll(ctx)
	})
}

// Export pushes the local state out to every selected backend with export on.
func (e *Engine) Export(ctx context.Context, opt RunOptions) (*Report, error) {
	return e.do(ctx, "export", opt, func(ctx context.Context, r *run) error { return r.exportAll(ctx) })
}

// Sync is an import followed by an export.
func (e *Engine) Sync(ctx context.Context, opt RunOptions) (*Report, error) {
	return e.do(ctx, "sync", opt, func(ctx context.Context, r *run) error {
		if err := r.importAll(ctx); err != nil {
			return err
		}
		return r.exportAll(ctx)
	})
}

// do runs body under the run lock and records the run.
func (e *Engine) do(ctx context.Context, kind string, opt RunOptions, body func(context.Context, *run) error) (*Report, error) {
	for _, name := range opt.Backends {
		if _, err := e.store.Backend(ctx, name); err != nil {
			return nil, err
		}
	}
	release, err := e.store.LockRuns(ctx, opt.Wait)
	if err != nil {
		return nil, err
	}
	defer release()
	if opt.Trigger == "" {
		opt.Trigger = "cli"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Made before any transaction: a dry run's shared transaction must be
	// the only writer while it is open.
	if _, err := e.clientID(ctx); err != nil {
		return nil, err
	}
	set, err := e.store.Settings(ctx)
	if err != nil {
		return nil, err
	}
	id, err := e.store.StartRun(ctx, kind, opt.Trigger, opt.DryRun)
	if err != nil {
		return nil, err
	}
	r := &run{e: e, id: id, kind: kind, opt: opt, set: set, secrets: e.knownSecrets(ctx),
		report: &Report{RunID: id, Kind: kind, DryRun: opt.DryRun, Started: e.now()}}
	e.begin(kind, opt, cancel)
	defer e.end()
	if opt.DryRun {
		if r.tx, err = e.store.Begin(ctx); err != nil {
			return nil, err
		}
		defer r.tx.Rollback()
	}

	bodyErr := body(ctx, r)
	if r.tx != nil {
		// A dry run leaves nothing behind.
		r.tx.Rollback()
	}
	rep := r.report
	rep.Finished = e.now()
	rep.Status = state.RunOK
	var failed []string
	for _, b := range rep.Backends {
		if b.Err != nil {
			failed = append(failed, b.Error)
		}
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(bodyErr, context.Canceled):
		rep.Status = state.RunCancelled
	case bodyErr != nil || len(failed) > 0:
		rep.Status = state.RunFailed
	case len(rep.Held) > 0:
		rep.Status = state.RunHeld
	}
	msg := ""
	if bodyErr != nil {
		failed = append(failed, bodyErr.Error())
	}
	if len(failed) > 0 {
		msg = r.redact(joinSentences(failed))
		rep.FailedReason = msg
	}
	var figures []state.RunBackend
	health := map[string]state.RunBackend{} // backend -> first failure of this run, Error "" if none
	var names []string
	for i := range rep.Backends {
		b := &rep.Backends[i]
		b.Rejected = errors.Is(b.Err, backend.ErrUnauthorized)
		figures = append(figures, b.RunBackend)
		if _, seen := health[b.Backend]; !seen {
			names = append(names, b.Backend)
			health[b.Backend] = state.RunBackend{}
		}
		if b.Err != nil && health[b.Backend].Error == "" {
			health[b.Backend] = b.RunBackend
		}
	}
	if !opt.DryRun && rep.Status != state.RunCancelled {
		// Each backend shows how its part of this run went.
		for _, name := range names {
			if b, err := e.store.Backend(context.WithoutCancel(ctx), name); err == nil {
				h := health[name]
				_ = e.store.SetBackendError(context.WithoutCancel(ctx), b.ID, h.Error, h.Rejected)
			}
		}
	}
	// The run's record must survive a cancelled context.
	if err := e.store.FinishRun(context.WithoutCancel(ctx), id, rep.Status, msg, figures); err != nil {
		return rep, err
	}
	e.log.Info("run finished", "run", id, "kind", kind, "status", rep.Status, "dry_run", opt.DryRun, "changed", rep.Changed(), "took", rep.Finished.Sub(rep.Started).Round(time.Millisecond))
	if rep.Status == state.RunCancelled {
		return rep, context.Canceled
	}
	return rep, nil
}

func joinSentences(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// selected returns the backends a run covers: the named ones (an unknown
// name is an error), or every one whose switch for this phase is on.
func (r *run) selected(ctx context.Context, on func(state.Backend) bool) ([]state.Backend, error) {
	out, err := r.selectedBackends(ctx, on)
	names := make([]string, len(out))
	for i, b := range out {
		names[i] = b.Name
	}
	r.expect(names)
	return out, err
}

func (r *run) selectedBackends(ctx context.Context, on func(state.Backend) bool) ([]state.Backend, error) {
	all, err := r.e.store.Backends(ctx)
	if err != nil {
		return nil, err
	}
	if len(r.opt.Backends) == 0 {
		var out []state.Backend
		for _, b := range all {
			if on(b) && (r.opt.Person == 0 || b.PersonID == r.opt.Person) {
				out = append(out, b)
			}
		}
		return out, nil
	}
	var out []state.Backend
	for _, name := range r.opt.Backends {
		i := slices.IndexFunc(all, func(b state.Backend) bool { return b.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("backend %q: %w", name, state.ErrNotFound)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// begin gives a transaction for one unit of work of backend b: the shared
// dry-run transaction (under a savepoint), or a new one; its item reads
// and writes are b's person's play state.
func (r *run) begin(ctx context.Context, name string, b state.Backend) (*state.Tx, func(ok bool) error, error) {
	return r.beginWith(ctx, name, b, r.e.store.Begin)
}

// beginImport is begin for an import's batch (state.Store.BeginImport:
// no foreign-key checks in it, as it cannot break them).
func (r *run) beginImport(ctx context.Context, name string, b state.Backend) (*state.Tx, func(ok bool) error, error) {
	return r.beginWith(ctx, name, b, r.e.store.BeginImport)
}

func (r *run) beginWith(ctx context.Context, name string, b state.Backend, beginTx func(context.Context) (*state.Tx, error)) (*state.Tx, func(ok bool) error, error) {
	if r.tx != nil {
		if err := r.tx.Savepoint(name); err != nil {
			return nil, nil, err
		}
		r.tx.SetPerson(b.PersonID)
		return r.tx, func(ok bool) error {
			if ok {
				return r.tx.Release(name)
			}
			return r.tx.RollbackTo(name)
		}, nil
	}
	tx, err := beginTx(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx.SetPerson(b.PersonID)
	return tx, func(ok bool) error {
		if ok {
			return tx.Commit()
		}
		return tx.Rollback()
	}, nil
}

// DiscardHeld drops the export the mass-change guard holds for a backend:
// its cursor moves past the held changes, which are then not sent there.
// (Other changes of the same batch reach it on its next full export.)
func (e *Engine) DiscardHeld(ctx context.Context, name string) error {
	release, err := e.store.LockRuns(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	b, err := e.store.Backend(ctx, name)
	if err != nil {
		return err
	}
	tx, err := e.store.Begin(ctx)
	if err != nil {
		return err
	}
	seq, err := tx.MaxSeq()
	tx.Rollback()
	if err != nil {
		return err
	}
	if err := e.store.ExportDone(ctx, b.ID, seq); err != nil {
		return err
	}
	if err := e.store.ResolveHeld(ctx, name, "discarded"); err != nil {
		return err
	}
	e.Notify()
	return nil
}

// finishPhase completes one backend's phase report: how long it took, how
// many requests it sent, and its error in words (logged).
func (r *run) finishPhase(rep *BackendReport, started time.Time, tr *backend.Transport, log *slog.Logger) {
	rep.Duration = r.e.now().Sub(started)
	if tr != nil {
		rep.Requests = tr.Requests()
	}
	if rep.Err != nil {
		rep.Err = r.redactErr(r.phaseFailed(rep.Backend, rep.Err))
		rep.Error = r.redact(backend.Describe(rep.Backend, rep.Err))
		args := []any{"err", rep.Error}
		var se *backend.StatusError
		if errors.As(rep.Err, &se) && se.Body != "" {
			args = append(args, "body", r.redact(se.Body)) // trace ids and all: the log, not the user
		}
		var be *backend.BodyError
		if errors.As(rep.Err, &be) && be.Start != "" {
			args = append(args, "body_start", r.redact(be.Start)) // what the server sent instead: the log
		}
		log.Warn(rep.Phase+" failed", args...)
	}
	r.phaseEnded(rep.Backend, rep.Phase, rep.Error, rep.Err != nil)
	// Recorded now, not only when the run ends: a run killed later still
	// shows what its finished phases did (history, "interrupted"). A dry
	// run holds one transaction for the whole run (the write lock): it
	// has nothing to lose and records its figures when it ends.
	if r.id != 0 && r.tx == nil {
		fig := rep.RunBackend
		fig.Rejected = errors.Is(rep.Err, backend.ErrUnauthorized)
		if err := r.e.store.RecordPhase(context.Background(), r.id, fig); err != nil {
			log.Warn("recording the phase's figures", "err", err)
		}
	}
}
