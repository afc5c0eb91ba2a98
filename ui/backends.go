package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/backend"
	"playmark/sync/backend/kinds"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// Import mode labels, in the order the selector lists them.
var importLabels = []string{"Off", "Metadata only", "Full"}

func importLabel(m state.ImportMode) string {
	switch m {
	case state.ImportOff:
		return importLabels[0]
	case state.ImportMetadata:
		return importLabels[1]
	}
	return importLabels[2]
}

func importMode(label string) state.ImportMode {
	switch label {
	case importLabels[0]:
		return state.ImportOff
	case importLabels[1]:
		return state.ImportMetadata
	}
	return state.ImportFull
}

// BackendsScreen lists the backends, each with its import mode, its
// export switch, how it last went (a rejected token shown on the row),
// and Test, Edit and Remove; Add opens the add dialog.
type BackendsScreen struct {
	u       *UI
	content fyne.CanvasObject
	list    *fyne.Container
	Add     *widget.Button
	Rows    []*BackendRow
	Editor  *BackendEditor // the open add or edit dialog, if any
	SignIn  *SignIn        // the open sign-in (Add), if any
	People  []*PersonCard  // the people, each above their backends
	people  []state.Person
	// PersonDialog is the open rename, merge, move or remove dialog, if
	// any: PersonName its name entry, MergeInto its choice of person,
	// RemoveText what a removal takes.
	PersonDialog dialog.Dialog
	PersonName   *widget.Entry
	MergeInto    *widget.Select
	RemoveText   *widget.Label
	signDlg      dialog.Dialog
	editDlg      dialog.Dialog
	confirm      dialog.Dialog // the open remove confirmation, if any
	tested       map[string]string
	sig          string
}

// BackendRow is one backend on the Backends tab.
type BackendRow struct {
	B       state.Backend
	Title   *widget.Label
	Detail  *widget.Label
	Status  *widget.Label
	Problem *widget.Label // the last error; hidden when there is none
	Import  *widget.Select
	Export  *widget.Check
	Test    *widget.Button
	Edit    *widget.Button
	Remove  *widget.Button
	Result  *widget.Label  // the last Test's answer
	Person  *widget.Select // whose it is: choosing another person moves it
	Health  *widget.Icon   // ok, failing or never synced, as the tray shows it
}

func newBackendsScreen(u *UI) *BackendsScreen {
	s := &BackendsScreen{u: u, tested: map[string]string{}}
	s.Add = widget.NewButtonWithIcon("Add backend…", theme.ContentAddIcon(), s.openSignIn)
	s.list = container.NewVBox()
	help := widget.NewLabel("Import reads a server into Playmark; Export writes Playmark's watched marks and resume positions back to it. " +
		"\"Metadata only\" refreshes ids without taking the server's play state.")
	help.Wrapping = fyne.TextWrapWord
	help.Importance = widget.LowImportance
	s.content = container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, nil, s.Add, help)), nil, nil, nil,
		container.NewVScroll(s.list))
	return s
}

// Row returns the row of the backend named name, or nil.
func (s *BackendsScreen) Row(name string) *BackendRow {
	for _, r := range s.Rows {
		if r.B.Name == name {
			return r
		}
	}
	return nil
}

func (s *BackendsScreen) apply(d viewData) {
	now := d.snap.Now
	var sig strings.Builder
	fmt.Fprintf(&sig, "%v\n", d.people)
	for _, b := range d.backends {
		fmt.Fprintf(&sig, "%+v|%s|%s\n", b, statusText(b, now), s.tested[b.Name])
	}
	if sig.String() == s.sig && len(s.Rows) == len(d.backends) {
		return
	}
	s.sig = sig.String()
	s.Rows = s.Rows[:0]
	s.list.Objects = nil
	if len(d.backends) == 0 {
		empty := widget.NewLabel("No backends yet. Add your Plex, Jellyfin or Emby server to start.")
		s.list.Add(empty)
	}
	s.people = d.people
	s.People = s.People[:0]
	// By person: each person's name, Rename and Merge, then their
	// backends, each of which can move to another person.
	for _, p := range d.people {
		var theirs []state.Backend
		for _, b := range d.backends {
			if b.PersonID == p.ID {
				theirs = append(theirs, b)
			}
		}
		// A person with no backends is shown too (after a move, say): to
		// link one to them, or to remove them.
		var names []string
		for _, b := range theirs {
			names = append(names, b.Name)
		}
		pc := s.newPersonCard(p, names)
		s.People = append(s.People, pc)
		s.list.Add(pc.card())
		for _, b := range theirs {
			r := s.newRow(b, now)
			s.Rows = append(s.Rows, r)
			s.list.Add(r.card())
		}
	}
	for _, b := range d.backends {
		if s.Row(b.Name) == nil { // a person the list did not have yet
			r := s.newRow(b, now)
			s.Rows = append(s.Rows, r)
			s.list.Add(r.card())
		}
	}
	s.list.Refresh()
}

func (s *BackendsScreen) newRow(b state.Backend, now time.Time) *BackendRow {
	r := &BackendRow{B: b}
	r.Title = widget.NewLabelWithStyle(b.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	switch {
	case b.LastError != "":
		r.Health = widget.NewIcon(TrayIcon(StateError))
	case b.LastImport.IsZero() && b.LastExport.IsZero():
		r.Health = widget.NewIcon(TrayIcon(StatePaused))
	default:
		r.Health = widget.NewIcon(TrayIcon(StateOK))
	}
	r.Detail = widget.NewLabel(detailText(b))
	r.Detail.Truncation = fyne.TextTruncateEllipsis
	r.Status = widget.NewLabel(statusText(b, now))
	r.Problem = widget.NewLabel(problemText(b, now))
	r.Problem.Importance = widget.DangerImportance
	r.Problem.Wrapping = fyne.TextWrapWord
	if b.LastError == "" {
		r.Problem.Hide()
	}
	r.Result = widget.NewLabel(s.tested[b.Name])
	r.Result.Wrapping = fyne.TextWrapWord
	if r.Result.Text == "" {
		r.Result.Hide()
	}
	r.Import = widget.NewSelect(importLabels, nil)
	r.Import.SetSelected(importLabel(b.Import))
	r.Import.OnChanged = func(label string) { s.setImport(r, importMode(label)) }
	r.Export = widget.NewCheck("Export to this server", nil)
	r.Export.SetChecked(b.Export)
	r.Export.OnChanged = func(on bool) { s.setExport(r, on) }
	r.Test = widget.NewButtonWithIcon("Test", theme.MediaPlayIcon(), func() { s.test(r) })
	r.Edit = widget.NewButtonWithIcon("Edit…", theme.DocumentCreateIcon(), func() { s.openEditor(&r.B) })
	r.Remove = widget.NewButtonWithIcon("Remove…", theme.DeleteIcon(), func() { s.confirmRemove(r) })
	var names []string
	for _, p := range s.people {
		names = append(names, p.Name)
	}
	r.Person = widget.NewSelect(append(names, newPersonLabel), nil)
	r.Person.Selected = b.Person
	r.Person.OnChanged = func(name string) { s.movePrompt(r, name) }
	return r
}

func (r *BackendRow) card() fyne.CanvasObject {
	head := container.NewBorder(nil, nil, container.NewHBox(r.Health, r.Title), nil, r.Detail)
	controls := container.NewHBox(widget.NewLabel("Import:"), r.Import, r.Export, widget.NewLabel(" "), r.Test, r.Edit, r.Remove,
		widget.NewLabel(" Person:"), r.Person)
	return container.NewVBox(head, r.Status, r.Problem, controls, r.Result, widget.NewSeparator())
}

// detailText is a backend's kind, address, server and user.
func detailText(b state.Backend) string {
	parts := []string{kindTitle(b.Kind), b.URL}
	if b.ServerName != "" {
		parts = append(parts, "server “"+b.ServerName+"”")
	}
	user := b.UserName
	if user == "" {
		user = b.UserID
	}
	if user != "" {
		parts = append(parts, "as "+user)
	}
	return strings.Join(parts, " · ")
}

func kindTitle(k backend.Kind) string { return kinds.Title(k) }

// statusText is how a backend's last import and export went.
func statusText(b state.Backend, now time.Time) string {
	if b.LastImport.IsZero() && b.LastExport.IsZero() {
		if b.LastError != "" {
			return "Never synced: the last try failed."
		}
		return "Never synced."
	}
	imp := "imported " + engine.Ago(b.LastImport, now)
	if b.LastImport.IsZero() {
		imp = "never imported"
	}
	if b.Import == state.ImportOff {
		imp += " (import off)"
	}
	exp := "export off"
	switch {
	case b.Export && b.LastExport.IsZero():
		exp = "never exported"
	case b.Export:
		exp = "exported " + engine.Ago(b.LastExport, now)
	case !b.LastExport.IsZero():
		exp += " (last export " + engine.Ago(b.LastExport, now) + ")"
	}
	res := "last run ok"
	if b.LastError != "" {
		res = "last run failed"
	}
	s := imp + " · " + exp + " · " + res
	return strings.ToUpper(s[:1]) + s[1:]
}

// problemText is a backend's last error, with what to do about it.
func problemText(b state.Backend, now time.Time) string {
	if b.LastError == "" {
		return ""
	}
	msg := "⚠ " + b.LastError
	if !b.LastErrorAt.IsZero() {
		msg += " (" + engine.Ago(b.LastErrorAt, now) + ")"
	}
	if b.LastErrorRejected {
		msg += ". The server no longer accepts this token: use Edit to enter a new one."
	}
	return msg
}

// update re-reads a backend, changes it with fn and saves it, so that a
// toggle never writes back a stale copy of the rest. Off the UI thread:
// done gets the saved backend, or the error, on the UI thread.
func (s *BackendsScreen) update(name string, fn func(*state.Backend), done func(state.Backend, error)) {
	ctx := s.u.ctx
	var b state.Backend
	var err error
	s.u.write(func() {
		if b, err = s.u.st.Backend(ctx, name); err != nil {
			return
		}
		fn(&b)
		err = s.u.st.UpdateBackend(ctx, b)
	}, func() {
		if err == nil {
			s.u.d.Engine.Notify()
		}
		done(b, err)
	})
}

func (s *BackendsScreen) setImport(r *BackendRow, m state.ImportMode) {
	if m == r.B.Import {
		return
	}
	was := r.B.Import
	r.B.Import = m
	s.update(r.B.Name, func(b *state.Backend) { b.Import = m }, func(b state.Backend, err error) {
		if err != nil {
			s.u.Window.setMessage("Could not save " + r.B.Name + ": " + err.Error())
			r.B.Import = was
			r.Import.OnChanged, r.Import.Selected = nil, importLabel(was)
			r.Import.Refresh()
			r.Import.OnChanged = func(label string) { s.setImport(r, importMode(label)) }
			return
		}
		r.B.Import = b.Import
		s.u.Window.setMessage(fmt.Sprintf("Import from %s: %s.", b.Name, strings.ToLower(importLabel(m))))
	})
}

func (s *BackendsScreen) setExport(r *BackendRow, on bool) {
	if on == r.B.Export {
		return
	}
	r.B.Export = on
	s.update(r.B.Name, func(b *state.Backend) { b.Export = on }, func(b state.Backend, err error) {
		if err != nil {
			s.u.Window.setMessage("Could not save " + r.B.Name + ": " + err.Error())
			r.B.Export = !on
			r.Export.SetChecked(!on)
			return
		}
		r.B.Export = b.Export
		if on {
			s.u.Window.setMessage("Export to " + b.Name + " is on: the next export writes watched marks and resume positions there (Preview shows what it would do).")
		} else {
			s.u.Window.setMessage("Export to " + b.Name + " is off: Playmark will not write to it.")
		}
	})
}

func (s *BackendsScreen) test(r *BackendRow) {
	b := r.B
	r.Result.SetText("Testing…")
	r.Result.Show()
	r.Test.Disable()
	var info backend.ServerInfo
	var err error
	s.u.goBg(func() {
		ctx, cancel := context.WithTimeout(s.u.ctx, 30*time.Second)
		defer cancel()
		info, err = s.u.d.Engine.Test(ctx, b)
	}, func() {
		msg := "✓ " + infoText(info)
		if err != nil {
			msg = "✗ " + err.Error()
		} else if b.ServerID != "" && info.ServerID != b.ServerID {
			msg = "✗ " + b.URL + " answers as another server than the one this backend was set up with."
		}
		s.tested[b.Name] = msg
		r.Result.SetText(msg)
		r.Test.Enable()
	})
}

// infoText is what a connection test found.
func infoText(info backend.ServerInfo) string {
	s := info.Product
	if info.Version != "" {
		s += " " + info.Version
	}
	if info.Name != "" {
		s += " “" + info.Name + "”"
	}
	if info.UserName != "" {
		s += ", user " + info.UserName
	} else if info.UserID != "" {
		s += ", user " + info.UserID
	}
	return s
}

func (s *BackendsScreen) confirmRemove(r *BackendRow) {
	name := r.B.Name
	d := dialog.NewConfirm("Remove "+name+"?",
		"Playmark forgets this backend. Its items stay in the local state for the other backends, and nothing changes on the server.",
		func(ok bool) {
			s.confirm = nil
			if !ok {
				return
			}
			r.Remove.Disable()
			s.u.Window.setMessage("Removing " + name + "…")
			var err error
			s.u.write(func() {
				err = s.u.st.RemoveBackendAfterRun(s.u.ctx, name)
			}, func() {
				r.Remove.Enable()
				if err != nil {
					s.u.Window.setMessage("Could not remove " + name + ": " + err.Error())
					return
				}
				delete(s.tested, name)
				s.u.Window.setMessage("Removed " + name + ".")
				s.u.d.Engine.Notify()
			})
		}, s.u.Window.win)
	d.SetConfirmText("Remove")
	s.confirm = d
	d.Show()
}

// openEditor opens the add dialog (orig nil) or the edit dialog.
func (s *BackendsScreen) openEditor(orig *state.Backend) {
	title := "Add a backend"
	if orig != nil {
		title = "Edit " + orig.Name
	}
	var d *dialog.CustomDialog
	ed := newBackendEditor(s.u, orig, func(b state.Backend) {
		d.Hide()
		s.Editor = nil
	})
	ed.Cancel = widget.NewButton("Cancel", func() {
		d.Hide()
		s.Editor = nil
	})
	d = dialog.NewCustomWithoutButtons(title, ed.content, s.u.Window.win)
	d.SetButtons([]fyne.CanvasObject{ed.Cancel, ed.Save})
	d.Resize(fyne.NewSize(620, 560))
	s.Editor = ed
	s.editDlg = d
	d.Show()
}

// openSignIn is Add: sign in and add what the account reaches, or, the
// advanced path, open the token editor.
func (s *BackendsScreen) openSignIn() {
	var d *dialog.CustomDialog
	close := func() {
		if s.SignIn != nil {
			s.SignIn.stopWaiting()
		}
		d.Hide()
		s.SignIn = nil
	}
	si := newSignIn(s.u, func([]state.Backend) { close() }, func() {
		close()
		s.openEditor(nil)
	})
	d = dialog.NewCustomWithoutButtons("Add backends", si.content, s.u.Window.win)
	d.SetButtons([]fyne.CanvasObject{widget.NewButton("Close", close)})
	d.Resize(fyne.NewSize(720, 580))
	s.SignIn = si
	s.signDlg = d
	d.Show()
}
