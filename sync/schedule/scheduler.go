package schedule

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/adhocore/gronx"

	"playmark/sync/state"
)

// Task is a scheduled task as the scheduler sees it.
type Task struct {
	Name    string // import or export
	Cron    string
	Enabled bool
}

// Event is something the scheduler did, for the history and the UI.
type Event struct {
	Task   string
	At     time.Time
	Ran    bool   // the task ran (its own result is the runner's business)
	Reason string // why it did not run: "paused", "busy: ..."
	Err    error  // the runner's error, when it ran
}

// Scheduler runs tasks when due. Create it with New; Run owns its loop.
type Scheduler struct {
	load func(context.Context) ([]Task, error)
	run  func(ctx context.Context, task string) error
	now  func() time.Time

	// OnEvent, when set, is told of every run and skip.
	OnEvent func(Event)

	mu          sync.Mutex
	paused      bool
	pausedUntil time.Time // zero with paused: until resumed
	last        map[string]time.Time
	next        map[string]time.Time
	wake        chan struct{}
}

// tick bounds how long the loop sleeps, so that a wall-clock jump (a
// suspended laptop waking up) is noticed within a minute.
const tick = time.Minute

// New returns a scheduler that reads its tasks with load (every loop, so
// edits apply at once) and runs a due task with run. run returning an
// error that says the engine is busy counts as a skip.
func New(load func(context.Context) ([]Task, error), run func(ctx context.Context, task string) error) *Scheduler {
	return &Scheduler{load: load, run: run, now: time.Now, last: map[string]time.Time{}, next: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// SetClock replaces the clock (tests that do not use synctest).
func (s *Scheduler) SetClock(now func() time.Time) { s.now = now }

// Reload makes the loop re-read the tasks now (after an edit).
func (s *Scheduler) Reload() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Pause stops scheduled runs until until; a zero until pauses until
// Resume. Manual runs are not affected.
func (s *Scheduler) Pause(until time.Time) {
	s.mu.Lock()
	s.paused, s.pausedUntil = true, until
	s.mu.Unlock()
	s.Reload()
}

// Resume ends a pause.
func (s *Scheduler) Resume() {
	s.mu.Lock()
	s.paused, s.pausedUntil = false, time.Time{}
	s.mu.Unlock()
	s.Reload()
}

// Paused says whether schedules are paused, and until when (zero: until
// resumed).
func (s *Scheduler) Paused() (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expirePause(s.now())
	return s.paused, s.pausedUntil
}

// expirePause ends a timed pause that has run out; s.mu held.
func (s *Scheduler) expirePause(now time.Time) {
	if s.paused && !s.pausedUntil.IsZero() && !now.Before(s.pausedUntil) {
		s.paused, s.pausedUntil = false, time.Time{}
	}
}

// NextRuns is each enabled task's next run time, as of the last loop.
func (s *Scheduler) NextRuns() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.next))
	for k, v := range s.next {
		out[k] = v
	}
	return out
}

// Run runs the loop until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	start := s.now()
	for {
		tasks, err := s.load(ctx)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		now := s.now()
		wait := tick
		var due []string
		s.mu.Lock()
		s.expirePause(now)
		nextAll := map[string]time.Time{}
		for _, t := range tasks {
			if !t.Enabled || Validate(t.Cron) != nil {
				continue
			}
			from := s.last[t.Name]
			if from.IsZero() {
				from = start
			}
			next, err := gronx.NextTickAfter(strings.TrimSpace(t.Cron), from, false)
			if err != nil {
				continue
			}
			if !next.After(now) {
				due = append(due, t.Name)
				// Catch up once: every slot up to now counts as this one.
				s.last[t.Name] = now
				next, _ = gronx.NextTickAfter(strings.TrimSpace(t.Cron), now, false)
			}
			nextAll[t.Name] = next
			if d := next.Sub(now); d < wait {
				wait = d
			}
		}
		s.next = nextAll
		paused := s.paused
		s.mu.Unlock()

		// Import before export when both fall due together.
		sortTasks(due)
		for _, name := range due {
			ev := Event{Task: name, At: now}
			switch {
			case paused:
				ev.Reason = "paused"
			default:
				err := s.run(ctx, name)
				if err != nil && isBusy(err) {
					ev.Reason = "busy: " + err.Error()
				} else {
					ev.Ran, ev.Err = true, err
				}
			}
			if s.OnEvent != nil {
				s.OnEvent(ev)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if wait < time.Second {
			wait = time.Second
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

func sortTasks(names []string) {
	for i := 1; i < len(names); i++ {
		if names[i] == "import" {
			names[0], names[i] = names[i], names[0]
		}
	}
}

func isBusy(err error) bool { return errors.Is(err, state.ErrBusy) }
