package app

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"playmark/sync/schedule"
)

// tasksCmd runs "tasks" (the import and export schedules: on/off, cron,
// next three runs) and "tasks set".
func (c *cli) tasksCmd(args []string) error {
	if len(args) > 0 && args[0] == "set" {
		return c.tasksSet(args[1:])
	}
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("tasks: unknown argument %q (did you mean tasks set?)", pos[0])
	}
	if err := c.open(); err != nil {
		return err
	}
	tasks, err := c.store.Tasks(context.Background())
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		type row struct {
			Name    string   `json:"name"`
			Cron    string   `json:"cron"`
			Enabled bool     `json:"enabled"`
			Next    []string `json:"next"`
		}
		var out []row
		for _, t := range tasks {
			r := row{Name: t.Name, Cron: t.Cron, Enabled: t.Enabled, Next: []string{}}
			next, _ := schedule.Next(t.Cron, now, 3)
			for _, n := range next {
				r.Next = append(r.Next, n.Format(time.RFC3339))
			}
			out = append(out, r)
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATE\tCRON\tNEXT RUNS (local time)")
	for _, t := range tasks {
		next, err := schedule.Next(t.Cron, now, 3)
		var when []string
		for _, n := range next {
			when = append(when, n.Local().Format("Mon 02 Jan 15:04"))
		}
		desc := strings.Join(when, ", ")
		if err != nil {
			desc = err.Error()
		} else if !t.Enabled {
			desc = "(off) would run " + desc
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, onOff(t.Enabled), t.Cron, desc)
	}
	return tw.Flush()
}

func (c *cli) tasksSet(args []string) error {
	fs := flag.NewFlagSet("tasks set", flag.ContinueOnError)
	cron := fs.String("cron", "", "")
	on := fs.Bool("on", false, "")
	off := fs.Bool("off", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "import" && pos[0] != "export") {
		return usagef("tasks set: want import or export (e.g. playmark tasks set import --cron '0 */6 * * *' --on)")
	}
	set := flagsSet(fs)
	if *on && *off {
		return usagef("tasks set: --on and --off together")
	}
	if !set["cron"] && !*on && !*off {
		return usagef("tasks set: nothing to change (give --cron, --on or --off)")
	}
	if set["cron"] {
		if err := schedule.Validate(*cron); err != nil {
			return usagef("%v; nothing saved", err)
		}
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	tasks, err := c.store.Tasks(ctx)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if t.Name != pos[0] {
			continue
		}
		if set["cron"] {
			t.Cron = strings.Join(strings.Fields(*cron), " ")
		}
		if *on {
			t.Enabled = true
		}
		if *off {
			t.Enabled = false
		}
		if err := c.store.SetTask(ctx, t); err != nil {
			return err
		}
		next, _ := schedule.Next(t.Cron, time.Now(), 1)
		msg := fmt.Sprintf("Task %s: %s, cron %q", t.Name, onOff(t.Enabled), t.Cron)
		if t.Enabled && len(next) > 0 {
			msg += ", next run " + next[0].Local().Format("Mon 02 Jan 15:04")
		}
		fmt.Fprintln(c.stdout, msg+".")
		fmt.Fprintln(c.stdout, "Schedules run while the desktop app or playmark daemon is running.")
	}
	return nil
}
