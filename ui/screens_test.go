package ui

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/state"
)

func task(t *testing.T, st *state.Store, name string) state.Task {
	t.Helper()
	tasks, err := st.Tasks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tasks {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no task %s", name)
	return state.Task{}
}

// A bad cron shows why under the entry and saves nothing; a good one is
// saved as typed, with its next runs shown.
func TestTasksCronValidatedAsTyped(t *testing.T) {
	e := newEnv(t)
	before := task(t, e.st, "import")
	row := e.u.Window.Tasks.Import
	row.Often.SetSelected("Custom (cron)")
	if row.Cron.Text != before.Cron || !row.Cron.Visible() {
		t.Fatalf("cron entry shows %q (visible %v), want the stored %q", row.Cron.Text, row.Cron.Visible(), before.Cron)
	}

	row.Cron.SetText("")
	test.Type(row.Cron, "61 * * * *")
	if row.Error.Hidden {
		t.Fatal("no error shown for a bad cron")
	}
	mustContain(t, "error", row.Error.Text, "minute", `"61"`)
	if got := task(t, e.st, "import"); got != before {
		t.Errorf("a bad cron was saved: %+v, want %+v", got, before)
	}
	mustContain(t, "next runs", row.Next.Text, "saved schedule", before.Cron)

	row.Cron.SetText("")
	test.Type(row.Cron, "30  3 * * *")
	e.u.Wait()
	if !row.Error.Hidden {
		t.Errorf("error still shown for a good cron: %q", row.Error.Text)
	}
	if got := task(t, e.st, "import"); got.Cron != "30 3 * * *" || got.Enabled != before.Enabled {
		t.Errorf("saved %+v, want cron %q and enabled unchanged", got, "30 3 * * *")
	}
	mustContain(t, "next runs", row.Next.Text, "03:30")
	if strings.Count(row.Next.Text, "03:30") != 3 {
		t.Errorf("next runs %q: want three runs at 03:30", row.Next.Text)
	}

	test.Tap(row.Enabled)
	e.u.Wait()
	if got := task(t, e.st, "import"); got.Enabled == before.Enabled || got.Cron != "30 3 * * *" {
		t.Errorf("after the switch: %+v, want enabled toggled and the new cron kept", got)
	}
	// Another bad cron after a toggle still saves nothing.
	test.Type(row.Cron, "x")
	e.u.Wait()
	if got := task(t, e.st, "import"); got.Cron != "30 3 * * *" {
		t.Errorf("cron %q saved from a bad entry", got.Cron)
	}
}

// A backend's import mode and export switch save at once; a new backend
// never exports until the switch is turned on.
func TestBackendsSwitchesSave(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	e.addBackend("plex", backend.Plex, srv, false)
	e.refresh()
	row := e.u.Window.Backends.Row("plex")
	if row == nil {
		t.Fatal("no row for plex")
	}
	if row.Export.Checked || row.Import.Selected != "Full" {
		t.Fatalf("row shows export %v, import %q; want off, Full", row.Export.Checked, row.Import.Selected)
	}
	test.Tap(row.Export)
	e.u.Wait()
	if b := e.backend("plex"); !b.Export {
		t.Error("export switch not saved")
	}
	mustContain(t, "status line", e.u.Window.Message.Text, "Export to plex is on")
	row.Import.SetSelected("Metadata only")
	e.u.Wait()
	if b := e.backend("plex"); b.Import != state.ImportMetadata || !b.Export {
		t.Errorf("saved import %q export %v, want metadata and export still on", b.Import, b.Export)
	}
	e.refresh()
	row = e.u.Window.Backends.Row("plex")
	if !row.Export.Checked || row.Import.Selected != "Metadata only" {
		t.Errorf("after a refresh: export %v, import %q", row.Export.Checked, row.Import.Selected)
	}
	test.Tap(row.Export)
	e.u.Wait()
	if b := e.backend("plex"); b.Export {
		t.Error("export still on after turning it off")
	}
}

// A rejected token is shown on the backend's row, with what to do.
func TestBackendRejectedTokenOnRow(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	b := e.addBackend("plex", backend.Plex, srv, false)
	e.refresh()
	if row := e.u.Window.Backends.Row("plex"); row.Problem.Visible() {
		t.Fatalf("a problem shown for a healthy backend: %q", row.Problem.Text)
	}
	// A real rejected token: the server no longer accepts it.
	e.revokeToken(b)
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	row := e.u.Window.Backends.Row("plex")
	if !row.Problem.Visible() {
		t.Fatal("the rejected token is not shown on the row")
	}
	mustContain(t, "problem", row.Problem.Text, "token rejected", "Edit")
	mustContain(t, "status", row.Status.Text, "failed")
}

// Add: test the connection (server name, version, user), then save; the
// new backend imports in full and does not export.
func TestAddBackendDialog(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	w := e.u.Window
	w.endFirstRun()
	test.Tap(w.Backends.Add)
	test.Tap(w.Backends.SignIn.TokenBtn)
	ed := w.Backends.Editor
	if ed == nil {
		t.Fatal("Add did not open the editor")
	}
	if ed.Kind.Selected != "Plex" || ed.Name.Text != "plex" || ed.User.Visible() || ed.userLabel.Visible() {
		t.Errorf("defaults: kind %q name %q, user row shown %v (a Plex token is the user)", ed.Kind.Selected, ed.Name.Text, ed.User.Visible())
	}
	ed.Name.SetText("")
	test.Type(ed.Name, "living-room")
	test.Type(ed.URL, srv.URL())
	test.Tap(ed.Save)
	mustContain(t, "error", ed.Error.Text, "token")
	if bs, _ := e.st.Backends(context.Background()); len(bs) != 0 {
		t.Fatal("saved without a token")
	}

	test.Type(ed.Token, srv.Token())
	test.Tap(ed.Test)
	e.u.Wait()
	mustContain(t, "test result", ed.Result.Text, "✓", "Plex Media Server", "Test Plex")
	if !ed.libBox.Visible() || len(ed.Libs.Options) == 0 || len(ed.Libs.Selected) != len(ed.Libs.Options) {
		t.Errorf("libraries %v selected %v: want all listed and ticked", ed.Libs.Options, ed.Libs.Selected)
	}
	tapButton(t, w.win, "Save")
	e.settle()
	b := e.backend("living-room")
	if b.Import != state.ImportFull || b.Export || b.URL != srv.URL() || b.ServerName != "Test Plex" || len(b.Options.Libraries) != 0 {
		t.Errorf("saved %+v: want import full, export off, the server's name, all libraries", b)
	}
	if w.Backends.Editor != nil {
		t.Error("the dialog is still open after saving")
	}
	if w.Backends.Row("living-room") == nil {
		t.Error("the new backend is not listed")
	}
	mustContain(t, "status line", w.Message.Text, "Added living-room", "export off")
}

// A rejected token saves nothing.
func TestAddBackendRejectedToken(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	e.u.Window.endFirstRun()
	test.Tap(e.u.Window.Backends.Add)
	test.Tap(e.u.Window.Backends.SignIn.TokenBtn)
	ed := e.u.Window.Backends.Editor
	test.Type(ed.URL, srv.URL())
	test.Type(ed.Token, "wrong")
	test.Tap(ed.Save)
	e.u.Wait()
	mustContain(t, "error", ed.Error.Text, "token rejected", "nothing saved")
	if bs, _ := e.st.Backends(context.Background()); len(bs) != 0 {
		t.Errorf("saved %d backends with a rejected token", len(bs))
	}
}

// A server of another type than chosen: the window connects as the CLI
// does (engine.Connect), names the type to choose and saves nothing.
func TestAddBackendWrongKind(t *testing.T) {
	e := newEnv(t)
	srv := jellyfinServer(t, 5)
	e.u.Window.endFirstRun()
	test.Tap(e.u.Window.Backends.Add)
	test.Tap(e.u.Window.Backends.SignIn.TokenBtn)
	ed := e.u.Window.Backends.Editor
	ed.Kind.SetSelected("Plex")
	test.Type(ed.URL, srv.URL())
	test.Type(ed.Token, srv.Token())
	test.Tap(ed.Test)
	e.u.Wait()
	mustContain(t, "test result", ed.Result.Text, "✗", "Jellyfin server, not Plex", "choose Jellyfin")
	test.Tap(ed.Save)
	e.u.Wait()
	mustContain(t, "error", ed.Error.Text, "choose Jellyfin", "nothing saved")
	if bs, _ := e.st.Backends(context.Background()); len(bs) != 0 {
		t.Errorf("saved %d backends of the wrong type", len(bs))
	}
}

// Jellyfin with an API key: the test lists the server's users; choosing
// one tests again as that user, and Save stores its id.
func TestJellyfinUserPicker(t *testing.T) {
	e := newEnv(t)
	srv := jellyfinServer(t, 5)
	e.u.Window.endFirstRun()
	test.Tap(e.u.Window.Backends.Add)
	test.Tap(e.u.Window.Backends.SignIn.TokenBtn)
	ed := e.u.Window.Backends.Editor
	ed.Kind.SetSelected("Jellyfin")
	if ed.Name.Text != "jellyfin" || !ed.User.Visible() || !ed.userLabel.Visible() {
		t.Errorf("name %q, user row visible %v", ed.Name.Text, ed.User.Visible())
	}
	test.Type(ed.URL, srv.URL())
	test.Type(ed.Token, srv.APIKey())
	test.Tap(ed.Save)
	e.u.Wait()
	mustContain(t, "error", ed.Error.Text, "choose the user")
	if len(ed.User.Options) < 2 {
		t.Fatalf("user picker %v: want the server's users", ed.User.Options)
	}
	want := -1
	for i, u := range ed.users {
		if u.ID == srv.UserID() {
			want = i
		}
	}
	if want < 0 {
		t.Fatalf("the default user %s is not in the picker %v", srv.UserID(), ed.users)
	}
	ed.User.SetSelectedIndex(want) // tests again, as that user
	e.u.Wait()
	mustContain(t, "test result", ed.Result.Text, "✓", "Jellyfin", "user "+ed.users[want].Name)
	test.Tap(ed.Save)
	e.settle()
	if b := e.backend("jellyfin"); b.UserID != srv.UserID() || b.Token != srv.APIKey() || b.Export {
		t.Errorf("saved user %q token %q export %v", b.UserID, b.Token, b.Export)
	}
}

// Edit keeps the token when its field is left empty; Remove asks first.
func TestEditAndRemoveBackend(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	e.addBackend("plex", backend.Plex, srv, true)
	e.refresh()
	w := e.u.Window
	test.Tap(w.Backends.Row("plex").Edit)
	ed := w.Backends.Editor
	if ed.Kind.Disabled() == false || ed.Token.Text != "" {
		t.Errorf("edit: kind enabled %v, token shown %q", !ed.Kind.Disabled(), ed.Token.Text)
	}
	test.Tap(ed.Save)
	e.settle()
	if b := e.backend("plex"); b.Token != srv.Token() || !b.Export || b.ServerName != "Test Plex" {
		t.Errorf("after edit: %+v", b)
	}

	test.Tap(w.Backends.Row("plex").Remove)
	if w.Backends.confirm == nil {
		t.Fatal("Remove did not ask")
	}
	tapButton(t, w.win, "Cancel")
	if _, err := e.st.Backend(context.Background(), "plex"); err != nil {
		t.Fatal("removed although cancelled")
	}
	test.Tap(w.Backends.Row("plex").Remove)
	tapButton(t, w.win, "Remove")
	e.u.Wait()
	if _, err := e.st.Backend(context.Background(), "plex"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("backend still there after Remove: %v", err)
	}
	e.refresh()
	if len(w.Backends.Rows) != 0 {
		t.Errorf("%d rows left", len(w.Backends.Rows))
	}
}

// First run: add a server, a dry-run import that writes nothing and shows
// what it found, then the real import; export stays off.
func TestFirstRun(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 40)
	w := e.u.Window
	f := w.FirstRun
	if f == nil || f.Step != 1 {
		t.Fatal("no guided setup on a first start")
	}
	test.Tap(f.SignIn.TokenBtn) // the advanced path
	test.Type(f.Editor.URL, srv.URL())
	test.Type(f.Editor.Token, srv.Token())
	test.Tap(f.Editor.Save)
	e.settle()
	if f.Step != 2 || w.FirstRun != f {
		t.Fatalf("step %d after adding a server (first run still showing: %v)", f.Step, w.FirstRun == f)
	}

	test.Tap(f.PreviewBtn)
	e.settle()
	if f.Previewed == nil || !f.Previewed.DryRun {
		t.Fatalf("no dry run: %+v", f.Previewed)
	}
	mustContain(t, "report", f.Report.Summary.Text, "Dry run: nothing was written", "import plex (full): 40 read (", " in progress), 40 new")
	// What it found, per server, counts first; never "0 changes" for a
	// server with watched items.
	pw, pp := f.Previewed.Backends[0].Watched, f.Previewed.Backends[0].InProgress
	// As plexServer makes it: the same catalog and watches.
	var wantW, wantP int
	for _, x := range simulate.GenerateWatches(simulate.Generate(simulate.GenerateOptions{Items: 40, Seed: 1}), 101, time.Time{}) {
		if x.Played {
			wantW++
		} else if x.Position >= time.Minute {
			wantP++
		}
	}
	if pw != wantW || pp != wantP || pw == 0 {
		t.Errorf("preview found %d watched, %d in progress; the server has %d, %d", pw, pp, wantW, wantP)
	}
	// One server's plays are no change: its items become known, and
	// nothing would change on it.
	mustContain(t, "verdict", f.Status.Text, "Import for real would make 40 items known to Playmark, with each server's watched marks and resume positions; that changes nothing on your servers.",
		"Nothing is written now")
	if strings.Contains(f.Status.Text, "0 changes") || strings.Contains(f.Status.Text, "new item") {
		t.Errorf("verdict %q speaks of 0 changes or new items", f.Status.Text)
	}
	rows := FoundRows(f.Previewed, f.persons)
	if want := []string{"plex", "40", commas(pw), commas(pp), "0", "nothing"}; len(rows) != 1 || !slices.Equal(rows[0][1:], want) || rows[0][0] == "" {
		t.Errorf("found rows %q, want [%q]", rows, want)
	}
	if got := labelTexts(f.Found); !strings.Contains(got, "Would change on this server\n") || !strings.Contains(got, "\n"+commas(pw)+"\n"+commas(pp)+"\n0\nnothing\n") {
		t.Errorf("the found table shows %q", got)
	}

	// A second server: its differences from the first are planned changes.
	test.Tap(f.AddAnother)
	if f.Step != 1 {
		t.Fatalf("step %d after Add another server", f.Step)
	}
	jf := jellyfinServer(t, 40)
	test.Tap(f.SignIn.TokenBtn)
	f.Editor.Kind.SetSelected("Jellyfin")
	test.Type(f.Editor.URL, jf.URL())
	test.Type(f.Editor.Token, jf.Token())
	test.Tap(f.Editor.Save)
	e.settle()
	if f.Step != 2 || len(f.Added) != 2 {
		t.Fatalf("step %d, added %v", f.Step, f.Added)
	}
	test.Tap(f.PreviewBtn)
	e.settle()
	mustContain(t, "report", f.Report.Summary.Text, "import jellyfin (full): 40 read (", "import plex (full): 40 read (", "Planned changes")
	if len(f.Report.changes) == 0 || f.Previewed.Changed() == 0 {
		t.Error("the preview lists no planned changes")
	}
	// Per server, what the other's marks would change there once its
	// export is on (export is off on both), each change listed.
	rows = FoundRows(f.Previewed, f.persons)
	toServers := 0
	for _, c := range f.Previewed.Changes {
		if c.Target == "plex" || c.Target == "jellyfin" {
			toServers++
		}
	}
	if len(rows) != 2 || toServers == 0 {
		t.Fatalf("found rows %q, %d planned changes to the servers", rows, toServers)
	}
	for _, r := range rows {
		if r[6] == "-" || r[6] == "nothing" || !strings.Contains(r[6], "marked watched") {
			t.Errorf("%s: would change %q; the servers' watches differ", r[1], r[6])
		}
		mustContain(t, "verdict", f.Status.Text, r[1]+": "+r[6])
	}
	mustContain(t, "verdict", f.Status.Text, "Once you turn export on, your servers would change: ")
	if c, _ := e.st.Counts(context.Background()); c.Items != 0 {
		t.Fatalf("the preview wrote %d items", c.Items)
	}
	if f.ImportBtn.Disabled() {
		t.Fatal("Import for real is not offered after the preview")
	}

	test.Tap(f.ImportBtn)
	e.settle()
	if f.Step != 3 || f.Imported == nil || f.Imported.DryRun {
		t.Fatalf("step %d, imported %+v", f.Step, f.Imported)
	}
	if f.Skip.Visible() {
		t.Error("Skip still offered when the setup is done")
	}
	if c, _ := e.st.Counts(context.Background()); c.Items != 40 {
		t.Errorf("%d items after the import, want 40", c.Items)
	}
	for _, name := range []string{"plex", "jellyfin"} {
		if b := e.backend(name); b.Export || b.Import != state.ImportFull {
			t.Errorf("%s: export %v import %s; want export off, import full", name, b.Export, b.Import)
		}
	}
	test.Tap(f.Finish)
	if w.FirstRun != nil {
		t.Error("still in the guided setup after Open Playmark")
	}
	runs := e.runs()
	if len(runs) != 3 || !runs[2].DryRun || !runs[1].DryRun || runs[0].DryRun || runs[0].Trigger != "window" {
		t.Errorf("runs %+v: want two dry runs then a real one, from the window", runs)
	}
}

// Activity lists runs with their figures and, for a selected run, its
// changes; unmatched items and held exports are listed too.
func TestActivity(t *testing.T) {
	e := newEnv(t)
	e.addBackend("plex", backend.Plex, plexServer(t, 20), true)
	e.addBackend("jellyfin", backend.Jellyfin, jellyfinServer(t, 20), false)
	rep, err := e.eng.Import(context.Background(), engine.RunOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	e.refresh()
	a := e.u.Window.Activity
	if len(a.runs) != 1 {
		t.Fatalf("%d runs listed", len(a.runs))
	}
	cells := RunCells(a.runs[0])
	if cells[1] != "import" || cells[2] != "cli" || cells[3] != "ok" || cells[5] != "40" || cells[6] != "20" || cells[7] != commas(rep.Changed()) {
		t.Errorf("run cells %q", cells)
	}
	a.Runs.Select(widget.TableCellID{Row: 0, Col: 0})
	e.u.Wait()
	if a.Selected != rep.RunID || len(a.changes) != rep.Changed() || rep.Changed() == 0 {
		t.Fatalf("selected run %d with %d changes; want run %d with %d", a.Selected, len(a.changes), rep.RunID, rep.Changed())
	}
	mustContain(t, "detail", a.Detail.Text, "import plex (full): 20 read, ", "import jellyfin (full): 20 read, ", ", 20 new, ", ", 0 new, ")
	mustContain(t, "change", ChangeText(a.changes[0]), "  →  local: ", " → ")
}

func TestHeldDiscardAndApply(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 10)
	e.addBackend("plex", backend.Plex, srv, true)
	ctx := context.Background()
	if _, err := e.eng.Import(ctx, engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	hold := func() {
		if err := e.st.Hold(ctx, state.Held{RunID: 1, Backend: "plex", Unwatches: 7, Watched: 9}); err != nil {
			t.Fatal(err)
		}
	}
	hold()
	e.refresh()
	a := e.u.Window.Activity
	if len(a.Held) != 1 {
		t.Fatalf("%d held rows", len(a.Held))
	}
	mustContain(t, "held", a.Held[0].Text.Text, "plex: would mark 7 of its 9 watched items unwatched")
	mustContain(t, "activity tab", e.u.Window.Tabs.Items[2].Text, "1 held export")
	test.Tap(a.Held[0].Discard)
	e.settle()
	if h, _ := e.st.HeldExports(ctx); len(h) != 0 {
		t.Errorf("still held after Discard: %+v", h)
	}
	if len(a.Held) != 0 {
		t.Error("the held row is still shown")
	}

	hold()
	e.refresh()
	test.Tap(a.Held[0].Apply)
	if a.confirm == nil {
		t.Fatal("Apply did not ask")
	}
	tapButton(t, e.u.Window.win, "Apply")
	e.settle()
	if h, _ := e.st.HeldExports(ctx); len(h) != 0 {
		t.Errorf("still held after Apply: %+v", h)
	}
	runs := e.runs()
	if runs[0].Kind != "export" || runs[0].Trigger != "window" {
		t.Errorf("newest run %+v: want the export Apply started", runs[0])
	}
}

// Settings: ticks save at once; numbers are checked as typed and saved
// with Save.
func TestSettings(t *testing.T) {
	e := newEnv(t)
	s := e.u.Window.Settings
	ctx := context.Background()
	if s.GuardPercent.Text != "10" || s.ProgressMin.Text != "60" || !s.Notifications.Checked {
		t.Fatalf("defaults shown: guard %q progress %q notifications %v", s.GuardPercent.Text, s.ProgressMin.Text, s.Notifications.Checked)
	}
	test.Tap(s.NotifySuccess)
	e.u.Wait()
	if set, _ := e.st.Settings(ctx); !set.NotifySuccess {
		t.Error("notify success not saved")
	}
	s.GuardPercent.SetText("")
	test.Type(s.GuardPercent, "250")
	mustContain(t, "error", s.Error.Text, "Guard percent", "1 to 100")
	if !s.Save.Disabled() {
		t.Error("Save enabled with a bad number")
	}
	s.GuardPercent.SetText("")
	test.Type(s.GuardPercent, "25")
	s.GuardCount.SetText("")
	test.Type(s.GuardCount, "40")
	s.ProgressMin.SetText("")
	test.Type(s.ProgressMin, "90")
	if s.Error.Text != "" || s.Save.Disabled() {
		t.Fatalf("error %q, Save disabled %v with good numbers", s.Error.Text, s.Save.Disabled())
	}
	if set, _ := e.st.Settings(ctx); set.GuardPercent != 10 {
		t.Error("saved before Save")
	}
	test.Tap(s.Save)
	e.u.Wait()
	set, _ := e.st.Settings(ctx)
	if set.GuardPercent != 25 || set.GuardCount != 40 || set.ProgressMin != 90*time.Second || !set.NotifySuccess {
		t.Errorf("saved %+v", set)
	}

	test.Tap(s.StartAtLogin)
	if !e.login.on {
		t.Error("start at login not turned on")
	}
	e.login.err = errors.New("read-only file system")
	test.Tap(s.StartAtLogin)
	if !e.login.on || !s.StartAtLogin.Checked {
		t.Error("a failed change is shown as done")
	}
	mustContain(t, "status line", e.u.Window.Message.Text, "read-only file system")
}

// Progress: a bar with phase, backend and counts, and Cancel.
func TestProgressView(t *testing.T) {
	e := newEnv(t)
	p := e.u.Window.Progress
	if p.content.Visible() {
		t.Fatal("progress shown while idle")
	}
	p.set(engine.Status{Running: true, Kind: "import", Phase: "import", Backend: "plex", Done: 1240, Total: 8000})
	if !p.content.Visible() || p.Bar.Value != 1240 || p.Bar.Max != 8000 || p.Infinite.Visible() {
		t.Errorf("bar %v/%v visible %v infinite %v", p.Bar.Value, p.Bar.Max, p.content.Visible(), p.Infinite.Visible())
	}
	if p.Label.Text != "Importing plex: 1,240/8,000" {
		t.Errorf("label %q", p.Label.Text)
	}
	p.set(engine.Status{Running: true, Kind: "export", Phase: "export", Backend: "jelly"})
	if !p.Infinite.Visible() || p.Bar.Visible() {
		t.Error("an unknown total shows no moving bar")
	}
	p.set(engine.Status{})
	if p.content.Visible() {
		t.Error("progress still shown after the run")
	}
}

// Cancel stops a real run in progress; it is recorded as cancelled.
func TestCancelRun(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 3000)
	e.addBackend("plex", backend.Plex, srv, false)
	e.refresh()
	ch, stop := e.eng.Subscribe()
	defer stop()
	e.u.startRun("import", engine.RunOptions{Trigger: "window"}, nil)
	deadline := time.After(10 * time.Second)
	for !e.eng.Status().Running {
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("the run never started")
		}
	}
	test.Tap(e.u.Window.Progress.Cancel)
	e.settle()
	runs := e.runs()
	if len(runs) != 1 || runs[0].Status != state.RunCancelled {
		t.Fatalf("runs %+v: want one cancelled run", runs)
	}
	mustContain(t, "status line", e.u.Window.Message.Text, "cancelled")
}

// Closing the window hides it when there is a tray and quits without one;
// Ctrl+W does the same, Ctrl+Q quits.
func TestCloseAndShortcuts(t *testing.T) {
	e := newEnv(t)
	w := e.u.Window
	w.Show()
	shortcut := func(k fyne.KeyName) {
		w.win.Canvas().(fyne.Shortcutable).TypedShortcut(&desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault})
	}
	shortcut(fyne.KeyW)
	if e.quits != 1 {
		t.Errorf("Ctrl+W without a tray: %d quits, want 1", e.quits)
	}
	if !w.banner.Visible() {
		// no tray was attached: NoTray is the app's call; the banner shows when told
		e.u.NoTray()
	}
	mustContain(t, "banner", w.bannerText.Text, "closing it quits")

	host := true
	e.u.AttachTray(&fakeDesk{}, nil, func() bool { return host })
	w.Show()
	w.closeRequested()
	if w.Visible() || e.quits != 1 {
		t.Errorf("close with a tray: visible %v, quits %d; want hidden, no quit", w.Visible(), e.quits)
	}
	w.Show()
	shortcut(fyne.KeyW)
	if w.Visible() {
		t.Error("Ctrl+W did not hide the window")
	}
	host = false // the tray host went away: closing must not lose the app
	w.Show()
	w.closeRequested()
	if e.quits != 2 {
		t.Errorf("close with no tray host: %d quits, want 2", e.quits)
	}
	shortcut(fyne.KeyQ)
	if e.quits != 3 {
		t.Errorf("Ctrl+Q: %d quits, want 3", e.quits)
	}
}

// Notifications: errors (a rejected token named), held exports, and a
// success summary only when asked for.
func TestRunNotification(t *testing.T) {
	on := state.Settings{Notifications: true}
	chatty := state.Settings{Notifications: true, NotifySuccess: true}
	off := state.Settings{}
	okRun := state.Run{ID: 3, Kind: "sync", Status: state.RunOK, Backends: []state.RunBackend{{Changed: 2}, {Changed: 1}}}
	rejected := state.Run{ID: 4, Kind: "import", Status: state.RunFailed, Message: "token rejected by plex",
		Backends: []state.RunBackend{{Backend: "plex", Error: "token rejected by plex", Rejected: true}}}
	failed := state.Run{ID: 5, Kind: "export", Status: state.RunFailed, Message: "jelly is unreachable: dial tcp: refused"}
	held := state.Run{ID: 6, Kind: "export", Status: state.RunHeld}
	heldList := []state.Held{{RunID: 6, Backend: "plex", Unwatches: 120, Watched: 800}}
	tests := []struct {
		name       string
		run        state.Run
		set        state.Settings
		title, msg string // empty title: no notification
	}{
		{"success is quiet by default", okRun, on, "", ""},
		{"success summary when asked", okRun, chatty, "Playmark: Sync done", "3 changes."},
		{"rejected token", rejected, on, "Playmark: plex rejected its token", "Open Playmark → Backends and edit plex to enter a new token."},
		{"failure", failed, on, "Playmark: Export failed", "jelly is unreachable: dial tcp: refused"},
		{"held", held, on, "Playmark held an export", "The export to plex would mark 120 of its 800 watched items unwatched. Open Playmark → Activity → Held to apply or discard it."},
		{"notifications off", rejected, off, "", ""},
		{"dry runs never notify", state.Run{Kind: "sync", Status: state.RunFailed, DryRun: true}, chatty, "", ""},
		{"cancelled runs never notify", state.Run{Kind: "sync", Status: state.RunCancelled}, chatty, "", ""},
		{"skipped schedules never notify", state.Run{Kind: "import", Status: "skipped"}, chatty, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := RunNotification(tt.run, heldList, tt.set)
			switch {
			case tt.title == "" && n != nil:
				t.Errorf("got %+v, want no notification", n)
			case tt.title != "" && n == nil:
				t.Errorf("got none, want %q", tt.title)
			case n != nil && (n.Title != tt.title || n.Content != tt.msg):
				t.Errorf("got %q / %q, want %q / %q", n.Title, n.Content, tt.title, tt.msg)
			}
		})
	}
}

// A run that fails in the background (any trigger) is notified once, when
// the UI sees it; runs from before the start are not.
func TestNotifiesNewFailedRuns(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	b := e.addBackend("plex", backend.Plex, srv, false)
	e.revokeToken(b)
	run := func() {
		if _, err := e.eng.Import(context.Background(), engine.RunOptions{Trigger: "schedule"}); err != nil {
			t.Fatal(err)
		}
	}
	want := fyne.NewNotification("Playmark: plex rejected its token", "Open Playmark → Backends and edit plex to enter a new token.")
	test.AssertNotificationSent(t, want, func() {
		run()
		e.refresh()
	})
	test.AssertNotificationSent(t, nil, e.refresh) // once only

	// A fresh UI over the same store does not re-announce old runs.
	u2 := New(context.Background(), e.app, e.u.d)
	test.AssertNotificationSent(t, nil, func() {
		if err := u2.Refresh(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReportSummary(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := &engine.Report{RunID: 7, Kind: "import", DryRun: true, Status: "ok", Started: start, Finished: start.Add(1500 * time.Millisecond),
		Backends:    []engine.BackendReport{{RunBackend: state.RunBackend{Phase: "import", Backend: "plex", Mode: "full", Read: 1240, Changed: 300, Unmatched: 2}}},
		Changes:     []state.Change{{Item: "Movie 1 (2001)", Target: "local", Before: "unwatched", After: "watched", Reason: "played on plex"}},
		MoreChanges: 299}
	want := "Dry run: nothing was written. Import #7: ok in 1.5s.\n" +
		"import plex (full): 1,240 read, 0 new, 300 to change, 0 skipped, 0 failed, 2 unmatched\n" +
		"Planned changes (300): the first 1 are listed."
	if got := ReportSummary(rep); got != want {
		t.Errorf("ReportSummary:\n%s\nwant:\n%s", got, want)
	}
	// A first import: its watched and in-progress items are new items,
	// not changes; the summary counts them.
	first := &engine.Report{RunID: 8, Kind: "import", DryRun: true, Status: "ok", Started: start, Finished: start.Add(time.Second),
		Backends: []engine.BackendReport{{RunBackend: state.RunBackend{Phase: "import", Backend: "plex", Mode: "full", Read: 232, Added: 232},
			Watched: 204, InProgress: 28}}}
	mustContain(t, "first import", ReportSummary(first), "import plex (full): 232 read (204 watched, 28 in progress), 232 new, 0 to change",
		"No changes to items already known (new items, with their play states, are counted above")
	if got := ChangeText(rep.Changes[0]); got != "Movie 1 (2001)  →  local: unwatched → watched (played on plex)" {
		t.Errorf("ChangeText = %q", got)
	}
}

// A setup left half way (a backend, no import yet) resumes at the
// preview; once something was imported, the tabs show.
func TestFirstRunResumes(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	e.addBackend("plex", backend.Plex, srv, false)
	fresh := func() *UI {
		u := New(context.Background(), e.app, e.u.d)
		if err := u.Refresh(); err != nil {
			t.Fatal(err)
		}
		return u
	}
	u := fresh()
	if f := u.Window.FirstRun; f == nil || f.Step != 2 || len(f.Added) != 1 || f.Added[0] != "plex" {
		t.Fatalf("first run %+v: want the preview step for plex", f)
	}
	if !u.Window.Sync.Disabled() {
		t.Error("Sync now offered during the guided setup")
	}
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if u := fresh(); u.Window.FirstRun == nil {
		t.Error("a dry run alone ended the guided setup")
	}
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if u := fresh(); u.Window.FirstRun != nil || u.Window.Sync.Disabled() {
		t.Errorf("after an import: first run %v, Sync now disabled %v", u.Window.FirstRun != nil, u.Window.Sync.Disabled())
	}
}

// Back up now writes a backup through the engine into the backups folder.
func TestSettingsBackup(t *testing.T) {
	e := newEnv(t)
	e.addBackend("plex", backend.Plex, plexServer(t, 10), false)
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	test.Tap(e.u.Window.Settings.Backup)
	e.settle()
	msg := e.u.Window.Message.Text
	mustContain(t, "status line", msg, "Backup written: "+e.eng.BackupDir())
	path := strings.TrimPrefix(msg, "Backup written: ")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	items, err := engine.ReadBackup(zr)
	if err != nil || len(items) == 0 {
		t.Errorf("backup holds %d items (%v)", len(items), err)
	}
}

// New runs come first in the list: the selected run stays selected, and
// the detail stays on it, with all of its changes.
func TestActivityKeepsSelection(t *testing.T) {
	e := newEnv(t)
	e.addBackend("plex", backend.Plex, plexServer(t, 30), false)
	e.addBackend("jellyfin", backend.Jellyfin, jellyfinServer(t, 30), false)
	rep, err := e.eng.Import(context.Background(), engine.RunOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	e.refresh()
	a := e.u.Window.Activity
	selectRun(a, rep.RunID)
	e.settle()
	if a.Selected != rep.RunID || len(a.changes) != rep.Changed() || rep.Changed() < 3 {
		t.Fatalf("selected %d with %d changes; want run %d with its %d", a.Selected, len(a.changes), rep.RunID, rep.Changed())
	}
	for range 2 {
		if _, err := e.eng.Import(context.Background(), engine.RunOptions{DryRun: true, Trigger: "schedule"}); err != nil {
			t.Fatal(err)
		}
	}
	e.settle()
	if len(a.runs) != 3 || a.runs[2].ID != rep.RunID {
		t.Fatalf("runs %v: want the first run third", a.runs)
	}
	if a.Selected != rep.RunID {
		t.Errorf("selected run %d after new runs, want %d", a.Selected, rep.RunID)
	}
	if a.selRow != 2 {
		t.Errorf("the table highlights row %d, want 2 (the selected run's)", a.selRow)
	}
	mustContain(t, "detail", a.Detail.Text, fmt.Sprintf("Run #%d, import by cli", rep.RunID), plural(rep.Changed(), "change"))
	if len(a.changes) != rep.Changed() {
		t.Errorf("%d changes listed, want all %d", len(a.changes), rep.Changed())
	}
	if a.Changes.Length() != rep.Changed() {
		t.Errorf("the changes list has %d rows, want %d", a.Changes.Length(), rep.Changed())
	}
}

// The runs table's columns are as wide as their words.
func TestRunColumnsFit(t *testing.T) {
	e := newEnv(t)
	e.addBackend("plex", backend.Plex, plexServer(t, 5), false)
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{DryRun: true, Trigger: "schedule"}); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	a := e.u.Window.Activity
	cells := RunCells(a.runs[0])
	if cells[1] != "import (dry run)" {
		t.Fatalf("what = %q", cells[1])
	}
	for i, c := range cells {
		need := fyne.MeasureText(c, theme.TextSize(), fyne.TextStyle{}).Width + 2*theme.InnerPadding()
		if a.widths[i] < need {
			t.Errorf("column %s is %v wide, %q needs %v", runColumns[i], a.widths[i], c, need)
		}
		head := fyne.MeasureText(runColumns[i], theme.TextSize(), fyne.TextStyle{Bold: true}).Width + 2*theme.InnerPadding()
		if a.widths[i] < head {
			t.Errorf("column %s is %v wide, its header needs %v", runColumns[i], a.widths[i], head)
		}
	}
}

// labelTexts is the text of every label under o, one per line.
func labelTexts(o fyne.CanvasObject) string {
	var b strings.Builder
	for _, x := range test.LaidOutObjects(o) {
		if l, ok := x.(*widget.Label); ok {
			b.WriteString(l.Text + "\n")
		}
	}
	return b.String()
}

// After Test connection (a server's answer, its users and libraries
// shown), Save and continue is still in the window, without scrolling.
func TestFirstRunSaveStaysInView(t *testing.T) {
	e := newEnv(t)
	jf := jellyfinServer(t, 40)
	w := e.u.Window
	// As on a desktop without a tray (Xvfb): the banner takes its room.
	e.u.NoTray()
	w.win.Resize(fyne.NewSize(940, 640))
	f := w.FirstRun
	test.Tap(f.SignIn.TokenBtn)
	f.Editor.Kind.SetSelected("Jellyfin")
	test.Type(f.Editor.URL, jf.URL())
	test.Type(f.Editor.Token, jf.Token())
	test.Tap(f.Editor.Test)
	e.settle()
	if f.Editor.Result.Hidden || !strings.Contains(f.Editor.Result.Text, "Connected") {
		t.Fatalf("test result %q", f.Editor.Result.Text)
	}
	if f.Editor.libBox.Hidden {
		t.Fatal("no libraries shown after the test")
	}
	// Down to the smallest height the window can take.
	for _, h := range []float32{640, 560, 1} {
		w.win.Resize(fyne.NewSize(940, h))
		drv := fyne.CurrentApp().Driver()
		pos := drv.AbsolutePositionForObject(f.Editor.Save)
		// Above the status line, which is below the guided setup.
		limit := drv.AbsolutePositionForObject(w.Message).Y
		if bottom := pos.Y + f.Editor.Save.Size().Height; !f.Editor.Save.Visible() || f.Editor.Save.Size().Height == 0 || bottom > limit {
			t.Errorf("window %v high: Save and continue ends at y=%v, the setup's room ends at %v", w.win.Canvas().Size().Height, bottom, limit)
		}
	}
}

// How often a task runs is chosen in words; the cron expression it makes
// is shown, and editable under Custom; the next runs follow.
func TestTasksInWords(t *testing.T) {
	e := newEnv(t)
	row := e.u.Window.Tasks.Import
	if row.Often.Selected != "Every 6 hours" || row.CronIs.Text != "0 */6 * * *" || !row.CronIs.Visible() || row.Cron.Visible() || row.At.Visible() {
		t.Fatalf("default shows %q, cron %q (entry visible %v, time visible %v)", row.Often.Selected, row.CronIs.Text, row.Cron.Visible(), row.At.Visible())
	}
	pick := func(choice, wantCron string) {
		t.Helper()
		row.Often.SetSelected(choice)
		e.u.Wait()
		if got := task(t, e.st, "import").Cron; got != wantCron {
			t.Errorf("%s saved %q, want %q", choice, got, wantCron)
		}
		if choice != "Custom (cron)" && row.CronIs.Text != wantCron {
			t.Errorf("%s shows cron %q, want %q", choice, row.CronIs.Text, wantCron)
		}
	}
	pick("Hourly", "0 * * * *")
	mustContain(t, "next runs", row.Next.Text, ":00, ")
	pick("Every 15 minutes", "*/15 * * * *")
	pick("Daily at a time", "30 3 * * *")
	if !row.At.Visible() || row.At.Text != "03:30" {
		t.Errorf("daily: time entry visible %v with %q, want 03:30", row.At.Visible(), row.At.Text)
	}
	if strings.Count(row.Next.Text, "03:30") != 3 {
		t.Errorf("next runs %q: want three at 03:30", row.Next.Text)
	}
	row.At.SetText("")
	test.Type(row.At, "25:00")
	e.u.Wait()
	if row.Error.Hidden || task(t, e.st, "import").Cron != "30 3 * * *" {
		t.Errorf("25:00: error %q, saved %q", row.Error.Text, task(t, e.st, "import").Cron)
	}
	row.At.SetText("")
	test.Type(row.At, "21:15")
	e.u.Wait()
	if !row.Error.Hidden || task(t, e.st, "import").Cron != "15 21 * * *" || row.CronIs.Text != "15 21 * * *" {
		t.Errorf("21:15: error %q, saved %q, shown %q", row.Error.Text, task(t, e.st, "import").Cron, row.CronIs.Text)
	}
	pick("Custom (cron)", "15 21 * * *")
	if !row.Cron.Visible() || row.Cron.Text != "15 21 * * *" {
		t.Errorf("custom: entry visible %v with %q", row.Cron.Visible(), row.Cron.Text)
	}
	row.Cron.SetText("")
	test.Type(row.Cron, "0 8,20 * * *")
	e.u.Wait()
	if got := task(t, e.st, "import").Cron; got != "0 8,20 * * *" {
		t.Errorf("custom saved %q", got)
	}
	// Read back: a fresh window shows the saved schedule in words.
	u := New(context.Background(), e.app, e.u.d)
	if err := u.Refresh(); err != nil {
		t.Fatal(err)
	}
	if r := u.Window.Tasks.Import; r.Often.Selected != "Custom (cron)" || r.Cron.Text != "0 8,20 * * *" {
		t.Errorf("reloaded: %q with cron %q", r.Often.Selected, r.Cron.Text)
	}
}

func TestOften(t *testing.T) {
	for expr, want := range map[string][2]string{
		"*/15 * * * *": {"Every 15 minutes", ""}, "0 * * * *": {"Hourly", ""}, "@hourly": {"Hourly", ""},
		"0  */6 * * *": {"Every 6 hours", ""}, "30 3 * * *": {"Daily at a time", "03:30"}, "@daily": {"Daily at a time", "00:00"},
		"0 21 * * *": {"Daily at a time", "21:00"}, "30 3 * * 1-5": {"Custom (cron)", ""}, "*/5 * * * *": {"Custom (cron)", ""},
		"0 1-23/6 * * *": {"Every 6 hours", ""}, "15 */6 * * *": {"Every 6 hours", ""}, "45 * * * *": {"Hourly", ""},
		"0 7-23/6 * * *": {"Custom (cron)", ""}, "0 */4 * * *": {"Custom (cron)", ""}, "x * * * *": {"Custom (cron)", ""},
	} {
		if c, at := Often(expr); c != want[0] || at != want[1] {
			t.Errorf("Often(%q) = %q, %q; want %q, %q", expr, c, at, want[0], want[1])
		}
	}
	for in, want := range map[string]string{"03:30": "30 3 * * *", "3:05": "5 3 * * *", "2359": "59 23 * * *", "24:00": "", "3:5": "", "x": ""} {
		got, err := dailyCron(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("dailyCron(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// A preview's status line counts the new items too, as items to become
// known (no change anywhere): a first import's are most of what it reads.
func TestRunMessageDryRun(t *testing.T) {
	rep := &engine.Report{Kind: "import", DryRun: true, Status: "ok",
		Backends: []engine.BackendReport{{RunBackend: state.RunBackend{Phase: "import", Backend: "plex", Read: 232, Added: 232}}}}
	if got, want := RunMessage("import", rep, nil), "Preview of import: 0 changes planned, 232 items to become known, nothing written."; got != want {
		t.Errorf("RunMessage = %q, want %q", got, want)
	}
}
