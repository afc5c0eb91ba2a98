package engine

import (
	"fmt"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// What a server says is not trusted beyond what it can plausibly mean: a
// year-9999 play date taken as "newer" once made every later un-watch
// revert, and a 250,000 h resume position was stored. The limits:
const (
	// maxAhead is how far in the future a date may be (clock drift, a
	// server in the wrong time zone) before it is absurd.
	maxAhead = 24 * time.Hour
	// progressSlack is how far a position may pass the item's runtime
	// (servers round both).
	progressSlack = time.Minute
	// maxRuntime bounds a runtime and, for an item of unknown runtime, a
	// position.
	maxRuntime = 100 * time.Hour
	// maxIDLen bounds an item id; the servers' are at most 36 characters.
	maxIDLen = 64
)

// earliest is the oldest plausible play or added date.
var earliest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// plausibleDate says whether t (not zero) can be a real play or added date.
func plausibleDate(t, now time.Time) bool {
	return !t.Before(earliest) && !t.After(now.Add(maxAhead))
}

// validID says whether id can be a server's item id (a Plex ratingKey, a
// Jellyfin GUID, an Emby number): letters, digits, '-' and '_', nothing
// that could change a request's path or query ("..", "/", "?").
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// untrusted checks an item a server listed and makes it harmless in
// place: an absurd date or position is dropped (as if the server had not
// said), so that it is never taken as newer. why says what was dropped;
// skip is true when the item cannot be used at all (its id is not an id).
func untrusted(it *backend.Item, now time.Time) (why []string, skip bool) {
	if !validID(it.ID) || (it.ShowID != "" && !validID(it.ShowID)) {
		return []string{fmt.Sprintf("its id %q is not an id", it.ID+" "+it.ShowID)}, true
	}
	if !it.LastPlayed.IsZero() && !plausibleDate(it.LastPlayed, now) {
		why = append(why, "play date "+it.LastPlayed.UTC().Format("2006-01-02 15:04")+" is absurd")
		it.LastPlayed = time.Time{}
	}
	if !it.Added.IsZero() && !plausibleDate(it.Added, now) {
		why = append(why, "added date "+it.Added.UTC().Format("2006-01-02")+" is absurd")
		it.Added = time.Time{}
	}
	if it.Duration < 0 || it.Duration > maxRuntime {
		why = append(why, "runtime "+clock(it.Duration)+" is absurd")
		it.Duration = 0
	}
	limit := maxRuntime
	if it.Duration > 0 {
		limit = it.Duration + progressSlack
	}
	if it.Progress < 0 || it.Progress > limit {
		why = append(why, "resume position "+clock(it.Progress)+" is past the item's end")
		it.Progress = 0
	}
	return why, false
}

// label names a remote item for the history.
func label(it *backend.Item) string {
	return state.Item{Type: string(it.Type), Title: it.Title, Year: it.Year, ShowTitle: it.ShowTitle,
		Season: it.Season, Episode: it.Episode}.Label()
}

// distrust is untrusted for an import: what was dropped is logged and
// listed in the run's history as skipped, where the user sees it.
func (im *importer) distrust(it *backend.Item) (skip bool) {
	why, skip := untrusted(it, im.r.e.now())
	if len(why) == 0 {
		return false
	}
	reason := fmt.Sprintf("not trusted from %s: %s", im.b.Name, joinSentences(why))
	if skip {
		reason += "; item skipped"
	}
	im.rep.Skipped++
	im.r.e.log.Warn("untrusted data from a server", "backend", im.b.Name, "item", label(it), "why", reason)
	c := state.Change{RunID: im.r.id, At: im.r.e.now(), Item: label(it), Target: "local", Before: "", After: "", Reason: reason}
	im.r.addChange(c)
	if err := im.tx.RecordChange(c); err != nil {
		im.r.e.log.Warn("recording history", "err", err)
	}
	return skip
}

// Shrinking listings: a full listing that suddenly shows far fewer items
// than the backend had (a proxy's empty answer, a library unmounted) is
// held like a mass change: nothing is forgotten and the cursor stays.
const (
	shrinkMin = 100 // at least this many items fewer
)

// ErrShrunk is a full listing held because it shows far fewer items than
// last time.
var ErrShrunk = fmt.Errorf("listing held")

// forgetUnseen drops what a complete full listing did not show, unless
// that is most of what the backend had (under half of it, and at least
// shrinkMin items) and the run does not say Yes: then nothing is
// forgotten and ErrShrunk says so.
func (im *importer) forgetUnseen() error {
	tx := im.tx
	if !im.remotes {
		// The backend had no sub-records when this import began: every
		// one it has now was seen by this listing.
		return tx.ForgetUnseenUnmatched(im.b.ID, im.start)
	}
	if err := tx.Savepoint("forget"); err != nil {
		return err
	}
	gone, err := tx.ForgetUnseen(im.b.ID, im.start)
	if err != nil {
		_ = tx.RollbackTo("forget")
		return err
	}
	listed := int64(im.rep.Read)
	if gone >= shrinkMin && gone > listed && !im.r.opt.Yes {
		if err := tx.RollbackTo("forget"); err != nil {
			return err
		}
		return fmt.Errorf("%w: the full listing shows %d items where there were %d: nothing was forgotten; if the library really shrank, run: playmark sync --full --yes",
			ErrShrunk, listed, listed+gone)
	}
	return tx.Release("forget")
}
