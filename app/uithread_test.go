//go:build !headless

package app

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFyne stands in for Fyne's thread: fyne.Do and fyne.DoAndWait queue
// functions that loop runs, one at a time, once Fyne's loop "starts".
type fakeFyne struct {
	mu    sync.Mutex
	calls []uiCall
	wake  chan struct{}
}

func newFakeFyne() *fakeFyne { return &fakeFyne{wake: make(chan struct{}, 1)} }

func (f *fakeFyne) do(fn func(), wait bool) {
	c := uiCall{f: fn}
	if wait {
		c.done = make(chan struct{})
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	if wait {
		<-c.done
	}
}

// loop runs queued functions until stop says so or the deadline passes.
func (f *fakeFyne) loop(t *testing.T, stop func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !stop() {
		f.mu.Lock()
		calls := f.calls
		f.calls = nil
		f.mu.Unlock()
		for _, c := range calls {
			c.run()
		}
		if len(calls) > 0 {
			continue
		}
		select {
		case <-f.wake:
		case <-deadline:
			t.Fatal("timed out: calls were lost")
		}
	}
}

// Calls made from many goroutines while the main goroutine serves the
// queue, during the hand-off to Fyne and after it each run once, on the
// UI thread, in the order each goroutine made them; a call that waits
// returns only once it ran.
func TestUIThreadHandOff(t *testing.T) {
	for round := range 20 {
		const producers, each = 6, 300
		ut := newUIThread()
		fy := newFakeFyne()
		ut.fyneDo = fy.do

		// Only the UI thread touches ran and total: the race detector
		// would see two threads.
		ran := make([][]int, producers)
		total := 0
		var waitErrs atomic.Int32
		var wg sync.WaitGroup
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					wait := (p+i)%3 == 0
					var done atomic.Bool
					ut.do(func() {
						ran[p] = append(ran[p], i)
						total++
						done.Store(true)
					}, wait)
					if wait && !done.Load() {
						waitErrs.Add(1)
					}
				}
			}()
		}

		// Serve a while, then hand off with calls in flight.
		switchAt := 50 + round*40
		ut.serve(func() bool { return total >= switchAt })
		if total != switchAt {
			t.Fatalf("serve ran %d calls past its stop at %d", total, switchAt)
		}
		ut.handOff()
		fy.loop(t, func() bool { return total >= producers*each })
		wg.Wait()
		// Anything still queued for Fyne would be a call run twice.
		fy.loop(t, func() bool { return len(fy.calls) == 0 })

		want := make([]int, each)
		for i := range want {
			want[i] = i
		}
		for p, got := range ran {
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, producer %d: ran %d calls (want %d, each once, in order): %v", round, p, len(got), each, got)
			}
		}
		if n := waitErrs.Load(); n > 0 {
			t.Fatalf("round %d: %d waiting calls returned before they ran", round, n)
		}
	}
}

// What is queued at the hand-off runs there, in order, on the caller;
// later calls go to Fyne. serve returns at once when told to stop.
func TestUIThreadQueuedRunAtHandOff(t *testing.T) {
	ut := newUIThread()
	fy := newFakeFyne()
	ut.fyneDo = fy.do
	var order []string
	for _, s := range []string{"a", "b", "c"} {
		ut.do(func() { order = append(order, s) }, false)
	}
	ut.serve(func() bool { return true }) // returns without running any
	if len(order) != 0 {
		t.Fatalf("serve ran %v though told to stop", order)
	}
	ut.handOff()
	if !slices.Equal(order, []string{"a", "b", "c"}) {
		t.Fatalf("at the hand-off ran %v, want a b c", order)
	}
	ut.do(func() { order = append(order, "d") }, false)
	if len(order) != 3 || len(fy.calls) != 1 {
		t.Fatalf("after the hand-off: ran %v, %d calls for Fyne; want d passed to Fyne", order, len(fy.calls))
	}
	fy.loop(t, func() bool { return len(order) == 4 })
	if order[3] != "d" {
		t.Errorf("ran %v", order)
	}
}

// At quit, queued calls are dropped and their waiters released; later
// calls are dropped at once.
func TestUIThreadClose(t *testing.T) {
	ut := newUIThread()
	ut.fyneDo = func(func(), bool) { t.Error("a call went to Fyne") }
	ran := 0
	released := make(chan struct{})
	go func() {
		ut.do(func() { ran++ }, true)
		close(released)
	}()
	for {
		ut.mu.Lock()
		n := len(ut.queue)
		ut.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ut.close()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting call was not released at close")
	}
	ut.do(func() { ran++ }, true)
	ut.do(func() { ran++ }, false)
	ut.handOff()
	if ran != 0 {
		t.Errorf("%d calls ran after close", ran)
	}
}
