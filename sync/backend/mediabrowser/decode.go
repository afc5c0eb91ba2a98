package mediabrowser

import (
	"encoding/json"
	"errors"
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

// maxValue bounds one item of a page (or any other value in it) as
// text: a real item is a few KB; a hostile one must not make the decoder
// buffer a whole body. With it, a page's memory is its decoded items
// (at most Limit+1 of them) and the text of one, whatever the body's size.
const maxValue = 1 << 20

var (
	// errTooMany is a page with more items than were asked for.
	errTooMany = errors.New("more items than asked for")
	// errRepeated is a page with two Items arrays: no server writes one,
	// and which would count is anyone's guess.
	errRepeated = errors.New("Items appears twice in the answer")
)

// decodeItems reads one QueryResult page, an item at a time: the text of
// the page is never held whole, only that of the item being decoded (at
// most maxValue). max, when above 0, is the most items the page may hold:
// one more fails with errTooMany as soon as it starts, so a server that
// ignores Limit cannot make the page grow without end. It never panics,
// whatever the input; anything but a JSON object of the right shape is an
// error. Keys match as encoding/json matches them (exactly, else in any
// case); the last of a repeated key wins, except Items (errRepeated).
func decodeItems(r io.Reader, maxItems int) (itemsPage, error) {
	br := &budgetReader{r: r, left: maxValue}
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err != nil {
		return itemsPage{}, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return itemsPage{}, fmt.Errorf("the answer is not a JSON object (starts with %v)", tok)
	}
	var p itemsPage
	var total *int
	seenItems := false
	for dec.More() {
		br.left = maxValue
		tok, err := dec.Token()
		if err != nil {
			return itemsPage{}, err
		}
		key, _ := tok.(string)
		switch {
		case fieldIs(key, "Items"):
			if seenItems {
				return itemsPage{}, errRepeated
			}
			seenItems = true
			if p.Items, err = decodeArray(dec, br, maxItems); err != nil {
				return itemsPage{}, fmt.Errorf("Items: %w", err)
			}
		case fieldIs(key, "TotalRecordCount"):
			total = nil
			err = dec.Decode(&total)
		case fieldIs(key, "StartIndex"):
			p.StartIndex = nil
			err = dec.Decode(&p.StartIndex)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return itemsPage{}, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return itemsPage{}, err
	}
	if err := present(p.Items, total); err != nil {
		return itemsPage{}, err
	}
	p.TotalRecordCount = *total
	if p.TotalRecordCount < 0 {
		return itemsPage{}, fmt.Errorf("negative TotalRecordCount %d", p.TotalRecordCount)
	}
	if p.StartIndex != nil && *p.StartIndex < 0 {
		return itemsPage{}, fmt.Errorf("negative StartIndex %d", *p.StartIndex)
	}
	return p, nil
}

// decodeArray reads the Items value: null (no items: nil) or an array,
// decoded element by element into items.
func decodeArray(dec *json.Decoder, br *budgetReader, maxItems int) ([]itemDTO, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("not an array (%v)", tok)
	}
	items := []itemDTO{}
	for dec.More() {
		if maxItems > 0 && len(items) >= maxItems {
			return nil, fmt.Errorf("%w (%d)", errTooMany, maxItems)
		}
		br.left = maxValue
		items = append(items, itemDTO{})
		if err := dec.Decode(&items[len(items)-1]); err != nil {
			return nil, err
		}
	}
	_, err = dec.Token() // the closing bracket
	return items, err
}

// fieldIs matches a key to a field name as encoding/json does: exactly,
// else case-insensitively.
func fieldIs(key, name string) bool { return key == name || strings.EqualFold(key, name) }

func skipValue(dec *json.Decoder) error {
	var skip json.RawMessage
	return dec.Decode(&skip)
}

// budgetReader lets the decoder read at most left more bytes; decodeItems
// gives it maxValue again before each value, so no one value (with what
// the decoder read ahead) can make it buffer more.
type budgetReader struct {
	r    io.Reader
	left int
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("one item of the page is larger than %d MiB", maxValue>>20)
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
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
