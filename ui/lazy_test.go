package ui

import (
	"context"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"playmark/sync/backend"
	"playmark/sync/engine"
)

// An app started in the tray (LazyWindow) keeps the tray up to date but
// does not build the window until it is first shown; the first Show
// then builds and fills it from the latest refresh, the guided setup,
// status line and banner included, and later refreshes go straight to
// it.
func TestLazyWindow(t *testing.T) {
	e := newEnv(t)
	d := e.u.d
	d.LazyWindow = true
	u := New(context.Background(), e.app, d)
	desk := &fakeDesk{}
	u.AttachTray(desk, nil, nil)
	if err := u.Refresh(); err != nil {
		t.Fatal(err)
	}
	w := u.Window
	if w.built || w.loaded || w.Tabs != nil || w.FirstRun != nil {
		t.Fatalf("the hidden window was built (%v) or filled (%v)", w.built, w.loaded)
	}
	desk.item(t, "No backends yet: open Playmark to add one")
	w.setMessage("Sync #1 ok: 3 changes.")

	// A backend added meanwhile: the window shows the latest data, not
	// the first.
	srv := plexServer(t, 5)
	e.addBackend("plex", backend.Plex, srv, false)
	if err := u.Refresh(); err != nil {
		t.Fatal(err)
	}
	desk.item(t, "plex: never synced")
	u.NoTray()
	if w.built {
		t.Fatal("the hidden window was built")
	}

	u.ShowWindow()
	if f := w.FirstRun; f == nil || f.Step != 2 || len(f.Added) != 1 || f.Added[0] != "plex" {
		t.Fatalf("first run %+v after the first show: want the preview step for plex", f)
	}
	mustContain(t, "summary", w.summary.Text, "0 items", "last import never")
	if w.Message.Text != "Sync #1 ok: 3 changes." {
		t.Errorf("status line %q: the message set while hidden is lost", w.Message.Text)
	}
	if !w.banner.Visible() || !strings.Contains(w.bannerText.Text, "no system tray") {
		t.Error("the no-tray banner asked for while hidden is not shown")
	}

	// Shown once: refreshes fill it even when hidden again.
	w.Hide()
	if _, err := e.eng.Import(context.Background(), engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := u.Refresh(); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "summary", w.summary.Text, "5 items", "last import ok")
}

// Background work hands its result to Deps.Dispatch, waiting for it.
func TestDispatch(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	e.addBackend("plex", backend.Plex, srv, false)
	var mu sync.Mutex
	var waits []bool
	d := e.u.d
	d.Dispatch = func(f func(), wait bool) {
		mu.Lock()
		waits = append(waits, wait)
		mu.Unlock()
		f() // the test's goroutine stands in for the UI thread
	}
	u := New(context.Background(), e.app, d)
	var got error
	ran := false
	u.startRun("import", engine.RunOptions{Trigger: "window"}, func(_ *engine.Report, err error) { ran, got = true, err })
	u.Wait()
	if !ran || got != nil {
		t.Fatalf("the run's result: ran %v, err %v", ran, got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 1 || !waits[0] {
		t.Errorf("dispatched %v, want one call that waits", waits)
	}
	mustContain(t, "status line", u.Window.Message.Text, "Import #1 ok")

	// The refresh loop dispatches without waiting.
	ctx, cancel := context.WithCancel(context.Background())
	applied := make(chan struct{})
	var once sync.Once
	d.Dispatch = func(f func(), wait bool) {
		if wait {
			t.Error("the refresh loop waits for the UI thread")
		}
		f()
		once.Do(func() { close(applied) })
	}
	u = New(ctx, e.app, d)
	stopped := make(chan struct{})
	go func() {
		u.Run(ctx)
		close(stopped)
	}()
	<-applied
	cancel()
	<-stopped
	if u.snap.Overview.Backends == nil {
		t.Error("the refresh loop did not apply a snapshot")
	}
}

// Notifications do not wait for the window.
func TestLazyWindowNotifies(t *testing.T) {
	e := newEnv(t)
	srv := plexServer(t, 5)
	b := e.addBackend("plex", backend.Plex, srv, false)
	e.revokeToken(b)
	d := e.u.d
	d.LazyWindow = true
	u := New(context.Background(), e.app, d)
	if err := u.Refresh(); err != nil {
		t.Fatal(err)
	}
	want := fyne.NewNotification("Playmark: plex rejected its token", "Open Playmark → Backends and edit plex to enter a new token.")
	test.AssertNotificationSent(t, want, func() {
		if _, err := e.eng.Import(context.Background(), engine.RunOptions{Trigger: "schedule"}); err != nil {
			t.Fatal(err)
		}
		if err := u.Refresh(); err != nil {
			t.Fatal(err)
		}
	})
	if u.Window.built {
		t.Error("a notification built the hidden window")
	}
}
