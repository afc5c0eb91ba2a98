// Package ui is Playmark's desktop front end: the window (Backends, Tasks,
// Activity, Settings, and a guided first run) and the tray menu. It drives
// the engine, the store and the scheduler it is given, and keeps nothing
// of its own on disk.
//
// Threading: the UI is touched on the UI thread only: Fyne's thread, or,
// in an app that starts in the tray, whatever Deps.Dispatch says (the
// main goroutine before Fyne's loop runs). Background work (runs,
// connection tests, reading the store for a refresh) runs in goroutines
// owned by the UI, which hand their results back through Deps.Dispatch
// (fyne.Do by default). Wait blocks until that work is done (tests,
// shutdown).
package ui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/accounts"
	"playmark/sync/engine"
	"playmark/sync/schedule"
	"playmark/sync/state"
)

// Autostart is the "start at login" entry of the desktop session.
type Autostart interface {
	Enabled() bool
	SetEnabled(on bool) error
}

// Deps is what the UI is built on. Engine is required; the rest may be
// left zero, which hides or disables what depends on them.
type Deps struct {
	Engine  *engine.Engine
	Sched   *schedule.Scheduler // nil: no schedule controls
	Dir     string              // the data folder, shown in Settings
	Version string

	Autostart  Autostart          // nil: start at login is not offered
	OpenFolder func(string) error // nil: open it with the desktop's file manager
	Quit       func()             // nil: fyne.App.Quit

	// Dispatch runs f on the UI thread, waiting for it to return when
	// wait is set; it is called from background goroutines, never from
	// the UI thread. nil: fyne.Do and fyne.DoAndWait.
	Dispatch func(f func(), wait bool)
	// Accounts gives the sign-in manager (signing in, what an account
	// reaches, backends made from it); called off the UI thread. nil: one
	// over the engine's store and client id, plex.tv as
	// PLAYMARK_PLEXTV_URL says.
	Accounts func(ctx context.Context) (*accounts.Manager, error)
	// OpenURL opens a link in the browser; nil: fyne.App.OpenURL.
	OpenURL func(*url.URL) error

	// LazyWindow builds the window's contents only when it is first
	// shown (an app started in the tray, which may never show it):
	// until then refreshes keep only the latest data, for that first
	// Show. The tray and the notifications do not wait for it.
	LazyWindow bool
}

// UI is the window and, when the desktop has one, the tray.
type UI struct {
	app fyne.App
	d   Deps
	st  *state.Store

	ctx    context.Context // the owner's: cancelled at quit, ending runs
	bg     sync.WaitGroup
	Window *Window
	tray   *tray
	// trayHost says whether a tray host shows our icon right now.
	trayHost func() bool

	snap         Snapshot
	lastNotified int64 // newest run already considered for a notification
	notifiedInit bool

	// queue, when set (tests), holds the UI-thread halves of background
	// work until Wait runs them on the caller's goroutine; otherwise they
	// go through do.
	queue *callQueue

	// writes puts the store writes of the window's controls in the
	// order they were asked for (they run off the UI thread).
	writes writeOrder

	// person is the person Activity's filter shows (0: everyone), read
	// by load off the UI thread for the status line's counts.
	person atomic.Int64
}

// writeOrder makes background store writes run one at a time, in the
// order they were asked for: each takes a ticket on the UI thread and
// waits for its turn.
type writeOrder struct {
	mu      sync.Mutex
	cond    *sync.Cond
	next    uint64 // the next ticket to hand out
	serving uint64 // the ticket whose turn it is
}

func (o *writeOrder) ticket() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cond == nil {
		o.cond = sync.NewCond(&o.mu)
	}
	t := o.next
	o.next++
	return t
}

func (o *writeOrder) wait(t uint64) {
	o.mu.Lock()
	for o.serving != t {
		o.cond.Wait()
	}
	o.mu.Unlock()
}

func (o *writeOrder) done() {
	o.mu.Lock()
	o.serving++
	o.cond.Broadcast()
	o.mu.Unlock()
}

// callQueue holds functions for the UI thread.
type callQueue struct {
	mu    sync.Mutex
	calls []func()
}

func (q *callQueue) push(f func()) {
	q.mu.Lock()
	q.calls = append(q.calls, f)
	q.mu.Unlock()
}

// run runs what is queued; it says whether there was anything.
func (q *callQueue) run() bool {
	q.mu.Lock()
	calls := q.calls
	q.calls = nil
	q.mu.Unlock()
	for _, f := range calls {
		f()
	}
	return len(calls) > 0
}

// New builds the UI; ctx bounds every run it starts (cancel it to stop
// them at quit). The window is built but not shown.
func New(ctx context.Context, a fyne.App, d Deps) *UI {
	a.Settings().SetTheme(Theme())
	u := &UI{app: a, d: d, st: d.Engine.Store(), ctx: ctx}
	u.Window = newWindow(u)
	return u
}

// AttachTray puts Playmark in the system tray desk. setTooltip, when
// not nil, sets the icon's tooltip; host says whether a tray host is
// there to show it (nil: assume so). A click on the icon opens the
// window, when desk can tell (SetOnTapped). UI thread.
func (u *UI) AttachTray(desk TrayDesk, setTooltip func(string), host func() bool) {
	u.tray = &tray{desk: desk, setTooltip: setTooltip}
	u.trayHost = host
	if t, ok := desk.(trayTapper); ok {
		t.SetOnTapped(u.ShowWindow)
	}
	u.tray.apply(u.snap, u.trayActions())
	if !u.hasTray() {
		u.Window.noTray()
	}
}

// hasTray says whether closing the window may hide it.
func (u *UI) hasTray() bool {
	return u.tray != nil && (u.trayHost == nil || u.trayHost())
}

// ShowWindow shows the window and brings it forward. UI thread. (Before
// Fyne's loop runs, the window shows once the owner starts it.)
func (u *UI) ShowWindow() { u.Window.Show() }

// Wait waits for the UI's background work (runs, tests, saves) and what
// it hands back to the UI thread.
func (u *UI) Wait() {
	for {
		u.bg.Wait()
		if u.queue == nil || !u.queue.run() {
			return
		}
	}
}

// do runs f on the UI thread (Deps.Dispatch, by default fyne.Do or
// fyne.DoAndWait). From background goroutines only.
func (u *UI) do(f func(), wait bool) {
	switch {
	case u.d.Dispatch != nil:
		u.d.Dispatch(f, wait)
	case wait:
		fyne.DoAndWait(f)
	default:
		fyne.Do(f)
	}
}

// goBg runs work in a goroutine the UI owns; done, when not nil, then
// runs on the UI thread.
func (u *UI) goBg(work func(), done func()) {
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
		work()
		switch {
		case done == nil || u.ctx.Err() != nil:
			// Nothing to show, or the app is quitting.
		case u.queue != nil:
			u.queue.push(done)
		default:
			u.do(done, true)
		}
	}()
}

// post runs f on the UI thread, without waiting: for what background
// work shows while it goes on (a sign-in's code). From background
// goroutines only.
func (u *UI) post(f func()) {
	if u.ctx.Err() != nil {
		return
	}
	if u.queue != nil {
		u.queue.push(f)
		return
	}
	u.do(f, false)
}

// accounts is the sign-in manager. Off the UI thread.
func (u *UI) accounts(ctx context.Context) (*accounts.Manager, error) {
	if u.d.Accounts != nil {
		return u.d.Accounts(ctx)
	}
	id, err := u.d.Engine.ClientID(ctx)
	if err != nil {
		return nil, err
	}
	return &accounts.Manager{Store: u.st, ClientID: id}, nil
}

// openURL opens link in the browser.
func (u *UI) openURL(link string) error {
	l, err := url.Parse(link)
	if err != nil {
		return err
	}
	if u.d.OpenURL != nil {
		return u.d.OpenURL(l)
	}
	return u.app.OpenURL(l)
}

// write runs a store write off the UI thread, after the writes asked for
// before it; done, when not nil, then runs on the UI thread. The window's
// controls never touch the store on the UI thread: a run may hold the
// write lock for seconds (a Preview holds it for the whole run), and the
// window must not freeze behind it.
func (u *UI) write(work func(), done func()) {
	t := u.writes.ticket()
	u.goBg(func() {
		u.writes.wait(t)
		defer u.writes.done()
		work()
	}, done)
}

// Run keeps the window and the tray up to date until ctx ends: it
// rebuilds them from a fresh snapshot after every change the engine
// announces (runs, their progress, edits), at most a few times a second,
// and every half minute for the clocks ("2 min ago").
func (u *UI) Run(ctx context.Context) {
	ch, cancel := u.d.Engine.Subscribe()
	defer cancel()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		if d, err := u.load(ctx); err == nil {
			u.do(func() { u.apply(d) }, false)
		} else if ctx.Err() == nil {
			u.do(func() { u.Window.setMessage("Could not read the status: " + err.Error()) }, false)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-tick.C:
		}
		// Let a burst of changes coalesce into one rebuild.
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Refresh reads everything and shows it, on the calling goroutine, which
// must be the UI thread or a test. It returns the read error, if any.
func (u *UI) Refresh() error {
	d, err := u.load(u.ctx)
	if err != nil {
		return err
	}
	u.apply(d)
	return nil
}

// viewData is one refresh's worth of data for the window and the tray.
type viewData struct {
	snap      Snapshot
	backends  []state.Backend
	runs      []state.Run
	held      []state.Held
	unmatched []state.Unmatched
	settings  state.Settings
	tasks     []state.Task
	people    []state.Person
	// backups is the backups folder, newest first (backupsErr: it could
	// not be listed).
	backups    []engine.BackupInfo
	backupsErr error
}

// load reads a viewData. Off the UI thread.
func (u *UI) load(ctx context.Context) (viewData, error) {
	var d viewData
	var err error
	if d.snap, err = u.snapshot(ctx); err != nil {
		return d, err
	}
	if d.backends, err = u.st.Backends(ctx); err != nil {
		return d, err
	}
	if d.runs, err = u.st.Runs(ctx, 200); err != nil {
		return d, err
	}
	if d.held, err = u.st.HeldExports(ctx); err != nil {
		return d, err
	}
	if d.unmatched, err = u.st.UnmatchedItems(ctx, 500); err != nil {
		return d, err
	}
	if d.settings, err = u.st.Settings(ctx); err != nil {
		return d, err
	}
	if d.tasks, err = u.st.Tasks(ctx); err != nil {
		return d, err
	}
	if d.people, err = u.st.People(ctx); err != nil {
		return d, err
	}
	d.snap.People = len(d.people)
	d.backups, d.backupsErr = u.d.Engine.ListBackups()
	if id := u.person.Load(); id != 0 {
		for _, p := range d.people {
			if p.ID == id {
				if d.snap.PersonCounts, err = u.st.CountsFor(ctx, id); err != nil {
					return d, err
				}
				d.snap.Person = p.Name
				d.snap.PersonImport = personImport(d.runs, d.backends, id)
			}
		}
	}
	return d, nil
}

// personImport is person id's last import among runs (newest first):
// the newest finished import or sync, not dry, with an import phase on
// one of their backends. Its figures are their backends'; its status is
// failed only when one of theirs failed (or the run as a whole did,
// naming no backend), cancelled when it was.
func personImport(runs []state.Run, backends []state.Backend, id int64) engine.RunInfo {
	mine := map[string]bool{}
	for _, b := range backends {
		if b.PersonID == id {
			mine[b.Name] = true
		}
	}
	for _, r := range runs {
		if r.DryRun || r.Status == state.RunRunning || (r.Kind != "import" && r.Kind != "sync") {
			continue
		}
		info := engine.RunInfo{ID: r.ID, Kind: r.Kind, Status: r.Status, Finished: r.Finished}
		touched, failed, anyFailed := false, false, false
		for _, b := range r.Backends {
			if b.Error != "" {
				anyFailed = true
			}
			if b.Phase != "import" || !mine[b.Backend] {
				continue
			}
			touched = true
			info.Changed += b.Changed
			info.Added += b.Added
			if b.Error != "" {
				failed = true
				info.Message = b.Error
			}
		}
		if !touched {
			continue
		}
		switch {
		case failed:
			info.Status = state.RunFailed
		case r.Status == state.RunFailed && anyFailed:
			// Someone else's server failed; theirs went well.
			info.Status = state.RunOK
		}
		return info
	}
	return engine.RunInfo{}
}

// apply shows d. UI thread.
func (u *UI) apply(d viewData) {
	u.snap = d.snap
	u.Window.apply(d)
	if u.tray != nil {
		u.tray.apply(d.snap, u.trayActions())
	}
	u.notifyRuns(d)
}

// notifyRuns sends a notification for each run that finished since the
// last look (whoever started it: the tray, the window, the schedule).
func (u *UI) notifyRuns(d viewData) {
	newest := int64(0)
	for _, r := range d.runs {
		if r.Status != state.RunRunning {
			newest = max(newest, r.ID)
		}
	}
	if !u.notifiedInit {
		// Runs from before this start are old news.
		u.notifiedInit, u.lastNotified = true, newest
		return
	}
	runs := slices.Clone(d.runs)
	slices.Reverse(runs) // oldest first
	for _, r := range runs {
		if r.ID <= u.lastNotified || r.Status == state.RunRunning {
			continue
		}
		u.lastNotified = r.ID
		if n := RunNotification(r, d.held, d.settings); n != nil {
			u.app.SendNotification(n)
		}
	}
}

// trayActions are the tray menu's actions.
func (u *UI) trayActions() TrayActions {
	return TrayActions{
		Sync:    func() { u.startRun("sync", engine.RunOptions{Trigger: "tray"}, nil) },
		Import:  func() { u.startRun("import", engine.RunOptions{Trigger: "tray"}, nil) },
		Export:  func() { u.startRun("export", engine.RunOptions{Trigger: "tray"}, nil) },
		Preview: func() { u.preview("tray") },
		Cancel:  func() { u.d.Engine.Cancel() },
		Pause:   u.pause,
		Resume:  u.resume,
		Open:    u.ShowWindow,
		ToggleStartAtLogin: func() {
			u.setStartAtLogin(!u.snap.StartAtLogin)
		},
		Quit: u.quit,
	}
}

func (u *UI) quit() {
	if u.d.Quit != nil {
		u.d.Quit()
		return
	}
	u.app.Quit()
}

func (u *UI) pause(d time.Duration) {
	if u.d.Sched == nil {
		return
	}
	var until time.Time
	if d > 0 {
		until = time.Now().Add(d)
	}
	u.d.Sched.Pause(until)
	u.d.Engine.Notify()
}

func (u *UI) resume() {
	if u.d.Sched == nil {
		return
	}
	u.d.Sched.Resume()
	u.d.Engine.Notify()
}

// setStartAtLogin turns the login entry on or off; the error, if any,
// is shown in the window and as a notification.
func (u *UI) setStartAtLogin(on bool) error {
	if u.d.Autostart == nil {
		return errors.New("start at login is not available here")
	}
	err := u.d.Autostart.SetEnabled(on)
	if err != nil {
		u.Window.setMessage("Start at login: " + err.Error())
		u.app.SendNotification(fyne.NewNotification("Playmark", "Could not change start at login: "+err.Error()))
	}
	u.d.Engine.Notify()
	return err
}

// startRun starts an import, export or sync in the background. done, when
// not nil, gets the result on the UI thread. A run refused because
// another is in progress is said in a notification and in the window.
func (u *UI) startRun(kind string, opt engine.RunOptions, done func(*engine.Report, error)) {
	var rep *engine.Report
	var err error
	u.goBg(func() {
		switch kind {
		case "import":
			rep, err = u.d.Engine.Import(u.ctx, opt)
		case "export":
			rep, err = u.d.Engine.Export(u.ctx, opt)
		default:
			rep, err = u.d.Engine.Sync(u.ctx, opt)
		}
	}, func() {
		u.Window.setMessage(RunMessage(kind, rep, err))
		if errors.Is(err, engine.ErrBusy) {
			u.app.SendNotification(fyne.NewNotification("Playmark is busy",
				"Another sync run is in progress; try again when it has finished."))
		}
		if done != nil {
			done(rep, err)
		}
	})
}

// preview runs a dry-run sync and shows what it would do.
func (u *UI) preview(trigger string) {
	u.startRun("sync", engine.RunOptions{DryRun: true, Trigger: trigger}, func(rep *engine.Report, err error) {
		if rep != nil && err == nil {
			u.Window.Show()
			u.Window.showReport("Preview: what a sync would do", rep)
		}
	})
}

// RunMessage is a run's result in one line, for the window's status bar.
func RunMessage(kind string, rep *engine.Report, err error) string {
	title := map[string]string{"import": "Import", "export": "Export", "sync": "Sync", "restore": "Restore"}[kind]
	switch {
	case errors.Is(err, engine.ErrBusy):
		return title + " not started: another sync run is in progress."
	case errors.Is(err, context.Canceled) && rep != nil && rep.DryRun:
		return "Preview of " + kind + " cancelled: nothing was written."
	case errors.Is(err, context.Canceled):
		return title + " cancelled: the batch being written was rolled back."
	case err != nil:
		return title + " failed: " + err.Error()
	case rep == nil:
		return ""
	}
	if rep.DryRun {
		title = "Preview of " + kind
	}
	if len(rep.Backends) == 0 {
		if kind == "export" {
			return title + ": no backend has export on (turn it on in Backends)."
		}
		return title + ": no backend to work on (add one, or turn its import on)."
	}
	msg := fmt.Sprintf("%s #%d %s: %s", title, rep.RunID, rep.Status, plural(rep.Changed(), "change"))
	if rep.DryRun {
		planned := plural(rep.Changed(), "change")
		added := 0
		for _, b := range rep.Backends {
			added += b.Added
		}
		msg = fmt.Sprintf("%s: %s planned", title, planned)
		if added > 0 {
			// Items only learned: known from now on, no change anywhere.
			msg += fmt.Sprintf(", %s to become known", plural(added, "item"))
		}
		msg += ", nothing written"
	}
	if rep.FailedReason != "" {
		msg += "; " + rep.FailedReason
	}
	if len(rep.Held) > 0 {
		msg += "; an export was held for you to check (Activity → Held)"
	}
	return msg + "."
}

// RunNotification is the desktop notification for a finished run, or nil
// when there is none to send: errors (a rejected token says so), held
// mass changes, and a summary of a good run only when asked for.
func RunNotification(r state.Run, held []state.Held, set state.Settings) *fyne.Notification {
	if !set.Notifications || r.DryRun {
		return nil
	}
	what := map[string]string{"import": "Import", "export": "Export", "sync": "Sync"}[r.Kind]
	if what == "" {
		return nil
	}
	switch r.Status {
	case state.RunFailed:
		for _, b := range r.Backends {
			if b.Rejected {
				return fyne.NewNotification("Playmark: "+b.Backend+" rejected its token",
					"Open Playmark → Backends and edit "+b.Backend+" to enter a new token.")
			}
		}
		msg := r.Message
		if msg == "" {
			msg = "See Activity in Playmark."
		}
		return fyne.NewNotification("Playmark: "+what+" failed", msg)
	case state.RunHeld:
		msg := "An export would mark many items unwatched. Open Playmark → Activity → Held to apply or discard it."
		for _, h := range held {
			if h.RunID == r.ID {
				msg = fmt.Sprintf("The export to %s would mark %d of its %d watched items unwatched. Open Playmark → Activity → Held to apply or discard it.",
					h.Backend, h.Unwatches, h.Watched)
				break
			}
		}
		return fyne.NewNotification("Playmark held an export", msg)
	case state.RunOK:
		if !set.NotifySuccess {
			return nil
		}
		changed := 0
		for _, b := range r.Backends {
			changed += b.Changed
		}
		return fyne.NewNotification("Playmark: "+what+" done", plural(changed, "change")+".")
	}
	return nil
}

// openFolder opens a folder in the desktop's file manager.
func (u *UI) openFolder(dir string) error {
	if u.d.OpenFolder != nil {
		return u.d.OpenFolder(dir)
	}
	return u.app.OpenURL(&url.URL{Scheme: "file", Path: dir})
}

// showText sets a label's text and shows it only when there is some.
func showText(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}
