package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a manual clock for tests: time stands still until Advance moves it,
// and timers whose deadline is reached fire in deadline order.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.arm(d)
	return t
}

// Advance moves time forward by d, firing every timer that falls due on the
// way, in deadline order, with the clock set to each timer's deadline as it
// fires.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		sort.Slice(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
		if len(f.timers) == 0 || f.timers[0].at.After(end) {
			break
		}
		t := f.timers[0]
		f.timers = f.timers[1:]
		if t.at.After(f.now) {
			f.now = t.at
		}
		t.active = false
		select {
		case t.c <- f.now:
		default: // like time.Timer: an unread expiry is not queued twice
		}
	}
	f.now = end
	f.mu.Unlock()
}

// Pending returns how many timers are armed; tests use it to wait until a
// goroutine under test has gone back to waiting.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	at     time.Time
	active bool
}

// arm must be called with f.mu held.
func (t *fakeTimer) arm(d time.Duration) {
	t.at = t.f.now.Add(d)
	t.active = true
	t.f.timers = append(t.f.timers, t)
}

// disarm must be called with f.mu held.
func (t *fakeTimer) disarm() bool {
	was := t.active
	for i, o := range t.f.timers {
		if o == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			break
		}
	}
	t.active = false
	return was
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.disarm()
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.disarm()
	t.arm(d)
	return was
}
