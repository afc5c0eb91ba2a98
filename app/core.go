package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/state"
)

// Core is what openCore (open.go) opens over one config dir, for the
// command line, the daemon and the desktop app: the store, the log, the
// engine and (unless read-only) the scheduler.
type Core struct {
	Dir    string
	Store  *state.Store
	Engine *engine.Engine
	Sched  *schedule.Scheduler // nil when read-only
	Log    *slog.Logger
	// KeyringErr is a token the system keyring would not take (it stays
	// in the database); nil when all is well.
	KeyringErr error
	logFile    io.Writer   // playmark.log (io.Discard when it cannot be written)
	events     *eventLoops // StartEvents (events.go)
}

// OpenCore opens the config dir dir for writing (openCore).
// verboseTo, when not nil, also receives the log.
func OpenCore(ctx context.Context, dir string, verboseTo io.Writer) (*Core, error) {
	o := coreOptions{Stderr: verboseTo}
	if verboseTo != nil {
		o.Also = []slog.Handler{slog.NewTextHandler(verboseTo, &slog.HandlerOptions{Level: slog.LevelInfo})}
	}
	return openCore(ctx, dir, o)
}

// LogFile is where the log goes: playmark.log in the config dir (the
// desktop app sends Fyne's and systray's log there too).
func (c *Core) LogFile() io.Writer { return c.logFile }

// Close closes the store and the log file.
func (c *Core) Close() error {
	err := c.Store.Close()
	if f, ok := c.logFile.(io.Closer); ok {
		f.Close()
	}
	return err
}

func (c *Core) loadTasks(ctx context.Context) ([]schedule.Task, error) {
	ts, err := c.Store.Tasks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]schedule.Task, 0, len(ts))
	for _, t := range ts {
		out = append(out, schedule.Task{Name: t.Name, Cron: t.Cron, Enabled: t.Enabled})
	}
	return out, nil
}

// runTask runs a scheduled task; it never waits for a running run.
func (c *Core) runTask(ctx context.Context, task string) error {
	opt := engine.RunOptions{Trigger: "schedule"}
	var err error
	switch task {
	case "import":
		_, err = c.Engine.Import(ctx, opt)
	case "export":
		_, err = c.Engine.Export(ctx, opt)
	default:
		err = fmt.Errorf("unknown task %q", task)
	}
	return err
}

// onScheduleEvent logs what the scheduler did and records a skipped run
// in the history, so that the user sees it.
func (c *Core) onScheduleEvent(ev schedule.Event) {
	switch {
	case ev.Ran && ev.Err != nil:
		c.Log.Warn("scheduled run failed", "task", ev.Task, "err", ev.Err)
	case ev.Ran:
		c.Log.Info("scheduled run done", "task", ev.Task)
	default:
		c.Log.Info("scheduled run skipped", "task", ev.Task, "reason", ev.Reason)
		ctx := context.Background()
		if id, err := c.Store.StartRun(ctx, ev.Task, "schedule", false); err == nil {
			_ = c.Store.FinishRun(ctx, id, "skipped", "skipped: "+ev.Reason, nil)
		}
	}
	c.Engine.Notify()
}

// storeCheckEvery is how often a running daemon checks that its database
// file is still the one it opened.
var storeCheckEvery = 5 * time.Second

// watchStore checks every so often that the database file was not
// deleted or replaced under the running process (state.Store.Check); when
// it was, it logs why and calls stop once. Writes already refuse by then;
// this makes an idle daemon notice, and say so, too.
func (c *Core) watchStore(ctx context.Context, every time.Duration, stop func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Store.Check(); err != nil {
				c.Log.Error("database file", "err", err)
				stop(err)
				return
			}
		}
	}
}
