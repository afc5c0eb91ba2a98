package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// Snapshot is everything the tray shows, read at one moment: the engine's
// run status, the store's overview, the scheduler's pause and the login
// entry. The tray menu, its icon and its tooltip are pure functions of it.
type Snapshot struct {
	Now          time.Time
	Status       engine.Status
	Overview     engine.Overview
	Schedules    bool      // a scheduler is running (pause items make sense)
	Paused       bool      // schedules are paused
	PausedUntil  time.Time // zero with Paused: until resumed
	Autostart    bool      // start at login can be set on this system
	StartAtLogin bool      // and it is on
	// People is how many people there are, Person the one Activity's
	// filter shows ("" : everyone) and PersonCounts their counts: the
	// window's status line (filled by load, not by snapshot).
	People       int
	Person       string
	PersonCounts state.Counts
	// PersonImport is the filtered person's last import: the newest
	// that covered one of their backends, its result their part's.
	PersonImport engine.RunInfo
}

// snapshot reads a Snapshot. It does I/O (the store): call it off the UI
// thread.
func (u *UI) snapshot(ctx context.Context) (Snapshot, error) {
	s := Snapshot{Now: time.Now(), Status: u.d.Engine.Status()}
	var next map[string]time.Time
	if u.d.Sched != nil {
		s.Schedules = true
		s.Paused, s.PausedUntil = u.d.Sched.Paused()
		next = u.d.Sched.NextRuns()
	}
	if u.d.Autostart != nil {
		s.Autostart = true
		s.StartAtLogin = u.d.Autostart.Enabled()
	}
	ov, err := u.d.Engine.Overview(ctx, next)
	if err != nil {
		return s, fmt.Errorf("reading the overview: %w", err)
	}
	s.Overview = ov
	return s, nil
}

// TrayState is the state the tray icon shows.
type TrayState int

// Tray states, from the most pressing down: a run in progress, a backend
// failing, something waiting for the user, schedules paused, all well.
const (
	StateOK TrayState = iota
	StateSyncing
	StatePaused
	StateWarning
	StateError
)

// String names the state (it is also the icon's name: tray-<state>.png).
func (s TrayState) String() string {
	return [...]string{"ok", "syncing", "paused", "warning", "error"}[s]
}

// State is the icon state of a snapshot.
func (s Snapshot) State() TrayState {
	switch {
	case s.Status.Running:
		return StateSyncing
	case s.failing() > 0:
		return StateError
	case s.Overview.Unmatched > 0 || s.Overview.Held > 0:
		return StateWarning
	case s.Paused:
		return StatePaused
	}
	return StateOK
}

func (s Snapshot) failing() int {
	n := 0
	for _, b := range s.Overview.Backends {
		if !b.OK {
			n++
		}
	}
	return n
}

// Tooltip says the state in words, for the tray icon's tooltip.
func (s Snapshot) Tooltip() string {
	if s.Status.Running {
		return "Playmark: " + ProgressText(s.Status)
	}
	for _, b := range s.Overview.Backends {
		if !b.OK {
			return "Playmark: " + b.Name + ": " + b.Health
		}
	}
	var parts []string
	if last := s.lastRun(); last.ID != 0 {
		parts = append(parts, fmt.Sprintf("Last %s %s", last.Kind, clock(last.Finished, s.Now)), plural(last.Changed, "change"))
	} else {
		parts = append(parts, "Not synced yet")
	}
	if s.Overview.Held > 0 {
		parts = append(parts, plural(s.Overview.Held, "held export")+" to check")
	}
	if s.Overview.Unmatched > 0 {
		parts = append(parts, humanize.Comma(int64(s.Overview.Unmatched))+" unmatched")
	}
	if s.Paused {
		parts = append(parts, s.pauseText())
	}
	return "Playmark: " + strings.Join(parts, " · ")
}

// lastRun is the newer of the last import and the last export.
func (s Snapshot) lastRun() engine.RunInfo {
	a, b := s.Overview.LastImport, s.Overview.LastExport
	if b.Finished.After(a.Finished) {
		return b
	}
	return a
}

func (s Snapshot) pauseText() string {
	if s.PausedUntil.IsZero() {
		return "schedules paused until resumed"
	}
	return "schedules paused until " + clock(s.PausedUntil, s.Now)
}

// StatusRows are the not-clickable rows at the top of the tray menu: the
// run in progress, the last import and export, the next run and one row
// per backend.
func (s Snapshot) StatusRows() []string {
	var rows []string
	if s.Status.Running {
		rows = append(rows, runningRow(s.Status))
	}
	rows = append(rows,
		"Last import: "+s.Overview.LastImport.Describe(s.Now),
		"Last export: "+s.Overview.LastExport.Describe(s.Now),
		s.nextRow())
	rows = append(rows, s.backendRows()...)
	if len(s.Overview.Backends) == 0 {
		rows = append(rows, "No backends yet: open Playmark to add one")
	}
	return rows
}

// backendRows are the status rows of the backends: one per backend for
// one person; for a household, one per person with a problem (their
// first failing backend, and how many more), or one row when all is well.
func (s Snapshot) backendRows() []string {
	var people []string
	failing := map[string][]engine.BackendInfo{}
	for _, b := range s.Overview.Backends {
		p := b.Person
		if !slices.Contains(people, p) {
			people = append(people, p)
		}
		if !b.OK {
			failing[p] = append(failing[p], b)
		}
	}
	var rows []string
	if len(people) <= 1 {
		for _, b := range s.Overview.Backends {
			rows = append(rows, b.Name+": "+shorten(b.Health, 60))
		}
		return rows
	}
	for _, p := range people {
		bs := failing[p]
		if len(bs) == 0 {
			continue
		}
		who := p
		if who == "" {
			who = "(nobody)"
		}
		what := bs[0].Health
		if !strings.Contains(what, bs[0].Name) {
			what = bs[0].Name + ": " + what
		}
		row := who + ": " + shorten(what, 60)
		if len(bs) > 1 {
			row += fmt.Sprintf(" (and %d more)", len(bs)-1)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		rows = append(rows, fmt.Sprintf("%d people, %s: all fine", len(people), plural(len(s.Overview.Backends), "backend")))
	}
	return rows
}

// runningRow names the run, phase and backend, without the counts (those
// change too often to rebuild a menu for; the tooltip has them).
func runningRow(st engine.Status) string {
	s := verb(st.Kind, st.Phase, st.DryRun)
	if st.Backend != "" {
		s += " " + st.Backend
	}
	return s + "…"
}

func (s Snapshot) nextRow() string {
	if s.Paused {
		return strings.ToUpper(s.pauseText()[:1]) + s.pauseText()[1:]
	}
	var name string
	var at time.Time
	for _, t := range s.Overview.Tasks {
		if t.Enabled && t.Next != nil && (at.IsZero() || t.Next.Before(at)) {
			name, at = t.Name, *t.Next
		}
	}
	if at.IsZero() {
		return "Next run: none (schedules are off)"
	}
	return "Next run: " + name + " " + clock(at, s.Now)
}

// ProgressText is a run's progress in words: "Importing plex: 1,240/8,000".
func ProgressText(st engine.Status) string {
	if !st.Running {
		return "Idle"
	}
	s := verb(st.Kind, st.Phase, st.DryRun)
	if st.Backend == "" {
		return s + ": starting…"
	}
	s += " " + st.Backend
	switch {
	case st.Total > 0:
		s += fmt.Sprintf(": %s/%s", humanize.Comma(int64(st.Done)), humanize.Comma(int64(st.Total)))
	case st.Done > 0:
		s += ": " + plural(st.Done, "item")
	}
	return s
}

func verb(kind, phase string, dry bool) string {
	if phase == "" {
		phase = kind
	}
	v := map[string]string{"import": "Importing", "export": "Exporting", "sync": "Syncing", "restore": "Restoring"}[phase]
	if v == "" {
		v = "Running " + phase
	}
	if dry {
		v = "Previewing (" + strings.ToLower(v) + ")"
	}
	return v
}

// clock is a local time as a person says it relative to now: "14:02",
// "tomorrow 06:00", "Mon 06:00", "Mon 02 Jan 06:00".
func clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	day1 := time.Date(y1, m1, d1, 0, 0, 0, 0, time.Local)
	day2 := time.Date(y2, m2, d2, 0, 0, 0, 0, time.Local)
	days := int(day1.Sub(day2).Round(time.Hour).Hours() / 24)
	switch {
	case days == 0:
		return t.Format("15:04")
	case days == 1:
		return "tomorrow " + t.Format("15:04")
	case days == -1:
		return "yesterday " + t.Format("15:04")
	case days > 1 && days < 7:
		return t.Format("Mon 15:04")
	}
	return t.Format("Mon 02 Jan 15:04")
}

func plural(n int, what string) string {
	s := humanize.Comma(int64(n)) + " " + what
	if n != 1 {
		s += "s"
	}
	return s
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func commas(n int) string { return humanize.Comma(int64(n)) }
