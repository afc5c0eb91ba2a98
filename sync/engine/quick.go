package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"playmark/sync/backend"
)

// What a quick import cannot see by date, and how it finds it anyway
// (API-NOTES section 7; README, "How sync works"):
//
//   - An un-watch erases the play date on every server, and Jellyfin's
//     "mark played" without a date keeps an old one. Both move the
//     library's played count otherwise than the plays the listing showed:
//     the import asks for the count (one small request per library) and,
//     only when it moved that way, lists the played ids (ids only, large
//     pages) and re-reads the items whose played flag differs from what
//     this backend's sub-records say.
//   - Jellyfin's and Emby's progress reports never move the date a session
//     started with, so a long session falls behind the cursor: the import
//     lists the items in progress (user data only) and re-reads those
//     whose position, flag or date differs, and those no longer in
//     progress (finished, marked, or cleared).
//
// Items re-read this way go through the same rules as any import.

// quickTrack is what the listing of a quick import saw, for the checks.
type quickTrack struct {
	listed map[string]bool // remote ids the listing showed
	// moved is, per library, how the listing moved the played count as
	// this backend's sub-records knew it: +1 a new play, -1 a play gone.
	moved map[string]int
}

func (q *quickTrack) saw(it *backend.Item, prevWatched, known bool) {
	q.listed[it.ID] = true
	switch {
	case it.Played && (!known || !prevWatched):
		q.moved[it.Library]++
	case !it.Played && known && prevWatched:
		q.moved[it.Library]--
	}
}

// quickChecks runs after a quick listing of backend im.b (opt) and
// re-reads what the listing could not show. It records the played counts
// for the next import and says in the report how it found what it found.
func (im *importer) quickChecks(ctx context.Context, client backend.Backend, opt backend.ListOptions) error {
	reread := map[string]string{} // remote id -> library ("" when unknown)
	var found []string
	if pc, ok := client.(backend.PlayedChecker); ok {
		counts, err := pc.PlayedCounts(ctx, opt)
		if err != nil {
			return err
		}
		stored, err := im.tx.PlayedCounts(im.b.ID)
		if err != nil {
			return err
		}
		for _, lib := range slices.Sorted(maps.Keys(counts)) {
			// A library the last full import listed no played item of
			// has no count recorded: 0.
			n, want := counts[lib], stored[lib]+im.quick.moved[lib]
			if n == want {
				continue
			}
			before := len(reread)
			if err := im.playedIDDiff(ctx, pc, lib, reread); err != nil {
				return err
			}
			found = append(found, fmt.Sprintf("played-id check of library %s (%d played, expected %d): %d to re-read", lib, n, want, len(reread)-before))
		}
		for lib, n := range counts {
			if err := im.tx.SetPlayedCount(im.b.ID, lib, n); err != nil {
				return err
			}
		}
	}
	if pl, ok := client.(backend.ProgressLister); ok {
		before := len(reread)
		if err := im.progressDiff(ctx, pl, opt, reread); err != nil {
			return err
		}
		if n := len(reread) - before; n > 0 {
			found = append(found, fmt.Sprintf("in-progress check: %d position(s) moved without a new date, or no longer in progress", n))
		}
	}
	if len(reread) > 0 {
		ids := slices.Sorted(maps.Keys(reread))
		items, err := client.Get(ctx, ids)
		if err != nil {
			return err
		}
		for i := range items {
			it := &items[i]
			if it.Library == "" {
				it.Library = reread[it.ID]
			}
			if err := im.item(it); err != nil {
				return err
			}
		}
	}
	im.rep.Found = strings.Join(found, "; ")
	return nil
}

// playedIDDiff lists library lib's played ids and adds to reread every id
// whose played flag differs from this backend's sub-records, unless the
// listing already showed it.
func (im *importer) playedIDDiff(ctx context.Context, pc backend.PlayedChecker, lib string, reread map[string]string) error {
	server := map[string]bool{}
	if err := pc.PlayedIDs(ctx, lib, func(ids []string) error {
		for _, id := range ids {
			server[id] = true
		}
		return nil
	}); err != nil {
		return err
	}
	local := map[string]bool{}
	if err := im.tx.WatchedRemoteIDs(im.b.ID, lib, func(id string) { local[id] = true }); err != nil {
		return err
	}
	// Items with no usable id have no sub-record: re-reading them would
	// change nothing.
	if err := im.tx.UnmatchedRemoteIDs(im.b.ID, func(id string) { delete(server, id) }); err != nil {
		return err
	}
	for id := range local {
		if !server[id] && !im.quick.listed[id] {
			reread[id] = lib // un-watched, or a replay (decide tells), or gone
		}
	}
	for id := range server {
		if !local[id] && !im.quick.listed[id] {
			reread[id] = lib // played without a new date, or not known yet
		}
	}
	return nil
}

// progressDiff compares the server's items in progress with this
// backend's sub-records.
func (im *importer) progressDiff(ctx context.Context, pl backend.ProgressLister, opt backend.ListOptions, reread map[string]string) error {
	marks, err := pl.InProgress(ctx, opt)
	if err != nil {
		return err
	}
	onServer := make(map[string]bool, len(marks))
	for _, m := range marks {
		onServer[m.ID] = true
		if im.quick.listed[m.ID] {
			continue
		}
		r, ok, err := im.tx.Remote(im.b.ID, m.ID)
		if err != nil {
			return err
		}
		if !ok {
			// Not known here (yet): the listing by date would have shown
			// it if it moved since the cursor; otherwise it waits for the
			// full reconcile, like any new item.
			if !m.LastPlayed.Before(opt.Since) {
				reread[m.ID] = m.Library
			}
			continue
		}
		if r.Watched != m.Played || r.Progress != m.Progress.Truncate(time.Millisecond) || !r.PlayedAt.Equal(secs(m.LastPlayed)) {
			reread[m.ID] = m.Library
		}
	}
	was, err := im.tx.InProgressRemotes(im.b.ID)
	if err != nil {
		return err
	}
	for _, r := range was {
		if !onServer[r.RemoteID] && !im.quick.listed[r.RemoteID] && (len(opt.Libraries) == 0 || slices.Contains(opt.Libraries, r.Library)) {
			reread[r.RemoteID] = r.Library
		}
	}
	return nil
}
