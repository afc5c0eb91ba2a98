package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/backend"
	"playmark/sync/backend/kinds"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// BackendEditor is the add/edit form of a backend: type, name, URL,
// token, the user (Jellyfin and Emby, picked from the server's users
// after a test), the libraries, and Test, which shows the server's name,
// version and the user. Save checks the token with the server first, as
// the CLI does: a rejected token saves nothing; an unreachable server is
// saved with a warning (it may just be off). A new backend imports in
// full and does not export until the user turns export on.
type BackendEditor struct {
	u    *UI
	orig *state.Backend // nil when adding

	Kind   *widget.Select
	Name   *widget.Entry
	URL    *widget.Entry
	Token  *widget.Entry
	User   *widget.Select
	Libs   *widget.CheckGroup
	Test   *widget.Button
	Save   *widget.Button
	Cancel *widget.Button // set by the dialog that holds the editor
	Result *widget.Label  // the test's answer
	Error  *widget.Label  // what is wrong with the form

	userLabel *widget.Label
	libBox    *fyne.Container
	users     []backend.User
	libs      []backend.Library
	tested    bool // a test has run with the current settings
	autoName  string

	content fyne.CanvasObject
	onSaved func(state.Backend)
}

var kindLabels = []string{"Plex", "Jellyfin", "Emby"}

func newBackendEditor(u *UI, orig *state.Backend, onSaved func(state.Backend)) *BackendEditor {
	e := &BackendEditor{u: u, orig: orig, onSaved: onSaved}
	e.Kind = widget.NewSelect(kindLabels, nil)
	e.Name = widget.NewEntry()
	e.Name.SetPlaceHolder("a short name, e.g. living-room")
	e.URL = widget.NewEntry()
	e.URL.SetPlaceHolder("http://192.168.1.10:32400")
	e.Token = widget.NewPasswordEntry()
	e.User = widget.NewSelect(nil, nil)
	e.User.PlaceHolder = "Test the connection to list the users"
	e.Libs = widget.NewCheckGroup(nil, nil)
	e.Libs.Horizontal = true
	e.Result = widget.NewLabel("")
	e.Result.Wrapping = fyne.TextWrapWord
	e.Error = widget.NewLabel("")
	e.Error.Importance = widget.DangerImportance
	e.Error.Wrapping = fyne.TextWrapWord
	e.Test = widget.NewButtonWithIcon("Test connection", theme.ComputerIcon(), e.test)
	e.Save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), e.save)
	e.Save.Importance = widget.HighImportance

	if orig != nil {
		e.Kind.SetSelected(kindTitle(orig.Kind))
		e.Kind.Disable() // the type of a backend cannot change
		e.Name.SetText(orig.Name)
		e.URL.SetText(orig.URL)
		e.Token.SetPlaceHolder("leave empty to keep " + orig.MaskedToken())
		if orig.UserID != "" {
			label := orig.UserName
			if label == "" {
				label = orig.UserID
			}
			e.users = []backend.User{{ID: orig.UserID, Name: label}}
			e.User.SetOptions([]string{label})
			e.User.SetSelectedIndex(0)
		}
	} else {
		e.Token.SetPlaceHolder("the server's API key or token")
		e.Kind.SetSelected("Plex")
	}
	e.Kind.OnChanged = func(string) { e.kindChanged() }
	e.User.OnChanged = func(string) {
		if e.tested {
			e.test() // the user decides what Identify says
		}
	}

	label := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	}
	e.userLabel = label("User")
	// A form layout of its own (not widget.Form) so that the User row can
	// hide, label and all, for Plex.
	form := container.New(layout.NewFormLayout(),
		label("Type"), e.Kind, label("Name"), e.Name, label("URL"), e.URL, label("Token"), e.Token, e.userLabel, e.User)
	libHelp := widget.NewLabel("Libraries to sync:")
	e.libBox = container.NewVBox(libHelp, e.Libs)
	e.libBox.Hide()
	e.Result.Hide()
	e.Error.Hide()
	e.content = container.NewVBox(form, container.NewHBox(e.Test), e.Result, e.libBox, e.Error)
	e.kindChanged()
	return e
}

func (e *BackendEditor) kind() backend.Kind {
	return backend.Kind(strings.ToLower(e.Kind.Selected))
}

func (e *BackendEditor) kindChanged() {
	k := e.kind()
	if e.orig == nil && (e.Name.Text == "" || e.Name.Text == e.autoName) {
		e.autoName = string(k)
		e.Name.SetText(e.autoName)
	}
	if e.orig == nil {
		entry, _ := kinds.Lookup(k)
		e.URL.SetPlaceHolder(entry.SampleURL)
	}
	if e.userLabel != nil {
		if k.TokenIsUser() {
			e.userLabel.Hide() // a Plex token is the user
			e.User.Hide()
		} else {
			e.userLabel.Show()
			e.User.Show()
		}
	}
	e.tested = false
}

// config validates the form and returns the backend it describes.
func (e *BackendEditor) config() (state.Backend, error) {
	var b state.Backend
	if e.orig != nil {
		b = *e.orig
	} else {
		b = state.Backend{Import: state.ImportFull, Export: false}
	}
	k, err := backend.ParseKind(string(e.kind()))
	if err != nil {
		return b, errors.New("choose the server type")
	}
	b.Kind = k
	name := strings.TrimSpace(e.Name.Text)
	if err := state.ValidateName(name); err != nil {
		return b, err
	}
	b.Name = name
	u, err := state.NormalizeURL(e.URL.Text)
	if err != nil {
		return b, err
	}
	b.URL = u
	if tok := strings.TrimSpace(e.Token.Text); tok != "" {
		b.Token = tok
	} else if e.orig == nil {
		return b, errors.New("enter the token (Plex: X-Plex-Token; Jellyfin and Emby: an API key or a user's access token)")
	}
	if !k.TokenIsUser() {
		if i := e.User.SelectedIndex(); i >= 0 && i < len(e.users) {
			b.UserID = e.users[i].ID
		}
	} else {
		b.UserID = ""
	}
	if len(e.libs) > 0 {
		b.Options.Libraries = nil
		if len(e.Libs.Selected) < len(e.libs) {
			for _, l := range e.libs {
				if slices.Contains(e.Libs.Selected, libLabel(l)) {
					b.Options.Libraries = append(b.Options.Libraries, l.ID)
				}
			}
		}
	}
	return b, nil
}

func libLabel(l backend.Library) string {
	kind := "movies"
	if l.Type == backend.Episode {
		kind = "shows"
	}
	return fmt.Sprintf("%s (%s)", l.Title, kind)
}

// probe is what a connection test found (engine.Connect).
type probe struct {
	info     backend.ServerInfo
	err      error
	users    []backend.User
	libs     []backend.Library
	needUser bool // the token is an API key and no user is chosen
}

// probe connects to the server b describes (engine.Connect, as the CLI's
// backend add does), changing nothing.
func (e *BackendEditor) probe(ctx context.Context, b state.Backend) probe {
	conn, err := e.u.d.Engine.Connect(ctx, b)
	return probe{info: conn.Info, err: err, users: conn.Users, libs: conn.Libraries, needUser: conn.NeedUser}
}

// describe is a connection error in one sentence for the window.
func describe(b state.Backend, err error) string {
	var ke *engine.KindError
	if errors.As(err, &ke) {
		return fmt.Sprintf("%s is a %s server, not %s: choose %s as the server type", ke.URL, kindTitle(ke.Got), kindTitle(ke.Want), kindTitle(ke.Got))
	}
	return backend.Describe(b.Name, err)
}

func (e *BackendEditor) test() {
	b, err := e.config()
	if err != nil {
		showText(e.Error, err.Error())
		return
	}
	showText(e.Error, "")
	showText(e.Result, "Connecting to "+b.URL+"…")
	e.Test.Disable()
	var p probe
	e.u.goBg(func() {
		ctx, cancel := context.WithTimeout(e.u.ctx, 30*time.Second)
		defer cancel()
		p = e.probe(ctx, b)
	}, func() {
		e.Test.Enable()
		e.tested = true
		e.showProbe(b, p)
	})
}

// showProbe shows a test's answer and fills the user and library pickers.
func (e *BackendEditor) showProbe(b state.Backend, p probe) {
	if len(p.users) > 0 {
		want := b.UserID
		if want == "" {
			want = p.info.UserID
		}
		e.setUsers(p.users, want)
	}
	switch {
	case p.err == nil && p.needUser:
		showText(e.Result, "✓ Connected to "+infoText(p.info)+". This token (an API key) has no user of its own: choose whose watch state to sync.")
	case p.err == nil:
		showText(e.Result, "✓ Connected: "+infoText(p.info))
		if p.info.UserID != "" && !b.Kind.TokenIsUser() && b.UserID == "" {
			e.setUsers(e.users, p.info.UserID)
		}
	case len(p.users) > 0 && b.UserID == "":
		showText(e.Result, "This token has no user of its own: choose whose watch state to sync.")
	default:
		showText(e.Result, "✗ "+describe(b, p.err))
	}
	if len(p.libs) > 0 {
		e.setLibs(p.libs, b.Options.Libraries)
	}
}

// setUsers fills the user picker without triggering a new test.
func (e *BackendEditor) setUsers(users []backend.User, selectID string) {
	cb := e.User.OnChanged
	e.User.OnChanged = nil
	defer func() { e.User.OnChanged = cb }()
	e.users = users
	var opts []string
	sel := -1
	for i, u := range users {
		label := u.Name
		if u.Admin {
			label += " (admin)"
		}
		opts = append(opts, label)
		if u.ID == selectID {
			sel = i
		}
	}
	e.User.SetOptions(opts)
	if sel >= 0 {
		e.User.SetSelectedIndex(sel)
	} else {
		e.User.ClearSelected()
	}
}

func (e *BackendEditor) setLibs(libs []backend.Library, chosen []string) {
	e.libs = libs
	var opts, sel []string
	for _, l := range libs {
		opts = append(opts, libLabel(l))
		if len(chosen) == 0 || slices.Contains(chosen, l.ID) {
			sel = append(sel, libLabel(l))
		}
	}
	e.Libs.Options = opts
	e.Libs.SetSelected(sel)
	e.Libs.Refresh()
	e.libBox.Show()
}

func (e *BackendEditor) save() {
	b, err := e.config()
	if err != nil {
		showText(e.Error, err.Error())
		return
	}
	showText(e.Error, "")
	e.Save.Disable()
	showText(e.Result, "Checking the token with "+b.URL+"…")
	var p probe
	var saveErr error
	var warning string
	e.u.goBg(func() {
		ctx, cancel := context.WithTimeout(e.u.ctx, 30*time.Second)
		defer cancel()
		p = e.probe(ctx, b)
		switch {
		case errors.Is(p.err, backend.ErrUnauthorized), errors.Is(p.err, engine.ErrWrongKind):
			saveErr = errors.New(describe(b, p.err) + ": nothing saved")
			return
		case (p.err != nil && len(p.users) > 0 && b.UserID == "") || (p.err == nil && p.needUser):
			saveErr = errors.New("choose the user whose watch state to sync (Jellyfin and Emby sync one user per backend)")
			return
		case p.err != nil:
			warning = describe(b, p.err) + "; saved anyway: test it when the server is up"
		default:
			b.ServerID, b.ServerName, b.UserName = p.info.ServerID, p.info.Name, p.info.UserName
			if p.info.UserID != "" {
				b.UserID = p.info.UserID
			}
		}
		if e.orig == nil {
			b, saveErr = e.u.st.AddBackend(ctx, b)
		} else {
			saveErr = e.u.st.UpdateBackend(ctx, b)
		}
	}, func() {
		e.Save.Enable()
		e.tested = true
		e.showProbe(b, p)
		if saveErr != nil {
			showText(e.Error, saveErr.Error())
			return
		}
		msg := "Saved " + b.Name + "."
		if e.orig == nil {
			msg = fmt.Sprintf("Added %s: import %s, export off until you turn it on.", b.Name, strings.ToLower(importLabel(b.Import)))
		}
		if warning != "" {
			msg += " " + warning + "."
		}
		e.u.Window.setMessage(msg)
		e.u.d.Engine.Notify()
		if e.onSaved != nil {
			e.onSaved(b)
		}
	})
}
