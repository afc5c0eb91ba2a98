//go:build !headless

package app

import (
	"sync"

	"fyne.io/fyne/v2"
)

// uiThread is the desktop app's UI thread: the functions that touch the
// window and the tray, called from background goroutines (do), run one at
// a time on the main goroutine.
//
// An app started in the tray does not run Fyne's loop until its window
// is first wanted (that loop ticks 60 times a second, window or not):
// until then the main goroutine serves the queue here (serve). handOff
// gives the UI thread to Fyne: from then on do passes functions to
// fyne.Do and fyne.DoAndWait. A function is queued here or passed to Fyne,
// never both, and none queued is dropped at the hand-off (the main
// goroutine runs them before it starts Fyne's loop). After close (quit),
// do drops functions.
type uiThread struct {
	// fyneDo runs f on Fyne's thread (fyne.Do, fyne.DoAndWait); tests
	// replace it.
	fyneDo func(f func(), wait bool)

	mu     sync.Mutex
	fyne   bool // handed off to Fyne
	closed bool
	queue  []uiCall
	wake   chan struct{} // one token: the queue may have calls
}

// uiCall is a queued function; done, for a caller that waits, is closed
// once it ran (or was dropped at close).
type uiCall struct {
	f    func()
	done chan struct{}
}

// newUIThread makes a UI thread served by the main goroutine until
// handOff; a UI thread that starts with Fyne's is newUIThread then
// handOff.
func newUIThread() *uiThread {
	return &uiThread{fyneDo: fyneDo, wake: make(chan struct{}, 1)}
}

func fyneDo(f func(), wait bool) {
	if wait {
		fyne.DoAndWait(f)
	} else {
		fyne.Do(f)
	}
}

// do runs f on the UI thread; with wait, it returns once f has run. Not
// from the UI thread itself with wait (it would wait for itself).
func (t *uiThread) do(f func(), wait bool) {
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return
	case t.fyne:
		t.mu.Unlock()
		t.fyneDo(f, wait)
		return
	}
	c := uiCall{f: f}
	if wait {
		c.done = make(chan struct{})
	}
	t.queue = append(t.queue, c)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default: // already signalled
	}
	if wait {
		<-c.done
	}
}

// pop takes the oldest queued call.
func (t *uiThread) pop() (uiCall, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue) == 0 {
		return uiCall{}, false
	}
	c := t.queue[0]
	t.queue[0] = uiCall{}
	t.queue = t.queue[1:]
	return c, true
}

// serve runs queued functions on the calling goroutine (the main one),
// oldest first, as they come, until stop, checked before each, says to
// stop; what is still queued then stays for handOff or close.
func (t *uiThread) serve(stop func() bool) {
	for !stop() {
		c, ok := t.pop()
		if !ok {
			<-t.wake
			continue
		}
		c.run()
	}
}

// run runs the call and releases its waiter.
func (c uiCall) run() {
	if c.done != nil {
		defer close(c.done)
	}
	c.f()
}

// handOff gives the UI thread to Fyne: later calls go to fyne.Do, and
// those still queued run now, on the calling goroutine (the main one,
// right before Fyne's loop starts), in order.
func (t *uiThread) handOff() {
	for _, c := range t.take(&t.fyne) {
		c.run()
	}
}

// close drops the calls still queued (releasing their waiters) and any
// later one: the app is quitting.
func (t *uiThread) close() {
	for _, c := range t.take(&t.closed) {
		if c.done != nil {
			close(c.done)
		}
	}
}

// take sets the flag and takes the queued calls, in one step.
func (t *uiThread) take(flag *bool) []uiCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	*flag = true
	q := t.queue
	t.queue = nil
	return q
}
