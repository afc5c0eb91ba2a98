package engine

import (
	"fmt"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// decideContext is what decide needs to know besides the three states.
type decideContext struct {
	backend     string
	now         time.Time // detection time: the date of an un-watch
	lastImport  time.Time // when this backend was last read
	progressMin time.Duration
	replay      bool // progress on played items is kept
	tainted     bool // a play/pause/stop event: progress only
}

// decision is decide's answer.
type decision struct {
	changed  bool
	item     state.Item // the new local state when changed
	reason   string
	conflict string // why a remote change was not taken, "" when none
}

// decide merges one backend's view of an item into the local state. The
// rules (README, "Sync rules"):
//
//   - A remote that shows exactly what it showed last time (same flag, same
//     play date, same position) has nothing new to say.
//   - Played: taken when the remote's play date is strictly newer than the
//     local state's time, or when the item was never watched anywhere
//     (then the local time is only its added date). A tie keeps local.
//   - Un-watched: taken only when this backend had the item played (its
//     sub-record, same remote id), the file was not replaced (same added
//     date), it is not a replay (unplayed but with a play count and a play
//     date: Jellyfin 10.5-10.11 clears Played when playback starts; an
//     un-mark erases count and date), and no newer play reached the local
//     state since this backend was last read. Otherwise it is a conflict
//     and local is kept.
//   - Progress: taken on an unplayed item (or any, with replay tracking)
//     when it is at least progressMin, moved by more than a few seconds and
//     is newer than the local position. A position that moved under the
//     same play date as last time (a long Jellyfin session) is as new as
//     the moment it was seen.
func decide(local state.Item, prev *state.Remote, it *backend.Item, c decideContext) decision {
	d := decision{item: local}
	played := secs(it.LastPlayed)
	pos := it.Progress.Truncate(time.Millisecond)
	same := prev != nil && prev.Watched == it.Played && prev.PlayedAt.Equal(played) && prev.Progress == pos
	if same {
		return d
	}
	var reasons []string
	if !c.tainted && it.Played != local.Watched {
		if it.Played {
			at := played
			if at.IsZero() {
				// Played without a date: new since we last looked, or as old
				// as the item itself.
				if prev != nil && !prev.Watched {
					at = c.now
				} else {
					at = secs(it.Added)
				}
			}
			if !local.Explicit || at.After(local.Updated) {
				d.item.Watched, d.item.Explicit, d.item.Updated, d.item.Via = true, true, at, c.backend
				d.item.Progress, d.item.ProgressAt = 0, at
				d.changed = true
				reasons = append(reasons, fmt.Sprintf("played on %s at %s", c.backend, at.Format("2006-01-02 15:04")))
			}
		} else {
			added := secs(it.Added)
			switch {
			case prev == nil || !prev.Watched:
				// The backend never had it played: it lacks the play, which
				// export will send. Nothing to take from it.
			case it.PlayCount >= 1 && !it.LastPlayed.IsZero():
				// A replay, not an un-watch: Jellyfin 10.5-10.11 clears
				// Played when playback starts but keeps the count and
				// stamps the date; an un-mark erases both (API-NOTES 7).
				d.conflict = fmt.Sprintf("replayed on %s (played %d times, last started %s): kept watched",
					c.backend, it.PlayCount, played.Format("2006-01-02 15:04"))
			case !prev.AddedAt.IsZero() && !added.IsZero() && !prev.AddedAt.Equal(added):
				d.conflict = fmt.Sprintf("%s shows it unwatched, but its file was replaced or re-added (added %s, was %s): kept watched",
					c.backend, added.Format("2006-01-02 15:04"), prev.AddedAt.Format("2006-01-02 15:04"))
			case !c.lastImport.IsZero() && local.Via != c.backend && local.Updated.After(c.lastImport):
				d.conflict = fmt.Sprintf("un-watched on %s, but played on %s at %s, after %s was last read: kept watched",
					c.backend, local.Via, local.Updated.Format("2006-01-02 15:04"), c.backend)
			default:
				d.item.Watched, d.item.Explicit, d.item.Updated, d.item.Via = false, true, c.now, c.backend
				d.item.Progress = 0
				d.changed = true
				reasons = append(reasons, "un-watched on "+c.backend)
			}
		}
	}
	if (!d.item.Watched || c.replay) && !it.Played && pos >= c.progressMin &&
		absDur(pos-d.item.Progress) > progressJitter && (prev == nil || prev.Progress != pos) {
		at := played
		if at.IsZero() || (prev != nil && !at.After(prev.PlayedAt)) {
			// No date, or the date of a session already seen: Jellyfin's
			// progress never moves LastPlayedDate, so a position that
			// moved since this backend was last read is that new.
			at = c.now
		}
		if at.After(d.item.ProgressAt) {
			d.item.Progress, d.item.ProgressAt = pos, at
			if !d.changed {
				d.item.Via = c.backend
			}
			d.changed = true
			reasons = append(reasons, fmt.Sprintf("resume at %s on %s", clock(pos), c.backend))
		}
	}
	for i, r := range reasons {
		if i > 0 {
			d.reason += "; "
		}
		d.reason += r
	}
	return d
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
