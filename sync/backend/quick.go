package backend

import (
	"context"
	"time"
)

// What a listing by play date cannot show, a quick import finds by the
// cheap means below (API-NOTES section 7): an un-watch erases the date on
// every server; Jellyfin's "mark played" without a date keeps an old one;
// Jellyfin's playback progress never moves the date its session started
// with. A backend implements what its server can answer cheaply.

// PlayedChecker counts and lists played items without their metadata.
type PlayedChecker interface {
	// PlayedCounts is the number of played movies and episodes per
	// library (opt.Libraries, or every movie and show library), in one
	// small request per library.
	PlayedCounts(ctx context.Context, opt ListOptions) (map[string]int, error)
	// PlayedIDs calls f with the ids of library lib's played movies and
	// episodes, a large page at a time, ids only.
	PlayedIDs(ctx context.Context, lib string, f func(ids []string) error) error
}

// ProgressLister lists every item with a resume position, with its user
// data and no metadata. Jellyfin and Emby need it: their progress reports
// do not move LastPlayedDate, so a listing by date misses a long session.
type ProgressLister interface {
	InProgress(ctx context.Context, opt ListOptions) ([]PlayState, error)
}

// PlayState is one item's user data without its metadata.
type PlayState struct {
	ID         string
	Library    string
	Played     bool
	PlayCount  int
	LastPlayed time.Time
	Progress   time.Duration
}
