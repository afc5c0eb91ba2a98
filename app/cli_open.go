package app

import (
	"context"
	"fmt"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// open opens the store and the engine, once, for a command that writes.
func (c *cli) open() error { return c.openStore(false) }

// openRead opens the store read-only, for a command that only reads
// (status, history, backup, listings): it neither waits for nor disturbs
// a run in another process, and works on a read-only database or config
// dir. A command that then tries to write gets state.ErrReadOnly.
func (c *cli) openRead() error { return c.openStore(true) }

func (c *cli) openStore(readOnly bool) error {
	if c.store != nil {
		return nil
	}
	open := state.Open
	if readOnly {
		open = state.OpenReadOnly
	}
	st, err := open(context.Background(), c.configDir)
	if err != nil {
		return err
	}
	c.store = st
	c.log = newLogger(c.configDir, c.stderr, false)
	if err := useKeyring(context.Background(), st, c.configDir, c.log); err != nil {
		fmt.Fprintf(c.stderr, "playmark: warning: %v\n", err)
	}
	c.engine = engine.New(st, c.log)
	if !readOnly {
		wireAccounts(c.engine, st) // a rejected derived token is derived again
	}
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
