package state

import (
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"

	"modernc.org/sqlite"
)

// External ids are kept in two tables (migration 0009):
//
//   - item_ids holds each item's claimed ids as text, keyed by item: a
//     new item's ids append to it, and a backup reads it in item order;
//   - guid_keys finds the item that claimed an id: its key is a 62-bit
//     hash of the id (guidHash), so the one table written in no useful
//     order (ids arrive at random) has rows of a few bytes and integer
//     keys. At a million items a text-keyed index of ids outgrew the page
//     cache and every claim read and rewrote a page of it.
//
// A hash can collide: a claim whose slot holds another id takes the next
// free slot of guidProbes (an item is never deleted, so a probe sequence
// never gets a hole), and a look-up accepts a slot only when item_ids
// says its item holds that very id.

// guidProbes is how many slots from an id's hash a claim may take. Two
// ids sharing a hash are about 1 in 2^62 per pair; sixteen sharing one
// is not going to happen, and a claim that finds no slot is refused with
// an error rather than lost silently.
const guidProbes = 16

// guidHash is the slot of external id (typ, kind, value) in guid_keys:
// 64-bit FNV-1a over the three strings (each ended by a NUL), mixed by
// SplitMix64's finaliser, in [0, 2^62) so that probing never overflows.
// It is stored: it must never change (migration 0009 computes it in SQL
// through the function playmark_guid_key, registered below).
func guidHash(typ, kind, value string) int64 {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{typ, kind, value} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h *= 1099511628211 // the NUL that ends each string (h ^= 0)
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return int64(h >> 2)
}

// guidKey is guidHash; a test puts a function of few values in its place
// to make ids collide.
var guidKey = guidHash

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("playmark_guid_key", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var s [3]string
		for i, a := range args {
			switch v := a.(type) {
			case string:
				s[i] = v
			case []byte:
				s[i] = string(v)
			default:
				return nil, fmt.Errorf("playmark_guid_key: argument %d is %T, not text", i+1, a)
			}
		}
		return guidKey(s[0], s[1], s[2]), nil
	})
}

// guidItemSQL selects the item (itemCols, from the FROM clause given)
// that claimed an external id: a slot within guidProbes of its key whose
// item holds the id. Arguments: key, key+guidProbes-1, type, kind, value.
const guidItemSQL = `SELECT %s FROM %s WHERE i.id =
	(SELECT g.item_id FROM guid_keys g JOIN item_ids x ON x.item_id=g.item_id AND x.type=? AND x.kind=? AND x.value=?
	 WHERE g.key BETWEEN ? AND ? LIMIT 1)`

// claimedBySQL says whether slot key's item holds the id (type, kind,
// value).
const claimedBySQL = `SELECT EXISTS (SELECT 1 FROM guid_keys g JOIN item_ids x ON x.item_id=g.item_id
	AND x.type=? AND x.kind=? AND x.value=? WHERE g.key=?)`

// claimSlot claims external id (typ, kind, value) for item id in
// guid_keys: the first free slot from its key, unless a slot already
// holds it (first claim wins: won is false). The caller then writes the
// item_ids row of a won claim.
func (t *Tx) claimSlot(id int64, typ, kind, value string) (won bool, err error) {
	key := guidKey(typ, kind, value)
	for slot := key; slot < key+guidProbes; slot++ {
		res, err := t.execResult(`INSERT INTO guid_keys (key, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, slot, id)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 1 {
			return true, nil
		}
		var held bool
		if _, err := t.queryRow(claimedBySQL, []any{typ, kind, value, slot}, &held); err != nil {
			return false, err
		}
		if held {
			return false, nil
		}
	}
	return false, fmt.Errorf("recording external id %s %s:%s: %d slots from its key are taken by other ids", typ, kind, value, guidProbes)
}

// guidRow is an item_ids row.
type guidRow struct {
	item             int64
	typ, kind, value string
}

// itemIDsChunk is how many item_ids rows one INSERT writes: the rows of a
// batch are in item order, so a statement of several lands on one or two
// pages, and the statement's fixed cost (about as much as the row's
// B-tree work) is paid once for them.
const itemIDsChunk = 32

// writeItemIDs appends the item_ids rows of won claims, in key order.
func (t *Tx) writeItemIDs(rows []guidRow) error {
	slices.SortFunc(rows, func(a, b guidRow) int {
		if a.item != b.item {
			if a.item < b.item {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.typ, b.typ); c != 0 {
			return c
		}
		if c := strings.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	args := make([]any, 0, 4*itemIDsChunk)
	for len(rows) > 0 {
		n := min(len(rows), itemIDsChunk)
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r.item, r.typ, r.kind, r.value)
		}
		if err := t.exec(`INSERT INTO item_ids (item_id, type, kind, value) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ")+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
