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
type idFilter struct {
	bits []uint64
	m    uint64 // number of bits
}

const filterHashes = 4

// newIDFilter sizes a filter for about n keys at ~12 bits a key (a false
// positive rate near 1 %), never less than a million keys.
func newIDFilter(n int) *idFilter {
	n = max(n, 1<<20)
	m := uint64(n) * 12
	return &idFilter{bits: make([]uint64, (m+63)/64), m: m}
}

func (f *idFilter) hashes(key string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(key))
	a := h.Sum64()
	return a, a>>33 | a<<31 | 1
}

func (f *idFilter) add(key string) {
	a, b := f.hashes(key)
	for i := range uint64(filterHashes) {
		bit := (a + i*b) % f.m
		f.bits[bit/64] |= 1 << (bit % 64)
	}
}

func (f *idFilter) has(key string) bool {
	a, b := f.hashes(key)
	for i := range uint64(filterHashes) {
		bit := (a + i*b) % f.m
		if f.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func guidKey(typ, kind, value string) string { return "g|" + typ + "|" + kind + "|" + value }

func episodeKey(kind, value string, season, episode int) string {
	return "e|" + kind + "|" + value + "|" + strconv.Itoa(season) + "|" + strconv.Itoa(episode)
}

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
		}
	}
}
