package plex

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"playmark/sync/backend"
)

// MarkPlayed scrobbles the item (GET /:/scrobble, as every mature client
// does; PMS also takes PUT). Plex adds one to viewCount, clears the resume
// position and stamps its own clock: at is not sent, since the API has no
// way to back-date a play. An unknown id fails with ErrNotFound.
func (c *Client) MarkPlayed(ctx context.Context, id string, at time.Time) error {
	if err := c.scrobble(ctx, "/:/scrobble", id); err != nil {
		return fmt.Errorf("marking plex item %s played: %w", id, err)
	}
	return nil
}

// MarkUnplayed unscrobbles the item: Plex forgets its viewCount, resume
// position and lastViewedAt. An unknown id fails with ErrNotFound.
func (c *Client) MarkUnplayed(ctx context.Context, id string) error {
	if err := c.scrobble(ctx, "/:/unscrobble", id); err != nil {
		return fmt.Errorf("marking plex item %s unplayed: %w", id, err)
	}
	return nil
}

func (c *Client) scrobble(ctx context.Context, path, id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q is not a Plex ratingKey", backend.ErrNotFound, id)
	}
	return c.send(ctx, http.MethodGet, path, url.Values{"identifier": {libraryIdentifier}, "key": {id}})
}

// SetProgress reports a stopped playback at position through /:/timeline,
// which is what sets viewOffset (and lastViewedAt, to the server's clock).
// Plex ignores a report without the item's duration, so a zero duration
// is looked up first. A position of zero cannot be reported (Plex keeps
// the old one), so it clears the position with /:/unscrobble instead,
// which is right for the unplayed items this is meant for. Plex itself
// counts a report past 90 % of the duration as a play. An unknown id fails
// with ErrNotFound.
func (c *Client) SetProgress(ctx context.Context, id string, position, duration time.Duration) error {
	if err := c.setProgress(ctx, id, position, duration); err != nil {
		return fmt.Errorf("setting plex item %s progress: %w", id, err)
	}
	return nil
}

func (c *Client) setProgress(ctx context.Context, id string, position, duration time.Duration) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q is not a Plex ratingKey", backend.ErrNotFound, id)
	}
	ms := position.Milliseconds()
	if ms <= 0 {
		return c.send(ctx, http.MethodGet, "/:/unscrobble", url.Values{"identifier": {libraryIdentifier}, "key": {id}})
	}
	if duration <= 0 {
		items, err := c.Get(ctx, []string{id})
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("%w: no movie or episode with id %s", backend.ErrNotFound, id)
		}
		if duration = items[0].Duration; duration <= 0 {
			return fmt.Errorf("the server does not know the item's duration, which Plex needs to record a position")
		}
	}
	q := url.Values{
		"ratingKey":  {id},
		"key":        {"/library/metadata/" + id},
		"identifier": {libraryIdentifier},
		"state":      {"stopped"},
		"time":       {strconv.FormatInt(ms, 10)},
		"duration":   {strconv.FormatInt(max(duration.Milliseconds(), 1), 10)},
	}
	return c.send(ctx, http.MethodGet, "/:/timeline", q)
}
