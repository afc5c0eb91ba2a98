package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/secret"
	"playmark/sync/state"
)

// Core is the headless heart shared by the desktop app and the daemon:
// the store, the engine and the scheduler over one config dir.
type Core struct {
	Dir    string
	Store  *state.Store
	Engine *engine.Engine
	Sched  *schedule.Scheduler
	Log    *slog.Logger
	events *eventLoops // StartEvents (events.go)
}

// OpenCore opens the store in dir and builds the engine and scheduler.
// verboseTo, when not nil, also receives the log.
func OpenCore(ctx context.Context, dir string, verboseTo io.Writer) (*Core, error) {
	return openCore(ctx, dir, newLogger(dir, verboseTo, verboseTo != nil))
}

// openCore is OpenCore with the logger made by the caller.
func openCore(ctx context.Context, dir string, log *slog.Logger) (*Core, error) {
	st, err := state.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	if err := useKeyring(ctx, st, dir, log); err != nil {
		log.Warn("system keyring", "err", err)
	}
	c := &Core{Dir: dir, Store: st, Engine: engine.New(st, log), Log: log}
	wireAccounts(c.Engine, st)
	c.Sched = schedule.New(c.loadTasks, c.runTask)
	c.Sched.OnEvent = c.onScheduleEvent
	return c, nil
}

// Close closes the store.
func (c *Core) Close() error { return c.Store.Close() }

// useKeyring keeps st's tokens in the system keyring (secret.Open: the
// Secret Service, the Credential Manager or the Keychain) when there is
// one and PLAYMARK_KEYRING is not "off" (tests, headless servers);
// otherwise they stay in the database. The error is a token the
// keyring would not take: it stays in the database, and st stays usable.
func useKeyring(ctx context.Context, st *state.Store, dir string, log *slog.Logger) error {
	if strings.EqualFold(os.Getenv("PLAYMARK_KEYRING"), "off") {
		return nil
	}
	open, cancel := context.WithTimeout(ctx, 5*time.Second)
	k, err := secret.Open(open, dir)
	cancel()
	if err != nil {
		log.Info("tokens stay in the database", "reason", err)
		return nil
	}
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return st.SetKeyring(ctx, k)
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
