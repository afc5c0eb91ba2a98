package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// backupCmd writes a backup of the play state: to FILE, or (no FILE) into
// the backups folder of the config dir.
func (c *cli) backupCmd(args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("backup: want at most one FILE")
	}
	if err := c.openRead(); err != nil {
		return err
	}
	ctx := context.Background()
	if len(pos) == 0 {
		path, err := c.engine.Backup(ctx, "manual")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Backup written to %s\n", path)
		return nil
	}
	n, err := c.engine.BackupTo(ctx, pos[0])
	if errors.Is(err, os.ErrExist) {
		return usagef("backup: %v (the file must not exist yet)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Backup of %d items written to %s\n", n, pos[0])
	return nil
}

// restoreCmd makes one backend's marks match a backup.
func (c *cli) restoreCmd(args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	name := fs.String("backend", "", "")
	dry := fs.Bool("dry-run", false, "")
	yes := fs.Bool("yes", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *name == "" {
		return usagef("restore: want FILE --backend NAME (add --dry-run to see the plan first)")
	}
	items, err := engine.ReadBackupFile(pos[0])
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return usagef("restore: %v", err)
	}
	if err != nil {
		return usagef("restore: %s: %v", pos[0], err)
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx, cancel := c.runContext()
	defer cancel()
	rep, err := c.engine.Restore(ctx, items, *name, engine.RunOptions{DryRun: *dry, Yes: *yes, Trigger: "cli"})
	if errors.Is(err, state.ErrNotFound) {
		return usageError{err.Error()}
	}
	return c.finishRun(ctx, rep, err)
}
