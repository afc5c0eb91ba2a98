package engine

import (
	"hash/fnv"
	"strconv"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// idFilter is a Bloom filter of the external ids and relative episode ids
// the local state holds. An import asks it before each look-up: "no"
// means the look-up would miss, and SQLite is not asked. A profile showed
// look-ups that must miss (every id of a new item) were a quarter of a
// first import. False positives only cost the query they would have cost
// anyway; there are no false negatives, because every id the import
// records is added as it is recorded.
//
// It grows: a filter sized for n keys that is given many more answers
// "maybe" ever more often (at five times its size, four times in ten: a
// first import of a million items, whose filter was sized for the empty
// state it started from). Past its size it adds a part twice as large,
// and a key is in the filter when it is in any part.
type idFilter struct {
	parts []bloomPart
}

// bloomPart is one fixed-size Bloom filter of a growing idFilter.
type bloomPart struct {
	bits []uint64
	m    uint64 // number of bits
	n    int    // keys added
	max  int    // keys it was sized for
}

const filterHashes = 4

// newIDFilter sizes a filter for about n keys at ~12 bits a key (a false
// positive rate near 1 %), never less than a million keys.
func newIDFilter(n int) *idFilter {
	f := &idFilter{}
	f.grow(max(n, 1<<20))
	return f
}

func (f *idFilter) grow(n int) {
	m := uint64(n) * 12
	f.parts = append(f.parts, bloomPart{bits: make([]uint64, (m+63)/64), m: m, max: n})
}

func (f *idFilter) hashes(key string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(key))
	a := h.Sum64()
	return a, a>>33 | a<<31 | 1
}

func (f *idFilter) add(key string) {
	p := &f.parts[len(f.parts)-1]
	if p.n >= p.max {
		f.grow(2 * p.max)
		p = &f.parts[len(f.parts)-1]
	}
	p.n++
	a, b := f.hashes(key)
	for i := range uint64(filterHashes) {
		bit := (a + i*b) % p.m
		p.bits[bit/64] |= 1 << (bit % 64)
	}
}

func (f *idFilter) has(key string) bool {
	a, b := f.hashes(key)
	for _, p := range f.parts {
		if p.has(a, b) {
			return true
		}
	}
	return false
}

func (p *bloomPart) has(a, b uint64) bool {
	for i := range uint64(filterHashes) {
		bit := (a + i*b) % p.m
		if p.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func guidKey(typ, kind, value string) string { return "g|" + typ + "|" + kind + "|" + value }

func episodeKey(kind, value string, season, episode int) string {
	return "e|" + kind + "|" + value + "|" + strconv.Itoa(season) + "|" + strconv.Itoa(episode)
}

func showKey(kind, value string) string { return "s|" + kind + "|" + value }

// maybeShow answers state.Tx's show id look-ups (SetShowFilter).
func (f *idFilter) maybeShow(g state.IDPair) bool { return f.has(showKey(g.Kind, g.Value)) }

// loadIDFilter builds the filter from what the transaction sees.
func loadIDFilter(tx *state.Tx) (*idFilter, error) {
	n, err := tx.CountIDs()
	if err != nil {
		return nil, err
	}
	f := newIDFilter(2 * n)
	err = tx.EachID(func(typ, kind, value string, season, episode int, isEpisode bool) {
		if isEpisode {
			f.add(episodeKey(kind, value, season, episode))
		} else {
			f.add(guidKey(typ, kind, value))
		}
	})
	if err != nil {
		return nil, err
	}
	err = tx.EachShowID(func(g state.IDPair) { f.add(showKey(g.Kind, g.Value)) })
	return f, err
}

// addItem records a new item's ids in the filter.
func (f *idFilter) addItem(it *backend.Item) {
	for _, g := range it.GUIDs {
		f.add(guidKey(string(it.Type), g.Kind, g.Value))
	}
	if it.Type == backend.Episode && it.Episode > 0 {
		for _, g := range it.ShowGUIDs {
			f.add(episodeKey(g.Kind, g.Value, it.Season, it.Episode))
			f.add(showKey(g.Kind, g.Value))
		}
	}
}
