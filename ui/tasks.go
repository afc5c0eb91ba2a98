package ui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/state"
)

// TasksScreen shows the two scheduled tasks, import and export, each with
// an on/off switch, its cron expression (checked as it is typed: a valid
// one is saved at once, an invalid one shows why under it and saves
// nothing), its next three runs in local time, and Run now.
type TasksScreen struct {
	u       *UI
	content fyne.CanvasObject
	Import  *TaskRow
	Export  *TaskRow
	loaded  bool
}

// TaskRow is one task.
type TaskRow struct {
	s       *TasksScreen
	saved   state.Task // as last saved
	Enabled *widget.Check
	Cron    *widget.Entry
	Error   *widget.Label // why the cron is invalid; empty when it is fine
	Next    *widget.Label
	RunNow  *widget.Button
	box     fyne.CanvasObject
}

func newTasksScreen(u *UI) *TasksScreen {
	s := &TasksScreen{u: u}
	s.Import = s.newRow("import", "Import", "Reads every backend whose import is on into Playmark.")
	s.Export = s.newRow("export", "Export", "Writes Playmark's state to every backend whose export is on.")
	help := widget.NewLabel("A cron expression has five fields: minute hour day month weekday. " +
		"0 */6 * * * runs every 6 hours, 30 3 * * * at 03:30 every day; @hourly and @daily work too. " +
		"Runs never overlap: one due while another runs is skipped and says so in Activity.")
	help.Wrapping = fyne.TextWrapWord
	help.Importance = widget.LowImportance
	s.content = container.NewVScroll(container.NewVBox(s.Import.box, s.Export.box, help))
	return s
}

func (s *TasksScreen) newRow(name, title, what string) *TaskRow {
	r := &TaskRow{s: s, saved: state.Task{Name: name}}
	r.Enabled = widget.NewCheck("Run on a schedule", nil)
	r.Cron = widget.NewEntry()
	r.Cron.SetPlaceHolder("0 */6 * * *")
	r.Error = widget.NewLabel("")
	r.Error.Importance = widget.DangerImportance
	r.Error.Wrapping = fyne.TextWrapWord
	r.Error.Hide()
	r.Next = widget.NewLabel("")
	r.Next.Wrapping = fyne.TextWrapWord
	r.RunNow = widget.NewButtonWithIcon(title+" now", theme.MediaPlayIcon(), func() {
		s.u.startRun(name, engine.RunOptions{Trigger: "window"}, nil)
	})
	heading := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	desc := widget.NewLabel(what)
	desc.Importance = widget.LowImportance
	form := widget.NewForm(widget.NewFormItem("Cron", r.Cron))
	r.box = widget.NewCard("", "", container.NewVBox(
		container.NewBorder(nil, nil, container.NewHBox(heading, desc), r.RunNow),
		r.Enabled, form, r.Error, r.Next))
	return r
}

// apply loads the tasks once; after that the screen owns their editing
// (a refresh must not overwrite what the user is typing), and only the
// next-run times follow the clock.
func (s *TasksScreen) apply(d viewData) {
	if !s.loaded && d.tasks != nil {
		s.loaded = true
		for _, t := range d.tasks {
			if r := s.row(t.Name); r != nil {
				r.load(t)
			}
		}
	}
	busy := d.snap.Status.Running
	for _, r := range []*TaskRow{s.Import, s.Export} {
		setEnabled(r.RunNow, !busy && len(d.backends) > 0)
		r.showNext(d.snap.Now)
	}
}

func (s *TasksScreen) row(name string) *TaskRow {
	switch name {
	case "import":
		return s.Import
	case "export":
		return s.Export
	}
	return nil
}

func (r *TaskRow) load(t state.Task) {
	r.saved = t
	r.Enabled.OnChanged = nil
	r.Cron.OnChanged = nil
	r.Enabled.SetChecked(t.Enabled)
	r.Cron.SetText(t.Cron)
	r.Enabled.OnChanged = r.enabledChanged
	r.Cron.OnChanged = r.cronChanged
	r.showNext(time.Now())
}

func (r *TaskRow) enabledChanged(on bool) {
	t := r.saved
	t.Enabled = on
	r.save(t)
}

func (r *TaskRow) cronChanged(text string) {
	if err := schedule.Validate(text); err != nil {
		r.Error.SetText(err.Error())
		r.Error.Show()
		r.showNext(time.Now())
		return
	}
	r.Error.SetText("")
	r.Error.Hide()
	t := r.saved
	t.Cron = strings.Join(strings.Fields(text), " ")
	if t.Cron != r.saved.Cron {
		r.save(t)
	}
	r.showNext(time.Now())
}

// save saves the task off the UI thread; the row shows it as saved at
// once, and says so if the save fails.
func (r *TaskRow) save(t state.Task) {
	u := r.s.u
	r.saved = t
	r.showNext(time.Now())
	var err error
	u.write(func() {
		err = u.st.SetTask(u.ctx, t)
	}, func() {
		if err != nil {
			u.Window.setMessage("Could not save the " + t.Name + " task: " + err.Error())
			return
		}
		if u.d.Sched != nil {
			u.d.Sched.Reload()
		}
		u.d.Engine.Notify()
	})
}

// showNext shows the next three runs of the saved schedule.
func (r *TaskRow) showNext(now time.Time) {
	next, err := schedule.Next(r.saved.Cron, now, 3)
	if err != nil {
		r.Next.SetText(err.Error())
		return
	}
	var when []string
	for _, n := range next {
		when = append(when, clock(n, now))
	}
	list := strings.Join(when, ", ")
	var msg string
	switch {
	case !r.Error.Hidden:
		msg = "Not saved: the saved schedule " + r.saved.Cron + " still applies"
		if r.saved.Enabled {
			msg += " (next runs " + list + ")."
		} else {
			msg += " (off)."
		}
		r.Next.SetText(msg)
		return
	case !r.saved.Enabled:
		r.Next.SetText("Off. Turned on, it would run at " + list + " (local time).")
		return
	}
	msg = "Next runs (local time): " + list + "."
	if r.s.u.d.Sched != nil {
		if p, until := r.s.u.d.Sched.Paused(); p {
			if until.IsZero() {
				msg += " Schedules are paused until resumed."
			} else {
				msg += " Schedules are paused until " + clock(until, now) + "."
			}
		}
	}
	r.Next.SetText(msg)
}
