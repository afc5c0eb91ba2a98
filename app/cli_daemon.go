package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"playmark/sync/state"
)

// daemonCmd runs the schedules, the webhook listener and the live
// connections with no window and no tray, until interrupted. It says what
// it does on stdout, one line per event (started and with what, each
// run's summary, each warning or error, stopping), for journald and
// docker logs; --verbose also writes the log to stderr.
func (c *cli) daemonCmd(args []string) error {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	verbose := fs.Bool("verbose", false, "")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("daemon: unexpected argument %q", pos[0])
	}
	out := newDaemonOut(c.stdout)
	// The log goes to playmark.log, its warnings and errors to stdout as
	// daemon lines, and with --verbose all of it to stderr.
	o := coreOptions{Stderr: c.stderr, Also: []slog.Handler{&lineHandler{out: out, level: slog.LevelWarn}}}
	if *verbose {
		o.Also = append(o.Also, slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	ctx, cancel := c.runContext()
	defer cancel()
	core, err := openCore(ctx, c.configDir, o)
	if err != nil {
		return err
	}
	defer core.Close()
	evErr := core.StartEvents(ctx)
	stopEvents := sync.OnceFunc(func() { cancel(); <-core.EventsDone() })
	defer stopEvents() // before the store closes

	started, err := daemonStarted(ctx, core, evErr)
	if err != nil {
		return err
	}
	out.line(slog.LevelInfo, "started on %s: %s", c.configDir, started)
	if evErr != nil {
		out.line(slog.LevelError, "error: %v", evErr)
	}

	// A database deleted or replaced under the daemon stops it, saying so.
	gone := make(chan error, 1)
	go core.watchStore(ctx, storeCheckEvery, func(err error) { gone <- err; cancel() })

	// Each finished run, whoever started it (schedule, webhook, live).
	last := int64(0)
	if runs, err := core.Store.Runs(ctx, 1); err == nil && len(runs) > 0 {
		last = runs[0].ID
	}
	changed, unsubscribe := core.Engine.Subscribe()
	defer unsubscribe()
	var wg sync.WaitGroup
	wg.Go(func() {
		poll := time.NewTicker(daemonPoll) // runs of other processes (a CLI sync)
		defer poll.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-poll.C:
			}
			last = printNewRuns(ctx, core.Store, out, last)
		}
	})

	err = core.Sched.Run(ctx)
	var gerr error
	select {
	case gerr = <-gone:
	default:
	}
	interrupted := ctx.Err() != nil && gerr == nil
	if gerr != nil {
		out.line(slog.LevelError, "error: %v; stopping", gerr)
		err = gerr
	} else if interrupted {
		out.line(slog.LevelInfo, "stopping (interrupted): finishing what runs")
		err = nil
	} else {
		out.line(slog.LevelError, "error: %v; stopping", err)
	}
	stopEvents()
	wg.Wait()
	printNewRuns(context.WithoutCancel(ctx), core.Store, out, last)
	out.line(slog.LevelInfo, "stopped")
	return err
}

// daemonPoll is how often the daemon looks for runs other processes
// finished.
var daemonPoll = 5 * time.Second

// daemonStarted says what the daemon runs: the schedules, the webhook
// listener, the live connections.
func daemonStarted(ctx context.Context, core *Core, evErr error) (string, error) {
	ov, err := core.Engine.Overview(ctx, nil)
	if err != nil {
		return "", err
	}
	var sched []string
	for _, t := range ov.Tasks {
		if t.Enabled && t.Next != nil {
			sched = append(sched, fmt.Sprintf("%s %q (next %s)", t.Name, t.Cron, t.Next.Local().Format("2006-01-02 15:04")))
		} else {
			sched = append(sched, t.Name+" off")
		}
	}
	hooks := "off (playmark webhooks --listen ADDR)"
	if addr := core.WebhookAddr(); addr != "" {
		hooks = "listening on " + addr
	} else if evErr != nil {
		hooks = "not started"
	}
	var live, names []string
	bs, err := core.Store.Backends(ctx)
	if err != nil && !errors.Is(err, state.ErrTokenUnavailable) {
		return "", err
	}
	for _, b := range bs {
		names = append(names, b.Name)
		if b.Options.Live {
			live = append(live, b.Name)
		}
	}
	backends := "none yet (playmark backend add)"
	if len(names) > 0 {
		backends = strings.Join(names, ", ")
	}
	liveText := "off"
	if len(live) > 0 {
		liveText = strings.Join(live, ", ")
	}
	return fmt.Sprintf("backends: %s; schedules: %s; webhooks: %s; live: %s",
		backends, strings.Join(sched, ", "), hooks, liveText), nil
}

// printNewRuns prints the runs finished since run last, oldest first, and
// returns the newest id printed.
func printNewRuns(ctx context.Context, st *state.Store, out *daemonOut, last int64) int64 {
	runs, err := st.Runs(ctx, 20)
	if err != nil {
		return last
	}
	slices.Reverse(runs)
	for _, r := range runs {
		if r.ID <= last {
			continue
		}
		if r.Status == state.RunRunning {
			break // print in order: wait for it
		}
		level := slog.LevelInfo
		if r.Status == state.RunFailed || r.Status == state.RunInterrupted {
			level = slog.LevelError
		}
		out.line(level, "%s", runSummary(r))
		last = r.ID
	}
	return last
}

// runSummary is one run in one line: "run 12 import (schedule): ok in
// 1.2s; jf read 200, changed 3".
func runSummary(r state.Run) string {
	kind := r.Kind
	if r.DryRun {
		kind += " (dry run)"
	}
	s := fmt.Sprintf("run %d %s (%s): %s", r.ID, kind, r.Trigger, r.Status)
	if !r.Finished.IsZero() {
		s += " in " + r.Finished.Sub(r.Started).Round(time.Second).String()
	}
	var parts []string
	for _, b := range r.Backends {
		p := fmt.Sprintf("%s %s read %d, changed %d", b.Phase, b.Backend, b.Read, b.Changed)
		if b.Failed > 0 {
			p += fmt.Sprintf(", failed %d", b.Failed)
		}
		parts = append(parts, p)
	}
	if len(parts) > 0 {
		s += "; " + strings.Join(parts, "; ")
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return oneLine(s)
}

// daemonOut writes the daemon's lines: under systemd (JOURNAL_STREAM set)
// with the sd-daemon priority prefix journald reads and no time, which
// journald adds; elsewhere (docker logs, a terminal) with the time.
type daemonOut struct {
	mu      sync.Mutex
	w       io.Writer
	journal bool
}

func newDaemonOut(w io.Writer) *daemonOut {
	return &daemonOut{w: w, journal: os.Getenv("JOURNAL_STREAM") != ""}
}

func (o *daemonOut) line(level slog.Level, format string, a ...any) {
	msg := oneLine(fmt.Sprintf(format, a...))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.journal {
		prio := 6 // info
		switch {
		case level >= slog.LevelError:
			prio = 3
		case level >= slog.LevelWarn:
			prio = 4
		}
		fmt.Fprintf(o.w, "<%d>%s\n", prio, msg)
		return
	}
	fmt.Fprintf(o.w, "%s %s\n", time.Now().Format("2006-01-02T15:04:05Z07:00"), msg)
}

// lineHandler writes log records at level and above as daemon lines:
// "warning: scheduled run failed: task=import err=...".
type lineHandler struct {
	out   *daemonOut
	level slog.Level
	attrs []slog.Attr
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	word := "warning"
	if r.Level >= slog.LevelError {
		word = "error"
	}
	b.WriteString(word + ": " + r.Message)
	add := func(a slog.Attr) bool {
		if a.Key == "body" {
			return true // a server's whole answer: the log file's, not stdout's
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.out.line(r.Level, "%s", b.String())
	return nil
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lineHandler{out: h.out, level: h.level, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
