package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// Tunables of import.
const (
	// quickOverlap re-reads this much before the last import's cursor, to
	// absorb clock drift between Playmark and the server.
	quickOverlap = time.Hour
	// progressJitter is how far a resume position must move to count.
	progressJitter = 5 * time.Second
	// commitEvery bounds a write transaction during import (items).
	commitEvery = 20000
)

func (r *run) importAll(ctx context.Context) error {
	backends, err := r.selected(ctx, func(b state.Backend) bool { return b.Import != state.ImportOff })
	if err != nil {
		return err
	}
	// Full-mode backends first: only they create items, and metadata-only
	// ones can then attach to what exists.
	slices.SortStableFunc(backends, func(a, b state.Backend) int {
		return modeRank(a.Import) - modeRank(b.Import)
	})
	for _, b := range backends {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep := r.importBackend(ctx, b)
		r.report.Backends = append(r.report.Backends, rep)
		r.report.Unmatched += rep.Unmatched
	}
	return nil
}

func modeRank(m state.ImportMode) int {
	switch m {
	case state.ImportFull:
		return 0
	case state.ImportMetadata:
		return 1
	}
	return 2
}

// importer is the import of one backend.
type importer struct {
	r       *run
	b       state.Backend
	mode    state.ImportMode
	tx      *state.Tx
	start   time.Time // listing start: the seen stamp and the next cursor
	rep     *BackendReport
	tainted bool      // events that may not change the watched flag
	at      time.Time // when an announced change happened; zero: start
	// quick, in a quick import, tracks what the listing saw (quick.go);
	// played, in a full one, counts the played items per library.
	quick  *quickTrack
	played map[string]int
	// known and remotes speed up a full import (see matchKnown); a nil
	// known and remotes true are always correct.
	known   *idFilter
	remotes bool
}

// reportMark is what an import's report said at its last commit.
type reportMark struct {
	added, changed, unmatched, changes, more int
}

func (im *importer) mark() reportMark {
	return reportMark{im.rep.Added, im.rep.Changed, im.rep.Unmatched, len(im.r.report.Changes), im.r.report.MoreChanges}
}

// reportOnly wraps a transaction's finish: a commit moves the mark, a
// rollback (or a failed commit) puts the report back to it.
func (im *importer) reportOnly(finish func(bool) error, m *reportMark) func(bool) error {
	return func(ok bool) error {
		err := finish(ok)
		if ok && err == nil {
			*m = im.mark()
			return nil
		}
		im.rep.Added, im.rep.Changed, im.rep.Unmatched = m.added, m.changed, m.unmatched
		im.r.report.Changes, im.r.report.MoreChanges = im.r.report.Changes[:m.changes], m.more
		return err
	}
}

func (r *run) importBackend(ctx context.Context, b state.Backend) (rep BackendReport) {
	rep.Phase, rep.Backend = "import", b.Name
	started := r.e.now()
	log := r.e.log.With("backend", b.Name, "phase", "import")
	var tr *backend.Transport
	defer func() { r.finishPhase(&rep, started, tr, log) }()
	mode := b.Import
	if mode == state.ImportOff {
		// Named explicitly although its import is off: say so, do nothing.
		rep.Mode = "off"
		return rep
	}
	ctx, stopDeadline, derr := r.backendCtx(ctx, b.Name)
	if derr != nil {
		rep.Err = derr
		return rep
	}
	defer stopDeadline()
	client, t, err := r.openChecked(ctx, &b)
	tr = t
	if err != nil {
		rep.Err = err
		return rep
	}

	full := r.opt.Full || b.LastFullImport.IsZero() || (r.set.FullEvery > 0 && r.e.now().Sub(b.LastFullImport) >= r.set.FullEvery)
	opt := backend.ListOptions{Libraries: b.Options.Libraries, PageSize: r.e.pageSize}
	rep.Mode = "full"
	if !full {
		rep.Mode = "quick"
		opt.Since = b.ImportCursor.Add(-quickOverlap)
		// The items in progress are compared whole (quick.go), which
		// also sees a long session the listing by date misses.
		_, opt.PlayedOnly = client.(backend.ProgressLister)
	}
	im := &importer{r: r, b: b, mode: mode, start: r.e.now().UTC().Truncate(time.Second), rep: &rep, remotes: true}
	if full {
		im.played = map[string]int{}
	} else {
		im.quick = &quickTrack{listed: map[string]bool{}, moved: map[string]int{}}
	}
	tx, finish, err := r.beginImport(ctx, "import_"+fmt.Sprint(b.ID), b)
	if err != nil {
		rep.Err = err
		return rep
	}
	im.tx = tx
	// What the report says must be what committed: a batch that is
	// rolled back (a failed listing, a full disk) takes its counts and
	// changes out of the report again.
	committed := im.mark()
	finish = im.reportOnly(finish, &committed)
	// A full import writes with a larger page cache; the connection gets
	// its own back before the import's last commit or rollback.
	done := func(ok bool) error {
		if full {
			_ = im.tx.SetCacheSize(state.CacheKiB)
			im.tx.SetShowFilter(nil)
		}
		return finish(ok)
	}
	if full {
		if err := tx.SetCacheSize(state.ImportCacheKiB); err != nil {
			_ = done(false)
			rep.Err = err
			return rep
		}
		// A full listing touches every item: answer the look-ups that
		// must miss from memory.
		if r.known == nil {
			if r.known, err = loadIDFilter(tx); err != nil {
				_ = done(false)
				rep.Err = err
				return rep
			}
		}
		im.known = r.known
		tx.SetShowFilter(im.known.maybeShow)
		if im.remotes, err = tx.HasRemotes(b.ID); err != nil {
			_ = done(false)
			rep.Err = err
			return rep
		}
	}
	// The listing and the writes overlap: the client fetches and decodes
	// the next page while this one is written (two cores do both at
	// once; a profile showed them taking turns). A failed write stops
	// the listing.
	pending := 0
	write := func(page []backend.Item) error {
		for i := range page {
			if err := im.item(&page[i]); err != nil {
				return err
			}
		}
		pending += len(page)
		r.progress("import", b.Name, rep.Read, 0)
		if r.tx == nil && pending >= commitEvery {
			// Each committed batch is whole and valid on its own; the
			// cursor moves only when the whole listing succeeded.
			if err := finish(true); err != nil {
				return err
			}
			pending = 0
			prev := im.tx
			var berr error
			if im.tx, finish, berr = r.beginImport(ctx, "import", b); berr != nil {
				return berr
			}
			im.tx.Continue(prev)
			if full {
				if berr = im.tx.SetCacheSize(state.ImportCacheKiB); berr != nil {
					return berr
				}
				im.tx.SetShowFilter(im.known.maybeShow)
			}
			finish = im.reportOnly(finish, &committed)
		}
		return nil
	}
	err = pipeline(ctx, func(ctx context.Context, page func([]backend.Item) error) error {
		return client.Items(ctx, opt, page)
	}, write)
	if err == nil && full {
		// A complete listing: what it did not show is gone from the
		// server, unless that is most of it (held, see forgetUnseen).
		err = im.forgetUnseen()
		for lib, n := range im.played {
			if err == nil {
				err = im.tx.SetPlayedCount(b.ID, lib, n)
			}
		}
	}
	if err == nil && !full {
		err = im.quickChecks(ctx, client, opt)
	}
	if err != nil {
		_ = done(false)
		rep.Err = err
		return rep
	}
	if err := done(true); err != nil {
		rep.Err = err
		return rep
	}
	if !r.opt.DryRun {
		if err := r.e.store.ImportDone(ctx, b.ID, im.start, full); err != nil {
			rep.Err = err
		}
	}
	log.Info("import done", "mode", rep.Mode, "read", rep.Read, "changed", rep.Changed, "unmatched", rep.Unmatched)
	return rep
}

// pipeline runs list, handing each page to write on another goroutine, one
// page ahead at most. It returns write's first error (which also stops
// the listing), else list's. The pages are copied: a client may reuse
// its page slice (not the items' own slices) once the callback returns.
func pipeline(ctx context.Context, list func(context.Context, func([]backend.Item) error) error, write func([]backend.Item) error) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	pages := make(chan []backend.Item, 1)
	wrote := make(chan error, 1)
	go func() {
		var err error
		for p := range pages {
			if err == nil {
				if err = write(p); err != nil {
					stop()
				}
			}
		}
		wrote <- err
	}()
	err := list(ctx, func(p []backend.Item) error {
		select {
		case pages <- slices.Clone(p):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(pages)
	if werr := <-wrote; werr != nil {
		return werr
	}
	return err
}

// checkIdentity makes sure the URL still points at the server the backend
// was set up with (a reused address must not receive someone else's
// state), and records the server's and user's names.
func (r *run) checkIdentity(ctx context.Context, client backend.Backend, b *state.Backend) error {
	info, err := r.identify(ctx, client)
	if err != nil {
		return err
	}
	if b.ServerID != "" && info.ServerID != "" && info.ServerID != b.ServerID {
		return fmt.Errorf("%s now answers as another server (id %s, expected %s): check its URL, or re-add it if the server was reinstalled", b.URL, info.ServerID, b.ServerID)
	}
	if !r.opt.DryRun && (info.ServerID != b.ServerID || info.Name != b.ServerName || info.UserName != b.UserName) {
		if err := r.e.store.SetIdentity(ctx, b.ID, info.ServerID, info.Name, info.UserID, info.UserName); err != nil {
			return err
		}
		b.ServerID, b.ServerName, b.UserName = info.ServerID, info.Name, info.UserName
	}
	return nil
}

// hasIDs says whether an item can be matched at all.
func hasIDs(it *backend.Item) bool {
	return len(it.GUIDs) > 0 || (it.Type == backend.Episode && it.Episode > 0 && len(it.ShowGUIDs) > 0)
}

// idsHash summarises an item's external ids, so that unchanged ids are
// not re-indexed on every import. It does not depend on the order of the
// ids, so that two servers listing the same ids hash alike.
func idsHash(it *backend.Item) uint32 {
	var sum uint32
	for _, g := range it.GUIDs {
		sum += fnv1a(fnvOffset, "g:", g.Kind, ":", g.Value)
	}
	if it.Type != backend.Episode {
		return sum
	}
	for _, g := range it.ShowGUIDs {
		sum += fnv1a(fnvOffset, "s:", g.Kind, ":", g.Value)
	}
	h := fnv1a(fnvOffset, "e")
	for _, n := range [...]uint32{sum, uint32(it.Season), uint32(it.Episode)} {
		for range 4 {
			h = (h ^ n&0xff) * 16777619
			n >>= 8
		}
	}
	return h
}

const fnvOffset = 2166136261

// fnv1a continues the 32-bit FNV-1a hash h over the strings.
func fnv1a(h uint32, parts ...string) uint32 {
	for _, s := range parts {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return h
}

// match finds the local item for a remote one: by this backend's remote
// id, then (episodes) by show id + season + episode, then by a typed
// external id. Never by title or file name.
func match(tx *state.Tx, backendID int64, it *backend.Item) (id int64, prev *state.Remote, err error) {
	local, prev, err := matchKnown(tx, backendID, it, nil, true)
	if local == nil {
		return 0, nil, err
	}
	return local.ID, prev, err
}

// matchKnown is match with short cuts for a large import, which also
// reads the item (nil when none matched): known, when set, answers id
// look-ups that must miss; remotes false says the backend has no
// sub-records yet, so its remote id cannot be known.
func matchKnown(tx *state.Tx, backendID int64, it *backend.Item, known *idFilter, remotes bool) (local *state.Item, prev *state.Remote, err error) {
	if remotes {
		if r, item, ok, err := tx.RemoteItem(backendID, it.ID); err != nil {
			return nil, nil, err
		} else if ok {
			return &item, &r, nil
		}
	}
	if it.Type == backend.Episode && it.Episode > 0 {
		for _, g := range it.ShowGUIDs {
			if known != nil && !known.has(episodeKey(g.Kind, g.Value, it.Season, it.Episode)) {
				continue
			}
			if item, ok, err := tx.EpisodeItem(g.Kind, g.Value, it.Season, it.Episode); err != nil {
				return nil, nil, err
			} else if ok {
				return &item, nil, nil
			}
		}
	}
	for _, g := range it.GUIDs {
		if known != nil && !known.has(guidKey(string(it.Type), g.Kind, g.Value)) {
			continue
		}
		if item, ok, err := tx.GUIDItem(string(it.Type), g.Kind, g.Value); err != nil {
			return nil, nil, err
		} else if ok {
			return &item, nil, nil
		}
	}
	return nil, nil, nil
}

// indexIDs records an item's external ids and relative id.
func indexIDs(tx *state.Tx, id int64, it *backend.Item) error {
	for _, g := range it.GUIDs {
		if err := tx.AddGUID(id, string(it.Type), g.Kind, g.Value); err != nil {
			return err
		}
	}
	if it.Type == backend.Episode && it.Episode > 0 && len(it.ShowGUIDs) > 0 {
		var buf [4]state.IDPair
		show := buf[:0]
		for _, g := range it.ShowGUIDs {
			show = append(show, state.IDPair{Kind: g.Kind, Value: g.Value})
		}
		return tx.AddEpisode(id, show, it.Season, it.Episode)
	}
	return nil
}

func secs(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

// item imports one remote item.
func (im *importer) item(it *backend.Item) error {
	im.rep.Read++
	if im.distrust(it) {
		return nil
	}
	if it.Played {
		im.rep.Watched++
	} else if it.Progress > 0 && it.Progress >= im.r.set.ProgressMin {
		im.rep.InProgress++
	}
	tx := im.tx
	found, prev, err := matchKnown(tx, im.b.ID, it, im.known, im.remotes)
	if err != nil {
		return fmt.Errorf("matching %s: %w", it.ID, err)
	}
	if it.Library == "" && prev != nil {
		it.Library = prev.Library // a re-read (Get) cannot tell the library
	}
	if im.quick != nil {
		im.quick.saw(it, prev != nil && prev.Watched, prev != nil)
	}
	if im.played != nil && it.Played {
		im.played[it.Library]++
	}
	hash := idsHash(it)
	if found == nil {
		if !hasIDs(it) {
			im.rep.Unmatched++
			return tx.PutUnmatched(im.b.ID, state.Unmatched{RemoteID: it.ID, Type: string(it.Type), Title: it.Title,
				ShowTitle: it.ShowTitle, Season: it.Season, Episode: it.Episode, Path: it.Path, Seen: im.start})
		}
		if im.mode != state.ImportFull || im.tainted {
			// Metadata-only backends and events never create items.
			im.rep.Skipped++
			return nil
		}
		local := im.newItem(it)
		local.IDsHash = hash
		if err := tx.CreateItem(&local); err != nil {
			return err
		}
		if err := indexIDs(tx, local.ID, it); err != nil {
			return err
		}
		im.r.recorded(it)
		// New items are counted, not listed one by one: a first import
		// of a large library would otherwise bury the real changes.
		im.rep.Added++
		return im.putRemote(local.ID, it, hash)
	}
	local, id := *found, found.ID
	// New ids from this backend go to the index, unless the item's ids
	// were last indexed from the very same set (another backend of the
	// same library): offering them again would change nothing.
	saveHash := false
	if prev == nil || prev.IDsHash != hash {
		if local.IDsHash != hash {
			if err := indexIDs(tx, id, it); err != nil {
				return err
			}
			local.IDsHash, saveHash = hash, true
			im.r.recorded(it)
		}
		// Else the same ids were indexed before: committed before the
		// run's filter was loaded, or recorded in it when indexed.
	}
	changed := false
	if im.mode == state.ImportFull {
		if changed, err = im.apply(&local, prev, it); err != nil {
			return err
		} else if changed {
			im.rep.Changed++
		}
	}
	if saveHash { // the media identity is everyone's, written apart from the play state
		if err := tx.SetItemIDsHash(id, hash); err != nil {
			return err
		}
	}
	return im.putRemote(id, it, hash)
}

// recorded tells the run's filter of recorded ids (when a full import
// loaded it) about an item's ids: every import of the run, a quick one
// too, for a full import after it must not take them for unknown.
func (r *run) recorded(it *backend.Item) {
	if r.known != nil {
		r.known.addItem(it)
	}
}

func (im *importer) putRemote(itemID int64, it *backend.Item, hash uint32) error {
	return im.tx.PutRemote(state.Remote{
		BackendID: im.b.ID, RemoteID: it.ID, ItemID: itemID,
		Watched: it.Played, PlayCount: it.PlayCount, PlayedAt: secs(it.LastPlayed), AddedAt: secs(it.Added),
		Progress: it.Progress.Truncate(time.Millisecond), Duration: it.Duration,
		Library: it.Library, ShowID: it.ShowID, Path: it.Path, IDsHash: hash, Seen: im.start,
	})
}

// newItem is the local state of an item first seen on this backend.
func (im *importer) newItem(it *backend.Item) state.Item {
	local := state.Item{
		Type: string(it.Type), Title: it.Title, Year: it.Year,
		ShowTitle: it.ShowTitle, Season: it.Season, Episode: it.Episode,
		Duration: it.Duration, Via: im.b.Name,
	}
	if it.Played {
		local.Watched, local.Explicit = true, true
		local.Updated = secs(it.LastPlayed)
		if local.Updated.IsZero() {
			local.Updated = secs(it.Added)
		}
	} else {
		local.Updated = secs(it.Added)
		if it.Progress >= im.r.set.ProgressMin {
			local.Progress = it.Progress.Truncate(time.Millisecond)
			local.ProgressAt = secs(it.LastPlayed)
			if local.ProgressAt.IsZero() {
				local.ProgressAt = im.start
			}
		}
	}
	if local.Updated.IsZero() {
		local.Updated = im.start
	}
	return local
}

// apply merges a known item's remote state into the local one, by the
// sync rules. It reports whether the local play state changed.
func (im *importer) apply(local *state.Item, prev *state.Remote, it *backend.Item) (bool, error) {
	now := im.start
	if !im.at.IsZero() {
		now = im.at
	}
	d := decide(*local, prev, it, decideContext{
		backend:     im.b.Name,
		now:         now,
		lastImport:  im.b.LastImport,
		progressMin: im.r.set.ProgressMin,
		replay:      im.r.set.ReplayTracking,
		tainted:     im.tainted,
	})
	if d.conflict != "" {
		im.rep.Skipped++
		im.record(*local, describe(*local), describe(*local), d.conflict)
		im.r.e.log.Info("conflict kept local", "backend", im.b.Name, "item", local.Label(), "why", d.conflict)
	}
	if !d.changed {
		return false, nil
	}
	before := describe(*local)
	*local = d.item
	if err := im.tx.SavePlay(local); err != nil {
		return false, err
	}
	im.record(*local, before, describe(*local), d.reason)
	return true, nil
}

func (im *importer) record(local state.Item, before, after, reason string) {
	c := state.Change{RunID: im.r.id, At: im.r.e.now(), PersonID: im.b.PersonID, ItemID: local.ID, Item: local.Label(), Target: "local",
		Before: before, After: after, Reason: reason}
	im.r.addChange(c)
	if err := im.tx.RecordChange(c); err != nil && !errors.Is(err, context.Canceled) {
		im.r.e.log.Warn("recording history", "err", err)
	}
}

// describe is a play state in words, for the history.
func describe(it state.Item) string {
	switch {
	case it.Watched:
		return "watched " + it.Updated.Format("2006-01-02 15:04")
	case it.Progress > 0:
		return "resume at " + clock(it.Progress)
	}
	return "unwatched"
}

func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
