package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/accounts"
	"playmark/sync/backend"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/plextv"
	"playmark/sync/state"
)

// SignIn is the way to add servers without pasting a token: sign in
// with Plex (a code approved in the browser), or to a Jellyfin or Emby
// server (user name and password, or Quick Connect on Jellyfin); then
// the servers the account reaches, each with the address that answered
// or why none did; then the users on the chosen server, with check
// boxes, and who each is linked to; then Add makes their backends.
// "Add by address and token" hands over to the token editor (advanced).
//
// Every network and store call runs off the UI thread; a wait (the code
// in the browser, Quick Connect) shows a moving bar and Cancel.
type SignIn struct {
	u        *UI
	content  *fyne.Container
	Step     string // "choose", "plex", "password", "quick", "servers", "users", "adding"
	done     func([]state.Backend)
	advanced func()

	Heading *widget.Label
	// Status says what went wrong, or what is going on, under each step.
	Status *widget.Label

	// The choice.
	PlexBtn     *widget.Button
	JellyfinBtn *widget.Button
	EmbyBtn     *widget.Button
	TokenBtn    *widget.Button // "Add by address and token"
	// Known offers the accounts already signed in to (KnownBtns).
	Known     *fyne.Container
	KnownBtns []*widget.Button

	// The wait for an approval (Plex, Quick Connect).
	Code      *widget.Label
	Link      string
	OpenAgain *widget.Button
	Waiting   *widget.ProgressBarInfinite
	Cancel    *widget.Button
	cancel    context.CancelFunc

	// Jellyfin and Emby.
	Kind         backend.Kind
	URL          *widget.Entry
	User         *widget.Entry
	Password     *widget.Entry
	SignInBtn    *widget.Button
	QuickConnect *widget.Button
	Back         *widget.Button

	// What the account reaches.
	Account      state.Account
	Servers      []accounts.Server
	ServerChoice *widget.RadioGroup
	Next         *widget.Button

	// Who on the chosen server.
	Server accounts.Server
	Users  []*UserRow
	AddBtn *widget.Button
	Added  []state.Backend
}

// UserRow is one user on the users step.
type UserRow struct {
	U      accounts.User
	Check  *widget.Check
	PIN    *widget.Entry // a protected Plex Home profile's PIN; nil otherwise
	Linked *widget.Label // who the user is, or will be, linked to
}

func newSignIn(u *UI, done func([]state.Backend), advanced func()) *SignIn {
	s := &SignIn{u: u, done: done, advanced: advanced}
	s.Heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.Status = widget.NewLabel("")
	s.Status.Wrapping = fyne.TextWrapWord
	s.Status.Hide()
	s.PlexBtn = widget.NewButtonWithIcon("Sign in with Plex", theme.LoginIcon(), s.startPlex)
	s.PlexBtn.Importance = widget.HighImportance
	s.JellyfinBtn = widget.NewButtonWithIcon("Sign in to Jellyfin", theme.LoginIcon(), func() { s.stepPassword(backend.Jellyfin) })
	s.EmbyBtn = widget.NewButtonWithIcon("Sign in to Emby", theme.LoginIcon(), func() { s.stepPassword(backend.Emby) })
	s.TokenBtn = widget.NewButtonWithIcon("Add by address and token", theme.SettingsIcon(), func() {
		if s.advanced != nil {
			s.advanced()
		}
	})
	s.TokenBtn.Importance = widget.LowImportance
	s.Code = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true, Monospace: true})
	s.Code.SizeName = theme.SizeNameHeadingText
	s.OpenAgain = widget.NewButtonWithIcon("Open the sign-in page again", theme.ComputerIcon(), func() {
		if err := s.u.openURL(s.Link); err != nil {
			s.setStatus("Could not open the browser: "+err.Error()+". Open this link yourself: "+s.Link, true)
		}
	})
	s.Waiting = widget.NewProgressBarInfinite()
	s.Waiting.Stop()
	s.Cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), s.stopWaiting)
	s.URL = widget.NewEntry()
	s.User = widget.NewEntry()
	s.User.SetPlaceHolder("your user name on the server")
	s.Password = widget.NewPasswordEntry()
	s.Password.OnSubmitted = func(string) { s.signInPassword() }
	s.SignInBtn = widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), s.signInPassword)
	s.SignInBtn.Importance = widget.HighImportance
	s.QuickConnect = widget.NewButton("Use Quick Connect", s.startQuickConnect)
	s.Back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() { s.stepChoose("") })
	s.ServerChoice = widget.NewRadioGroup(nil, nil)
	s.Next = widget.NewButtonWithIcon("Next: choose who to sync", theme.NavigateNextIcon(), s.chooseServer)
	s.Next.Importance = widget.HighImportance
	s.AddBtn = widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), s.add)
	s.AddBtn.Importance = widget.HighImportance
	s.content = container.NewStack()
	s.stepChoose("")
	return s
}

func wrapLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// setStatus shows a sentence under the step; bad ones in red.
func (s *SignIn) setStatus(msg string, bad bool) {
	s.Status.Importance = widget.MediumImportance
	if bad {
		s.Status.Importance = widget.DangerImportance
	}
	showText(s.Status, msg)
	s.Status.Refresh()
}

// show puts a step's body on screen, the buttons under it, outside its
// scrolling.
func (s *SignIn) show(step, heading string, body fyne.CanvasObject, buttons ...fyne.CanvasObject) {
	s.Step = step
	s.Heading.SetText(heading)
	bottom := container.NewVBox(s.Status)
	if len(buttons) > 0 {
		bottom.Add(widget.NewSeparator())
		bottom.Add(container.NewHBox(buttons...))
	}
	s.content.Objects = []fyne.CanvasObject{
		container.NewBorder(s.Heading, bottom, nil, nil, container.NewVScroll(body)),
	}
	s.content.Refresh()
}

// stepChoose offers the ways in; msg, when not "", says why we are back.
func (s *SignIn) stepChoose(msg string) {
	s.setStatus(msg, msg != "")
	intro := wrapLabel("Playmark keeps watched marks and resume positions in step across your Plex, Jellyfin and Emby servers, " +
		"for everyone in the household. Sign in, and Playmark finds your servers and who uses them: no token to copy.")
	signins := container.NewVBox(s.PlexBtn, s.JellyfinBtn, s.EmbyBtn)
	adv := wrapLabel("Advanced: enter a server's address and a token (an X-Plex-Token, or a Jellyfin or Emby API key) yourself.")
	adv.Importance = widget.LowImportance
	s.Known = container.NewVBox()
	body := container.NewVBox(intro, container.NewHBox(signins), s.Known, widget.NewSeparator(), adv, container.NewHBox(s.TokenBtn))
	s.show("choose", "Sign in to your servers", body)
	s.loadKnown()
}

// loadKnown offers the accounts already signed in to: their servers
// again, without signing in again (another server, or more users).
func (s *SignIn) loadKnown() {
	var list []state.Account
	known := s.Known
	s.u.goBg(func() {
		list, _ = s.u.st.Accounts(s.u.ctx)
	}, func() {
		if s.Step != "choose" || s.Known != known || len(list) == 0 {
			return
		}
		s.KnownBtns = nil
		known.Add(wrapLabel("Or go on with an account you signed in to:"))
		row := container.NewHBox()
		for _, a := range list {
			b := widget.NewButtonWithIcon(fmt.Sprintf("%s (%s)", a.UserName, accountService(a.Kind)), theme.AccountIcon(), func() { s.signedIn(a) })
			s.KnownBtns = append(s.KnownBtns, b)
			row.Add(b)
		}
		known.Add(row)
		known.Refresh()
	})
}

// startWait shows a wait for an approval, with the code and Cancel; it
// returns the context the wait runs under.
func (s *SignIn) startWait(step, heading, explain, code string, extra ...fyne.CanvasObject) context.Context {
	ctx, cancel := context.WithCancel(s.u.ctx)
	s.cancel = cancel
	s.Code.SetText(code)
	s.Waiting.Start()
	s.setStatus("", false)
	body := container.NewVBox(wrapLabel(explain), s.Code)
	for _, o := range extra {
		body.Add(o)
	}
	body.Add(widget.NewLabel("Waiting for approval…"))
	body.Add(s.Waiting)
	s.show(step, heading, body, s.Cancel)
	return ctx
}

// stopWaiting is Cancel: the wait ends and the choice shows again.
func (s *SignIn) stopWaiting() {
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *SignIn) endWait() {
	s.Waiting.Stop()
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
}

// startPlex asks plex.tv for a code, opens its page in the browser, and
// waits for the code to be approved there.
func (s *SignIn) startPlex() {
	ctx := s.startWait("plex", "Sign in with Plex", "Asking plex.tv for a sign-in code…", "")
	var a state.Account
	var err error
	s.u.goBg(func() {
		m, merr := s.u.accounts(ctx)
		if merr != nil {
			err = merr
			return
		}
		a, err = m.SignInPlex(ctx, func(link, code string) {
			s.u.post(func() { s.showPlexCode(link, code) })
		})
	}, func() {
		s.endWait()
		switch {
		case errors.Is(err, context.Canceled):
			s.stepChoose("Signing in with Plex was cancelled.")
		case errors.Is(err, plextv.ErrPinExpired):
			s.stepChoose("The sign-in code expired before it was approved in the browser (a code lasts 15 minutes). " +
				"Choose Sign in with Plex again for a new one.")
		case err != nil:
			s.stepChoose("Could not sign in with Plex: " + err.Error())
		default:
			s.signedIn(a)
		}
	})
}

// showPlexCode shows the code and opens plex.tv's page for it.
func (s *SignIn) showPlexCode(link, code string) {
	if s.Step != "plex" || s.cancel == nil {
		return // cancelled meanwhile
	}
	s.Link = link
	s.startWaitKeep("plex", "Sign in with Plex",
		"Your browser opens Plex's sign-in page for this code. Sign in there and approve Playmark; "+
			"this window goes on by itself.", code, container.NewHBox(s.OpenAgain))
	if err := s.u.openURL(link); err != nil {
		s.setStatus("Could not open the browser ("+err.Error()+"). Open this link yourself: "+link, true)
	}
}

// startWaitKeep redraws a wait with a code, keeping its context.
func (s *SignIn) startWaitKeep(step, heading, explain, code string, extra ...fyne.CanvasObject) {
	cancel := s.cancel
	s.Code.SetText(code)
	body := container.NewVBox(wrapLabel(explain), s.Code)
	for _, o := range extra {
		body.Add(o)
	}
	body.Add(widget.NewLabel("Waiting for approval…"))
	body.Add(s.Waiting)
	s.show(step, heading, body, s.Cancel)
	s.cancel = cancel
}

// stepPassword is the Jellyfin or Emby sign-in form.
func (s *SignIn) stepPassword(kind backend.Kind) {
	s.Kind = kind
	s.setStatus("", false)
	s.URL.SetPlaceHolder("http://192.168.1.10:8096")
	title := kindTitle(kind)
	label := func(t string) *widget.Label {
		return widget.NewLabelWithStyle(t, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	}
	form := container.New(layout.NewFormLayout(), label("Server address"), s.URL, label("User name"), s.User, label("Password"), s.Password)
	intro := wrapLabel(fmt.Sprintf("Sign in to your %s server as you would in its app. The password is used once, to sign in, and is not kept; "+
		"an administrator's sign-in also lists the server's other users.", title))
	body := container.NewVBox(intro, form)
	buttons := []fyne.CanvasObject{s.Back, s.SignInBtn}
	if kind.QuickConnect() {
		body.Add(wrapLabel("Or, without a password: Quick Connect shows a code to enter in a Jellyfin app you are signed in to."))
		buttons = append(buttons, s.QuickConnect)
	}
	s.SignInBtn.Enable()
	s.show("password", "Sign in to "+title, body, buttons...)
}

// serverURL checks the address field.
func (s *SignIn) serverURL() (string, bool) {
	u, err := state.NormalizeURL(s.URL.Text)
	if err != nil {
		s.setStatus(err.Error(), true)
		return "", false
	}
	return u, true
}

func (s *SignIn) signInPassword() {
	if s.Step != "password" {
		return
	}
	addr, ok := s.serverURL()
	if !ok {
		return
	}
	user, pw := strings.TrimSpace(s.User.Text), s.Password.Text
	if user == "" {
		s.setStatus("Enter your user name.", true)
		return
	}
	kind := s.Kind
	s.SignInBtn.Disable()
	s.setStatus("Signing in to "+addr+"…", false)
	var a state.Account
	var err error
	s.u.goBg(func() {
		ctx, cancel := context.WithTimeout(s.u.ctx, time.Minute)
		defer cancel()
		m, merr := s.u.accounts(ctx)
		if merr != nil {
			err = merr
			return
		}
		a, err = m.SignInPassword(ctx, kind, addr, user, pw)
	}, func() {
		s.SignInBtn.Enable()
		switch {
		case errors.Is(err, backend.ErrUnauthorized):
			s.setStatus(addr+" refused the user name or password.", true)
		case err != nil:
			s.setStatus(backend.Describe(addr, err)+".", true)
		default:
			s.Password.SetText("")
			s.signedIn(a)
		}
	})
}

// startQuickConnect asks the Jellyfin server for a six-digit code and
// waits for it to be approved from a signed-in Jellyfin app.
func (s *SignIn) startQuickConnect() {
	addr, ok := s.serverURL()
	if !ok {
		return
	}
	ctx := s.startWait("quick", "Sign in to Jellyfin with Quick Connect", "Asking "+addr+" for a Quick Connect code…", "")
	var a state.Account
	var err error
	s.u.goBg(func() {
		m, merr := s.u.accounts(ctx)
		if merr != nil {
			err = merr
			return
		}
		a, err = m.SignInQuickConnect(ctx, addr, func(code string) {
			s.u.post(func() {
				if s.Step == "quick" && s.cancel != nil {
					s.startWaitKeep("quick", "Sign in to Jellyfin with Quick Connect",
						"In a Jellyfin app you are signed in to, open your user's settings → Quick Connect and enter this code:", code)
				}
			})
		})
	}, func() {
		s.endWait()
		switch {
		case errors.Is(err, context.Canceled):
			s.stepPassword(backend.Jellyfin)
			s.setStatus("Quick Connect was cancelled.", false)
		case errors.Is(err, mediabrowser.ErrQuickConnectDisabled):
			s.stepPassword(backend.Jellyfin)
			s.setStatus("Quick Connect is turned off on this server (an administrator turns it on in Dashboard → General). Sign in with your password instead.", true)
		case errors.Is(err, mediabrowser.ErrQuickConnectExpired):
			s.stepPassword(backend.Jellyfin)
			s.setStatus("The Quick Connect code expired before it was approved. Choose Use Quick Connect again for a new one.", true)
		case err != nil:
			s.stepPassword(backend.Jellyfin)
			s.setStatus(backend.Describe(addr, err)+".", true)
		default:
			s.signedIn(a)
		}
	})
}

// signedIn looks for what the account reaches.
func (s *SignIn) signedIn(a state.Account) {
	s.Account = a
	s.Servers = nil
	s.setStatus("", false)
	s.Waiting.Start()
	s.show("servers", "Signed in as "+a.UserName, container.NewVBox(
		wrapLabel("Looking for the servers this account reaches, and trying their addresses…"), s.Waiting), s.Back)
	var servers []accounts.Server
	var full state.Account
	var err error
	s.u.goBg(func() {
		ctx, cancel := context.WithTimeout(s.u.ctx, 2*time.Minute)
		defer cancel()
		m, merr := s.u.accounts(ctx)
		if merr != nil {
			err = merr
			return
		}
		// With its token (an account from the list has none).
		if full, err = s.u.st.Account(ctx, a.Name); err != nil {
			return
		}
		servers, err = m.Servers(ctx, full)
	}, func() {
		if s.Step != "servers" || s.Account.Name != a.Name {
			return // left meanwhile (Back)
		}
		if err == nil {
			s.Account = full
		}
		s.Waiting.Stop()
		if err != nil {
			msg := "Could not list what the account reaches: " + err.Error()
			if errors.Is(err, accounts.ErrAccountRejected) {
				msg = "The account's sign-in was rejected: sign in again."
			}
			s.stepChoose(msg)
			return
		}
		s.stepServers(servers)
	})
}

// accountService names the service an account signed in to.
func accountService(kind string) string {
	switch kind {
	case state.AccountPlexTV:
		return "Plex"
	case state.AccountJellyfin:
		return "Jellyfin"
	case state.AccountEmby:
		return "Emby"
	}
	return kind
}

// ServerText is one server on the servers step: its name and what kind,
// then the address that answered or why none did.
func ServerText(sv accounts.Server) (title, where string) {
	title = fmt.Sprintf("%s (%s", sv.Name, kindTitle(sv.Kind))
	if sv.Owned {
		title += ", yours"
	} else if sv.Kind == backend.Plex {
		title += ", shared with you"
	}
	title += ")"
	if sv.URL != "" {
		return title, "answered at " + sv.URL
	}
	why := "no reason given"
	if sv.Err != nil {
		why = sv.Err.Error()
	}
	return title, "no address answered: " + why
}

// stepServers lists the servers found; the ones that answered can be
// chosen.
func (s *SignIn) stepServers(servers []accounts.Server) {
	s.Servers = servers
	var opts []string
	details := container.NewVBox()
	reachable := 0
	for _, sv := range servers {
		title, where := ServerText(sv)
		l := wrapLabel(title + ": " + where)
		if sv.URL == "" {
			l.Importance = widget.DangerImportance
		} else {
			opts = append(opts, title)
			reachable++
		}
		details.Add(l)
	}
	s.ServerChoice.Options = opts
	s.ServerChoice.Selected = ""
	if reachable > 0 {
		s.ServerChoice.Selected = opts[0]
	}
	s.ServerChoice.Refresh()
	var msg string
	switch {
	case len(servers) == 0:
		msg = "This account reaches no server. On Plex, a server must be signed in to this account or shared with it."
	case reachable == 0:
		msg = "None of the servers answered at any of its addresses (see why above). Check that they are on, then sign in again."
	}
	s.setStatus(msg, msg != "")
	setEnabled(s.Next, reachable > 0)
	body := container.NewVBox(
		wrapLabel(fmt.Sprintf("Signed in to %s as %s, which reaches %s:", accountService(s.Account.Kind), s.Account.UserName, plural(len(servers), "server"))),
		details, widget.NewSeparator(), wrapLabel("Choose the server to add:"), s.ServerChoice)
	s.show("servers", "Your servers", body, s.Back, s.Next)
}

// chooseServer goes on to the users of the chosen server.
func (s *SignIn) chooseServer() {
	for _, sv := range s.Servers {
		if t, _ := ServerText(sv); t == s.ServerChoice.Selected && sv.URL != "" {
			s.stepUsers(sv)
			return
		}
	}
	s.setStatus("Choose a server that answered.", true)
}

// userTags says what a user is: you, home, friend, admin, guest, PIN.
func userTags(a state.Account, u accounts.User) string {
	var tags []string
	switch u.Relation {
	case state.RelationSelf:
		if u.ID == a.UserID || u.Name == a.UserName {
			tags = append(tags, "you")
		}
	case state.RelationHome:
		tags = append(tags, "Plex Home")
	case state.RelationFriend:
		tags = append(tags, "friend")
	}
	if u.Admin {
		tags = append(tags, "admin")
	}
	if u.Guest {
		tags = append(tags, "guest")
	}
	if u.Protected {
		tags = append(tags, "PIN")
	}
	if len(tags) == 0 {
		return u.Name
	}
	return u.Name + " (" + strings.Join(tags, ", ") + ")"
}

// stepUsers lists the users on sv with check boxes: all but guests
// checked; a PIN entry for a protected profile; who each is linked to.
func (s *SignIn) stepUsers(sv accounts.Server) {
	s.Server = sv
	s.Users = nil
	grid := container.New(&columnsLayout{cols: 3})
	for _, h := range []string{"Sync", "PIN", "Person"} {
		grid.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	checked := defaultSelection(sv.Users)
	for _, u := range sv.Users {
		r := &UserRow{U: u}
		r.Check = widget.NewCheck(userTags(s.Account, u), func(bool) { s.countChecked() })
		r.Check.Checked = checked[u.ID]
		r.Linked = widget.NewLabel("")
		var pin fyne.CanvasObject = widget.NewLabel("")
		if u.Protected {
			r.PIN = widget.NewPasswordEntry()
			r.PIN.SetPlaceHolder("their PIN")
			// An entry's own minimum is a few letters wide.
			pin = container.NewGridWrap(fyne.NewSize(150, r.PIN.MinSize().Height), r.PIN)
		}
		s.Users = append(s.Users, r)
		grid.Add(r.Check)
		grid.Add(pin)
		grid.Add(r.Linked)
	}
	intro := fmt.Sprintf("Whose watch state should Playmark keep in step on %s? Each one checked gets a backend of their own, "+
		"linked to a person: the same name on another server is the same person.", sv.Name)
	body := container.NewVBox(wrapLabel(intro), grid)
	if sv.UsersErr != nil {
		body.Add(wrapLabel("Not every user could be listed: " + sv.UsersErr.Error()))
	}
	_, where := ServerText(sv)
	body.Add(wrapLabel("Playmark will use the address that " + where + "."))
	s.setStatus("", false)
	s.countChecked()
	s.show("users", "Who uses "+sv.Name, body, container.NewHBox(widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() {
		s.stepServers(s.Servers)
	})), s.AddBtn)
	s.loadLinks()
}

// countChecked says on Add how many backends it makes.
func (s *SignIn) countChecked() {
	n := 0
	for _, r := range s.Users {
		if r.Check.Checked {
			n++
		}
	}
	s.AddBtn.SetText("Add " + plural(n, "backend"))
	setEnabled(s.AddBtn, n > 0)
}

// add makes a backend for every checked user, with their PINs.
func (s *SignIn) add() {
	var users []accounts.User
	pins := map[string]string{}
	for _, r := range s.Users {
		if !r.Check.Checked {
			continue
		}
		if r.PIN != nil {
			if strings.TrimSpace(r.PIN.Text) == "" {
				s.setStatus(r.U.Name+"'s profile has a PIN: enter it, or uncheck "+r.U.Name+".", true)
				return
			}
			pins[r.U.ID] = strings.TrimSpace(r.PIN.Text)
		}
		users = append(users, r.U)
	}
	if len(users) == 0 {
		return
	}
	a, sv := s.Account, s.Server
	s.AddBtn.Disable()
	s.setStatus(fmt.Sprintf("Adding %s on %s…", plural(len(users), "backend"), sv.Name), false)
	var added []state.Backend
	var err error
	s.u.write(func() {
		ctx, cancel := context.WithTimeout(s.u.ctx, 2*time.Minute)
		defer cancel()
		added, err = s.u.addUsers(ctx, a, sv, users, pins)
	}, func() {
		s.AddBtn.Enable()
		if err != nil {
			s.setStatus(describeAddErr(err), true)
			if len(added) == 0 {
				return
			}
		}
		s.Added = append(s.Added, added...)
		var names []string
		for _, b := range added {
			names = append(names, b.Name)
		}
		s.u.Window.setMessage("Added " + strings.Join(names, ", ") + ": import full, export off until you turn it on.")
		s.u.d.Engine.Notify()
		if s.done != nil {
			s.done(added)
		}
	})
}

func describeAddErr(err error) string {
	if errors.Is(err, backend.ErrUnauthorized) {
		return "The server refused a token (a wrong PIN?): " + err.Error() + ". Nothing was saved for that user."
	}
	return "Could not add: " + err.Error()
}
