package plex

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"playmark/sync/backend"
)

// The quick import's cheap check (backend.PlayedChecker): an un-watch
// (unscrobble) drops lastViewedAt, so a listing by date cannot show it;
// the watched count per section (unwatched=0, X-Plex-Container-Size: 0)
// and, when it moved, the watched items' ids do. Plex needs no
// ProgressLister: its timeline moves lastViewedAt.

var _ backend.PlayedChecker = (*Client)(nil)

// idPageSize is the page size of the played-id listing.
const idPageSize = 5000

func (c *Client) selected(ctx context.Context, ids []string) ([]backend.Library, error) {
	libs, err := c.Libraries(ctx)
	if err != nil || len(ids) == 0 {
		return libs, err
	}
	var picked []backend.Library
	for _, id := range ids {
		i := slices.IndexFunc(libs, func(l backend.Library) bool { return l.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("listing plex library %s: %w: no movie or show library with that id", id, backend.ErrNotFound)
		}
		if !slices.ContainsFunc(picked, func(l backend.Library) bool { return l.ID == id }) {
			picked = append(picked, libs[i])
		}
	}
	return picked, nil
}

func watchedQuery(lib backend.Library) (string, url.Values) {
	q := url.Values{"type": {"1"}, "unwatched": {"0"}, "sort": {"addedAt"}}
	if lib.Type == backend.Episode {
		q.Set("type", "4")
	}
	return "/library/sections/" + url.PathEscape(lib.ID) + "/all", q
}

// PlayedCounts asks each section for its watched movies or episodes with
// a page size of 0: the answer is the total alone.
func (c *Client) PlayedCounts(ctx context.Context, opt backend.ListOptions) (map[string]int, error) {
	libs, err := c.selected(ctx, opt.Libraries)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(libs))
	for _, lib := range libs {
		path, q := watchedQuery(lib)
		q.Set("X-Plex-Container-Start", "0")
		q.Set("X-Plex-Container-Size", "0")
		paging := http.Header{"X-Plex-Container-Start": {"0"}, "X-Plex-Container-Size": {"0"}}
		var head wireHead
		n := 0
		hdr, err := c.getContainer(ctx, path, q, paging, &head, func(*wireMeta) error { n++; return nil })
		if err != nil {
			return nil, fmt.Errorf("counting plex watched items: %w", err)
		}
		total, ok, err := pagingValue(head.TotalSize, hdr, "X-Plex-Container-Total-Size")
		switch {
		case err != nil:
			return nil, fmt.Errorf("counting plex watched items: %w: %v", backend.ErrBadResponse, err)
		case !ok || total < 0 || n > 0:
			return nil, fmt.Errorf("counting plex watched items: %w: no total size, or items on a page of size 0", backend.ErrBadResponse)
		}
		out[lib.ID] = total
	}
	return out, nil
}

// PlayedIDs pages through section lib's watched items, checked like any
// listing, and hands over their ratingKeys.
func (c *Client) PlayedIDs(ctx context.Context, lib string, f func(ids []string) error) error {
	libs, err := c.selected(ctx, []string{lib})
	if err != nil {
		return err
	}
	path, q := watchedQuery(libs[0])
	ids := make([]string, 0, idPageSize)
	for start, first := 0, -1; ; {
		items, total, err := c.listPage(ctx, path, q, lib, start, idPageSize)
		if err != nil {
			return fmt.Errorf("listing plex watched ids: %w", err)
		}
		if first < 0 {
			first = total
		}
		if total != first {
			return fmt.Errorf("listing plex watched ids: %w: the listing changed from %d to %d items while paging", backend.ErrBadResponse, first, total)
		}
		ids = ids[:0]
		for i := range items {
			ids = append(ids, items[i].ID)
		}
		if err := f(ids); err != nil {
			return err
		}
		start += len(items)
		if start >= total || len(items) == 0 {
			return nil
		}
	}
}
