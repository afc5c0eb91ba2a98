package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// clockDrift is how much newer a remote must be than the local state
// before export leaves it alone: servers' clocks are not ours.
const clockDrift = 10 * time.Second

// opKind is one write to a backend.
type opKind int

const (
	opPlayed opKind = iota
	opUnplayed
	opProgress
)

func (k opKind) String() string {
	switch k {
	case opPlayed:
		return "mark watched"
	case opUnplayed:
		return "mark unwatched"
	}
	return "set resume position"
}

// op is a planned write: the local item, the remote id, what to do.
type op struct {
	kind     opKind
	item     state.Item
	remoteID string
	at       time.Time     // opPlayed: the play date
	pos      time.Duration // opProgress
	duration time.Duration // opProgress: the runtime Plex needs
	before   string        // the remote state in words
}

// planAll says whether this run plans exports to every backend, export
// on or off (a dry run with PlanExports).
func (r *run) planAll() bool { return r.opt.DryRun && r.opt.PlanExports }

func (r *run) exportAll(ctx context.Context) error {
	backends, err := r.selected(ctx, func(b state.Backend) bool { return b.Export || r.planAll() })
	if err != nil {
		return err
	}
	for _, b := range backends {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.report.Backends = append(r.report.Backends, r.exportBackend(ctx, b))
	}
	return nil
}

// plan compares the local state of one item with the live remote state and
// returns the writes the remote needs, in the order the servers need them
// (mark, then position). prev is the sub-record, nil when none.
func plan(local state.Item, prev *state.Remote, it *backend.Item, progressMin time.Duration) (ops []op, skip string) {
	played := secs(it.LastPlayed)
	remote := "unwatched"
	switch {
	case it.Played:
		remote = "watched " + played.Format("2006-01-02 15:04")
	case it.Progress > 0:
		remote = "resume at " + clock(it.Progress)
	}
	mk := func(k opKind) op {
		return op{kind: k, item: local, remoteID: it.ID, at: local.Updated, pos: local.Progress, duration: it.Duration, before: remote}
	}
	switch {
	case local.Watched && !it.Played:
		if prev != nil && prev.Watched && (prev.AddedAt.IsZero() || prev.AddedAt.Equal(secs(it.Added))) {
			return nil, "un-watched on the server since the last import: the next import decides"
		}
		return []op{mk(opPlayed)}, ""
	case !local.Watched && it.Played:
		if !local.Explicit {
			return nil, "never watched here, watched there: the next import takes it"
		}
		if played.After(local.Updated.Add(clockDrift)) {
			return nil, "the server's play is newer"
		}
		ops = append(ops, mk(opUnplayed))
		if local.Progress >= progressMin && !nearEnd(local.Progress, it.Duration) {
			ops = append(ops, mk(opProgress))
		}
		return ops, ""
	case !local.Watched && !it.Played && local.Progress >= progressMin && absDur(local.Progress-it.Progress) > progressJitter &&
		!nearEnd(local.Progress, it.Duration):
		if it.Progress > 0 && played.After(local.ProgressAt.Add(clockDrift)) {
			return nil, "the server's position is newer"
		}
		return []op{mk(opProgress)}, ""
	}
	return nil, "same"
}

// sameAsRecorded says whether a backend's sub-record already shows the
// local state, so that push mode need not even ask.
func sameAsRecorded(local state.Item, r state.Remote, progressMin time.Duration) bool {
	if local.Watched != r.Watched {
		return false
	}
	if local.Watched || local.Progress < progressMin {
		return true
	}
	return absDur(local.Progress-r.Progress) <= progressJitter
}

func (r *run) exportBackend(ctx context.Context, b state.Backend) (rep BackendReport) {
	rep.Phase, rep.Backend = "export", b.Name
	started := r.e.now()
	log := r.e.log.With("backend", b.Name, "phase", "export")
	var tr *backend.Transport
	defer func() { r.finishPhase(&rep, started, tr, log) }()
	if !b.Export && !r.planAll() {
		rep.Mode = "off"
		return rep
	}
	rep.ExportOff = !b.Export
	ctx, done, derr := r.backendCtx(ctx, b.Name)
	if derr != nil {
		rep.Err = derr
		return rep
	}
	defer done()
	// Re-read the backend: the import of this same run may have moved it.
	if fresh, err := r.e.store.Backend(ctx, b.Name); err == nil {
		b = fresh
	}
	client, t, err := r.openChecked(ctx, &b)
	tr = t
	if err != nil {
		rep.Err = err
		return rep
	}

	// Plan under a read of the state; the writes to the server happen
	// outside any transaction, and each is recorded as it succeeds.
	tx, finish, err := r.begin(ctx, fmt.Sprintf("export_%d", b.ID), b)
	if err != nil {
		rep.Err = err
		return rep
	}
	ops, upTo, watched, err := r.planExport(ctx, tx, client, b, &rep)
	if err != nil {
		_ = finish(false)
		rep.Err = err
		return rep
	}
	if r.opt.DryRun {
		r.reportPlan(b, ops, "planned", watched, r.opt.Yes, &rep)
		if r.planAll() {
			rep.Mode = "plan"
		}
		_ = finish(true)
		return rep
	}
	if err := finish(true); err != nil {
		rep.Err = err
		return rep
	}

	// The mass-change guard.
	unwatches := 0
	for _, o := range ops {
		if o.kind == opUnplayed {
			unwatches++
		}
	}
	if held(unwatches, watched, r.set) && !r.opt.Yes {
		h := state.Held{RunID: r.id, Backend: b.Name, Unwatches: unwatches, Watched: watched, Status: "held"}
		if err := r.e.store.Hold(ctx, h); err != nil {
			rep.Err = err
			return rep
		}
		r.report.Held = append(r.report.Held, h)
		rep.Skipped += len(ops)
		rep.Error = fmt.Sprintf("held: would mark %d of %d watched items unwatched on %s; confirm with --yes or in the window", unwatches, watched, b.Name)
		log.Warn("export held by the mass-change guard", "unwatches", unwatches, "watched", watched)
		return rep
	}
	if r.opt.Yes {
		_ = r.e.store.ResolveHeld(ctx, b.Name, "applied")
	}

	// A full export or a confirmed mass change may write a lot: keep the
	// state as it was first (once per run).
	if len(ops) > 0 && (rep.Mode == "full" || r.opt.Yes) && !r.backedUp {
		reason := "before-full-export"
		if r.opt.Yes {
			reason = "before-held-apply"
		}
		if _, err := r.e.Backup(ctx, reason); err != nil {
			rep.Err = fmt.Errorf("automatic backup failed, nothing written: %w", err)
			return rep
		}
		r.backedUp = true
	}
	failed, written, err := r.write(ctx, client, b, ops, &rep)
	if err != nil {
		rep.Err = err
	}
	// Record what the server holds now, so that the next import sees no
	// change (no echo): re-read the written items in batches.
	if len(written) > 0 {
		if rerr := r.recordWritten(ctx, client, b, written); rerr != nil && rep.Err == nil {
			rep.Err = fmt.Errorf("re-reading written items: %w", rerr)
		}
	}
	if rep.Err == nil && failed == 0 {
		if err := r.e.store.ExportDone(ctx, b.ID, upTo); err != nil {
			rep.Err = err
		}
	} else if rep.Err == nil {
		rep.Err = fmt.Errorf("%d of %d writes failed; the next export retries them", failed, len(ops))
	}
	log.Info("export done", "mode", rep.Mode, "read", rep.Read, "changed", rep.Changed, "skipped", rep.Skipped, "failed", rep.Failed)
	return rep
}

// held says whether the guard holds an export with this many un-watches
// against a backend with this many watched items.
func held(unwatches, watched int, set state.Settings) bool {
	if unwatches == 0 {
		return false
	}
	if set.GuardCount > 0 && unwatches > set.GuardCount {
		return true
	}
	return unwatches >= set.GuardMin && unwatches*100 > set.GuardPercent*watched
}

// planExport decides between push and full export and returns the
// writes, the sequence number the export covers, and how many items the
// backend has watched (for the guard).
func (r *run) planExport(ctx context.Context, tx *state.Tx, client backend.Backend, b state.Backend, rep *BackendReport) ([]op, int64, int, error) {
	upTo, err := tx.MaxSeq()
	if err != nil {
		return nil, 0, 0, err
	}
	watched, err := tx.CountWatchedRemotes(b.ID)
	if err != nil {
		return nil, 0, 0, err
	}
	n, err := tx.CountChanged(b.ID, b.ExportCursor)
	if err != nil {
		return nil, 0, 0, err
	}
	full := r.opt.Full || b.ExportCursor == 0 || b.LastFullImport.IsZero() || n > r.set.ExportThreshold
	var changed []state.Changed
	if !full {
		if changed, err = tx.ChangedSince(b.ID, b.ExportCursor, upTo); err != nil {
			return nil, 0, 0, err
		}
		for _, c := range changed {
			// An item newer than the backend's last complete listing may
			// be on it without our knowing its id there.
			if len(c.Remotes) == 0 && c.Item.Created.After(b.LastFullImport) {
				full = true
				break
			}
		}
	}
	if full {
		rep.Mode = "full"
		ops, err := r.planFull(ctx, tx, client, b, rep)
		return ops, upTo, watched, err
	}
	rep.Mode = "push"
	ops, err := r.planPush(ctx, client, changed, rep)
	return ops, upTo, watched, err
}

// planPush re-reads the changed items live (batched) and plans writes.
func (r *run) planPush(ctx context.Context, client backend.Backend, changed []state.Changed, rep *BackendReport) ([]op, error) {
	type ref struct {
		item state.Item
		prev state.Remote
	}
	want := map[string]ref{}
	var ids []string
	for _, c := range changed {
		for _, rm := range c.Remotes {
			if sameAsRecorded(c.Item, rm, r.set.ProgressMin) {
				rep.Skipped++
				continue
			}
			want[rm.RemoteID] = ref{c.Item, rm}
			ids = append(ids, rm.RemoteID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	live, err := client.Get(ctx, ids)
	if err != nil {
		return nil, err
	}
	rep.Read += len(live)
	var ops []op
	for i := range live {
		it := &live[i]
		w, ok := want[it.ID]
		if !ok {
			continue
		}
		if _, skip := untrusted(it, r.e.now()); skip {
			rep.Skipped++
			continue
		}
		o, _ := plan(w.item, &w.prev, it, r.set.ProgressMin)
		if len(o) == 0 {
			rep.Skipped++
		}
		ops = append(ops, o...)
	}
	rep.Skipped += len(ids) - len(live) // gone from the server
	r.progress("export", "", len(live), len(ids))
	return ops, nil
}

// planFull pages through the whole backend and compares every item.
func (r *run) planFull(ctx context.Context, tx *state.Tx, client backend.Backend, b state.Backend, rep *BackendReport) ([]op, error) {
	var ops []op
	opt := backend.ListOptions{Libraries: b.Options.Libraries, PageSize: r.e.pageSize}
	// As in import, the next page is fetched while this one is compared.
	err := pipeline(ctx, func(ctx context.Context, page func([]backend.Item) error) error {
		return client.Items(ctx, opt, page)
	}, func(page []backend.Item) error {
		for i := range page {
			it := &page[i]
			rep.Read++
			local, prev, err := matchKnown(tx, b.ID, it, nil, true)
			if err != nil {
				return err
			}
			if local == nil {
				rep.Skipped++
				continue
			}
			if _, skip := untrusted(it, r.e.now()); skip {
				rep.Skipped++
				continue
			}
			o, _ := plan(*local, prev, it, r.set.ProgressMin)
			if len(o) == 0 {
				rep.Skipped++
			}
			ops = append(ops, o...)
		}
		r.progress("export", b.Name, rep.Read, 0)
		return nil
	})
	return ops, err
}

// reportPlan is a dry run's report of what ops would write to b: each
// as a planned change, their counts, and whether the mass-change guard
// would hold them (watched: b's watched count; yes: the hold overruled).
func (r *run) reportPlan(b state.Backend, ops []op, verb string, watched int, yes bool, rep *BackendReport) {
	for _, o := range ops {
		r.addChange(r.opChange(b, o, verb))
		switch o.kind {
		case opPlayed:
			rep.WouldWatch++
		case opUnplayed:
			rep.WouldUnwatch++
		case opProgress:
			rep.WouldResume++
		}
	}
	rep.Changed = len(ops)
	rep.WouldHold, rep.WouldOf = held(rep.WouldUnwatch, watched, r.set) && !yes, watched
}

func (r *run) opChange(b state.Backend, o op, verb string) state.Change {
	after := "watched " + o.at.Format("2006-01-02 15:04")
	switch o.kind {
	case opUnplayed:
		after = "unwatched"
	case opProgress:
		after = "resume at " + clock(o.pos)
	}
	return state.Change{RunID: r.id, At: r.e.now(), PersonID: b.PersonID, ItemID: o.item.ID, Item: o.item.Label(), Target: b.Name,
		Before: o.before, After: after, Reason: fmt.Sprintf("%s: local state (via %s) is newer", verb, o.item.Via)}
}

// write performs the planned writes. A failure of one write is counted
// and the others go on, unless the server is gone or the token rejected,
// which stops this backend's export.
func (r *run) write(ctx context.Context, client backend.Backend, b state.Backend, ops []op, rep *BackendReport) (failed int, written map[string][]op, err error) {
	written = map[string][]op{}
	for i, o := range ops {
		if ctx.Err() != nil {
			return failed, written, ctx.Err()
		}
		if !validID(o.remoteID) {
			// Never put what a server sent as an id into a write's path.
			rep.Skipped++
			r.e.log.Warn("write skipped: not an id", "backend", b.Name, "item", o.item.Label(), "id", o.remoteID)
			continue
		}
		var werr error
		switch o.kind {
		case opPlayed:
			werr = client.MarkPlayed(ctx, o.remoteID, o.at)
		case opUnplayed:
			werr = client.MarkUnplayed(ctx, o.remoteID)
		case opProgress:
			werr = client.SetProgress(ctx, o.remoteID, o.pos, o.duration)
		}
		if werr != nil {
			failed++
			rep.Failed++
			r.e.log.Warn("write failed", "backend", b.Name, "item", o.item.Label(), "op", o.kind.String(), "err", werr)
			if errors.Is(werr, backend.ErrUnauthorized) || errors.Is(werr, backend.ErrUnreachable) || errors.Is(werr, context.Canceled) {
				return failed, written, werr
			}
			continue
		}
		rep.Changed++
		written[o.remoteID] = append(written[o.remoteID], o)
		c := r.opChange(b, o, o.kind.String())
		r.addChange(c)
		if err := r.recordOne(ctx, c); err != nil {
			return failed, written, err
		}
		r.progress("export", b.Name, i+1, len(ops))
	}
	return failed, written, nil
}

func (r *run) recordOne(ctx context.Context, c state.Change) error {
	tx, err := r.e.store.Begin(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.RecordChange(c); err != nil {
		return err
	}
	return tx.Commit()
}

// recordWritten re-reads written items and stores what the server now
// holds as their sub-records. Plex stamps "now" on a scrobble: recording
// that stamp is what keeps it from looking like a newer play next time.
// An item whose live state is not what the writes should have left (the
// user changed it meanwhile) is not recorded: the next import must see
// that change, not mistake it for our own echo.
func (r *run) recordWritten(ctx context.Context, client backend.Backend, b state.Backend, written map[string][]op) error {
	ids := make([]string, 0, len(written))
	for id := range written {
		ids = append(ids, id)
	}
	live, err := client.Get(ctx, ids)
	if err != nil {
		return err
	}
	tx, err := r.e.store.Begin(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := r.e.now().UTC().Truncate(time.Second)
	// How the writes moved the backend's played counts, so that the next
	// quick import does not take them for an un-watch (quick.go).
	moved := map[string]int{}
	for i := range live {
		it := &live[i]
		if !asWritten(it, written[it.ID]) {
			r.e.log.Info("changed on the server while we wrote it; left for the next import", "backend", b.Name, "item", it.ID)
			continue
		}
		prev, ok, err := tx.Remote(b.ID, it.ID)
		if err != nil {
			return err
		}
		if !ok {
			id, _, err := match(tx, b.ID, it)
			if err != nil || id == 0 {
				continue
			}
			prev = state.Remote{BackendID: b.ID, RemoteID: it.ID, ItemID: id}
		}
		was := prev.Watched
		prev.Watched, prev.PlayCount, prev.PlayedAt = it.Played, it.PlayCount, secs(it.LastPlayed)
		prev.Progress, prev.AddedAt, prev.Duration = it.Progress.Truncate(time.Millisecond), secs(it.Added), it.Duration
		if it.Library != "" {
			prev.Library = it.Library
		}
		prev.ShowID, prev.Path, prev.IDsHash = it.ShowID, it.Path, idsHash(it)
		if prev.Seen.IsZero() {
			prev.Seen = now
		}
		if err := tx.PutRemote(prev); err != nil {
			return err
		}
		if was != prev.Watched {
			moved[prev.Library] += map[bool]int{true: 1, false: -1}[prev.Watched]
		}
	}
	for lib, n := range moved {
		if err := tx.AddPlayedCount(b.ID, lib, n); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// asWritten says whether a live item shows what the writes made to it
// should have left.
func asWritten(it *backend.Item, ops []op) bool {
	if len(ops) == 0 {
		return false
	}
	last := ops[len(ops)-1]
	switch last.kind {
	case opPlayed:
		return it.Played
	case opUnplayed:
		return !it.Played && it.Progress <= progressJitter
	case opProgress:
		return !it.Played && absDur(it.Progress-last.pos) <= progressJitter
	}
	return false
}

// nearEnd says whether a position is so close to the end that servers
// count it as watched (Plex, Jellyfin and Emby all do past 90 %): writing
// it would turn a resume position into a play.
func nearEnd(pos, duration time.Duration) bool {
	return duration > 0 && pos*10 >= duration*9
}

// PlanText is what a dry run's export plan would change on its backend,
// in words: "2 marked watched, 1 marked unwatched, 3 resume positions",
// "nothing", or why it could not be planned.
func (b BackendReport) PlanText() string {
	if b.Err != nil {
		return "could not be compared: " + b.Error
	}
	var parts []string
	if b.WouldWatch > 0 {
		parts = append(parts, plural(b.WouldWatch, "marked watched", "marked watched"))
	}
	if b.WouldUnwatch > 0 {
		parts = append(parts, plural(b.WouldUnwatch, "marked unwatched", "marked unwatched"))
	}
	if b.WouldResume > 0 {
		parts = append(parts, plural(b.WouldResume, "resume position", "resume positions"))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
