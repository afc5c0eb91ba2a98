package engine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// Version 2 ends with a trailer line (backupTrailer) that ReadBackup
// requires; version 1 files (no trailer) are read when they hold as many
// items as their header says.
const (
	BackupFormat  = "playmark-backup"
	BackupVersion = 2
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

// backupTrailer is a backup's last line: how many items precede it and
// the SHA-256 of every byte before it (header and item lines, as written,
// uncompressed). A file cut anywhere, even at a line boundary, lacks it
// or fails it.
type backupTrailer struct {
	End struct {
		Items  int    `json:"items"`
		SHA256 string `json:"sha256"`
	} `json:"end"`
}

// trailerPrefix starts the trailer line and no item line.
var trailerPrefix = []byte(`{"end":`)

// maxBackupLine bounds one line of a backup (an item with its ids is
// well under 4 KiB).
const maxBackupLine = 1 << 20

// ErrBackupDamaged: the file is not a complete Playmark backup (cut
// short, altered, or not a backup at all). Nothing was restored.
var ErrBackupDamaged = errors.New("not a complete Playmark backup")

// WriteBackup writes the whole play state to w, everyone's: a header
// line, then one item's play state of one person a line (an item a person
// never played, started nor un-watched has nothing to restore, and no
// line) (JSON lines: a large library streams), then the trailer with the
// count and checksum. No backend, token or URL is in it.
func (e *Engine) WriteBackup(ctx context.Context, w io.Writer) (int, error) {
	counts, err := e.store.Counts(ctx)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	sum := sha256.New()
	enc := json.NewEncoder(io.MultiWriter(bw, sum))
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
	var tr backupTrailer
	tr.End.Items = n
	tr.End.SHA256 = hex.EncodeToString(sum.Sum(nil))
	if err := json.NewEncoder(bw).Encode(tr); err != nil {
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
	if fi, err := os.Lstat(dir); err == nil && !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder (a symbolic link?); Playmark does not write backups through it: remove it and run again", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating backups folder: %w", err)
	}
	name := fmt.Sprintf("playmark-%s-%s.jsonl.gz", e.now().UTC().Format("20060102-150405"), reason)
	path := filepath.Join(dir, name)
	if _, err := e.writeFileAtomically(ctx, path, ".backup-*", true, true); err != nil {
		return "", err
	}
	e.pruneBackups(dir)
	return path, nil
}

// BackupTo writes a backup to path, which must not exist yet: to a
// temporary file beside it first, renamed into place only when complete
// and on disk, so that a kill or a full disk never leaves a truncated
// backup under path. Temporary files that a killed backup left there are
// removed. Compressed when path ends in .gz.
func (e *Engine) BackupTo(ctx context.Context, path string) (int, error) {
	return e.writeFileAtomically(ctx, path, "."+filepath.Base(path)+".playmark-tmp-*", strings.HasSuffix(path, ".gz"), false)
}

// writeFileAtomically writes a backup to a temporary file (named by
// pattern, in path's folder), syncs it, and moves it to path: replacing
// it when replace, else only when path does not exist (os.ErrExist).
// Leftovers of pattern older than a minute, from a killed backup, go.
func (e *Engine) writeFileAtomically(ctx context.Context, path, pattern string, gz, replace bool) (int, error) {
	dir := filepath.Dir(path)
	cleanStale(dir, pattern)
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return 0, fmt.Errorf("writing backup: %s: %w", path, os.ErrExist)
		}
	}
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return 0, fmt.Errorf("writing backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	fail := func(err error) (int, error) {
		tmp.Close()
		return 0, fmt.Errorf("writing backup %s: %w", path, err)
	}
	var w io.Writer = tmp
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(tmp)
		w = zw
	}
	n, err := e.WriteBackup(ctx, w)
	if err != nil {
		return fail(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("writing backup %s: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		// A file system without hard links: rename (path was free above).
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("writing backup %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the new name on disk too
		d.Close()
	}
	return n, nil
}

// cleanStale removes files matching pattern in dir older than a minute
// (a younger one may be another backup still being written).
func cleanStale(dir, pattern string) {
	matches, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > time.Minute {
			_ = os.Remove(m)
		}
	}
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

// ReadBackup reads a backup (gzipped or not) written by WriteBackup. It
// returns the items only when the file is whole: the trailer is there,
// nothing follows it, and its count and checksum match what precedes it.
// Otherwise the error (ErrBackupDamaged) says what is wrong, and no item
// is returned: a restore from part of a backup would silently miss the
// rest.
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
	sum := sha256.New()
	readLine := func() ([]byte, error) {
		var line []byte
		for {
			part, err := br.ReadSlice('\n')
			line = append(line, part...)
			if len(line) > maxBackupLine {
				return nil, fmt.Errorf("%w: a line longer than %d bytes", ErrBackupDamaged, maxBackupLine)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err == io.EOF && len(line) > 0 {
				return nil, fmt.Errorf("%w: it ends in the middle of a line (cut short)", ErrBackupDamaged)
			}
			if err != nil {
				return nil, err
			}
			return line, nil
		}
	}
	line, err := readLine()
	var h backupHeader
	if err != nil || json.Unmarshal(line, &h) != nil || h.Format != BackupFormat {
		return nil, fmt.Errorf("%w: this is not a Playmark backup", ErrBackupDamaged)
	}
	if h.Version > BackupVersion {
		return nil, fmt.Errorf("backup version %d is newer than this Playmark reads (%d)", h.Version, BackupVersion)
	}
	sum.Write(line)
	var out []BackupItem
	for {
		line, err := readLine()
		if errors.Is(err, io.EOF) {
			if h.Version >= 2 {
				return nil, fmt.Errorf("%w: it has %d items and no end marker: it was cut short (a complete backup ends with its count and checksum)", ErrBackupDamaged, len(out))
			}
			if len(out) < h.Items {
				return nil, fmt.Errorf("%w: it was cut short (%d of the %d items its header announces)", ErrBackupDamaged, len(out), h.Items)
			}
			return out, nil
		}
		if err != nil {
			if errors.Is(err, ErrBackupDamaged) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: unreadable after %d items: %v", ErrBackupDamaged, len(out), err)
		}
		if bytes.HasPrefix(line, trailerPrefix) {
			var tr backupTrailer
			if err := json.Unmarshal(line, &tr); err != nil {
				return nil, fmt.Errorf("%w: its end marker is damaged", ErrBackupDamaged)
			}
			if tr.End.Items != len(out) {
				return nil, fmt.Errorf("%w: it holds %d items where its end marker says %d", ErrBackupDamaged, len(out), tr.End.Items)
			}
			if got := hex.EncodeToString(sum.Sum(nil)); got != tr.End.SHA256 {
				return nil, fmt.Errorf("%w: its checksum does not match (the file was altered)", ErrBackupDamaged)
			}
			if rest, err := readLine(); !errors.Is(err, io.EOF) || len(rest) > 0 {
				return nil, fmt.Errorf("%w: there is more after its end marker", ErrBackupDamaged)
			}
			return out, nil
		}
		sum.Write(line)
		var it BackupItem
		if err := json.Unmarshal(line, &it); err != nil {
			return nil, fmt.Errorf("%w: item %d is damaged: %v", ErrBackupDamaged, len(out)+1, err)
		}
		out = append(out, it)
	}
}

// BackupInfo is one file of the backups folder, as ListBackups reads it.
type BackupInfo struct {
	Path    string
	Created time.Time // from the file's header (its name's time when unreadable)
	// Reason is why it was made, from its name: manual, before-full-export,
	// before-restore, before-held-apply, before-person-remove.
	Reason string
	Items  int   // as its header says (the whole file is checked on restore)
	Size   int64 // bytes on disk
	Err    error // not a readable backup (ErrBackupDamaged): why
}

// ListBackups lists the backups folder, newest first. Only each file's
// header is read (a large backup is checked whole when restored). A
// missing folder is no error: there is no backup yet.
func (e *Engine) ListBackups() ([]BackupInfo, error) {
	dir := e.BackupDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []BackupInfo
	for _, en := range entries {
		name := en.Name()
		if !en.Type().IsRegular() || !strings.HasPrefix(name, "playmark-") || !strings.HasSuffix(name, ".jsonl.gz") {
			continue
		}
		out = append(out, BackupInfoOf(filepath.Join(dir, name)))
	}
	slices.SortStableFunc(out, func(a, b BackupInfo) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.Path, a.Path)
	})
	return out, nil
}

// BackupInfoOf reads what ListBackups says of one file, wherever it is
// (a backup copied from another machine, say): its header, its size,
// and from a backup's usual name (playmark-20060102-150405-REASON.jsonl.gz)
// why it was made. Err says why it is not a readable backup.
func BackupInfoOf(path string) BackupInfo {
	bi := BackupInfo{Path: path}
	name := filepath.Base(path)
	if strings.HasPrefix(name, "playmark-") && strings.HasSuffix(name, ".jsonl.gz") {
		stem := strings.TrimSuffix(strings.TrimPrefix(name, "playmark-"), ".jsonl.gz")
		if len(stem) > 16 && stem[15] == '-' {
			if t, err := time.Parse("20060102-150405", stem[:15]); err == nil {
				bi.Created = t
			}
			bi.Reason = stem[16:]
		}
	}
	if fi, err := os.Stat(path); err == nil {
		bi.Size = fi.Size()
	}
	if h, err := readBackupHeader(path); err != nil {
		bi.Err = err
	} else {
		bi.Created, bi.Items = h.Created, h.Items
	}
	return bi
}

// readBackupHeader reads a backup file's first line.
func readBackupHeader(path string) (backupHeader, error) {
	var h backupHeader
	f, err := os.Open(path)
	if err != nil {
		return h, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return h, fmt.Errorf("%w: %v", ErrBackupDamaged, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	line, err := br.ReadSlice('\n')
	if err != nil || json.Unmarshal(line, &h) != nil || h.Format != BackupFormat {
		return h, fmt.Errorf("%w: this is not a Playmark backup", ErrBackupDamaged)
	}
	return h, nil
}

// ReadBackupFile reads a whole backup file (see ReadBackup): what the
// CLI's restore and the window's read before restoring.
func ReadBackupFile(path string) ([]BackupItem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadBackup(f)
}

// Restore makes a backend's marks match a backup (RestoreBackends of one).
func (e *Engine) Restore(ctx context.Context, items []BackupItem, backendName string, opt RunOptions) (*Report, error) {
	return e.RestoreBackends(ctx, items, []string{backendName}, opt)
}

// RestoreBackends makes backends' marks match a backup, one after the
// other in one run: for each, it lists the backend,
// matches its items to the backup by external ids (and episodes by show
// id + numbers), and writes what differs, by the same rules as an export
// (a remote play newer than the backup is left alone). The mass-change
// guard holds a restore that would un-watch too much, unless Yes. A
// backup of the current state is made first. The local state learns the
// restored marks from that backend on the next import.
func (e *Engine) RestoreBackends(ctx context.Context, items []BackupItem, names []string, opt RunOptions) (*Report, error) {
	if len(names) == 0 {
		return nil, errors.New("restore: no backend chosen")
	}
	for _, name := range names {
		if _, err := e.store.Backend(ctx, name); err != nil {
			return nil, err
		}
	}
	opt.Backends = names
	return e.do(ctx, "restore", opt, func(ctx context.Context, r *run) error {
		r.expect(names)
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := e.restoreOne(ctx, r, items, name, opt); err != nil {
				return err
			}
		}
		return nil
	})
}

// restoreOne is one backend's part of a restore run.
func (e *Engine) restoreOne(ctx context.Context, r *run, items []BackupItem, backendName string, opt RunOptions) error {
	b, err := e.store.Backend(ctx, backendName)
	if err != nil {
		return err
	}
	rep := BackendReport{RunBackend: state.RunBackend{Phase: "export", Backend: b.Name, Mode: "restore"}}
	defer func() {
		r.report.Backends = append(r.report.Backends, rep)
		r.phaseEnded(b.Name, "restore", rep.Error, rep.Err != nil)
	}()
	r.progress("restore", b.Name, 0, 0)
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
		r.progress("restore", b.Name, rep.Read, 0)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	unwatches := 0
	for _, o := range ops {
		if o.kind == opUnplayed {
			unwatches++
		}
	}
	if opt.DryRun {
		r.reportPlan(b, ops, "restore (planned)", watched, opt.Yes, &rep)
		return nil
	}
	if held(unwatches, watched, r.set) && !opt.Yes {
		h := state.Held{RunID: r.id, Backend: b.Name, Unwatches: unwatches, Watched: watched}
		r.report.Held = append(r.report.Held, h)
		rep.Skipped += len(ops)
		rep.Error = fmt.Sprintf("held: the restore would mark %d of %d watched items unwatched on %s; run it again with --yes to apply", unwatches, watched, b.Name)
		return nil
	}
	if len(ops) > 0 && !r.backedUp {
		if _, err := e.Backup(ctx, "before-restore"); err != nil {
			return fail(err)
		}
		r.backedUp = true
	}
	failed, _, err := r.write(ctx, client, b, ops, &rep)
	if err != nil {
		return fail(err)
	}
	if failed > 0 {
		return fail(fmt.Errorf("%d of %d writes failed", failed, len(ops)))
	}
	return nil
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
