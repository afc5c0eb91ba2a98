package schedule

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"playmark/sync/state"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		expr string
		ok   bool
		msg  string
	}{
		{"0 */6 * * *", true, ""},
		{"*/15 * * * 1-5", true, ""},
		{"0 1-23/6 * * *", true, ""},
		{"@daily", true, ""},
		{"  30 2 * * SUN ", true, ""},
		{"", false, "empty"},
		{"* * *", false, "5 fields"},
		{"* * * * * * * *", false, "5 fields"},
		{"61 * * * *", false, "field 1 (minute)"},
		{"0 25 * * *", false, "field 2 (hour)"},
		{"0 0 * 13 *", false, "field 4 (month)"},
		{"0 0 * * funday", false, "field 5"},
		{"@sometimes", false, "unknown cron tag"},
	}
	for _, c := range cases {
		err := Validate(c.expr)
		if (err == nil) != c.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", c.expr, err, c.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Validate(%q) = %q, want it to say %q", c.expr, err, c.msg)
		}
	}
}

func TestNext(t *testing.T) {
	at := time.Date(2026, 11, 26, 13, 7, 0, 0, time.UTC)
	got, err := Next("0 */6 * * *", at, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"18:00", "00:00", "06:00"}
	for i, g := range got {
		if g.Format("15:04") != want[i] {
			t.Errorf("next[%d] = %v, want %s", i, g, want[i])
		}
	}
	if _, err := Next("nope", at, 3); err == nil {
		t.Error("Next of a bad expression succeeded")
	}
}

// harness runs a scheduler over fixed tasks and records what it did.
type harness struct {
	mu     sync.Mutex
	tasks  []Task
	runs   []string
	events []Event
	block  time.Duration
	busy   bool
}

func (h *harness) load(context.Context) ([]Task, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Task(nil), h.tasks...), nil
}

func (h *harness) run(ctx context.Context, name string) error {
	h.mu.Lock()
	busy, block := h.busy, h.block
	h.mu.Unlock()
	if busy {
		return fmt.Errorf("import: %w", state.ErrBusy)
	}
	select {
	case <-time.After(block):
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.Lock()
	h.runs = append(h.runs, name+"@"+time.Now().UTC().Format("15:04"))
	h.mu.Unlock()
	return nil
}

func (h *harness) snapshot() ([]string, []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.runs...), append([]Event(nil), h.events...)
}

func start(t *testing.T, h *harness) (*Scheduler, context.CancelFunc) {
	s := New(h.load, h.run)
	s.OnEvent = func(e Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	return s, cancel
}

func TestRunsWhenDueImportBeforeExport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{tasks: []Task{
			{Name: "export", Cron: "*/10 * * * *", Enabled: true},
			{Name: "import", Cron: "*/10 * * * *", Enabled: true},
			{Name: "never", Cron: "* * * * *", Enabled: false},
		}}
		_, cancel := start(t, h)
		time.Sleep(35 * time.Minute)
		cancel()
		synctest.Wait()
		runs, _ := h.snapshot()
		want := "import@00:10 export@00:10 import@00:20 export@00:20 import@00:30 export@00:30"
		if got := strings.Join(runs, " "); got != want {
			t.Errorf("runs = %s, want %s", got, want)
		}
	})
}

func TestLongRunCatchesUpOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{tasks: []Task{{Name: "import", Cron: "*/10 * * * *", Enabled: true}}, block: 45 * time.Minute}
		_, cancel := start(t, h)
		// 00:10 runs until 00:55; slots 00:20..00:50 were missed: one
		// catch-up run, not four, then back on the grid.
		time.Sleep(2*time.Hour + time.Minute)
		cancel()
		synctest.Wait()
		runs, _ := h.snapshot()
		if len(runs) < 2 || len(runs) > 3 {
			t.Fatalf("runs = %v: want one catch-up after the long run, no pile-up", runs)
		}
		if runs[0] != "import@00:55" {
			t.Errorf("first run finished at %s, want 00:55", runs[0])
		}
	})
}

func TestWallClockJumpCatchesUpOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{tasks: []Task{{Name: "import", Cron: "*/10 * * * *", Enabled: true}}}
		var mu sync.Mutex
		var offset time.Duration
		s := New(h.load, h.run)
		s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) })
		ctx, cancel := context.WithCancel(context.Background())
		go s.Run(ctx)
		time.Sleep(5 * time.Minute)
		// The laptop slept five hours: the wall clock jumps, timers do not.
		mu.Lock()
		offset = 5 * time.Hour
		mu.Unlock()
		time.Sleep(2 * time.Minute)
		cancel()
		synctest.Wait()
		runs, _ := h.snapshot()
		if len(runs) != 1 {
			t.Errorf("runs after a 5 h jump = %v, want exactly one catch-up", runs)
		}
	})
}

func TestBusyIsSkippedAndSaid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{tasks: []Task{{Name: "import", Cron: "*/10 * * * *", Enabled: true}}, busy: true}
		_, cancel := start(t, h)
		time.Sleep(11 * time.Minute)
		cancel()
		synctest.Wait()
		runs, events := h.snapshot()
		if len(runs) != 0 || len(events) != 1 || events[0].Ran || !strings.HasPrefix(events[0].Reason, "busy") {
			t.Errorf("runs %v events %+v: want one skip saying busy", runs, events)
		}
	})
}

func TestPauseEndsByItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{tasks: []Task{{Name: "import", Cron: "*/10 * * * *", Enabled: true}}}
		s, cancel := start(t, h)
		s.Pause(time.Now().Add(30 * time.Minute))
		if p, until := s.Paused(); !p || until.IsZero() {
			t.Fatalf("Paused = %v %v", p, until)
		}
		time.Sleep(45 * time.Minute)
		cancel()
		synctest.Wait()
		runs, events := h.snapshot()
		if p, _ := s.Paused(); p {
			t.Error("still paused after the pause ran out")
		}
		var skipped int
		for _, e := range events {
			if e.Reason == "paused" {
				skipped++
			}
		}
		if skipped != 2 || strings.Join(runs, " ") != "import@00:30 import@00:40" {
			t.Errorf("skipped %d, runs %v: want 00:10 and 00:20 skipped as paused, 00:30 and 00:40 run", skipped, runs)
		}
	})
}

func TestPauseUntilResumed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{tasks: []Task{{Name: "import", Cron: "*/10 * * * *", Enabled: true}}}
		s, cancel := start(t, h)
		s.Pause(time.Time{})
		time.Sleep(3*time.Hour + 5*time.Minute)
		if runs, _ := h.snapshot(); len(runs) != 0 {
			t.Errorf("ran while paused: %v", runs)
		}
		s.Resume()
		time.Sleep(10 * time.Minute)
		cancel()
		synctest.Wait()
		if runs, _ := h.snapshot(); len(runs) != 1 {
			t.Errorf("after resume: runs %v, want one", runs)
		}
		if next := s.NextRuns()["import"]; next.IsZero() {
			t.Error("NextRuns has no import time")
		}
	})
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"0 */6 * * *", "@daily", "61 * * * *", "* * *", "*/0 * * * *", "1-5/2 0 L * 5#2", "0 0 29 2 *", "", "@", "a b c d e"} {
		f.Add(s)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 200 {
			return
		}
		if Validate(expr) != nil {
			return
		}
		next, err := Next(expr, at, 2)
		if err != nil {
			// gronx may find no run within its search horizon (30 Feb):
			// that must be an error, never a panic or a time in the past.
			return
		}
		for i, n := range next {
			if !n.After(at) || (i > 0 && !n.After(next[i-1])) {
				t.Fatalf("Next(%q) = %v: not strictly increasing after %v", expr, next, at)
			}
		}
	})
}
