package plex

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"playmark/sync/backend"
)

// Items pages through the movies (type=1) and episodes (type=4) of each
// selected library, sorted by addedAt so that items added meanwhile land
// after the pages already read. With opt.Since it asks only for items
// viewed since then (the lastViewedAt>>= media query), sorted by
// lastViewedAt.
//
// Every page is checked against what the server says about it (body
// offset/size/totalSize, X-Plex-Container-Start and -Total-Size headers):
// a server that ignores the paging request, answers a page of the wrong
// size or shrinks the listing under us fails with ErrBadResponse.
//
// Episodes carry their show's GUIDs, which the episode listing lacks: the
// shows of each page are looked up in batches, once per show per call.
func (c *Client) Items(ctx context.Context, opt backend.ListOptions, page func([]backend.Item) error) error {
	libs, err := c.Libraries(ctx)
	if err != nil {
		return err
	}
	if len(opt.Libraries) > 0 {
		var picked []backend.Library
		for _, id := range opt.Libraries {
			if slices.ContainsFunc(picked, func(l backend.Library) bool { return l.ID == id }) {
				continue
			}
			i := slices.IndexFunc(libs, func(l backend.Library) bool { return l.ID == id })
			if i < 0 {
				return fmt.Errorf("listing plex library %s: %w: no movie or show library with that id", id, backend.ErrNotFound)
			}
			picked = append(picked, libs[i])
		}
		libs = picked
	}
	size := opt.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	shows := map[string][]backend.GUID{}
	for _, lib := range libs {
		if err := c.listLibrary(ctx, lib, opt.Since, size, shows, page); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) listLibrary(ctx context.Context, lib backend.Library, since time.Time, size int, shows map[string][]backend.GUID, page func([]backend.Item) error) error {
	path := "/library/sections/" + url.PathEscape(lib.ID) + "/all"
	q := url.Values{"includeGuids": {"1"}, "type": {"1"}, "sort": {"addedAt"}}
	if lib.Type == backend.Episode {
		q.Set("type", "4")
	}
	if !since.IsZero() {
		// >>= is strictly after; one second less keeps plays at Since.
		q.Set("lastViewedAt>>", strconv.FormatInt(since.Unix()-1, 10))
		q.Set("sort", "lastViewedAt")
	}
	first := -1
	for start := 0; ; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("listing plex library %s: %w", lib.ID, err)
		}
		items, total, err := c.listPage(ctx, path, q, lib.ID, start, size)
		if err != nil {
			return fmt.Errorf("listing plex library %s: %w", lib.ID, err)
		}
		if first < 0 {
			first = total
		}
		switch {
		case total < first:
			return fmt.Errorf("listing plex library %s: %w: the listing shrank from %d to %d items while paging", lib.ID, backend.ErrBadResponse, first, total)
		case total > 2*first+size:
			return fmt.Errorf("listing plex library %s: %w: the listing keeps growing (%d items, was %d)", lib.ID, backend.ErrBadResponse, total, first)
		}
		if err := c.fillShowGUIDs(ctx, items, shows); err != nil {
			return fmt.Errorf("listing plex library %s: %w", lib.ID, err)
		}
		if len(items) > 0 {
			if err := page(items); err != nil {
				return err
			}
		}
		start += len(items)
		if start >= total {
			return nil
		}
	}
}

// listPage reads one page and checks that it is the page asked for. It
// returns the page's items and the listing's total size.
func (c *Client) listPage(ctx context.Context, path string, q url.Values, lib string, start, size int) ([]backend.Item, int, error) {
	q.Set("X-Plex-Container-Start", strconv.Itoa(start))
	q.Set("X-Plex-Container-Size", strconv.Itoa(size))
	paging := http.Header{
		"X-Plex-Container-Start": {strconv.Itoa(start)},
		"X-Plex-Container-Size":  {strconv.Itoa(size)},
	}
	var head wireHead
	items := make([]backend.Item, 0, min(size, 1000))
	n := 0
	hdr, err := c.getContainer(ctx, path, q, paging, &head, func(m *wireMeta) error {
		if n++; n > size {
			return errStop // the server ignored the page size: stop reading
		}
		if it, ok := toItem(m, lib, ""); ok {
			items = append(items, it)
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil, 0, fmt.Errorf("GET %s: %w: more than the %d items asked for: the server did not page the listing", path, backend.ErrBadResponse, size)
	}
	if err != nil {
		return nil, 0, err
	}
	bad := func(format string, args ...any) ([]backend.Item, int, error) {
		return nil, 0, fmt.Errorf("GET %s: %w: %s", path, backend.ErrBadResponse, fmt.Sprintf(format, args...))
	}
	offset, okOffset, err := pagingValue(head.Offset, hdr, "X-Plex-Container-Start")
	if err != nil {
		return bad("offset: %v", err)
	}
	total, okTotal, err := pagingValue(head.TotalSize, hdr, "X-Plex-Container-Total-Size")
	if err != nil {
		return bad("total size: %v", err)
	}
	switch {
	case !okOffset || !okTotal:
		return bad("no offset or total size: the server did not page the listing")
	case offset != start:
		return bad("page starts at %d, asked for %d", offset, start)
	case head.Size != nil && int(*head.Size) != n:
		return bad("page says size %d but holds %d items", *head.Size, n)
	case total < 0:
		return bad("negative total size %d", total)
	}
	if want := min(size, max(total-start, 0)); n != want {
		return bad("page at %d holds %d items, want %d of %d", start, n, want, total)
	}
	return items, total, nil
}

// pagingValue reads a paging number from the body field or the header;
// when both are present they must agree.
func pagingValue(body *flexInt, hdr http.Header, name string) (int, bool, error) {
	v, ok := 0, false
	if body != nil {
		v, ok = int(*body), true
	}
	if h := hdr.Get(name); h != "" {
		n, err := strconv.Atoi(strings.TrimSpace(h))
		if err != nil {
			return 0, false, fmt.Errorf("header %s is %q", name, h)
		}
		if ok && n != v {
			return 0, false, fmt.Errorf("header %s says %d, body says %d", name, n, v)
		}
		v, ok = n, true
	}
	return v, ok, nil
}

// toItem maps a movie or episode element; other types are not items.
// lib is the section listed, or "" to take the element's (or the
// container's, sectionFallback) librarySectionID.
func toItem(m *wireMeta, lib, sectionFallback string) (backend.Item, bool) {
	var typ backend.ItemType
	switch m.Type {
	case "movie":
		typ = backend.Movie
	case "episode":
		typ = backend.Episode
	default:
		return backend.Item{}, false
	}
	if m.RatingKey == "" {
		return backend.Item{}, false
	}
	if lib == "" {
		lib = string(m.LibrarySectionID)
		if lib == "" {
			lib = sectionFallback
		}
	}
	it := backend.Item{
		ID:        string(m.RatingKey),
		Type:      typ,
		Title:     m.Title,
		Year:      int(m.Year),
		Library:   lib,
		PlayCount: max(int(m.ViewCount), 0),
		Progress:  time.Duration(max(m.ViewOffset, 0)) * time.Millisecond,
		Duration:  time.Duration(max(m.Duration, 0)) * time.Millisecond,
	}
	it.Played = it.PlayCount >= 1
	if m.LastViewedAt > 0 {
		it.LastPlayed = time.Unix(int64(m.LastViewedAt), 0).UTC()
	}
	if m.AddedAt > 0 {
		it.Added = time.Unix(int64(m.AddedAt), 0).UTC()
	}
	if len(m.Media) > 0 {
		if it.Duration == 0 && m.Media[0].Duration > 0 {
			it.Duration = time.Duration(m.Media[0].Duration) * time.Millisecond
		}
		if len(m.Media[0].Part) > 0 {
			it.Path = m.Media[0].Part[0].File
		}
	}
	g := ParseItemGUIDs(m.GUID, m.guidIDs(), m.GrandparentGUID)
	it.GUIDs = g.GUIDs
	if typ == backend.Episode {
		it.ShowID = string(m.GrandparentRatingKey)
		it.ShowTitle = m.GrandparentTitle
		it.ShowGUIDs = g.ShowGUIDs
		if m.ParentIndex != nil {
			it.Season = int(*m.ParentIndex)
		} else if g.HasNumbers {
			it.Season = g.Season
		}
		if m.Index != nil {
			it.Episode = int(*m.Index)
		} else if g.HasNumbers {
			it.Episode = g.Episode
		}
	}
	return it, true
}

// fillShowGUIDs gives every episode its show's GUIDs, looking up the
// shows not yet in cache (showBatch per request).
func (c *Client) fillShowGUIDs(ctx context.Context, items []backend.Item, cache map[string][]backend.GUID) error {
	var missing []string
	for _, it := range items {
		if it.Type != backend.Episode || it.ShowID == "" || !validID(it.ShowID) {
			continue
		}
		if _, ok := cache[it.ShowID]; !ok && !slices.Contains(missing, it.ShowID) {
			missing = append(missing, it.ShowID)
		}
	}
	for batch := range slices.Chunk(missing, showBatch) {
		for _, id := range batch {
			cache[id] = nil // a show the server does not return is not asked for again
		}
		err := c.metadata(ctx, batch, func(m *wireMeta, _ string) error {
			if m.Type == "show" {
				g := ParseItemGUIDs(m.GUID, m.guidIDs(), "")
				cache[string(m.RatingKey)] = g.GUIDs
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("looking up plex shows: %w", err)
		}
	}
	for i := range items {
		if items[i].Type == backend.Episode {
			items[i].ShowGUIDs = mergeGUIDs(items[i].ShowGUIDs, cache[items[i].ShowID])
		}
	}
	return nil
}

// validID reports whether id can go in a /library/metadata/{ids} path:
// not empty, and no comma or slash to change the list's meaning.
func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, ",/?#") && strings.TrimSpace(id) == id
}

// metadata GETs /library/metadata/{ids} for one batch. A 404 means none
// of them exists, which is not an error here.
func (c *Client) metadata(ctx context.Context, ids []string, each func(m *wireMeta, section string) error) error {
	escaped := make([]string, len(ids))
	for i, id := range ids {
		escaped[i] = url.PathEscape(id)
	}
	var head wireHead
	var metas []wireMeta
	_, err := c.getContainer(ctx, "/library/metadata/"+strings.Join(escaped, ","), nil, nil, &head, func(m *wireMeta) error {
		metas = append(metas, *m)
		return nil
	})
	if errors.Is(err, backend.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := range metas {
		if err := each(&metas[i], string(head.LibrarySectionID)); err != nil {
			return err
		}
	}
	return nil
}

// Get reads the items with the given ratingKeys, getBatch per request
// (GET /library/metadata/{id,id,...}). Ids the server does not know, ids
// that are not movies or episodes and ids that cannot be a ratingKey are
// absent from the result. Episodes carry their show's GUIDs.
func (c *Client) Get(ctx context.Context, ids []string) ([]backend.Item, error) {
	var want []string
	seen := map[string]bool{}
	for _, id := range ids {
		if validID(id) && !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	var items []backend.Item
	for batch := range slices.Chunk(want, getBatch) {
		err := c.metadata(ctx, batch, func(m *wireMeta, section string) error {
			if it, ok := toItem(m, "", section); ok && seen[it.ID] {
				items = append(items, it)
				seen[it.ID] = false // once, even if the server repeats it
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading plex items: %w", err)
		}
	}
	if err := c.fillShowGUIDs(ctx, items, map[string][]backend.GUID{}); err != nil {
		return nil, fmt.Errorf("reading plex items: %w", err)
	}
	return items, nil
}
