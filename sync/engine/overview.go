package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"playmark/sync/schedule"
	"playmark/sync/state"
)

// RunInfo is a finished run in a status snapshot.
type RunInfo struct {
	ID       int64     `json:"id,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	Status   string    `json:"status,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
	Changed  int       `json:"changed"`
	Added    int       `json:"added,omitempty"` // items new to the local state (imports)
	Message  string    `json:"message,omitempty"`
}

// Describe is the run in a few words: "ok, 3 changes, 2 h ago".
func (r RunInfo) Describe(now time.Time) string {
	if r.ID == 0 {
		return "never"
	}
	s := r.Status + ", "
	if r.Added > 0 {
		s += plural(r.Added, "new item", "new items") + ", "
	}
	s += plural(r.Changed, "change", "changes") + ", " + Ago(r.Finished, now)
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// BackendInfo is one backend in a status snapshot.
type BackendInfo struct {
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Person     string    `json:"person"` // whose play state it syncs
	Import     string    `json:"import"`
	Export     bool      `json:"export"`
	Health     string    `json:"health"` // "ok", "never synced" or the last error
	OK         bool      `json:"ok"`
	LastImport time.Time `json:"last_import,omitzero"`
	LastExport time.Time `json:"last_export,omitzero"`
}

// TaskInfo is one schedule in a status snapshot.
type TaskInfo struct {
	Name    string     `json:"name"`
	Cron    string     `json:"cron"`
	Enabled bool       `json:"enabled"`
	Next    *time.Time `json:"next,omitempty"`
}

// Overview is everything the status views show (tray, window, CLI).
type Overview struct {
	Items      int           `json:"items"`
	Watched    int           `json:"watched"`
	InProgress int           `json:"in_progress"`
	Unmatched  int           `json:"unmatched"`
	Held       int           `json:"held"`
	LastImport RunInfo       `json:"last_import"`
	LastExport RunInfo       `json:"last_export"`
	Tasks      []TaskInfo    `json:"tasks"`
	Backends   []BackendInfo `json:"backends"`
}

// Overview reads the status from the store. next, when set, gives the
// scheduler's own next run times (else they are computed from the crons).
func (e *Engine) Overview(ctx context.Context, next map[string]time.Time) (Overview, error) {
	var s Overview
	st := e.store
	counts, err := st.Counts(ctx)
	if err != nil {
		return s, err
	}
	s.Items, s.Watched, s.InProgress, s.Unmatched, s.Held = counts.Items, counts.Watched, counts.InProgress, counts.Unmatched, counts.Held
	runs, err := st.Runs(ctx, 50)
	if err != nil {
		return s, err
	}
	bs, err := st.Backends(ctx)
	if err != nil {
		return s, err
	}
	exists := map[string]bool{}
	for _, b := range bs {
		exists[b.Name] = true
	}
	for _, r := range runs {
		if r.DryRun || r.Status == state.RunRunning {
			continue
		}
		info := RunInfo{ID: r.ID, Kind: r.Kind, Status: r.Status, Finished: r.Finished, Message: forgetRemoved(r, exists)}
		var imp, exp, added int
		for _, b := range r.Backends {
			if b.Phase == "import" {
				imp += b.Changed
				added += b.Added
			} else {
				exp += b.Changed
			}
		}
		if s.LastImport.ID == 0 && (r.Kind == "import" || r.Kind == "sync") {
			info.Changed, info.Added = imp, added
			s.LastImport = info
		}
		if s.LastExport.ID == 0 && (r.Kind == "export" || r.Kind == "sync") {
			info.Changed, info.Added = exp, 0
			s.LastExport = info
		}
	}
	tasks, err := st.Tasks(ctx)
	if err != nil {
		return s, err
	}
	for _, t := range tasks {
		ti := TaskInfo{Name: t.Name, Cron: t.Cron, Enabled: t.Enabled}
		if n, ok := next[t.Name]; ok {
			ti.Next = &n
		} else if ns, err := schedule.Next(t.Cron, e.now(), 1); err == nil && len(ns) == 1 {
			ti.Next = &ns[0]
		}
		s.Tasks = append(s.Tasks, ti)
	}
	for _, b := range bs {
		bi := BackendInfo{Name: b.Name, Type: string(b.Kind), Person: b.Person, Import: string(b.Import), Export: b.Export, LastImport: b.LastImport, LastExport: b.LastExport}
		switch {
		case b.LastError != "":
			bi.Health = b.LastError
		case b.LastImport.IsZero() && b.LastExport.IsZero():
			bi.Health, bi.OK = "never synced", true
		default:
			bi.Health, bi.OK = "ok", true
		}
		s.Backends = append(s.Backends, bi)
	}
	return s, nil
}

// forgetRemoved is a run's message without the errors of backends that
// have been removed since: the status speaks of the backends there are.
func forgetRemoved(r state.Run, exists map[string]bool) string {
	msg := r.Message
	removed := false
	for _, b := range r.Backends {
		if b.Error != "" && !exists[b.Backend] {
			msg = strings.Replace(msg, b.Error, "", 1)
			removed = true
		}
	}
	if !removed {
		return msg
	}
	var parts []string
	for _, p := range strings.Split(msg, "; ") {
		if p = strings.TrimSpace(p); p != "" && p != ";" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 && r.Status == state.RunFailed {
		return "on a backend removed since"
	}
	return strings.Join(parts, "; ")
}

// Ago says how long before now t was, in a few words.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days ago"
}

// plural writes n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
