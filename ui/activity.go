package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// ActivityScreen shows the history: the runs (when, what, who started
// it, how it went, how long, and per backend what was read, changed,
// skipped and failed) with the changes of the selected run; the items
// that could not be matched; and the exports the mass-change guard holds,
// each with Apply and Discard.
type ActivityScreen struct {
	u       *UI
	content fyne.CanvasObject
	Tabs    *container.AppTabs

	Runs *widget.Table
	runs []state.Run
	// PersonFilter shows one person's runs and changes ("Everyone": all);
	// shown when there is more than one person.
	PersonFilter *widget.Select
	person       int64 // the person shown; 0 for everyone
	people       []state.Person
	last         viewData // the latest data, for the filter to reapply
	Selected     int64    // the selected run's id; 0 for none
	Detail       *widget.Label
	Changes      *widget.List
	changes      []state.Change
	// selStatus is the selected run's status when its changes were read
	// (a running run's changes are read again when it ends); reselecting
	// says Runs.Select is only keeping the selection on its run.
	selStatus   string
	reselecting bool
	selRow      int // the table row selected (highlighted); -1 for none
	selCol      int // and its column (the cell tapped)
	widths      []float32

	Unmatched *widget.List
	unmatched []state.Unmatched
	unmHelp   *widget.Label

	filterBar *fyne.Container

	HeldBox *fyne.Container
	Held    []*HeldRow
	heldSig string
	confirm dialog.Dialog
}

// HeldRow is one held export.
type HeldRow struct {
	H       state.Held
	Text    *widget.Label
	Apply   *widget.Button
	Discard *widget.Button
}

var runColumns = []string{"When", "What", "By", "Status", "Took", "Read", "New", "Changed", "Skipped", "Failed"}

// runSamples are the widest texts a column commonly holds, so that the
// columns do not change width with every run.
var runSamples = []string{"Wed 30 Sep 23:59", "export (dry run)", "schedule", "cancelled", "59m59s", "100,000", "100,000", "100,000", "10,000", "10,000"}

// maxListedChanges bounds the changes of a run read for the detail.
const maxListedChanges = 100_000

// cellWidth is the width a table cell needs to show text whole.
func cellWidth(text string, bold bool) float32 {
	return fyne.MeasureText(text, theme.TextSize(), fyne.TextStyle{Bold: bold}).Width + 2*theme.InnerPadding() + 2
}

// RunColumnWidths is how wide each column of the runs table must be to
// show its header and every cell of runs whole.
func RunColumnWidths(runs []state.Run) []float32 {
	w := make([]float32, len(runColumns))
	for i, h := range runColumns {
		w[i] = max(cellWidth(h, true), cellWidth(runSamples[i], false))
	}
	for _, r := range runs {
		for i, c := range RunCells(r) {
			w[i] = max(w[i], cellWidth(c, false))
		}
	}
	return w
}

func newActivityScreen(u *UI) *ActivityScreen {
	s := &ActivityScreen{u: u, selRow: -1}
	s.Runs = widget.NewTableWithHeaders(
		func() (int, int) { return len(s.runs), len(runColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row < len(s.runs) {
				o.(*widget.Label).SetText(RunCells(s.runs[id.Row])[id.Col])
			}
		})
	s.Runs.ShowHeaderColumn = false
	s.Runs.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	s.Runs.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 && id.Col < len(runColumns) {
			o.(*widget.Label).SetText(runColumns[id.Col])
		}
	}
	s.setWidths(RunColumnWidths(nil))
	s.Runs.OnSelected = func(id widget.TableCellID) {
		s.selRow, s.selCol = id.Row, id.Col
		if !s.reselecting && id.Row >= 0 && id.Row < len(s.runs) {
			s.selectRun(s.runs[id.Row])
		}
	}
	s.Detail = widget.NewLabel("Select a run to see what it changed.")
	s.Detail.Wrapping = fyne.TextWrapWord
	s.Changes = textList(func() int { return len(s.changes) }, func(i int) string { return ChangeText(s.changes[i]) })
	// The detail pane gets most of the height: the figures, then every
	// change of the run in a list that scrolls.
	split := container.NewVSplit(s.Runs, container.NewBorder(s.Detail, nil, nil, nil, s.Changes))
	split.Offset = 0.4
	s.PersonFilter = widget.NewSelect([]string{everyone}, func(name string) { s.filterPerson(name) })
	s.PersonFilter.Selected = everyone
	filterBar := container.NewHBox(widget.NewLabel("Person:"), s.PersonFilter)
	s.PersonFilter.Hide()
	s.filterBar = filterBar

	s.unmHelp = widget.NewLabel("")
	s.unmHelp.Wrapping = fyne.TextWrapWord
	s.Unmatched = textList(func() int { return len(s.unmatched) }, func(i int) string { return UnmatchedText(s.unmatched[i]) })

	s.HeldBox = container.NewVBox()
	s.Tabs = container.NewAppTabs(
		container.NewTabItem("Runs", container.NewBorder(filterBar, nil, nil, nil, split)),
		container.NewTabItem("Unmatched", container.NewBorder(s.unmHelp, nil, nil, nil, s.Unmatched)),
		container.NewTabItem("Held", container.NewVScroll(s.HeldBox)),
	)
	s.content = s.Tabs
	return s
}

// RunCells is a run as the columns of the runs table.
func RunCells(r state.Run) []string {
	what := r.Kind
	if r.DryRun {
		what += " (dry run)"
	}
	took := "-"
	if !r.Finished.IsZero() {
		took = tookText(r.Finished.Sub(r.Started))
	}
	var read, added, changed, skipped, failed int
	for _, b := range r.Backends {
		read += b.Read
		added += b.Added
		changed += b.Changed
		skipped += b.Skipped
		failed += b.Failed
	}
	return []string{r.Started.Local().Format("Mon 02 Jan 15:04"), what, r.Trigger, r.Status, took,
		commas(read), commas(added), commas(changed), commas(skipped), commas(failed)}
}

// RunDetail is a run's per-backend figures and message.
func RunDetail(r state.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run #%d, %s by %s, %s", r.ID, RunCells(r)[1], r.Trigger, r.Status)
	if r.Message != "" {
		b.WriteString(": " + r.Message)
	}
	for _, x := range r.Backends {
		if x.Mode == "" {
			x.Mode = "-"
		}
		fmt.Fprintf(&b, "\n%s %s (%s): %s read, %s new, %s changed, %d skipped, %d failed, %d unmatched, %d requests, %s",
			x.Phase, x.Backend, x.Mode, commas(x.Read), commas(x.Added), commas(x.Changed), x.Skipped, x.Failed, x.Unmatched, x.Requests,
			x.Duration.Round(time.Millisecond))
		if x.Error != "" {
			b.WriteString(": " + x.Error)
		}
	}
	if r.DryRun {
		b.WriteString("\nA dry run writes nothing, so it leaves no changes in the history.")
	}
	return b.String()
}

// UnmatchedText is an unmatched item: backend, label, path.
func UnmatchedText(x state.Unmatched) string {
	label := x.Title
	if x.Type == "episode" {
		label = fmt.Sprintf("%s S%02dE%02d %s", x.ShowTitle, x.Season, x.Episode, x.Title)
	}
	s := x.Backend + ": " + label
	if x.Path != "" {
		s += "  (" + x.Path + ")"
	}
	return s
}

// setWidths sets the columns' widths when they changed.
func (s *ActivityScreen) setWidths(w []float32) {
	if slices.Equal(w, s.widths) {
		return
	}
	s.widths = w
	for i, x := range w {
		s.Runs.SetColumnWidth(i, x)
	}
}

func (s *ActivityScreen) apply(d viewData) {
	s.last = d
	s.setPeople(d.people)
	s.runs = RunsFor(d.runs, d.backends, s.person)
	s.setWidths(RunColumnWidths(d.runs))
	s.Runs.Refresh()
	s.keepSelection()

	s.unmatched = d.unmatched
	switch n := d.snap.Overview.Unmatched; {
	case n == 0:
		s.unmHelp.SetText("Every item matched.")
	default:
		s.unmHelp.SetText(fmt.Sprintf("%s have no external id (IMDb, TMDB, TVDB…) that Playmark can match on, so they were left alone. "+
			"Fix their metadata on the server (identify, or refresh metadata), then import again.", plural(n, "item")))
	}
	s.Unmatched.Refresh()
	s.Tabs.Items[1].Text = "Unmatched"
	if n := d.snap.Overview.Unmatched; n > 0 {
		s.Tabs.Items[1].Text = "Unmatched (" + commas(n) + ")"
	}
	s.applyHeld(d.held, d.snap.Now)
	s.Tabs.Refresh()
}

// keepSelection keeps the selection and the detail on the selected run
// when the list changed under it (new runs come first, moving it down).
func (s *ActivityScreen) keepSelection() {
	if s.Selected == 0 {
		return
	}
	for i, r := range s.runs {
		if r.ID != s.Selected {
			continue
		}
		s.reselecting = true
		s.Runs.Select(widget.TableCellID{Row: i, Col: s.selCol})
		s.reselecting = false
		if r.Status != s.selStatus {
			s.selectRun(r) // it ended: read its changes again
		} else {
			s.Detail.SetText(s.detail(r))
		}
		return
	}
	// Gone from the list (older than the runs listed).
	s.Selected, s.selRow = 0, -1
	s.Runs.UnselectAll()
	s.Detail.SetText("Select a run to see what it changed.")
	s.changes = nil
	s.Changes.Refresh()
}

// selectRun shows a run's figures at once, and its changes once read
// (off the UI thread).
func (s *ActivityScreen) selectRun(r state.Run) {
	s.Selected, s.selStatus = r.ID, r.Status
	s.Detail.SetText(RunDetail(r) + "\nReading its changes…")
	var changes []state.Change
	var err error
	s.u.goBg(func() {
		if person := s.person; person != 0 {
			changes, err = s.u.st.ChangesFor(s.u.ctx, r.ID, person, maxListedChanges)
		} else {
			changes, err = s.u.st.Changes(s.u.ctx, r.ID, maxListedChanges)
		}
	}, func() {
		if s.Selected != r.ID {
			return // another run was selected meanwhile
		}
		s.changes = changes
		s.Changes.Refresh()
		s.Changes.ScrollToTop()
		if err != nil {
			s.Detail.SetText(RunDetail(r) + "\nCould not read its changes: " + err.Error())
			return
		}
		for _, x := range s.runs {
			if x.ID == r.ID {
				r = x
			}
		}
		s.Detail.SetText(s.detail(r))
	})
}

// detail is the selected run's figures and how many changes it made.
func (s *ActivityScreen) detail(r state.Run) string {
	msg := RunDetail(r)
	switch n := len(s.changes); {
	case r.DryRun || r.Status == state.RunRunning:
	case n == 0:
		msg += "\nIt changed no play state."
	case n >= maxListedChanges:
		msg += fmt.Sprintf("\nThe first %s changes (playmark history --run %d lists them all):", commas(n), r.ID)
	default:
		msg += fmt.Sprintf("\n%s:", plural(n, "change"))
	}
	return msg
}

func (s *ActivityScreen) applyHeld(held []state.Held, now time.Time) {
	sig := fmt.Sprint(held, engine.Ago(time.Time{}, now))
	if len(held) > 0 {
		sig = fmt.Sprint(held, engine.Ago(held[0].Created, now))
	}
	if sig == s.heldSig {
		return
	}
	s.heldSig = sig
	s.Held = nil
	s.HeldBox.Objects = nil
	s.Tabs.Items[2].Text = "Held"
	if len(held) == 0 {
		s.HeldBox.Add(widget.NewLabel("No export is held. The mass-change guard holds an export that would mark many items unwatched at once, until you decide."))
	} else {
		s.Tabs.Items[2].Text = fmt.Sprintf("Held (%d)", len(held))
		help := widget.NewLabel("These exports would mark many items unwatched at once, which is more often a mistake (a server reset, a replaced library) than what you did. " +
			"Apply sends them; Discard drops them, and that backend keeps its watched marks.")
		help.Wrapping = fyne.TextWrapWord
		s.HeldBox.Add(help)
	}
	for _, h := range held {
		r := &HeldRow{H: h}
		r.Text = widget.NewLabel(fmt.Sprintf("%s: would mark %d of its %d watched items unwatched (run #%d, %s).",
			h.Backend, h.Unwatches, h.Watched, h.RunID, engine.Ago(h.Created, now)))
		r.Text.Wrapping = fyne.TextWrapWord
		r.Apply = widget.NewButtonWithIcon("Apply…", theme.ConfirmIcon(), func() { s.confirmApply(r) })
		r.Discard = widget.NewButtonWithIcon("Discard", theme.CancelIcon(), func() { s.discard(r) })
		s.Held = append(s.Held, r)
		s.HeldBox.Add(container.NewBorder(nil, nil, nil, container.NewHBox(r.Apply, r.Discard), r.Text))
	}
	s.HeldBox.Refresh()
}

func (s *ActivityScreen) confirmApply(r *HeldRow) {
	h := r.H
	d := dialog.NewConfirm("Apply the held export?",
		fmt.Sprintf("This marks %d items unwatched on %s.", h.Unwatches, h.Backend),
		func(ok bool) {
			s.confirm = nil
			if ok {
				s.apply1(r)
			}
		}, s.u.Window.win)
	d.SetConfirmText("Apply")
	s.confirm = d
	d.Show()
}

// apply1 runs the held export to one backend with the guard lifted.
func (s *ActivityScreen) apply1(r *HeldRow) {
	r.Apply.Disable()
	r.Discard.Disable()
	s.u.startRun("export", engine.RunOptions{Backends: []string{r.H.Backend}, Yes: true, Trigger: "window"}, func(*engine.Report, error) {
		r.Apply.Enable()
		r.Discard.Enable()
	})
}

func (s *ActivityScreen) discard(r *HeldRow) {
	name := r.H.Backend
	r.Apply.Disable()
	r.Discard.Disable()
	var err error
	s.u.goBg(func() {
		err = s.u.d.Engine.DiscardHeld(s.u.ctx, name)
	}, func() {
		r.Apply.Enable()
		r.Discard.Enable()
		if err != nil {
			s.u.Window.setMessage("Could not discard the held export to " + name + ": " + err.Error())
			return
		}
		s.u.Window.setMessage("Discarded the held export to " + name + ": those un-watches will not be sent to it.")
	})
}

// tookText is a run's duration, short.
func tookText(d time.Duration) string {
	switch {
	case d < time.Second:
		return "<1 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	return d.Round(time.Second).String()
}

const everyone = "Everyone"

// setPeople fills the person filter; it shows with two people or more.
func (s *ActivityScreen) setPeople(people []state.Person) {
	s.people = people
	opts := []string{everyone}
	found := false
	for _, p := range people {
		opts = append(opts, p.Name)
		found = found || p.ID == s.person
	}
	if !found {
		s.person = 0
		s.u.person.Store(0)
	}
	s.PersonFilter.Options = opts
	s.PersonFilter.Selected = everyone
	for _, p := range people {
		if p.ID == s.person {
			s.PersonFilter.Selected = p.Name
		}
	}
	s.PersonFilter.Refresh()
	if len(people) > 1 {
		s.PersonFilter.Show()
	} else {
		s.PersonFilter.Hide()
	}
}

// filterPerson shows the runs and changes of the person named name.
func (s *ActivityScreen) filterPerson(name string) {
	id := int64(0)
	for _, p := range s.people {
		if p.Name == name {
			id = p.ID
		}
	}
	if id == s.person {
		return
	}
	s.person = id
	s.u.person.Store(id)
	s.u.d.Engine.Notify() // the status line's counts follow
	s.apply(s.last)
	for _, r := range s.runs {
		if r.ID == s.Selected {
			s.selectRun(r) // its changes, for this person
			return
		}
	}
	s.Selected = 0
	s.Runs.UnselectAll()
	s.Detail.SetText("Select a run to see what it changed.")
	s.changes = nil
	s.Changes.Refresh()
}

// RunsFor is the runs that read or wrote one of person's backends, each
// with the figures of those backends only (0: every run, whole).
func RunsFor(runs []state.Run, backends []state.Backend, person int64) []state.Run {
	if person == 0 {
		return runs
	}
	theirs := map[string]bool{}
	for _, b := range backends {
		if b.PersonID == person {
			theirs[b.Name] = true
		}
	}
	var out []state.Run
	for _, r := range runs {
		// Their backends' figures only: the columns count for them.
		var bs []state.RunBackend
		for _, x := range r.Backends {
			if theirs[x.Backend] {
				bs = append(bs, x)
			}
		}
		if len(bs) > 0 {
			r.Backends = bs
			out = append(out, r)
		}
	}
	return out
}
