package app

import (
	"context"
	"fmt"

	"playmark/sync/state"
)

// open opens the config dir (openCore), once, for a command that writes.
func (c *cli) open() error { return c.openCore(false) }

// openRead opens the config dir with the store read-only, for a command
// that only reads (status, history, backup, listings): it neither waits
// for nor disturbs a run in another process, and works on a read-only
// database or config dir. A command that then tries to write gets
// state.ErrReadOnly.
func (c *cli) openRead() error { return c.openCore(true) }

func (c *cli) openCore(readOnly bool) error {
	if c.core != nil {
		return nil
	}
	core, err := openCore(context.Background(), c.configDir, coreOptions{ReadOnly: readOnly, Stderr: c.stderr})
	if err != nil {
		return err
	}
	if core.KeyringErr != nil {
		fmt.Fprintf(c.stderr, "playmark: warning: %v\n", core.KeyringErr)
	}
	c.core, c.store, c.engine, c.log = core, core.Store, core.Engine, core.Log
	return nil
}

// explain words an error from the database file that reached the top
// without a sentence (a corrupt page met by a read, a full disk): it says
// what happened and what to do (state.Classify).
func (c *cli) explain(err error) error {
	if err == nil {
		return nil
	}
	return state.Classify(c.configDir, err)
}
