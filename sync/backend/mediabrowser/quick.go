package mediabrowser

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"playmark/sync/backend"
)

// The quick import's cheap checks (backend.PlayedChecker and
// backend.ProgressLister): counts and ids without metadata.

var (
	_ backend.PlayedChecker  = (*Client)(nil)
	_ backend.ProgressLister = (*Client)(nil)
)

// idPageSize is the page size of the id-only listings: items without
// Fields or user data are small.
const idPageSize = 5000

// bareQuery is a recursive listing of library lib's movies or episodes
// with as little per item as the servers allow.
func (c *Client) bareQuery(uid string, lib backend.Library, q url.Values) (string, url.Values) {
	path := c.itemsRoute(uid, q)
	q.Set("ParentId", lib.ID)
	q.Set("Recursive", "true")
	if lib.Type == backend.Movie {
		q.Set("IncludeItemTypes", "Movie")
	} else {
		q.Set("IncludeItemTypes", "Episode")
	}
	q.Set("EnableImages", "false")
	q.Set("EnableTotalRecordCount", "true")
	return path, q
}

// PlayedCounts asks, per library, for the played total alone
// (IsPlayed=true&Limit=0: TotalRecordCount, no items).
func (c *Client) PlayedCounts(ctx context.Context, opt backend.ListOptions) (map[string]int, error) {
	uid, libs, err := c.selected(ctx, opt)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(libs))
	for _, lib := range libs {
		path, q := c.bareQuery(uid, lib, url.Values{"IsPlayed": {"true"}, "EnableUserData": {"false"}, "Limit": {"0"}})
		p, err := c.getPage(ctx, path, q, 0)
		if err != nil {
			return nil, fmt.Errorf("counting %s played items: %w", c.fl.Kind, err)
		}
		if len(p.Items) > 0 || p.TotalRecordCount < 0 {
			return nil, fmt.Errorf("counting %s played items: %w: asked for a count, got %d items", c.fl.Kind, backend.ErrBadResponse, len(p.Items))
		}
		out[lib.ID] = p.TotalRecordCount
	}
	return out, nil
}

// PlayedIDs lists the ids of library lib's played items, oldest first,
// without Fields or user data, checked page by page like any listing.
func (c *Client) PlayedIDs(ctx context.Context, lib string, f func(ids []string) error) error {
	uid, libs, err := c.selected(ctx, backend.ListOptions{Libraries: []string{lib}})
	if err != nil {
		return err
	}
	path, q := c.bareQuery(uid, libs[0], url.Values{"IsPlayed": {"true"}, "EnableUserData": {"false"},
		"SortBy": {"DateCreated,SortName"}, "SortOrder": {"Ascending"}})
	ids := make([]string, 0, idPageSize)
	return c.pages(ctx, path, q, idPageSize, func(dtos []itemDTO) (bool, error) {
		ids = ids[:0]
		for i := range dtos {
			if dtos[i].ID == "" {
				return false, fmt.Errorf("listing %s played ids: %w: an item without an Id", c.fl.Kind, backend.ErrBadResponse)
			}
			ids = append(ids, dtos[i].ID)
		}
		return false, f(ids)
	})
}

// InProgress lists every item with a resume position (Filters=IsResumable)
// with its user data (and, for Emby 4.8, the Fields that bring the date
// and the count), no other fields.
func (c *Client) InProgress(ctx context.Context, opt backend.ListOptions) ([]backend.PlayState, error) {
	uid, libs, err := c.selected(ctx, opt)
	if err != nil {
		return nil, err
	}
	var out []backend.PlayState
	for _, lib := range libs {
		path, q := c.bareQuery(uid, lib, url.Values{"Filters": {"IsResumable"}, "EnableUserData": {"true"},
			"Fields": {"UserDataLastPlayedDate,UserDataPlayCount"}, "SortBy": {"DateCreated,SortName"}, "SortOrder": {"Ascending"}})
		err := c.pages(ctx, path, q, idPageSize, func(dtos []itemDTO) (bool, error) {
			for i := range dtos {
				d := &dtos[i]
				if d.ID == "" || d.UserData == nil {
					return false, fmt.Errorf("listing %s items in progress: %w: an item without an Id or UserData", c.fl.Kind, backend.ErrBadResponse)
				}
				at, err := ParseDate(d.UserData.LastPlayedDate)
				if err != nil {
					return false, fmt.Errorf("listing %s items in progress: %w: %v", c.fl.Kind, backend.ErrBadResponse, err)
				}
				out = append(out, backend.PlayState{ID: d.ID, Library: lib.ID, Played: d.UserData.Played,
					PlayCount: d.UserData.PlayCount, LastPlayed: at, Progress: time.Duration(d.UserData.PlaybackPositionTicks) * 100})
			}
			return false, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
