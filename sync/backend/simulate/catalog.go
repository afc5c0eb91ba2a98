// Package simulate runs simulated Plex, Jellyfin and Emby servers over real
// HTTP. They answer the same endpoints, in the same units and shapes, with
// the same omissions, auth rules and error bodies as the real servers
// (../shared/docs/API-NOTES.md), keep watch state per user, and can inject
// faults. The tests, `playmark simulate`, the demo and the benchmarks use
// them; the conformance suite (backendtest) keeps them honest.
//
// All three servers are built from one Catalog, so the same movie or
// episode exists on each with that server's own ids and the same external
// ids, which is what sync has to match on.
package simulate

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"playmark/sync/backend"
)

// Show is a TV show in a Catalog.
type Show struct {
	Key   string // stable across servers, e.g. "s12"
	Title string
	Year  int
	GUIDs []backend.GUID
}

// Media is one movie or episode in a Catalog.
type Media struct {
	Key   string // stable across servers, e.g. "m7" or "s12e1x3"
	Type  backend.ItemType
	Title string
	Year  int
	// Episodes only.
	ShowKey string
	Season  int
	Episode int

	GUIDs    []backend.GUID // empty for an item with no usable ids
	Duration time.Duration
	Path     string
	Added    time.Time
	// LegacyPlex makes the Plex server describe this item with a legacy
	// agent guid string (com.plexapp.agents.imdb://…) and no Guid[] array,
	// as libraries scanned by the old agents do.
	LegacyPlex bool
}

// Watch is one user's play state of one item on one server.
type Watch struct {
	Played     bool
	PlayCount  int
	LastPlayed time.Time     // zero when never played
	Position   time.Duration // resume position; zero when none
}

// Catalog is the media every simulated server is built from.
type Catalog struct {
	Shows []Show
	Media []Media

	shows map[string]int // Show.Key -> index
	media map[string]int // Media.Key -> index
}

// NewCatalog builds a catalog from shows and media (indexing them).
func NewCatalog(shows []Show, media []Media) *Catalog {
	c := &Catalog{Shows: shows, Media: media}
	c.index()
	return c
}

func (c *Catalog) index() {
	c.shows = make(map[string]int, len(c.Shows))
	for i, s := range c.Shows {
		c.shows[s.Key] = i
	}
	c.media = make(map[string]int, len(c.Media))
	for i, m := range c.Media {
		c.media[m.Key] = i
	}
}

// Show returns the show with key k.
func (c *Catalog) Show(k string) (Show, bool) {
	i, ok := c.shows[k]
	if !ok {
		return Show{}, false
	}
	return c.Shows[i], true
}

// Lookup returns the media with key k.
func (c *Catalog) Lookup(k string) (Media, bool) {
	i, ok := c.media[k]
	if !ok {
		return Media{}, false
	}
	return c.Media[i], true
}

// GenerateOptions shapes a generated catalog.
type GenerateOptions struct {
	Items int    // total movies + episodes (about 20 % movies)
	Seed  uint64 // same seed, same catalog
	// Base is the time the library was built from; items are added in the
	// year before it. Zero means 2025-01-01.
	Base time.Time
}

// Generate makes a realistic catalog: about 20 % movies and 80 % episodes
// in shows of 1-4 seasons of 6-12 episodes. Most items have imdb/tmdb/tvdb
// ids; about 10 % of movies use legacy Plex guids; about 2 % of items have
// no usable id at all; about 15 % of episodes have no id of their own, so
// that only their show's ids and season/episode numbers match them.
func Generate(opt GenerateOptions) *Catalog {
	r := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	base := opt.Base
	if base.IsZero() {
		base = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	added := func() time.Time {
		return base.Add(-time.Duration(r.IntN(365*24*3600)) * time.Second)
	}
	movies := opt.Items / 5
	episodes := opt.Items - movies
	c := &Catalog{Media: make([]Media, 0, opt.Items)}
	for i := range movies {
		m := Media{
			Key:      "m" + strconv.Itoa(i+1),
			Type:     backend.Movie,
			Title:    fmt.Sprintf("Movie %d", i+1),
			Year:     1950 + r.IntN(75),
			Duration: time.Duration(80+r.IntN(80)) * time.Minute,
			Added:    added(),
		}
		m.Path = fmt.Sprintf("/media/movies/%s (%d)/%s.mkv", m.Title, m.Year, m.Title)
		switch p := r.IntN(100); {
		case p < 2: // no usable id
		case p < 12:
			m.LegacyPlex = true
			m.GUIDs = []backend.GUID{{Kind: "imdb", Value: fmt.Sprintf("tt%07d", 100000+i)}}
		default:
			m.GUIDs = []backend.GUID{
				{Kind: "imdb", Value: fmt.Sprintf("tt%07d", 100000+i)},
				{Kind: "tmdb", Value: strconv.Itoa(500000 + i)},
			}
		}
		c.Media = append(c.Media, m)
	}
	show := 0
	for len(c.Media) < movies+episodes {
		show++
		s := Show{
			Key:   "s" + strconv.Itoa(show),
			Title: fmt.Sprintf("Show %d", show),
			Year:  1990 + r.IntN(35),
			GUIDs: []backend.GUID{
				{Kind: "tvdb", Value: strconv.Itoa(70000 + show)},
				{Kind: "tmdb", Value: strconv.Itoa(900000 + show)},
				{Kind: "imdb", Value: fmt.Sprintf("tt%07d", 5000000+show)},
			},
		}
		c.Shows = append(c.Shows, s)
		seasons := 1 + r.IntN(4)
		for se := 1; se <= seasons && len(c.Media) < movies+episodes; se++ {
			eps := 6 + r.IntN(7)
			for ep := 1; ep <= eps && len(c.Media) < movies+episodes; ep++ {
				m := Media{
					Key:      fmt.Sprintf("%se%dx%d", s.Key, se, ep),
					Type:     backend.Episode,
					Title:    fmt.Sprintf("Episode %d", ep),
					Year:     s.Year + se - 1,
					ShowKey:  s.Key,
					Season:   se,
					Episode:  ep,
					Duration: time.Duration(20+r.IntN(40)) * time.Minute,
					Added:    added(),
				}
				m.Path = fmt.Sprintf("/media/tv/%s/Season %02d/S%02dE%02d.mkv", s.Title, se, se, ep)
				if p := r.IntN(100); p >= 15 {
					id := show*1000 + se*100 + ep
					m.GUIDs = []backend.GUID{
						{Kind: "tvdb", Value: strconv.Itoa(8000000 + id)},
						{Kind: "imdb", Value: fmt.Sprintf("tt%07d", 6000000+id)},
					}
				}
				c.Media = append(c.Media, m)
			}
		}
	}
	c.index()
	return c
}

// GenerateWatches gives a catalog's items a realistic play state: about
// 40 % played (some several times), about 5 % part-way through. The same
// seed gives the same states.
func GenerateWatches(c *Catalog, seed uint64, base time.Time) map[string]Watch {
	r := rand.New(rand.NewPCG(seed, seed^0x51a3))
	if base.IsZero() {
		base = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	w := make(map[string]Watch, len(c.Media)/2)
	for _, m := range c.Media {
		at := base.Add(-time.Duration(r.IntN(180*24*3600)) * time.Second)
		switch p := r.IntN(100); {
		case p < 40:
			w[m.Key] = Watch{Played: true, PlayCount: 1 + r.IntN(3)/2, LastPlayed: at}
		case p < 45:
			pos := time.Duration(r.Int64N(int64(m.Duration*9/10-2*time.Minute))) + 2*time.Minute
			w[m.Key] = Watch{LastPlayed: at, Position: pos.Truncate(time.Millisecond)}
		}
	}
	return w
}
