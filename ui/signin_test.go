package ui

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/accounts"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// household is a simulated plex.tv with one Plex server and a household:
// the owner, Anna (home), Ben (home, PIN 1234) and Carol (a friend).
type household struct {
	tv  *simulate.PlexTV
	srv *simulate.PlexServer
}

func newHousehold(t *testing.T, opt simulate.PlexTVOptions, conns ...simulate.TVConnection) household {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: 30, Seed: 1})
	srv, err := simulate.NewPlex(cat, simulate.Options{Name: "Living room",
		Watches: simulate.GenerateWatches(cat, 101, time.Now().UTC().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tv, err := simulate.NewPlexTV(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tv.Close)
	if _, err := tv.AddHomeUser("Anna", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.AddHomeUser("Ben", "1234", false); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.AddFriend("Carol"); err != nil {
		t.Fatal(err)
	}
	tv.AddGuest()
	if err := tv.AddServer(srv, conns...); err != nil {
		t.Fatal(err)
	}
	return household{tv: tv, srv: srv}
}

// opened records the links the UI opened in the browser.
type opened struct {
	mu    sync.Mutex
	links []string
}

func (o *opened) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.links...)
}

// useAccounts points the env's sign-ins at plex.tv tvURL (polled fast)
// and records the links opened.
func (e *env) useAccounts(tvURL string) *opened {
	o := &opened{}
	e.u.d.Accounts = func(ctx context.Context) (*accounts.Manager, error) {
		id, err := e.eng.ClientID(ctx)
		if err != nil {
			return nil, err
		}
		return &accounts.Manager{Store: e.st, ClientID: id, PlexTVURL: tvURL, PollInterval: 20 * time.Millisecond}, nil
	}
	e.u.d.OpenURL = func(l *url.URL) error {
		o.mu.Lock()
		o.links = append(o.links, l.String())
		o.mu.Unlock()
		return nil
	}
	return o
}

// pumpUntil runs what background work hands to the UI thread until ok
// says so (a sign-in shows its code while it still waits).
func (e *env) pumpUntil(what string, ok func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		e.u.queue.run()
		time.Sleep(10 * time.Millisecond)
	}
}

// signInPlex taps Sign in with Plex, approves the code shown as the
// owner would in the browser, and waits for the servers step.
func (e *env) signInPlex(s *SignIn, h household, links *opened) {
	e.t.Helper()
	test.Tap(s.PlexBtn)
	e.pumpUntil("the code", func() bool { return s.Code.Text != "" })
	if s.Step != "plex" || !s.Cancel.Visible() || !s.Waiting.Visible() {
		e.t.Fatalf("while waiting: step %q, Cancel shown %v, wait shown %v", s.Step, s.Cancel.Visible(), s.Waiting.Visible())
	}
	code := s.Code.Text
	got := links.all()
	if len(got) != 1 || !strings.Contains(got[0], "/auth#?clientID=") || !strings.Contains(got[0], "code="+code) {
		e.t.Fatalf("opened %v, want the plex.tv sign-in page for code %s", got, code)
	}
	if !h.tv.Approve(code) {
		e.t.Fatalf("plex.tv knows no code %q", code)
	}
	e.u.Wait()
	if s.Step != "servers" {
		e.t.Fatalf("step %q after approval (status %q)", s.Step, s.Status.Text)
	}
}

// First run: Sign in with Plex shows the code and opens plex.tv's page;
// once approved in the browser, the server shows with the address that
// answered; then the users, and Add makes the backend and goes on to the
// preview.
func TestFirstRunSignInWithPlex(t *testing.T) {
	e := newEnv(t)
	h := newHousehold(t, simulate.PlexTVOptions{})
	links := e.useAccounts(h.tv.URL())
	f := e.u.Window.FirstRun
	s := f.SignIn
	if s == nil || s.Step != "choose" {
		t.Fatal("the first run does not start with the sign-in")
	}
	shown := buttonTexts(e.u.Window.win.Canvas().Content())
	for _, b := range []string{"Sign in with Plex", "Sign in to Jellyfin", "Sign in to Emby", "Add by address and token"} {
		if !strings.Contains(shown, b+"\n") {
			t.Errorf("no button %q on the first run", b)
		}
	}
	e.signInPlex(s, h, links)

	if len(s.Servers) != 1 || s.Servers[0].URL != h.srv.URL() {
		t.Fatalf("servers %+v", s.Servers)
	}
	mustContain(t, "server choice", strings.Join(s.ServerChoice.Options, "|"), "Living room (Plex, yours)")
	mustContain(t, "servers step", labelTexts(s.content), "answered at "+h.srv.URL())
	test.Tap(s.Next)
	if s.Step != "users" {
		t.Fatalf("step %q after Next", s.Step)
	}
	rows := map[string]*UserRow{}
	for _, r := range s.Users {
		rows[r.U.Name] = r
	}
	if len(rows) != 5 || rows["owner"] == nil || rows["Ben"] == nil || rows["Ben"].PIN == nil || rows["Anna"].PIN != nil || rows["Guest"] == nil {
		t.Fatalf("user rows %v (Ben needs a PIN entry, Anna not)", rows)
	}
	for name, want := range map[string]bool{"owner": true, "Anna": true, "Ben": true, "Carol": true, "Guest": false} {
		if rows[name].Check.Checked != want {
			t.Errorf("%s checked %v, want %v (all but guests)", name, rows[name].Check.Checked, want)
		}
	}
	mustContain(t, "owner's row", rows["owner"].Check.Text, "you")
	mustContain(t, "Ben's row", rows["Ben"].Check.Text, "Plex Home", "PIN")
	mustContain(t, "Carol's row", rows["Carol"].Check.Text, "friend")
	mustContain(t, "Guest's row", rows["Guest"].Check.Text, "guest")
	// Who each is linked to: nobody exists yet, so new people.
	e.u.Wait()
	mustContain(t, "Anna's person", rows["Anna"].Linked.Text, "Anna (new)")
	if s.AddBtn.Text != "Add 4 backends" {
		t.Errorf("Add says %q", s.AddBtn.Text)
	}

	// Ben's profile has a PIN: Add asks for it first.
	test.Tap(s.AddBtn)
	e.u.Wait()
	mustContain(t, "status", s.Status.Text, "Ben's profile has a PIN")
	if bs, _ := e.st.Backends(context.Background()); len(bs) != 0 {
		t.Fatalf("saved %d backends without Ben's PIN", len(bs))
	}
	test.Type(rows["Ben"].PIN, "1234")
	test.Tap(s.AddBtn)
	e.settle()
	bs, err := e.st.Backends(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	persons := map[string]string{}
	for _, b := range bs {
		persons[b.UserName] = b.Person
		if b.URL != h.srv.URL() || b.Token == "" || b.Export || b.Import != state.ImportFull {
			t.Errorf("saved %+v", b)
		}
	}
	if len(bs) != 4 || persons["Anna"] != "Anna" || persons["Ben"] != "Ben" || persons["Carol"] != "Carol" || persons["owner"] != "owner" {
		t.Fatalf("backends by user -> person: %v", persons)
	}
	if f.Step != 2 || len(f.Added) != 4 {
		t.Fatalf("first run step %d, added %v", f.Step, f.Added)
	}

	// The preview goes per person: each row says whose server it read.
	test.Tap(f.PreviewBtn)
	e.settle()
	if f.Previewed == nil {
		t.Fatalf("no preview: %q", f.Status.Text)
	}
	found := FoundRows(f.Previewed, f.persons)
	if len(found) != 4 {
		t.Fatalf("found rows %q", found)
	}
	for _, r := range found {
		if want := "living-room-" + strings.ToLower(r[0]); r[1] != want {
			t.Errorf("row %q: person %q on backend %q, want %q", r, r[0], r[1], want)
		}
	}
	mustContain(t, "found table", labelTexts(f.Found), "Person\n", "Anna\n", "Ben\n")

	// A second sign-in, to Jellyfin, links its Anna to the same person.
	test.Tap(f.AddAnother)
	jf := jellyfinServer(t, 10)
	jf.SetPassword("admin", "secret")
	jf.AddUser("anna", "", false)
	s = f.SignIn
	test.Tap(s.JellyfinBtn)
	test.Type(s.URL, jf.URL())
	test.Type(s.User, "admin")
	test.Type(s.Password, "secret")
	test.Tap(s.SignInBtn)
	e.u.Wait()
	test.Tap(s.Next)
	e.u.Wait()
	for _, r := range s.Users {
		if r.U.Name == "anna" {
			mustContain(t, "Jellyfin anna's person", r.Linked.Text, "Anna (also living-room-anna)")
		}
	}
}

// buttonTexts is the labels of the visible buttons under o, a line each.
func buttonTexts(o fyne.CanvasObject) string {
	var b strings.Builder
	for _, x := range test.LaidOutObjects(o) {
		if btn, ok := x.(*widget.Button); ok && btn.Visible() {
			b.WriteString(btn.Text + "\n")
		}
	}
	return b.String()
}

// A code not approved in time says so in a sentence, and the choice
// shows again; nothing is saved.
func TestPlexSignInCodeExpires(t *testing.T) {
	e := newEnv(t)
	h := newHousehold(t, simulate.PlexTVOptions{PinTTL: time.Second})
	e.useAccounts(h.tv.URL())
	s := e.u.Window.FirstRun.SignIn
	test.Tap(s.PlexBtn)
	e.u.Wait()
	if s.Step != "choose" {
		t.Fatalf("step %q after the code expired", s.Step)
	}
	mustContain(t, "status", s.Status.Text, "expired", "Sign in with Plex again")
	if as, _ := e.st.Accounts(context.Background()); len(as) != 0 {
		t.Errorf("accounts saved: %v", as)
	}
}

// Cancel ends the wait at once.
func TestPlexSignInCancel(t *testing.T) {
	e := newEnv(t)
	h := newHousehold(t, simulate.PlexTVOptions{})
	e.useAccounts(h.tv.URL())
	s := e.u.Window.FirstRun.SignIn
	test.Tap(s.PlexBtn)
	e.pumpUntil("the code", func() bool { return s.Code.Text != "" })
	test.Tap(s.Cancel)
	e.u.Wait()
	if s.Step != "choose" {
		t.Fatalf("step %q after Cancel", s.Step)
	}
	mustContain(t, "status", s.Status.Text, "cancelled")
	h.tv.Approve(s.Code.Text) // too late: nobody polls it any more
	time.Sleep(100 * time.Millisecond)
	e.u.Wait()
	if as, _ := e.st.Accounts(context.Background()); len(as) != 0 {
		t.Errorf("accounts saved after Cancel: %v", as)
	}
}

// A server none of whose addresses answers is listed with why, and
// cannot be chosen.
func TestSignInServerThatDoesNotAnswer(t *testing.T) {
	e := newEnv(t)
	h := newHousehold(t, simulate.PlexTVOptions{}, simulate.TVConnection{URI: "http://127.0.0.1:1", Local: true})
	links := e.useAccounts(h.tv.URL())
	s := e.u.Window.FirstRun.SignIn
	e.signInPlex(s, h, links)
	mustContain(t, "servers step", labelTexts(s.content), "Living room (Plex, yours): no address answered")
	if len(s.ServerChoice.Options) != 0 || !s.Next.Disabled() {
		t.Errorf("a server that did not answer can be chosen: %v", s.ServerChoice.Options)
	}
	mustContain(t, "status", s.Status.Text, "None of the servers answered")
}

// Jellyfin by user name and password: a wrong password is refused in a
// sentence; the right one lists the server and its users (an admin).
func TestSignInToJellyfinByPassword(t *testing.T) {
	e := newEnv(t)
	jf := jellyfinServer(t, 10)
	jf.SetPassword("admin", "secret")
	e.useAccounts("")
	s := e.u.Window.FirstRun.SignIn
	test.Tap(s.JellyfinBtn)
	if s.Step != "password" || !s.QuickConnect.Visible() {
		t.Fatalf("step %q, Quick Connect shown %v", s.Step, s.QuickConnect.Visible())
	}
	test.Type(s.URL, jf.URL())
	test.Type(s.User, "admin")
	test.Type(s.Password, "wrong")
	test.Tap(s.SignInBtn)
	e.u.Wait()
	if s.Step != "password" {
		t.Fatalf("step %q after a wrong password", s.Step)
	}
	mustContain(t, "status", s.Status.Text, "refused the user name or password")
	s.Password.SetText("")
	test.Type(s.Password, "secret")
	test.Tap(s.SignInBtn)
	e.u.Wait()
	if s.Step != "servers" || len(s.Servers) != 1 {
		t.Fatalf("step %q, servers %+v (status %q)", s.Step, s.Servers, s.Status.Text)
	}
	if s.Password.Text != "" {
		t.Error("the password stays in its field after signing in")
	}
	test.Tap(s.Next)
	var names []string
	for _, r := range s.Users {
		names = append(names, r.U.Name)
	}
	if len(names) < 2 {
		t.Errorf("an admin's sign-in lists users %v", names)
	}
	test.Tap(s.AddBtn)
	e.settle()
	bs, err := e.st.Backends(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, b := range bs {
		ids[b.UserName] = b.UserID
	}
	if ids["admin"] != jf.UserByName("admin") || ids["guest"] != jf.UserByName("guest") || len(bs) != len(s.Users) {
		t.Fatalf("backends %+v", bs)
	}
}

// Emby has no Quick Connect.
func TestSignInToEmbyHasNoQuickConnect(t *testing.T) {
	e := newEnv(t)
	s := e.u.Window.FirstRun.SignIn
	test.Tap(s.EmbyBtn)
	if s.Step != "password" || s.Kind != "emby" {
		t.Fatalf("step %q kind %q", s.Step, s.Kind)
	}
	if strings.Contains(buttonTexts(s.content), "Use Quick Connect\n") {
		t.Error("Quick Connect offered on Emby")
	}
}

// Jellyfin by Quick Connect: the six-digit code shows; approved from
// another app, the sign-in goes on; Cancel and "turned off" say so.
func TestSignInToJellyfinByQuickConnect(t *testing.T) {
	e := newEnv(t)
	jf := jellyfinServer(t, 10)
	e.useAccounts("")
	s := e.u.Window.FirstRun.SignIn
	test.Tap(s.JellyfinBtn)
	test.Type(s.URL, jf.URL())
	test.Tap(s.QuickConnect)
	e.pumpUntil("the Quick Connect code", func() bool { return s.Code.Text != "" })
	if len(s.Code.Text) != 6 || s.Step != "quick" {
		t.Fatalf("code %q, step %q", s.Code.Text, s.Step)
	}
	if !jf.ApproveQuickConnect(s.Code.Text, "admin") {
		t.Fatalf("the server knows no code %q", s.Code.Text)
	}
	e.u.Wait()
	if s.Step != "servers" || s.Account.UserName != "admin" {
		t.Fatalf("step %q, account %+v (status %q)", s.Step, s.Account, s.Status.Text)
	}

	jf.SetQuickConnect(false, 0, "")
	test.Tap(s.Back)
	test.Tap(s.JellyfinBtn)
	test.Tap(s.QuickConnect)
	e.u.Wait()
	mustContain(t, "status", s.Status.Text, "Quick Connect is turned off")
}

// Add on the Backends screen offers the same sign-in; a backend added
// there closes the dialog.
func TestBackendsAddSignsIn(t *testing.T) {
	e := newEnv(t)
	h := newHousehold(t, simulate.PlexTVOptions{})
	links := e.useAccounts(h.tv.URL())
	w := e.u.Window
	w.endFirstRun()
	test.Tap(w.Backends.Add)
	s := w.Backends.SignIn
	if s == nil {
		t.Fatal("Add did not open the sign-in")
	}
	e.signInPlex(s, h, links)
	test.Tap(s.Next)
	for _, r := range s.Users {
		r.Check.SetChecked(r.U.Name == "owner")
	}
	test.Tap(s.AddBtn)
	e.settle()
	if w.Backends.SignIn != nil {
		t.Error("the dialog stays open after adding")
	}
	if _, err := e.st.Backend(context.Background(), "living-room-owner"); err != nil {
		t.Fatal(err)
	}
	if w.Backends.Row("living-room-owner") == nil {
		t.Error("no row for the new backend")
	}

	// Add again: the account signed in to is offered, no new code; Anna
	// is added from it.
	test.Tap(w.Backends.Add)
	s = w.Backends.SignIn
	e.u.Wait()
	if len(s.KnownBtns) != 1 {
		t.Fatalf("accounts offered: %d", len(s.KnownBtns))
	}
	mustContain(t, "known account", s.KnownBtns[0].Text, "owner (Plex)")
	test.Tap(s.KnownBtns[0])
	e.u.Wait()
	if s.Step != "servers" || len(links.all()) != 1 {
		t.Fatalf("step %q, links opened %v", s.Step, links.all())
	}
	test.Tap(s.Next)
	e.u.Wait()
	for _, r := range s.Users {
		if r.U.Name == "owner" {
			mustContain(t, "owner's person", r.Linked.Text, "owner (also living-room-owner)")
		}
		r.Check.SetChecked(r.U.Name == "Anna")
	}
	test.Tap(s.AddBtn)
	e.settle()
	if b, err := e.st.Backend(context.Background(), "living-room-anna"); err != nil || b.Person != "Anna" {
		t.Fatalf("Anna's backend %+v, %v (status %q, step %q, add %q)", b, err, s.Status.Text, s.Step, s.AddBtn.Text)
	}
}

// Leaving the sign-in (Skip) while it waits for the browser ends the
// wait: nothing keeps polling plex.tv behind the window.
func TestSkipEndsThePlexWait(t *testing.T) {
	e := newEnv(t)
	h := newHousehold(t, simulate.PlexTVOptions{})
	e.useAccounts(h.tv.URL())
	f := e.u.Window.FirstRun
	test.Tap(f.SignIn.PlexBtn)
	e.pumpUntil("the code", func() bool { return f.SignIn.Code.Text != "" })
	test.Tap(f.Skip)
	done := make(chan struct{})
	go func() { e.u.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the sign-in still polls after Skip")
	}
	e.u.Wait()
}
