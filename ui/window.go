package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// Window is Playmark's main window: a summary line with Sync now and
// Preview, the four tabs (or the guided first run while there is no
// backend), the progress of a run with Cancel, and a status line.
type Window struct {
	u       *UI
	win     fyne.Window
	visible bool

	summary *widget.Label
	Sync    *widget.Button
	Preview *widget.Button

	banner     *fyne.Container
	bannerText *widget.Label

	Tabs     *container.AppTabs
	Backends *BackendsScreen
	Tasks    *TasksScreen
	Activity *ActivityScreen
	Settings *SettingsScreen
	FirstRun *FirstRun // set while the guided setup shows

	center *fyne.Container

	Progress *ProgressView
	Message  *widget.Label

	loaded bool
	// built says whether the contents above exist. With
	// Deps.LazyWindow they are built when the window is first shown
	// (laying them out loads the fonts, a good part of an idle app's
	// memory); until then pending holds the latest refresh's data,
	// message the status line and noTrayPending the banner.
	built         bool
	pending       *viewData
	message       string
	noTrayPending bool
}

// newWindow makes the window, with its contents unless Deps.LazyWindow.
func newWindow(u *UI) *Window {
	w := &Window{u: u, win: u.app.NewWindow("Playmark")}
	w.win.SetIcon(AppIcon())
	w.win.SetCloseIntercept(w.closeRequested)
	mod := fyne.KeyModifierShortcutDefault
	w.win.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: mod}, func(fyne.Shortcut) { w.closeRequested() })
	w.win.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: mod}, func(fyne.Shortcut) { u.quit() })
	if !u.d.LazyWindow {
		w.build()
	}
	return w
}

// build makes the window's contents, then shows what was left for them.
func (w *Window) build() {
	u := w.u
	w.built = true
	w.summary = widget.NewLabel("")
	w.summary.Truncation = fyne.TextTruncateEllipsis
	w.Sync = widget.NewButtonWithIcon(LabelSync, theme.ViewRefreshIcon(), func() {
		u.startRun("sync", engine.RunOptions{Trigger: "window"}, nil)
	})
	w.Sync.Importance = widget.HighImportance
	w.Preview = widget.NewButtonWithIcon("Preview", theme.VisibilityIcon(), func() { u.preview("window") })
	header := container.NewBorder(nil, nil, nil, container.NewHBox(w.Preview, w.Sync), w.summary)

	w.bannerText = widget.NewLabel("")
	w.bannerText.Wrapping = fyne.TextWrapWord
	w.banner = container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()),
		widget.NewButton("OK", func() { w.banner.Hide() }), w.bannerText)
	w.banner.Hide()

	w.Backends = newBackendsScreen(u)
	w.Tasks = newTasksScreen(u)
	w.Activity = newActivityScreen(u)
	w.Settings = newSettingsScreen(u)
	w.Tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Backends", theme.StorageIcon(), w.Backends.content),
		container.NewTabItemWithIcon("Tasks", theme.HistoryIcon(), w.Tasks.content),
		container.NewTabItemWithIcon("Activity", theme.ListIcon(), w.Activity.content),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), w.Settings.content),
	)
	w.center = container.NewStack(w.Tabs)

	w.Progress = newProgressView(u)
	w.Message = widget.NewLabel(w.message)
	w.Message.Truncation = fyne.TextTruncateEllipsis

	top := container.NewVBox(header, w.banner, widget.NewSeparator())
	bottom := container.NewVBox(w.Progress.content, widget.NewSeparator(), w.Message)
	w.win.SetContent(container.NewBorder(top, bottom, nil, nil, w.center))
	w.win.Resize(fyne.NewSize(940, 640))

	if w.noTrayPending {
		w.noTray()
	}
	if d := w.pending; d != nil {
		w.pending = nil
		w.apply(*d)
	}
}

// Visible says whether the window is shown.
func (w *Window) Visible() bool { return w.visible }

// Show shows the window and brings it forward; with Deps.LazyWindow,
// the first time, it builds the contents from the latest data.
func (w *Window) Show() {
	if !w.built {
		w.build()
	}
	w.win.Show()
	w.win.RequestFocus()
	w.visible = true
}

// Hide hides the window; the app lives on in the tray.
func (w *Window) Hide() {
	w.win.Hide()
	w.visible = false
}

// closeRequested is the window's close button and Ctrl+W: hide to the
// tray when there is one, else quit.
func (w *Window) closeRequested() {
	if w.u.hasTray() {
		w.Hide()
		return
	}
	w.u.quit()
}

// NoTray says, once, that there is no tray and what that means.
func (u *UI) NoTray() { u.Window.noTray() }

func (w *Window) noTray() {
	if !w.built {
		w.noTrayPending = true
		return
	}
	w.bannerText.SetText("This desktop shows no system tray, so Playmark runs from this window: closing it quits Playmark, and schedules run only while it is open.")
	w.banner.Show()
}

// setMessage shows a line in the status bar.
func (w *Window) setMessage(msg string) {
	if !w.built {
		w.message = msg
		return
	}
	w.Message.SetText(msg)
}

// apply shows a refresh's data (kept for build until the contents
// exist).
func (w *Window) apply(d viewData) {
	if !w.built {
		w.pending = &d
		return
	}
	if !w.loaded {
		w.loaded = true
		switch {
		case len(d.backends) == 0:
			w.startFirstRun()
		case !hasRealRun(d.runs):
			// Set up but never imported (the setup was left half way):
			// go on from the preview.
			w.startFirstRun()
			for _, b := range d.backends {
				w.FirstRun.Added = append(w.FirstRun.Added, b.Name)
			}
			w.FirstRun.stepPreview()
		}
	}
	w.summary.SetText(summaryText(d.snap))
	// The guided setup has its own preview and import.
	idle := !d.snap.Status.Running && len(d.backends) > 0 && w.FirstRun == nil
	setEnabled(w.Sync, idle)
	setEnabled(w.Preview, idle)
	w.Progress.set(d.snap.Status)
	w.Backends.apply(d)
	w.Tasks.apply(d)
	w.Activity.apply(d)
	w.Settings.apply(d)
	if w.FirstRun != nil {
		w.FirstRun.apply(d)
	}
	w.Tabs.Items[2].Text = "Activity"
	if n := d.snap.Overview.Held; n > 0 {
		w.Tabs.Items[2].Text = "Activity (" + plural(n, "held export") + ")"
	}
	w.Tabs.Refresh()
}

// hasRealRun says whether any run other than a dry run was recorded (a
// note of a change to the household is no run).
func hasRealRun(runs []state.Run) bool {
	for _, r := range runs {
		if !r.DryRun && r.Kind != state.RunPeople {
			return true
		}
	}
	return false
}

// startFirstRun shows the guided setup in place of the tabs.
func (w *Window) startFirstRun() {
	w.FirstRun = newFirstRun(w.u, w.endFirstRun)
	w.center.Objects = []fyne.CanvasObject{w.FirstRun.content}
	w.center.Refresh()
}

// endFirstRun goes from the guided setup to the tabs.
func (w *Window) endFirstRun() {
	w.FirstRun = nil
	w.center.Objects = []fyne.CanvasObject{w.Tabs}
	w.center.Refresh()
	w.Tabs.SelectIndex(0)
	w.u.d.Engine.Notify() // refresh the header's buttons
}

// showReport shows what a run did (or, dry, would do) in a dialog.
func (w *Window) showReport(title string, rep *engine.Report) {
	rv := newReportView()
	rv.set(rep)
	d := dialog.NewCustom(title, "Close", rv.content, w.win)
	d.Resize(fyne.NewSize(820, 520))
	d.Show()
}

// summaryText is the window's one-line overview: the counts of the
// person Activity's filter shows, or everyone's ("All people", when there
// are two or more).
func summaryText(s Snapshot) string {
	o := s.Overview
	items, watched, progress := o.Items, o.Watched, o.InProgress
	lastImport := o.LastImport
	who := ""
	switch {
	case s.Person != "":
		// One person's marks (the items are everyone's).
		c := s.PersonCounts
		items, watched, progress = c.Items, c.Watched, c.InProgress
		lastImport = s.PersonImport
		who = s.Person + ": "
	case s.People > 1:
		who = "All people: "
	}
	parts := []string{
		who + plural(items, "item"),
		humanize.Comma(int64(watched)) + " watched",
		humanize.Comma(int64(progress)) + " in progress",
		"last import " + shortRun(lastImport, s.Now),
	}
	if s.Paused {
		parts = append(parts, s.pauseText())
	} else if n := s.nextRow(); !strings.Contains(n, "none") {
		parts = append(parts, strings.ToLower(n[:1])+n[1:])
	}
	return strings.Join(parts, " · ")
}

// shortRun is a run's result and age: "ok 2 h ago", "never".
func shortRun(r engine.RunInfo, now time.Time) string {
	if r.ID == 0 {
		return "never"
	}
	return r.Status + " " + engine.Ago(r.Finished, now)
}

func setEnabled(b interface {
	Enable()
	Disable()
}, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// ProgressView is the progress of the run in progress: what it is
// doing, a bar per backend (its phase and count, waiting, done or
// failed), and Cancel. A status without backends (the run has not come
// to one yet) shows one bar (a moving one while the total is unknown).
type ProgressView struct {
	content  *fyne.Container
	Bar      *widget.ProgressBar
	Infinite *widget.ProgressBarInfinite
	Label    *widget.Label
	Cancel   *widget.Button
	Rows     []*BackendProgress
	bars     *fyne.Container // the single bar
	rows     *fyne.Container // the bars per backend, in one or two columns
}

// BackendProgress is one backend's row of the progress.
type BackendProgress struct {
	Icon     *widget.Icon
	Name     *widget.Label
	Bar      *widget.ProgressBar
	Infinite *widget.ProgressBarInfinite
	State    *widget.Label
	right    fyne.CanvasObject
	left     fyne.CanvasObject
}

func newBackendProgress() *BackendProgress {
	r := &BackendProgress{Icon: widget.NewIcon(theme.MoreHorizontalIcon()), Name: widget.NewLabel(""),
		Bar: widget.NewProgressBar(), Infinite: widget.NewProgressBarInfinite(), State: widget.NewLabel("")}
	r.Name.TextStyle.Bold = true
	r.State.Truncation = fyne.TextTruncateEllipsis
	r.Bar.TextFormatter = func() string { return "" }
	r.Infinite.Stop()
	r.Infinite.Hide()
	r.left = container.NewHBox(r.Icon, r.Name)
	r.State.Alignment = fyne.TextAlignCenter
	r.right = container.NewStack(r.Bar, r.Infinite, r.State) // the words on the bar
	return r
}

func newProgressView(u *UI) *ProgressView {
	p := &ProgressView{
		Bar:      widget.NewProgressBar(),
		Infinite: widget.NewProgressBarInfinite(),
		Label:    widget.NewLabel(""),
	}
	p.Cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if u.d.Engine.Cancel() {
			p.Label.SetText(p.Label.Text + " (cancelling…)")
		}
	})
	p.Infinite.Stop()
	p.Infinite.Hide()
	p.bars = container.NewStack(p.Bar, p.Infinite)
	p.rows = container.NewGridWithColumns(1)
	p.rows.Hide()
	p.content = container.NewBorder(nil, nil, nil, container.NewCenter(p.Cancel), container.NewVBox(p.Label, p.bars, p.rows))
	p.content.Hide()
	return p
}

func (p *ProgressView) set(st engine.Status) {
	if !st.Running {
		if p.content.Visible() {
			p.Infinite.Stop()
			for _, r := range p.Rows {
				r.Infinite.Stop()
			}
			p.content.Hide()
		}
		return
	}
	p.Label.SetText(progressHeadline(st))
	switch {
	case len(st.Backends) > 0:
		p.Infinite.Stop()
		p.Infinite.Hide()
		p.Bar.Hide()
		p.bars.Hide()
		p.setRows(st)
	case st.Total > 0:
		p.rows.Hide()
		p.bars.Show()
		p.Infinite.Stop()
		p.Infinite.Hide()
		p.Bar.Show()
		p.Bar.Max = float64(st.Total)
		p.Bar.SetValue(float64(min(st.Done, st.Total)))
	default:
		p.rows.Hide()
		p.bars.Show()
		p.Bar.Hide()
		p.Infinite.Show()
		p.Infinite.Start()
	}
	p.content.Show()
}

// progressHeadline is the run's line above the bars: what it does now,
// and with several backends how many are done and failed.
func progressHeadline(st engine.Status) string {
	s := ProgressText(st)
	if len(st.Backends) < 2 {
		return s
	}
	// Done with this phase (in a sync, an import done is still to
	// export); failed in any.
	done, failed := 0, 0
	for _, b := range st.Backends {
		switch {
		case b.State == engine.BackendFailed:
			failed++
		case b.State == engine.BackendDone && b.Phase == st.Phase:
			done++
		}
	}
	phase := st.Phase
	if phase == "" {
		phase = st.Kind
	}
	s += fmt.Sprintf(" · %s: %d of %d backends done", phase, done, len(st.Backends))
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	return s
}

// setRows shows a row per backend: up to four in one column, more in two.
func (p *ProgressView) setRows(st engine.Status) {
	n := len(st.Backends)
	if n != len(p.Rows) {
		for _, r := range p.Rows[min(n, len(p.Rows)):] {
			r.Infinite.Stop()
		}
		for len(p.Rows) < n {
			p.Rows = append(p.Rows, newBackendProgress())
		}
		p.Rows = p.Rows[:n]
		cols := 1
		if n > 4 {
			cols = 2
		}
		forms := make([]*fyne.Container, cols)
		for i := range forms {
			forms[i] = container.New(layout.NewFormLayout())
		}
		per := (n + cols - 1) / cols
		for i, r := range p.Rows {
			forms[i/per].Add(r.left)
			forms[i/per].Add(r.right)
		}
		p.rows.Objects = nil
		for _, f := range forms {
			p.rows.Add(f)
		}
		p.rows.Layout = layout.NewGridLayoutWithColumns(cols)
		p.rows.Refresh()
	}
	for i, b := range st.Backends {
		p.Rows[i].set(b, st)
	}
	p.rows.Show()
}

// set shows one backend's part of the run.
func (r *BackendProgress) set(b engine.BackendStatus, st engine.Status) {
	r.Name.SetText(b.Name)
	showBar := func(done, total int) {
		r.Infinite.Stop()
		r.Infinite.Hide()
		r.Bar.Max = float64(max(total, 1))
		r.Bar.SetValue(float64(min(done, max(total, 1))))
		r.Bar.Show()
	}
	switch b.State {
	case engine.BackendWaiting:
		r.Icon.SetResource(theme.MoreHorizontalIcon())
		r.State.SetText("waiting")
		showBar(0, 1)
	case engine.BackendDone:
		r.Icon.SetResource(theme.ConfirmIcon())
		text := b.Phase + " done"
		if b.Done > 0 {
			text += " · " + plural(b.Done, "item")
		}
		r.State.SetText(text)
		showBar(1, 1)
	case engine.BackendFailed:
		r.Icon.SetResource(theme.ErrorIcon())
		r.State.SetText("failed: " + b.Error)
		r.Infinite.Stop()
		r.Infinite.Hide()
		r.Bar.Hide()
	default:
		r.Icon.SetResource(theme.MediaPlayIcon())
		text := verb(st.Kind, b.Phase, st.DryRun)
		switch {
		case b.Total > 0:
			text += fmt.Sprintf(": %s/%s", commas(b.Done), commas(b.Total))
			showBar(b.Done, b.Total)
		default:
			if b.Done > 0 {
				text += ": " + plural(b.Done, "item")
			} else {
				text += "…"
			}
			r.Bar.Hide()
			r.Infinite.Show()
			r.Infinite.Start()
		}
		r.State.SetText(text)
	}
}
