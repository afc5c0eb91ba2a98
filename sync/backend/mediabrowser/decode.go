package mediabrowser

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"playmark/sync/backend"
)

// itemDTO is the part of a BaseItemDto the client reads.
type itemDTO struct {
	ID                string            `json:"Id"`
	Name              string            `json:"Name"`
	Type              string            `json:"Type"`
	ProductionYear    int               `json:"ProductionYear"`
	SeriesName        string            `json:"SeriesName"`
	SeriesID          string            `json:"SeriesId"`
	ParentIndexNumber *int              `json:"ParentIndexNumber"`
	IndexNumber       *int              `json:"IndexNumber"`
	ProviderIDs       map[string]string `json:"ProviderIds"`
	RunTimeTicks      int64             `json:"RunTimeTicks"`
	DateCreated       string            `json:"DateCreated"`
	Path              string            `json:"Path"`
	CollectionType    string            `json:"CollectionType"`
	UserData          *userDataDTO      `json:"UserData"`
}

// userDataDTO is the part of a UserItemDataDto the client reads.
type userDataDTO struct {
	Played                bool   `json:"Played"`
	PlayCount             int    `json:"PlayCount"`
	LastPlayedDate        string `json:"LastPlayedDate"`
	PlaybackPositionTicks int64  `json:"PlaybackPositionTicks"`
}

// itemsPage is a QueryResult<BaseItemDto>. StartIndex is nil when the
// server omits it (Emby).
type itemsPage struct {
	Items            []itemDTO `json:"Items"`
	TotalRecordCount int       `json:"TotalRecordCount"`
	StartIndex       *int      `json:"StartIndex"`
}

// decodeItems reads one QueryResult page. It never panics, whatever the
// input; anything but a JSON object of the right shape is an error.
func decodeItems(r io.Reader) (itemsPage, error) {
	var w struct {
		itemsPage
		Total *int `json:"TotalRecordCount"` // nil when absent
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&w); err != nil {
		return itemsPage{}, err
	}
	if err := present(w.Items, w.Total); err != nil {
		return itemsPage{}, err
	}
	p := w.itemsPage
	p.TotalRecordCount = *w.Total
	if p.TotalRecordCount < 0 {
		return itemsPage{}, fmt.Errorf("negative TotalRecordCount %d", p.TotalRecordCount)
	}
	if p.StartIndex != nil && *p.StartIndex < 0 {
		return itemsPage{}, fmt.Errorf("negative StartIndex %d", *p.StartIndex)
	}
	return p, nil
}

// present checks that a page has the fields every QueryResult carries: a
// `{}` (a proxy's, a broken server's) is not an empty library, which
// would drop every record of the backend.
func present(items []itemDTO, total *int) error {
	switch {
	case items == nil:
		return fmt.Errorf("no Items in the answer")
	case total == nil:
		return fmt.Errorf("no TotalRecordCount in the answer")
	}
	return nil
}

// ticks is the server's time unit: 100 ns.
const tick = 100 * time.Nanosecond

// toItem maps one BaseItemDto to a backend.Item. ok is false for items
// that are not movies or episodes. Show GUIDs are filled in by the caller.
func toItem(d *itemDTO, library string) (it backend.Item, ok bool, err error) {
	switch d.Type {
	case "Movie":
		it.Type = backend.Movie
	case "Episode":
		it.Type = backend.Episode
	default:
		return it, false, nil
	}
	if d.ID == "" {
		return it, false, fmt.Errorf("%s %q without an Id", d.Type, d.Name)
	}
	it.ID = d.ID
	it.Title = d.Name
	it.Year = d.ProductionYear
	it.Library = library
	it.Path = d.Path
	it.GUIDs = NormalizeProviderIDs(d.ProviderIDs)
	if it.Duration, err = ticks(d.RunTimeTicks); err != nil {
		return it, false, fmt.Errorf("item %s: RunTimeTicks: %w", d.ID, err)
	}
	if it.Added, err = ParseDate(d.DateCreated); err != nil {
		return it, false, fmt.Errorf("item %s: DateCreated: %w", d.ID, err)
	}
	if it.Type == backend.Episode {
		it.ShowID = d.SeriesID
		it.ShowTitle = d.SeriesName
		if d.ParentIndexNumber != nil {
			it.Season = *d.ParentIndexNumber
		}
		if d.IndexNumber != nil {
			it.Episode = *d.IndexNumber
		}
	}
	if u := d.UserData; u != nil {
		it.Played = u.Played
		it.PlayCount = max(u.PlayCount, 0)
		if it.Progress, err = ticks(u.PlaybackPositionTicks); err != nil {
			return it, false, fmt.Errorf("item %s: PlaybackPositionTicks: %w", d.ID, err)
		}
		if it.LastPlayed, err = ParseDate(u.LastPlayedDate); err != nil {
			return it, false, fmt.Errorf("item %s: LastPlayedDate: %w", d.ID, err)
		}
	}
	return it, true, nil
}

// ticks converts 100 ns ticks to a Duration; a negative count is read as
// none, and one too large for a Duration (about 292 years) is an error.
func ticks(n int64) (time.Duration, error) {
	switch {
	case n <= 0:
		return 0, nil
	case n > math.MaxInt64/int64(tick):
		return 0, fmt.Errorf("%d ticks is out of range", n)
	}
	return time.Duration(n) * tick, nil
}

// ParseDate reads a date as Jellyfin and Emby write them: ISO 8601 in UTC
// with 0 to 7 fraction digits ("2024-11-21T21:04:49.571Z",
// "2021-04-23T10:03:17.0000000Z"); an offset is honoured and a missing
// zone is read as UTC. "" and .NET's DateTime.MinValue (year 1) are the
// zero time. The result is always in UTC.
func ParseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var err2 error
		if t, err2 = time.Parse("2006-01-02T15:04:05.999999999", s); err2 != nil {
			return time.Time{}, fmt.Errorf("unreadable date %q", s)
		}
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// providerKinds maps a lower-cased ProviderIds key to the normalised kind.
var providerKinds = map[string]string{
	"imdb":   "imdb",
	"tmdb":   "tmdb",
	"tvdb":   "tvdb",
	"tvmaze": "tvmaze",
	"tvrage": "tvrage",
	"anidb":  "anidb",
}

// NormalizeProviderIDs turns a ProviderIds object into normalised GUIDs.
// Keys are case-insensitive (Imdb, IMDB, TvMaze, Tvmaze, AniDB…); keys of
// other providers (TmdbCollection, MusicBrainz…) are dropped. Values are
// trimmed; imdb ids keep (or get) their "tt" prefix, numeric ids lose
// leading zeros, and values that are not valid ids for their provider are
// dropped. The result is sorted by kind and value, without duplicates.
func NormalizeProviderIDs(ids map[string]string) []backend.GUID {
	var out []backend.GUID
	for k, v := range ids {
		kind, ok := providerKinds[strings.ToLower(strings.TrimSpace(k))]
		if !ok {
			continue
		}
		if v, ok = backend.CanonicalID(kind, v); ok {
			out = append(out, backend.GUID{Kind: kind, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b backend.GUID) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return slices.Compact(out)
}

// validGUID reports whether id is a GUID in the 32-hex or dashed form.
func validGUID(id string) bool {
	if len(id) == 36 {
		for _, i := range []int{8, 13, 18, 23} {
			if id[i] != '-' {
				return false
			}
		}
		id = id[:8] + id[9:13] + id[14:18] + id[19:23] + id[24:]
	}
	if len(id) != 32 {
		return false
	}
	_, err := strconv.ParseUint(id[:16], 16, 64)
	if err == nil {
		_, err = strconv.ParseUint(id[16:], 16, 64)
	}
	return err == nil
}
