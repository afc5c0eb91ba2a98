package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// FirstRun is the guided setup shown while there is no backend: add a
// server and test it; preview the first import as a dry run that shows
// what it found before anything is written; then import for real. Export
// stays off: the user turns it on per backend when happy.
type FirstRun struct {
	u       *UI
	content *fyne.Container
	Step    int // 1 add a server, 2 preview and import, 3 done
	done    func()

	Heading *widget.Label
	SignIn  *SignIn        // step 1's sign-in
	Editor  *BackendEditor // step 1's advanced path, while it shows
	Skip    *widget.Button

	Added      []string
	PreviewBtn *widget.Button
	ImportBtn  *widget.Button
	AddAnother *widget.Button
	Finish     *widget.Button
	Status     *widget.Label
	// Found shows, per server, what the preview found and what the
	// import would record (FoundRows), above the planned changes.
	Found     *fyne.Container
	Report    *ReportView
	Previewed *engine.Report
	Imported  *engine.Report
	persons   map[string]string // backend -> person's name
}

func newFirstRun(u *UI, done func()) *FirstRun {
	f := &FirstRun{u: u, done: done}
	f.Heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	f.Skip = widget.NewButton("Skip the guided setup", f.finish)
	f.Status = widget.NewLabel("")
	f.Status.Wrapping = fyne.TextWrapWord
	f.Report = newReportView()
	f.PreviewBtn = widget.NewButtonWithIcon("Preview the first import", theme.VisibilityIcon(), f.preview)
	f.PreviewBtn.Importance = widget.HighImportance
	f.ImportBtn = widget.NewButtonWithIcon("Import for real", theme.DownloadIcon(), f.importNow)
	f.ImportBtn.Disable()
	f.AddAnother = widget.NewButtonWithIcon("Add another server", theme.ContentAddIcon(), f.stepAdd)
	f.Finish = widget.NewButtonWithIcon("Open Playmark", theme.ConfirmIcon(), f.finish)
	f.content = container.NewStack()
	f.stepAdd()
	return f
}

func (f *FirstRun) show(step int, body fyne.CanvasObject) {
	f.Step = step
	if step == 3 {
		f.Skip.Hide() // done: Open Playmark is the way on
	} else {
		f.Skip.Show()
	}
	f.Heading.SetText(fmt.Sprintf("Set up Playmark: step %d of 3", step))
	f.content.Objects = []fyne.CanvasObject{
		container.NewBorder(container.NewVBox(f.Heading, widget.NewSeparator()), container.NewHBox(f.Skip), nil, nil, body),
	}
	f.content.Refresh()
}

// stepAdd is step 1: sign in, and add the servers and users the
// account reaches (or, advanced, a server by address and token).
func (f *FirstRun) stepAdd() {
	f.Editor = nil
	f.SignIn = newSignIn(f.u, f.addedMany, f.stepToken)
	var body fyne.CanvasObject = f.SignIn.content
	if len(f.Added) > 0 {
		body = container.NewBorder(nil, container.NewHBox(widget.NewButtonWithIcon("Back to the preview", theme.NavigateBackIcon(), f.stepPreview)),
			nil, nil, body)
	}
	f.show(1, body)
}

// stepToken is step 1's advanced path: a server's address and a token,
// tested before it is saved.
func (f *FirstRun) stepToken() {
	f.leaveSignIn()
	f.Editor = newBackendEditor(f.u, nil, f.added)
	f.Editor.Save.SetText("Save and continue")
	intro := widget.NewLabel("Add a server by its address and a token. Test shows the server's name, version and the user Playmark acts as.")
	intro.Wrapping = fyne.TextWrapWord
	buttons := container.NewHBox(widget.NewButtonWithIcon("Sign in instead", theme.NavigateBackIcon(), f.stepAdd), f.Editor.Save)
	// The buttons stay under the form, outside its scrolling: a test's
	// answer and the library list must not push Save out of sight.
	body := container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), buttons), nil, nil,
		container.NewVScroll(container.NewVBox(intro, f.Editor.content)))
	f.show(1, body)
}

// addedMany goes on to the preview once sign-in added backends.
func (f *FirstRun) addedMany(bs []state.Backend) {
	if f.persons == nil {
		f.persons = map[string]string{}
	}
	for _, b := range bs {
		f.Added = append(f.Added, b.Name)
		f.persons[b.Name] = b.Person
	}
	f.Previewed, f.Imported = nil, nil
	f.stepPreview()
}

func (f *FirstRun) added(b state.Backend) {
	f.Added = append(f.Added, b.Name)
	f.Previewed, f.Imported = nil, nil
	f.stepPreview()
}

// stepPreview is step 2: a dry-run import, then the real one.
func (f *FirstRun) stepPreview() {
	f.leaveSignIn()
	intro := widget.NewLabel(fmt.Sprintf("Added %s. Now preview the first import: Playmark reads every item and shows, per server, what it found and what would change there once you turn its export on. "+
		"Nothing is written until you choose Import for real. Export (writing to your servers) stays off until you turn it on in Backends.",
		strings.Join(f.Added, ", ")))
	intro.Wrapping = fyne.TextWrapWord
	f.ImportBtn.Disable()
	f.Status.SetText("")
	f.Report = newReportView()
	f.Report.Summary.Hide() // the table of what was found says it
	f.Found = container.NewVBox()
	buttons := container.NewHBox(f.PreviewBtn, f.ImportBtn, f.AddAnother)
	f.Found.Add(f.Status)
	f.show(2, container.NewBorder(container.NewVBox(intro, buttons, f.Found), nil, nil, nil, f.Report.content))
}

// foundColumns are the columns of the preview's table.
var foundColumns = []string{"Person", "Server", "Items", "Watched", "In progress", "Unmatched", "Would change on this server"}

// FoundRows is, per server read, what a dry-run import found there and
// what would change on that server once its export is on (the plan of
// RunOptions.PlanExports: what the other servers' marks would make it),
// as foundColumns: by person (persons: backend name -> person), each
// person's servers together. Items only learned are no change: they are
// counted under Items.
func FoundRows(rep *engine.Report, persons map[string]string) [][]string {
	var rows [][]string
	var order []string
	byPerson := map[string][][]string{}
	plans := map[string]engine.BackendReport{}
	for _, b := range rep.Backends {
		if b.Phase == "export" {
			plans[b.Backend] = b
		}
	}
	for _, b := range rep.Backends {
		if b.Phase != "import" {
			continue
		}
		who := persons[b.Backend]
		if _, ok := byPerson[who]; !ok {
			order = append(order, who)
			byPerson[who] = nil
		}
		if b.Err != nil {
			byPerson[who] = append(byPerson[who], []string{who, b.Backend, "-", "-", "-", "-", "could not be read"})
			continue
		}
		change := "-"
		if p, ok := plans[b.Backend]; ok {
			change = p.PlanText()
			if p.WouldHold {
				change += " (held by the guard)"
			}
		}
		byPerson[who] = append(byPerson[who], []string{who, b.Backend, commas(b.Read), commas(b.Watched), commas(b.InProgress), commas(b.Unmatched), change})
	}
	for _, who := range order {
		rows = append(rows, byPerson[who]...)
	}
	return rows
}

// showFound fills the table of what the preview found.
func (f *FirstRun) showFound(rep *engine.Report) {
	rows := FoundRows(rep, f.persons)
	grid := container.New(&columnsLayout{cols: len(foundColumns)})
	for _, h := range foundColumns {
		grid.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for i, r := range rows {
		for j, c := range r {
			if j == 0 && i > 0 && rows[i-1][0] == c {
				c = "" // the person's name once, on their first server
			}
			l := widget.NewLabel(c)
			if j == 0 {
				l.TextStyle.Bold = true
			}
			grid.Add(l)
		}
	}
	f.Found.Objects = []fyne.CanvasObject{grid}
	heading := "No planned changes."
	if n := len(rep.Changes) + rep.MoreChanges; n > 0 {
		heading = fmt.Sprintf("What would change (%s): Playmark's watch state (local) and, once their export is on, your servers':", commas(n))
		if rep.MoreChanges > 0 {
			heading += fmt.Sprintf(" the first %d are listed.", len(rep.Changes))
		}
	}
	f.Found.Add(f.Status)
	f.Found.Add(widget.NewLabelWithStyle(heading, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	f.Found.Refresh()
}

// columnsLayout lays its objects out as a table of cols columns, row by
// row, each column as wide as its widest cell: a small table that shows
// all its words.
type columnsLayout struct{ cols int }

func (l *columnsLayout) sizes(objects []fyne.CanvasObject) (widths []float32, rowH float32) {
	widths = make([]float32, l.cols)
	for i, o := range objects {
		m := o.MinSize()
		widths[i%l.cols] = max(widths[i%l.cols], m.Width)
		rowH = max(rowH, m.Height)
	}
	return widths, rowH
}

func (l *columnsLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	widths, rowH := l.sizes(objects)
	var w float32
	for _, x := range widths {
		w += x
	}
	rows := (len(objects) + l.cols - 1) / l.cols
	return fyne.NewSize(w, rowH*float32(rows))
}

func (l *columnsLayout) Layout(objects []fyne.CanvasObject, _ fyne.Size) {
	widths, rowH := l.sizes(objects)
	var x float32
	for i, o := range objects {
		c := i % l.cols
		if c == 0 {
			x = 0
		}
		o.Move(fyne.NewPos(x, rowH*float32(i/l.cols)))
		o.Resize(fyne.NewSize(widths[c], rowH))
		x += widths[c]
	}
}

func (f *FirstRun) preview() {
	f.PreviewBtn.Disable()
	f.ImportBtn.Disable()
	f.AddAnother.Disable()
	f.Status.SetText("Reading your servers (a dry run: nothing is written)…")
	f.u.startRun("import", engine.RunOptions{DryRun: true, Full: true, PlanExports: true, Trigger: "window"}, func(rep *engine.Report, err error) {
		f.PreviewBtn.Enable()
		f.AddAnother.Enable()
		if err != nil || rep == nil {
			f.Status.SetText(RunMessage("import", rep, err))
			return
		}
		f.Previewed = rep
		f.Report.set(rep)
		f.showFound(rep)
		f.Status.SetText(previewVerdict(rep))
		if rep.Status != state.RunFailed || len(rep.Failed()) < len(rep.Backends) {
			f.ImportBtn.Enable()
		}
	})
}

// previewVerdict says what the preview found and what would change on
// each server once its export is on (what the user fears), items only
// learned as known, and what to do next.
func previewVerdict(rep *engine.Report) string {
	var why []string
	for _, b := range rep.Failed() {
		if b.Phase == "import" {
			why = append(why, b.Error)
		}
	}
	if len(why) > 0 {
		return "Some servers could not be read: " + strings.Join(why, "; ") + ". Fix them (Back, or Backends later) or import the others."
	}
	var added, watched, progress, unmatched int
	var changes, same, unknown, holds []string
	for _, b := range rep.Backends {
		if b.Phase == "export" && b.WouldHold {
			holds = append(holds, fmt.Sprintf("the mass-change guard would hold the export to %s (it would mark %d of its %s unwatched)",
				b.Backend, b.WouldUnwatch, plural(b.WouldOf, "watched item")))
		}
		switch {
		case b.Phase == "import":
			added += b.Added // each item once: by the first server that has it
			watched += b.Watched
			progress += b.InProgress
			unmatched += b.Unmatched
		case b.Err != nil:
			unknown = append(unknown, b.Backend)
		case b.WouldWatch+b.WouldUnwatch+b.WouldResume == 0:
			same = append(same, b.Backend)
		default:
			changes = append(changes, b.Backend+": "+b.PlanText())
		}
	}
	msg := fmt.Sprintf("Import for real would make %s known to Playmark", plural(added, "item"))
	if watched+progress > 0 {
		msg += ", with each server's watched marks and resume positions"
	}
	msg += "; that changes nothing on your servers."
	switch {
	case len(changes) > 0:
		msg += " Once you turn export on, your servers would change: " + strings.Join(changes, "; ")
		if len(same) > 0 {
			msg += "; nothing on " + strings.Join(same, ", ")
		}
		msg += " (each change is listed below)."
	case len(same) > 1:
		msg += " Turning export on would change nothing on them: they agree."
	}
	if len(holds) > 0 {
		msg += " Careful: " + strings.Join(holds, "; ") + ". If that is what you want, apply it from Activity → Held after an export, " +
			"or raise the guard's limits in Settings; if not, check that server's marks before turning its export on."
	}
	if len(unknown) > 0 {
		msg += " Not compared: " + strings.Join(unknown, ", ") + "."
	}
	if unmatched > 0 {
		msg += fmt.Sprintf(" %s without usable ids are left alone.", plural(unmatched, "item"))
	}
	return msg + " Nothing is written now: export stays off. If that looks right, choose Import for real."
}

func (f *FirstRun) importNow() {
	f.PreviewBtn.Disable()
	f.ImportBtn.Disable()
	f.AddAnother.Disable()
	f.Status.SetText("Importing…")
	f.u.startRun("import", engine.RunOptions{Full: true, Trigger: "window"}, func(rep *engine.Report, err error) {
		f.PreviewBtn.Enable()
		f.AddAnother.Enable()
		if err != nil || rep == nil {
			f.Status.SetText(RunMessage("import", rep, err))
			if !errors.Is(err, engine.ErrBusy) {
				f.ImportBtn.Enable()
			}
			return
		}
		f.Imported = rep
		f.Report.set(rep)
		f.stepDone(rep)
	})
}

// stepDone is step 3: the import is in; what next.
func (f *FirstRun) stepDone(rep *engine.Report) {
	added := 0
	for _, b := range rep.Backends {
		added += b.Added
	}
	msg := fmt.Sprintf("The first import is done: %s recorded in Playmark, with their watched marks and resume positions", plural(added, "new item"))
	if n := rep.Changed(); n > 0 {
		msg += fmt.Sprintf(", and %s to watch state on items already read", plural(n, "change"))
	}
	msg += ". "
	if rep.Unmatched > 0 {
		msg += fmt.Sprintf("%s had no usable ids and were left alone (Activity → Unmatched). ", plural(rep.Unmatched, "item"))
	}
	msg += "Export is off for every server: when you are happy with what was imported, turn Export on for the servers " +
		"Playmark may write to (Backends), and switch on the schedules (Tasks)."
	l := widget.NewLabel(msg)
	l.Wrapping = fyne.TextWrapWord
	f.show(3, container.NewBorder(container.NewVBox(l, container.NewHBox(f.Finish)), nil, nil, nil, f.Report.content))
}

// leaveSignIn ends a sign-in's wait when the setup moves elsewhere.
func (f *FirstRun) leaveSignIn() {
	if f.SignIn != nil {
		f.SignIn.stopWaiting()
	}
}

func (f *FirstRun) finish() {
	f.leaveSignIn()
	if f.done != nil {
		f.done()
	}
}

// apply keeps whose each backend is, for the preview's Person column.
func (f *FirstRun) apply(d viewData) {
	f.persons = map[string]string{}
	for _, b := range d.backends {
		f.persons[b.Name] = b.Person
	}
}
