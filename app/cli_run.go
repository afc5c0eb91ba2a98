package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// runCmd is import, export and sync.
func (c *cli) runCmd(kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	var backends multi
	if kind != "sync" {
		fs.Var(&backends, "backend", "")
	}
	full := fs.Bool("full", false, "")
	dry := fs.Bool("dry-run", false, "")
	yes := false
	if kind != "import" {
		fs.BoolVar(&yes, "yes", false, "")
	}
	quiet := fs.Bool("quiet", false, "")
	person := fs.String("person", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s: unexpected argument %q (name backends with --backend NAME)", kind, pos[0])
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx, cancel := c.runContext()
	defer cancel()
	if len(backends) == 0 {
		if err := c.needBackends(ctx, kind); err != nil {
			return err
		}
	}
	// An import's dry run also plans, per server, what an export would
	// then write there, export on or off: what a first import means for
	// each server.
	opt := engine.RunOptions{Backends: backends, Full: *full, DryRun: *dry, Yes: yes, Trigger: "cli", PlanExports: kind == "import" && *dry}
	if opt.Person, err = c.personID(ctx, *person); err != nil { // cli_people.go
		return err
	}
	line := newProgressLine(c.stderr, *quiet)
	opt.Progress = line.update
	var rep *engine.Report
	switch kind {
	case "import":
		rep, err = c.engine.Import(ctx, opt)
	case "export":
		rep, err = c.engine.Export(ctx, opt)
	default:
		rep, err = c.engine.Sync(ctx, opt)
	}
	line.clear()
	if errors.Is(err, state.ErrNotFound) {
		return usageError{err.Error()}
	}
	return c.finishRun(ctx, rep, err)
}

// needBackends refuses a run when there is no backend at all, before a
// run is recorded: the user's next step is to add one.
func (c *cli) needBackends(ctx context.Context, kind string) error {
	bs, err := c.store.Backends(ctx)
	if errors.Is(err, state.ErrTokenUnavailable) {
		return nil // there are backends; the run says which token is missing
	}
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		return usagef("%s: there are no backends yet; add one first: playmark backend add NAME --type plex|jellyfin|emby --url URL --token-stdin (playmark backend add --help)", kind)
	}
	return nil
}

// finishRun prints a run's report, when there is one, and turns how the
// run ended into the command's error. ctx is the run's: once it is
// cancelled (Ctrl+C), whatever error the run stopped with is a
// cancellation, not a failure ("sql: statement is closed").
func (c *cli) finishRun(ctx context.Context, rep *engine.Report, err error) error {
	if rep != nil {
		printReport(c.stdout, rep)
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || (rep != nil && rep.Status == state.RunCancelled) {
		if err != nil || ctx.Err() != nil {
			msg := "cancelled: the batch being written was rolled back; what was committed is consistent"
			if rep != nil {
				msg = fmt.Sprintf("cancelled: run %d stopped; the batch being written was rolled back, what was committed is consistent (the figures above are those so far)", rep.RunID)
			}
			return cancelledError{msg}
		}
	}
	if err != nil {
		return err
	}
	if rep.Status == state.RunFailed {
		return failedError{"failed: " + rep.FailedReason}
	}
	return nil
}

// printReport prints a run's summary: per backend, what it read and did.
func printReport(w io.Writer, rep *engine.Report) {
	title := strings.ToUpper(rep.Kind[:1]) + rep.Kind[1:]
	if rep.DryRun {
		title += " (dry run: nothing was written)"
	}
	fmt.Fprintf(w, "%s #%d, %s in %s\n", title, rep.RunID, rep.Status, rep.Finished.Sub(rep.Started).Round(time.Millisecond))
	if len(rep.Backends) == 0 {
		fmt.Fprintln(w, "  No backend to work on: add one (playmark backend add) or turn its import/export on.")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PHASE\tBACKEND\tMODE\tREAD\tNEW\tCHANGED\tSKIPPED\tFAILED\tUNMATCHED\tREQUESTS\tTIME\tRESULT")
	for _, b := range rep.Backends {
		res := "ok"
		switch {
		case b.Error == "":
		case rep.Status == state.RunCancelled && !errors.Is(b.Err, backend.ErrUnauthorized):
			// Stopped by Ctrl+C: what it stopped with is no failure.
			res = "cancelled"
		default:
			res = oneLine(b.Error)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", b.Phase, b.Backend, b.Mode, b.Read, b.Added, b.Changed, b.Skipped, b.Failed,
			b.Unmatched, b.Requests, b.Duration.Round(time.Millisecond), res)
	}
	tw.Flush()
	added, plans := 0, 0
	for _, b := range rep.Backends {
		added += b.Added
		if b.Phase == "export" && rep.Kind == "import" { // an import's dry run: plans

			plans++
		}
	}
	if rep.DryRun && added > 0 {
		fmt.Fprintf(w, "NEW: %d items Playmark would know from now on, with their watch state; that changes nothing on a server.\n", added)
	}
	if plans > 0 {
		fmt.Fprintln(w, "Per server, what would change there once its export is on (each change is listed below):")
		for _, b := range rep.Backends {
			if b.Phase != "export" {
				continue
			}
			off := ""
			if b.ExportOff {
				off = " (export off)"
			}
			fmt.Fprintf(w, "  %s%s: %s\n", b.Backend, off, b.PlanText())
		}
	}
	for _, b := range rep.Backends {
		if b.Found != "" {
			// How a quick import found what a listing by date cannot show.
			fmt.Fprintf(w, "  %s: %s\n", b.Backend, b.Found)
		}
	}
	if len(rep.Changes) > 0 {
		verb := "Changes"
		if rep.DryRun {
			verb = "Planned changes"
		}
		fmt.Fprintf(w, "%s:\n", verb)
		shown := rep.Changes
		if len(shown) > 50 {
			shown = shown[:50]
		}
		for _, ch := range shown {
			fmt.Fprintf(w, "  %-34s %-10s %s -> %s (%s)\n", ch.Item, ch.Target, ch.Before, ch.After, ch.Reason)
		}
		if more := len(rep.Changes) - len(shown) + rep.MoreChanges; more > 0 {
			fmt.Fprintf(w, "  ... and %d more (playmark history --run %d)\n", more, rep.RunID)
		}
	} else {
		fmt.Fprintln(w, "No changes.")
	}
	for _, b := range rep.Backends {
		if b.WouldHold && rep.DryRun {
			fmt.Fprintf(w, "Would be held: the %s to %s would mark %d of its %d watched items unwatched; the mass-change guard holds that until --yes or playmark held apply %s.\n",
				rep.Kind, b.Backend, b.WouldUnwatch, b.WouldOf, b.Backend)
		}
	}
	for _, h := range rep.Held {
		fmt.Fprintf(w, "Held: the export to %s would mark %d of its %d watched items unwatched. Check, then: playmark held apply %s (or discard).\n",
			h.Backend, h.Unwatches, h.Watched, h.Backend)
	}
	if rep.Unmatched > 0 {
		fmt.Fprintf(w, "%d items have no usable ids and were left alone: playmark unmatched\n", rep.Unmatched)
	}
}

// progressLine draws "Importing plex: 1,240 items" on a terminal.
type progressLine struct {
	w     io.Writer
	on    bool
	last  time.Time
	drawn bool
}

func newProgressLine(w io.Writer, quiet bool) *progressLine {
	f, ok := w.(*os.File)
	on := !quiet && ok && isTerminal(f)
	return &progressLine{w: w, on: on}
}

func (p *progressLine) update(st engine.Status) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond || st.Backend == "" {
		return
	}
	p.last = time.Now()
	verb := map[string]string{"import": "Importing", "export": "Exporting", "restore": "Restoring"}[st.Phase]
	if verb == "" {
		verb = st.Phase
	}
	msg := fmt.Sprintf("%s %s: %d items", verb, st.Backend, st.Done)
	if st.Total > 0 {
		msg = fmt.Sprintf("%s %s: %d/%d", verb, st.Backend, st.Done, st.Total)
	}
	fmt.Fprintf(p.w, "\r\033[K%s", msg)
	p.drawn = true
}

func (p *progressLine) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (c *cli) statusCmd(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	person := fs.String("person", "", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := c.openRead(); err != nil {
		return err
	}
	ctx := context.Background()
	snap, err := c.engine.Overview(ctx, nil)
	if err != nil {
		return err
	}
	pid, err := c.personID(ctx, *person) // cli_people.go
	if err == nil {
		err = c.narrowOverview(ctx, &snap, pid)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, snap)
	}
	fmt.Fprintf(c.stdout, "Playmark %s, data in %s\n", Version, c.configDir)
	fmt.Fprintf(c.stdout, "Items: %d (%d watched, %d in progress), %d unmatched, %d held exports\n",
		snap.Items, snap.Watched, snap.InProgress, snap.Unmatched, snap.Held)
	fmt.Fprintf(c.stdout, "Last import: %s\nLast export: %s\n", snap.LastImport.Describe(time.Now()), snap.LastExport.Describe(time.Now()))
	for _, t := range snap.Tasks {
		next := "off"
		if t.Enabled && t.Next != nil {
			next = "next " + t.Next.Local().Format("Mon 02 Jan 15:04")
		}
		fmt.Fprintf(c.stdout, "Task %s: %s (%s)\n", t.Name, next, t.Cron)
	}
	for _, b := range snap.Backends {
		fmt.Fprintf(c.stdout, "Backend %s (%s): %s; import %s, export %s; last import %s\n",
			b.Name, b.Type, b.Health, b.Import, onOff(b.Export), ago(b.LastImport))
	}
	return nil
}

func (c *cli) historyCmd(args []string) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	limit := fs.Int("limit", 20, "")
	runID := fs.Int64("run", 0, "")
	person := fs.String("person", "", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *limit <= 0 {
		return usagef("history: --limit must be positive")
	}
	if err := c.openRead(); err != nil {
		return err
	}
	ctx := context.Background()
	pid, err := c.personID(ctx, *person) // cli_people.go
	if err != nil {
		return err
	}
	if set := flagsSet(fs); set["run"] && *runID <= 0 {
		return usagef("history: --run wants a run number (playmark history lists them)")
	}
	if *runID > 0 {
		var n int
		if err := c.store.DB().QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id=?`, *runID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return usagef("history: there is no run %d (playmark history lists the runs)", *runID)
		}
		changes, err := c.store.ChangesFor(ctx, *runID, pid, *limit*100)
		if err != nil {
			return err
		}
		if *asJSON {
			if changes == nil {
				changes = []state.Change{}
			}
			return writeJSON(c.stdout, changes)
		}
		if len(changes) == 0 {
			fmt.Fprintf(c.stdout, "Run %d changed nothing.\n", *runID)
		}
		for _, ch := range changes {
			fmt.Fprintf(c.stdout, "%s  %-34s %-10s %s -> %s (%s)\n", ch.At.Local().Format("2006-01-02 15:04:05"), ch.Item, ch.Target, ch.Before, ch.After, ch.Reason)
		}
		return nil
	}
	runs, err := c.store.Runs(ctx, *limit)
	if err == nil {
		runs, err = c.narrowRuns(ctx, runs, pid)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if runs == nil {
			runs = []state.Run{}
		}
		return writeJSON(c.stdout, runs)
	}
	if len(runs) == 0 {
		fmt.Fprintln(c.stdout, "No runs yet: playmark sync --dry-run shows what a first sync would do.")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tWHEN\tKIND\tBY\tSTATUS\tTOOK\tBACKENDS (read/changed/skipped/failed)")
	for _, r := range runs {
		kind := r.Kind
		if r.DryRun {
			kind += " (dry)"
		}
		took := "-"
		if !r.Finished.IsZero() {
			took = r.Finished.Sub(r.Started).String()
		}
		var parts []string
		for _, b := range r.Backends {
			p := fmt.Sprintf("%s %s %d/%d/%d/%d", b.Phase, b.Backend, b.Read, b.Changed, b.Skipped, b.Failed)
			if b.Error != "" {
				p += " [" + oneLine(b.Error) + "]"
			}
			parts = append(parts, p)
		}
		if len(parts) == 0 && r.Status == state.RunInterrupted {
			parts = append(parts, "(the process stopped before any backend finished a phase)")
		}
		if len(parts) == 0 && r.Kind == state.RunPeople {
			parts = append(parts, r.Message) // a note: a person removed, a held export dropped
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04"), kind, r.Trigger, r.Status, took, strings.Join(parts, "; "))
	}
	return tw.Flush()
}

func (c *cli) heldCmd(args []string) error {
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	if len(args) == 0 {
		held, err := c.store.HeldExports(ctx)
		if err != nil {
			return err
		}
		if len(held) == 0 {
			fmt.Fprintln(c.stdout, "No exports are held.")
		}
		for _, h := range held {
			fmt.Fprintf(c.stdout, "%s: would mark %d of %d watched items unwatched (run %d, %s). playmark held apply|discard %s\n",
				h.Backend, h.Unwatches, h.Watched, h.RunID, ago(h.Created), h.Backend)
		}
		return nil
	}
	if len(args) != 2 || (args[0] != "apply" && args[0] != "discard") {
		return usagef("held: want 'held', 'held apply NAME' or 'held discard NAME'")
	}
	name := args[1]
	if _, err := c.store.Backend(ctx, name); err != nil {
		return err
	}
	if args[0] == "discard" {
		if err := c.engine.DiscardHeld(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Discarded the held export to %s: those un-watches will not be sent to it.\n", name)
		return nil
	}
	rctx, cancel := c.runContext()
	defer cancel()
	rep, err := c.engine.Export(rctx, engine.RunOptions{Backends: []string{name}, Yes: true, Trigger: "cli"})
	return c.finishRun(rctx, rep, err)
}

func (c *cli) unmatchedCmd(args []string) error {
	fs := flag.NewFlagSet("unmatched", flag.ContinueOnError)
	limit := fs.Int("limit", 100, "")
	asJSON := fs.Bool("json", false, "")
	person := fs.String("person", "", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := c.openRead(); err != nil {
		return err
	}
	pid, err := c.personID(context.Background(), *person) // cli_people.go
	if err != nil {
		return err
	}
	items, err := c.store.UnmatchedItemsFor(context.Background(), pid, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		if items == nil {
			items = []state.Unmatched{}
		}
		return writeJSON(c.stdout, items)
	}
	if len(items) == 0 {
		fmt.Fprintln(c.stdout, "Every item matched.")
		return nil
	}
	fmt.Fprintln(c.stdout, "These items have no external id (IMDb, TMDB, TVDB...) that Playmark can match on. Fix their")
	fmt.Fprintln(c.stdout, "metadata on the server (identify / refresh metadata), then run an import again.")
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tID\tITEM\tPATH")
	for _, u := range items {
		label := u.Title
		if u.Type == "episode" {
			label = fmt.Sprintf("%s S%02dE%02d %s", u.ShowTitle, u.Season, u.Episode, u.Title)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Backend, u.RemoteID, label, u.Path)
	}
	return tw.Flush()
}
