// Package schedule validates cron expressions (through gronx), computes
// next run times, and runs the Import and Export tasks when they fall due.
//
// The Scheduler never overlaps runs: a task that falls due while a run is
// going is skipped and reported as skipped. After a sleep (or any gap in
// which several slots passed) it catches up once, not once per missed
// slot. Pausing stops runs until a time or until resumed; a pause with a
// time ends by itself. It is headless and has an injectable clock, so it
// is tested with testing/synctest.
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

var fieldNames = []string{"minute", "hour", "day of month", "month", "day of week"}

// Validate checks a cron expression: five fields (minute hour day month
// weekday) or a tag such as @hourly or @daily. The error says what is
// wrong in words.
func Validate(expr string) error {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return fmt.Errorf("the cron expression is empty (example: 0 */6 * * * for every 6 hours)")
	}
	if strings.HasPrefix(expr, "@") {
		if gronx.IsValid(expr) {
			return nil
		}
		return fmt.Errorf("unknown cron tag %q (known: @hourly, @daily, @weekly, @monthly, @yearly, @5minutes, @15minutes, @30minutes)", expr)
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Errorf("a cron expression has 5 fields (minute hour day month weekday), %q has %d", expr, len(fields))
	}
	if gronx.IsValid(expr) {
		return nil
	}
	// Find the field at fault by trying each alone.
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if !gronx.IsValid(strings.Join(probe, " ")) {
			return fmt.Errorf("cron field %d (%s) %q is not valid", i+1, fieldNames[i], f)
		}
	}
	return fmt.Errorf("cron expression %q is not valid", expr)
}

// Next returns the next n run times strictly after t, in t's location.
func Next(expr string, after time.Time, n int) ([]time.Time, error) {
	if err := Validate(expr); err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	t := after
	for range n {
		next, err := gronx.NextTickAfter(strings.TrimSpace(expr), t, false)
		if err != nil {
			return out, fmt.Errorf("computing next run of %q: %w", expr, err)
		}
		out = append(out, next)
		t = next
	}
	return out, nil
}
