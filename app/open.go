package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"playmark/sync/accounts"
	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/secret"
	"playmark/sync/state"
)

// coreOptions says how openCore opens a config dir.
type coreOptions struct {
	// ReadOnly opens the store read-only (state.OpenReadOnly), for a
	// command that only reads: it neither waits for nor disturbs a run in
	// another process. Such a Core has no scheduler and renews no tokens.
	ReadOnly bool
	// Also receive every log record, besides playmark.log (the daemon's
	// lines on stdout, --verbose on stderr).
	Also []slog.Handler
	// Stderr, when not nil, is told when playmark.log is not safe to
	// write (a link planted in the config dir), which the log itself
	// cannot say.
	Stderr io.Writer
}

// openCore is the one place that opens a config dir, for the command
// line, the daemon and the desktop app alike: the store (read-only when
// asked), playmark.log, the system keyring for tokens, the engine (which
// derives a rejected token again from its account) and the scheduler.
// A keyring that refuses a token is logged and kept in KeyringErr (the
// command line also says it on stderr); the store stays usable.
func openCore(ctx context.Context, dir string, o coreOptions) (*Core, error) {
	open := state.Open
	if o.ReadOnly {
		open = state.OpenReadOnly
	}
	st, err := open(ctx, dir)
	if err != nil {
		return nil, err
	}
	file := logFile(dir, o.Stderr)
	var log *slog.Logger
	if h := slog.NewTextHandler(file, &slog.HandlerOptions{Level: slog.LevelInfo}); len(o.Also) == 0 {
		log = slog.New(h)
	} else {
		log = slog.New(slog.NewMultiHandler(append([]slog.Handler{h}, o.Also...)...))
	}
	c := &Core{Dir: dir, Store: st, Log: log, logFile: file}
	if err := useKeyring(ctx, st, dir, log); err != nil {
		log.Warn("system keyring", "err", err)
		c.KeyringErr = err
	}
	c.Engine = engine.New(st, log)
	if o.ReadOnly {
		return c, nil
	}
	wireAccounts(c.Engine, st) // a rejected derived token is derived again
	c.Sched = schedule.New(c.loadTasks, c.runTask)
	c.Sched.OnEvent = c.onScheduleEvent
	return c, nil
}

// logFile is playmark.log in dir, rotated when opened past 5 MB (one old
// file kept); io.Discard when it cannot be opened, with a warning to warn
// (when not nil) if that is because the file is not safe to write.
func logFile(dir string, warn io.Writer) io.Writer {
	path := filepath.Join(dir, "playmark.log")
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > 5<<20 {
		_ = os.Rename(path, path+".1")
	}
	// Never through a symbolic link planted in the config dir.
	f, err := state.OpenAppend(path)
	if err == nil {
		return f
	}
	if errors.Is(err, state.ErrUnsafeFile) && warn != nil {
		fmt.Fprintf(warn, "playmark: warning: not logging: %v\n", err)
	}
	return io.Discard
}

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

// wireAccounts has eng derive a rejected token again from the account
// the backend was made from (accounts.Manager.Renew), silently.
func wireAccounts(eng *engine.Engine, st *state.Store) {
	eng.SetTokenRenewer(func(ctx context.Context, b state.Backend) (state.Backend, error) {
		id, err := eng.ClientID(ctx)
		if err != nil {
			return b, err
		}
		m := &accounts.Manager{Store: st, ClientID: id}
		return m.Renew(ctx, b)
	})
}
