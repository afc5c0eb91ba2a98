package state

// What a quick import needs to find what a listing by date cannot show:
// the played counts it last saw, and this backend's sub-records that were
// watched or in progress.

// PlayedCounts is backend id's played count per library, as last
// recorded by SetPlayedCount.
func (t *Tx) PlayedCounts(backendID int64) (map[string]int, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT library, played FROM played_counts WHERE backend_id=?`, backendID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var lib string
		var n int
		if err := rows.Scan(&lib, &n); err != nil {
			return nil, err
		}
		out[lib] = n
	}
	return out, rows.Err()
}

// SetPlayedCount records backend id's played count of library lib.
func (t *Tx) SetPlayedCount(backendID int64, lib string, n int) error {
	return t.exec(`INSERT INTO played_counts (backend_id, library, played) VALUES (?, ?, ?)
		ON CONFLICT (backend_id, library) DO UPDATE SET played=excluded.played`, backendID, lib, n)
}

// AddPlayedCount moves backend id's recorded played count of library lib
// by n (a missing count is 0).
func (t *Tx) AddPlayedCount(backendID int64, lib string, n int) error {
	return t.exec(`INSERT INTO played_counts (backend_id, library, played) VALUES (?, ?, max(?, 0))
		ON CONFLICT (backend_id, library) DO UPDATE SET played=max(played+?, 0)`, backendID, lib, n, n)
}

// WatchedRemoteIDs calls f with the remote id of each of backend id's
// sub-records in library lib that say watched.
func (t *Tx) WatchedRemoteIDs(backendID int64, lib string, f func(id string)) error {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT remote_id FROM remotes WHERE backend_id=? AND library=? AND watched=1`, backendID, lib)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		f(id)
	}
	return rows.Err()
}

// InProgressRemotes is backend id's sub-records with a resume position
// that do not say watched.
func (t *Tx) InProgressRemotes(backendID int64) ([]Remote, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+remoteCols+` FROM remotes WHERE backend_id=? AND progress>0 AND watched=0`, backendID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Remote
	for rows.Next() {
		r, err := scanRemote(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UnmatchedRemoteIDs calls f with the remote id of each item backend id
// has that could not be matched.
func (t *Tx) UnmatchedRemoteIDs(backendID int64, f func(id string)) error {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT remote_id FROM unmatched WHERE backend_id=?`, backendID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		f(id)
	}
	return rows.Err()
}
