package engine

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

// BackupFormat names the backup file format; BackupVersion is its version.
const (
	BackupFormat  = "playmark-backup"
	BackupVersion = 1
	keepBackups   = 10
)

// BackupItem is one person's play state of one item in a backup, keyed by
// external ids so that it can be restored onto any server.
type BackupItem struct {
	// Person is whose play state it is; a restore onto a backend takes
	// its person's (a backup from before people has none: anyone's).
	Person     string            `json:"person,omitempty"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Year       int               `json:"year,omitempty"`
	Show       string            `json:"show,omitempty"`
	Season     int               `json:"season,omitempty"`
	Episode    int               `json:"episode,omitempty"`
	IDs        map[string]string `json:"ids,omitempty"`
	ShowIDs    map[string]string `json:"show_ids,omitempty"`
	Watched    bool              `json:"watched"`
	Updated    time.Time         `json:"updated"`
	Explicit   bool              `json:"explicit,omitempty"`
	ProgressMS int64             `json:"progress_ms,omitempty"`
	ProgressAt time.Time         `json:"progress_at,omitzero"`
}

// backupHeader opens a backup file; items follow, one JSON object a line.
type backupHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Items   int       `json:"items"`
}

// WriteBackup writes the whole play state to w, everyone's: a header
// line, then one item's play state of one person a line (an item a
// person never played, started nor un-watched has nothing to restore, and
// no line) (JSON lines: a large library streams, and a damaged file
// still restores up to the damage). No backend, token or URL is in it.
func (e *Engine) WriteBackup(ctx context.Context, w io.Writer) (int, error) {
	counts, err := e.store.Counts(ctx)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(backupHeader{Format: BackupFormat, Version: BackupVersion, Created: e.now().UTC(), Items: counts.Plays}); err != nil {
		return 0, err
	}
	n := 0
	err = e.store.EachItem(ctx, func(r state.ItemIDs) error {
		it := r.Item
		b := BackupItem{Person: r.Person.Name, Type: it.Type, Title: it.Title, Year: it.Year, Show: it.ShowTitle, Season: it.Season, Episode: it.Episode,
			Watched: it.Watched, Updated: it.Updated, Explicit: it.Explicit, ProgressMS: it.Progress.Milliseconds(), ProgressAt: it.ProgressAt}
		if it.Type != "episode" {
			b.Show, b.Season, b.Episode = "", 0, 0
		}
		for _, p := range r.IDs {
			if b.IDs == nil {
				b.IDs = map[string]string{}
			}
			b.IDs[p.Kind] = p.Value
		}
		for _, p := range r.ShowIDs {
			if b.ShowIDs == nil {
				b.ShowIDs = map[string]string{}
			}
			if _, ok := b.ShowIDs[p.Kind]; !ok {
				b.ShowIDs[p.Kind] = p.Value
			}
		}
		n++
		return enc.Encode(b)
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// BackupDir is where automatic backups go.
func (e *Engine) BackupDir() string { return filepath.Join(filepath.Dir(e.store.Path()), "backups") }

// Backup writes a gzipped backup into the backups folder (keeping the
// newest ten) and returns its path. reason names it: "manual",
// "before-full-export", "before-restore", "before-held-apply".
func (e *Engine) Backup(ctx context.Context, reason string) (string, error) {
	dir := e.BackupDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating backups folder: %w", err)
	}
	name := fmt.Sprintf("playmark-%s-%s.jsonl.gz", e.now().UTC().Format("20060102-150405"), reason)
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, ".backup-*")
	if err != nil {
		return "", fmt.Errorf("writing backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	if _, err := e.WriteBackup(ctx, zw); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("writing backup: %w", err)
	}
	e.pruneBackups(dir)
	return path, nil
}

func (e *Engine) pruneBackups(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var names []string
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), "playmark-") && strings.HasSuffix(en.Name(), ".jsonl.gz") {
			names = append(names, en.Name())
		}
	}
	slices.Sort(names)
	for len(names) > keepBackups {
		_ = os.Remove(filepath.Join(dir, names[0]))
		names = names[1:]
	}
}

// ReadBackup reads a backup (gzipped or not) written by WriteBackup.
func ReadBackup(r io.Reader) ([]BackupItem, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading backup: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	dec := json.NewDecoder(br)
	var h backupHeader
	if err := dec.Decode(&h); err != nil || h.Format != BackupFormat {
		return nil, errors.New("not a Playmark backup")
	}
	if h.Version > BackupVersion {
		return nil, fmt.Errorf("backup version %d is newer than this Playmark reads (%d)", h.Version, BackupVersion)
	}
	var out []BackupItem
	for {
		var it BackupItem
		err := dec.Decode(&it)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("backup damaged after %d items: %w", len(out), err)
		}
		out = append(out, it)
	}
	return out, nil
}

// Restore makes a backend's marks match a backup: it lists the backend,
// matches its items to the backup by external ids (and episodes by show
// id + numbers), and writes what differs, by the same rules as an export
// (a remote play newer than the backup is left alone). The mass-change
// guard holds a restore that would un-watch too much, unless Yes. A
// backup of the current state is made first. The local state learns the
// restored marks from that backend on the next import.
func (e *Engine) Restore(ctx context.Context, items []BackupItem, backendName string, opt RunOptions) (*Report, error) {
	if _, err := e.store.Backend(ctx, backendName); err != nil {
		return nil, err
	}
	opt.Backends = []string{backendName}
	return e.do(ctx, "restore", opt, func(ctx context.Context, r *run) error {
		b, err := e.store.Backend(ctx, backendName)
		if err != nil {
			return err
		}
		rep := BackendReport{RunBackend: state.RunBackend{Phase: "export", Backend: b.Name, Mode: "restore"}}
		defer func() { r.report.Backends = append(r.report.Backends, rep) }()
		fail := func(err error) error {
			rep.Err = err
			rep.Error = backend.Describe(b.Name, err)
			return nil
		}
		client, tr, err := e.Open(ctx, b)
		if err != nil {
			return fail(err)
		}
		defer func() { rep.Requests = tr.Requests() }()
		idx := indexBackup(personsItems(items, b.Person))
		var ops []op
		watched := 0
		err = client.Items(ctx, backend.ListOptions{Libraries: b.Options.Libraries, PageSize: e.pageSize}, func(page []backend.Item) error {
			for i := range page {
				it := &page[i]
				rep.Read++
				if it.Played {
					watched++
				}
				bi, ok := idx.match(it)
				if !ok {
					rep.Skipped++
					continue
				}
				local := state.Item{Type: bi.Type, Title: bi.Title, Year: bi.Year, ShowTitle: bi.Show, Season: bi.Season, Episode: bi.Episode,
					Watched: bi.Watched, Explicit: bi.Explicit || bi.Watched, Updated: bi.Updated, Via: "backup",
					Progress: time.Duration(bi.ProgressMS) * time.Millisecond, ProgressAt: bi.ProgressAt}
				o, _ := plan(local, nil, it, r.set.ProgressMin)
				if len(o) == 0 {
					rep.Skipped++
				}
				ops = append(ops, o...)
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		if opt.DryRun {
			for _, o := range ops {
				r.addChange(r.opChange(b, o, "restore (planned)"))
			}
			rep.Changed = len(ops)
			return nil
		}
		unwatches := 0
		for _, o := range ops {
			if o.kind == opUnplayed {
				unwatches++
			}
		}
		if held(unwatches, watched, r.set) && !opt.Yes {
			h := state.Held{RunID: r.id, Backend: b.Name, Unwatches: unwatches, Watched: watched}
			r.report.Held = append(r.report.Held, h)
			rep.Skipped += len(ops)
			rep.Error = fmt.Sprintf("held: the restore would mark %d of %d watched items unwatched on %s; run it again with --yes to apply", unwatches, watched, b.Name)
			return nil
		}
		if len(ops) > 0 {
			if _, err := e.Backup(ctx, "before-restore"); err != nil {
				return fail(err)
			}
		}
		failed, _, err := r.write(ctx, client, b, ops, &rep)
		if err != nil {
			return fail(err)
		}
		if failed > 0 {
			return fail(fmt.Errorf("%d of %d writes failed", failed, len(ops)))
		}
		return nil
	})
}

// personsItems is what of a backup belongs to person: their lines, and
// the lines of a backup from before people (no person).
func personsItems(items []BackupItem, person string) []BackupItem {
	var out []BackupItem
	for _, it := range items {
		if it.Person == "" || state.NameKey(it.Person) == state.NameKey(person) {
			out = append(out, it)
		}
	}
	return out
}

// backupIndex finds backup items by external id.
type backupIndex struct {
	items []BackupItem
	byID  map[string]int // "type|kind|value"
	byEp  map[string]int // "kind|value|season|episode"
}

func indexBackup(items []BackupItem) *backupIndex {
	x := &backupIndex{items: items, byID: map[string]int{}, byEp: map[string]int{}}
	for i, it := range items {
		for k, v := range it.IDs {
			key := it.Type + "|" + k + "|" + v
			if _, dup := x.byID[key]; !dup {
				x.byID[key] = i
			}
		}
		if it.Type == "episode" && it.Episode > 0 {
			for k, v := range it.ShowIDs {
				key := fmt.Sprintf("%s|%s|%d|%d", k, v, it.Season, it.Episode)
				if _, dup := x.byEp[key]; !dup {
					x.byEp[key] = i
				}
			}
		}
	}
	return x
}

func (x *backupIndex) match(it *backend.Item) (BackupItem, bool) {
	if it.Type == backend.Episode && it.Episode > 0 {
		for _, g := range it.ShowGUIDs {
			if i, ok := x.byEp[fmt.Sprintf("%s|%s|%d|%d", g.Kind, g.Value, it.Season, it.Episode)]; ok {
				return x.items[i], true
			}
		}
	}
	for _, g := range it.GUIDs {
		if i, ok := x.byID[string(it.Type)+"|"+g.Kind+"|"+g.Value]; ok {
			return x.items[i], true
		}
	}
	return BackupItem{}, false
}
