package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/state"
)

// TasksScreen shows the two scheduled tasks, import and export, each with
// an on/off switch, how often it runs in words (every 15 minutes, hourly,
// every 6 hours, daily at a time, or custom), the cron expression that
// makes (editable under Custom, checked as it is typed: a valid one is
// saved at once, an invalid one shows why and saves nothing), its next
// three runs in local time, and Run now.
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
	Often   *widget.Select // how often, in words (oftenLabels)
	At      *widget.Entry  // the time of day, HH:MM, under Daily
	Cron    *widget.Entry  // the cron expression, under Custom
	CronIs  *widget.Label  // the cron expression a choice in words makes
	Error   *widget.Label  // why the entry is invalid; empty when it is fine
	Next    *widget.Label
	RunNow  *widget.Button
	box     fyne.CanvasObject

	atLabel, cronLabel *widget.Label
	atBox              fyne.CanvasObject
}

// The choices of how often a task runs, and the cron expressions of
// those that are fixed.
const (
	often15     = "Every 15 minutes"
	oftenHourly = "Hourly"
	often6h     = "Every 6 hours"
	oftenDaily  = "Daily at a time"
	oftenCustom = "Custom (cron)"
)

var oftenLabels = []string{often15, oftenHourly, often6h, oftenDaily, oftenCustom}

var oftenCron = map[string]string{often15: "*/15 * * * *", oftenHourly: "0 * * * *", often6h: "0 */6 * * *"}

// Often is how a cron expression reads in words: one of oftenLabels and,
// for Daily, the time (HH:MM).
func Often(expr string) (choice, at string) {
	f := strings.Fields(expr)
	norm := strings.Join(f, " ")
	for k, v := range oftenCron {
		if norm == v {
			return k, ""
		}
	}
	switch norm {
	case "@hourly":
		return oftenHourly, ""
	case "@daily", "@midnight":
		return oftenDaily, "00:00"
	}
	if len(f) == 5 && f[2] == "*" && f[3] == "*" && f[4] == "*" {
		// At a minute other than :00, or every 6 hours from another
		// hour (the export's default runs an hour after the import).
		if m, err := strconv.Atoi(f[0]); err == nil && m >= 0 && m < 60 {
			switch {
			case f[1] == "*":
				return oftenHourly, ""
			case f[1] == "*/6" || (len(f[1]) == 6 && f[1][0] >= '0' && f[1][0] <= '5' && f[1][1:] == "-23/6"):
				return often6h, ""
			}
		}
		m, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && m >= 0 && m < 60 && h >= 0 && h < 24 {
			return oftenDaily, fmt.Sprintf("%02d:%02d", h, m)
		}
	}
	return oftenCustom, ""
}

// dailyCron is the cron expression of "daily at" a time typed as HH:MM
// (or H:MM, HHMM).
func dailyCron(at string) (string, error) {
	at = strings.TrimSpace(at)
	var h, m int
	var err error
	if i := strings.IndexAny(at, ":."); i >= 0 {
		h, err = strconv.Atoi(at[:i])
		if err == nil {
			m, err = strconv.Atoi(at[i+1:])
		}
		if len(at[i+1:]) != 2 {
			err = errors.New("two digits for the minutes")
		}
	} else if len(at) == 4 {
		h, err = strconv.Atoi(at[:2])
		if err == nil {
			m, err = strconv.Atoi(at[2:])
		}
	} else {
		err = errors.New("no colon")
	}
	if err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return "", fmt.Errorf("enter the time of day as hours and minutes, from 00:00 to 23:59 (e.g. 03:30)")
	}
	return fmt.Sprintf("%d %d * * *", m, h), nil
}

func newTasksScreen(u *UI) *TasksScreen {
	s := &TasksScreen{u: u}
	s.Import = s.newRow("import", "Import", "Reads every backend whose import is on into Playmark.")
	s.Export = s.newRow("export", "Export", "Writes Playmark's state to every backend whose export is on.")
	help := widget.NewLabel("Custom takes a cron expression of five fields: minute hour day month weekday. " +
		"30 3 * * 1-5 runs at 03:30 on weekdays, 0 8,20 * * * at 08:00 and 20:00; @hourly and @daily work too. " +
		"Runs never overlap: one due while another runs is skipped and says so in Activity.")
	help.Wrapping = fyne.TextWrapWord
	help.Importance = widget.LowImportance
	s.content = container.NewVScroll(container.NewVBox(s.Import.box, s.Export.box, help))
	return s
}

func (s *TasksScreen) newRow(name, title, what string) *TaskRow {
	r := &TaskRow{s: s, saved: state.Task{Name: name}}
	r.Enabled = widget.NewCheck("Run on a schedule", nil)
	r.Often = widget.NewSelect(oftenLabels, nil)
	r.At = widget.NewEntry()
	r.At.SetPlaceHolder("03:30")
	r.Cron = widget.NewEntry()
	r.Cron.SetPlaceHolder("0 */6 * * *")
	r.CronIs = widget.NewLabel("")
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
	label := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	}
	r.atLabel, r.cronLabel = label("At"), label("Cron")
	// The time fits five characters; the rest of the line says what it
	// means.
	r.atBox = container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(90, r.At.MinSize().Height), r.At), nil,
		widget.NewLabel("every day, local time (hours:minutes)"))
	cron := container.NewStack(r.Cron, r.CronIs)
	form := container.New(layout.NewFormLayout(), label("How often"), r.Often, r.atLabel, r.atBox, r.cronLabel, cron)
	r.box = widget.NewCard("", "", container.NewVBox(
		container.NewBorder(nil, nil, container.NewHBox(heading, desc), r.RunNow),
		r.Enabled, form, r.Error, r.Next))
	r.showChoice(oftenCustom, "")
	return r
}

// showChoice shows the fields of a choice: the time under Daily, the
// cron entry under Custom, else the cron expression as text.
func (r *TaskRow) showChoice(choice, cron string) {
	for _, o := range []fyne.CanvasObject{r.atLabel, r.atBox, r.At} {
		if choice == oftenDaily {
			o.Show()
		} else {
			o.Hide()
		}
	}
	if choice == oftenCustom {
		r.CronIs.Hide()
		r.Cron.Show()
	} else {
		r.Cron.Hide()
		r.CronIs.SetText(cron)
		r.CronIs.Show()
	}
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
	r.Enabled.OnChanged, r.Often.OnChanged, r.At.OnChanged, r.Cron.OnChanged = nil, nil, nil, nil
	r.Enabled.SetChecked(t.Enabled)
	choice, at := Often(t.Cron)
	r.Often.SetSelected(choice)
	r.At.SetText(at)
	r.Cron.SetText(t.Cron)
	r.showChoice(choice, t.Cron)
	r.Enabled.OnChanged = r.enabledChanged
	r.Often.OnChanged = r.oftenChanged
	r.At.OnChanged = r.atChanged
	r.Cron.OnChanged = r.cronChanged
	r.showNext(time.Now())
}

func (r *TaskRow) enabledChanged(on bool) {
	t := r.saved
	t.Enabled = on
	r.save(t)
}

// oftenChanged is a choice of how often: a fixed one is saved at once;
// Daily saves the time typed (03:30 if none); Custom shows the entry
// with the expression in force, to edit.
func (r *TaskRow) oftenChanged(choice string) {
	switch choice {
	case oftenDaily:
		r.showChoice(choice, r.saved.Cron)
		if strings.TrimSpace(r.At.Text) == "" {
			r.setText(r.At, "03:30")
		}
		r.atChanged(r.At.Text)
	case oftenCustom:
		r.setText(r.Cron, r.saved.Cron)
		r.showChoice(choice, r.saved.Cron)
		r.showError(nil)
		r.showNext(time.Now())
	default:
		cron := oftenCron[choice]
		r.showChoice(choice, cron)
		r.showError(nil)
		r.setCron(cron)
	}
}

// setText sets an entry's text without calling its OnChanged.
func (r *TaskRow) setText(e *widget.Entry, text string) {
	cb := e.OnChanged
	e.OnChanged = nil
	e.SetText(text)
	e.OnChanged = cb
}

func (r *TaskRow) atChanged(text string) {
	cron, err := dailyCron(text)
	r.showError(err)
	if err != nil {
		r.showNext(time.Now())
		return
	}
	r.CronIs.SetText(cron)
	r.setCron(cron)
}

func (r *TaskRow) cronChanged(text string) {
	err := schedule.Validate(text)
	r.showError(err)
	if err != nil {
		r.showNext(time.Now())
		return
	}
	r.setCron(text)
}

// showError shows why the entry is not saved, or hides it.
func (r *TaskRow) showError(err error) {
	if err == nil {
		r.Error.SetText("")
		r.Error.Hide()
		return
	}
	r.Error.SetText(err.Error())
	r.Error.Show()
}

// setCron saves a valid cron expression, when it differs from the saved
// one.
func (r *TaskRow) setCron(expr string) {
	t := r.saved
	t.Cron = strings.Join(strings.Fields(expr), " ")
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
