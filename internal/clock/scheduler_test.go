package clock

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The scheduler tests that check exact times run inside a synctest bubble:
// the real clock's time is faked there, so the scheduler falls back to a
// time.Timer that fires at exact virtual times, and synctest.Wait tells
// when its goroutine has settled. synctest.Test also fails if the
// scheduler's goroutine outlives the last Close.

// firings records each alarm's calls, in order.
type firings struct {
	mu  sync.Mutex
	got []firing
}

type firing struct {
	name string
	at   time.Time
}

func (f *firings) fn(name string) func(time.Time) {
	return func(now time.Time) {
		f.mu.Lock()
		f.got = append(f.got, firing{name, now})
		f.mu.Unlock()
	}
}

func (f *firings) take() []firing {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

func TestSchedulerFiresInOrderAtDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Real())
		var f firings
		start := time.Now()
		a, b, c := s.NewAlarm(f.fn("a")), s.NewAlarm(f.fn("b")), s.NewAlarm(f.fn("c"))
		if a.Imprecise() == nil {
			t.Fatal("a synctest bubble gave a precise timer: the kernel's clock does not follow its time")
		}
		a.Set(start.Add(3 * time.Second))
		b.Set(start.Add(time.Second))
		c.Set(start.Add(2 * time.Second))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		got := f.take()
		want := []firing{{"b", start.Add(time.Second)}, {"c", start.Add(2 * time.Second)}, {"a", start.Add(3 * time.Second)}}
		if len(got) != len(want) {
			t.Fatalf("fired %v, want %v", got, want)
		}
		for k := range want {
			if got[k].name != want[k].name || !got[k].at.Equal(want[k].at) {
				t.Fatalf("firing %d = %s at %v, want %s at %v", k, got[k].name, got[k].at.Sub(start), want[k].name, want[k].at.Sub(start))
			}
		}
		// Fired alarms are unset: nothing more comes.
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := f.take(); len(got) != 0 {
			t.Fatalf("unset alarms fired again: %v", got)
		}
		a.Close()
		b.Close()
		c.Close()
	})
}

// countingClock counts how often its timers are armed.
type countingClock struct {
	Clock
	mu   sync.Mutex
	arms int
}

func (c *countingClock) NewTimer(d time.Duration) Timer {
	c.count()
	return countingTimer{c.Clock.NewTimer(d), c}
}

func (c *countingClock) count() {
	c.mu.Lock()
	c.arms++
	c.mu.Unlock()
}

func (c *countingClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arms
}

type countingTimer struct {
	Timer
	c *countingClock
}

func (t countingTimer) Reset(d time.Duration) bool {
	t.c.count()
	return t.Timer.Reset(d)
}

// TestSchedulerMoveLaterIsLazy: moving an alarm later, as a backup does
// with every advert, does not re-arm the timer while the timer's wake-up
// is farther off than the moves' spacing, yet the alarm fires at its last
// deadline and not before.
func TestSchedulerMoveLaterIsLazy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := &countingClock{Clock: Real()}
		s := NewScheduler(clk)
		var f firings
		a := s.NewAlarm(f.fn("a"))
		defer a.Close()
		start := time.Now()
		a.Set(start.Add(time.Second))
		base := clk.armed() // NewTimer, and the first Set
		// The last move at 800 ms: the timer's wake-up is 200 ms off.
		for range 8 {
			time.Sleep(100 * time.Millisecond)
			a.Set(time.Now().Add(time.Second))
		}
		if n := clk.armed() - base; n != 0 {
			t.Fatalf("moving the alarm later 8 times re-armed the timer %d times, want 0", n)
		}
		last := time.Now()
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if got := f.take(); len(got) != 0 {
			t.Fatalf("alarm fired before its deadline: %v after start", got[0].at.Sub(start))
		}
		// One early wake-up at the first deadline, which re-armed for the
		// last one.
		if n := clk.armed() - base; n != 1 {
			t.Fatalf("timer re-armed %d times, want 1 (at the first deadline)", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		got := f.take()
		if len(got) != 1 || !got[0].at.Equal(last.Add(time.Second)) {
			t.Fatalf("fired %v, want once at %v", got, last.Add(time.Second).Sub(start))
		}
	})
}

// TestSchedulerMoveLaterSavesWakeups: a backup's master-down deadline,
// 3.6 s ahead and moved by an advert every second, never has the timer
// wake for nothing: it is re-armed every third advert instead, when its
// wake-up would come before the next one. Moved every millisecond (many
// instances), it is re-armed about as rarely as it used to wake for
// nothing. Either way the alarm fires at its last deadline.
func TestSchedulerMoveLaterSavesWakeups(t *testing.T) {
	for _, tc := range []struct {
		name        string
		every, lead time.Duration
		moves       int
		maxArms     int
	}{
		{"1 s adverts", time.Second, 3600 * time.Millisecond, 30, 30/3 + 1},
		{"1 ms moves", time.Millisecond, 360 * time.Millisecond, 1000, 1000/360 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := &countingClock{Clock: Real()}
				s := NewScheduler(clk)
				var f firings
				a := s.NewAlarm(f.fn("a"))
				defer a.Close()
				a.Set(time.Now().Add(tc.lead))
				base := clk.armed()
				for range tc.moves {
					time.Sleep(tc.every)
					a.Set(time.Now().Add(tc.lead))
				}
				synctest.Wait()
				s.mu.Lock()
				wasted := s.wasted
				s.mu.Unlock()
				if wasted != 0 {
					t.Errorf("the timer woke %d times for nothing", wasted)
				}
				if n := clk.armed() - base; n > tc.maxArms {
					t.Errorf("%d moves re-armed the timer %d times, want at most %d", tc.moves, n, tc.maxArms)
				}
				if got := f.take(); len(got) != 0 {
					t.Fatalf("fired early: %v", got)
				}
				last := time.Now()
				time.Sleep(tc.lead)
				synctest.Wait()
				if got := f.take(); len(got) != 1 || !got[0].at.Equal(last.Add(tc.lead)) {
					t.Fatalf("fired %v, want once at the last deadline", got)
				}
			})
		})
	}
}

func TestSchedulerMoveEarlierAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Real())
		var f firings
		a, b := s.NewAlarm(f.fn("a")), s.NewAlarm(f.fn("b"))
		defer a.Close()
		defer b.Close()
		start := time.Now()
		a.Set(start.Add(time.Hour))
		b.Set(start.Add(2 * time.Second))
		a.Set(start.Add(time.Second)) // earlier than the timer: re-armed
		b.Stop()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		got := f.take()
		if len(got) != 1 || got[0].name != "a" || !got[0].at.Equal(start.Add(time.Second)) {
			t.Fatalf("fired %v, want a alone at 1s", got)
		}
		// A deadline already passed fires at once.
		b.Set(start)
		synctest.Wait()
		if got := f.take(); len(got) != 1 || got[0].name != "b" || !got[0].at.Equal(start.Add(3*time.Second)) {
			t.Fatalf("fired %v, want b at once", got)
		}
	})
}

// TestSchedulerAlarmResetsItself: a function may set its own alarm again,
// as a master's advert timer does, and the alarm keeps its cadence.
func TestSchedulerAlarmResetsItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Real())
		var mu sync.Mutex
		var at []time.Time
		var a *Alarm
		a = s.NewAlarm(func(now time.Time) {
			mu.Lock()
			at = append(at, now)
			mu.Unlock()
			a.Set(now.Add(100 * time.Millisecond))
		})
		start := time.Now()
		a.Set(start)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		a.Close()
		mu.Lock()
		defer mu.Unlock()
		if len(at) != 11 {
			t.Fatalf("fired %d times in 1s at 100ms, want 11", len(at))
		}
		for k, x := range at {
			if want := start.Add(time.Duration(k) * 100 * time.Millisecond); !x.Equal(want) {
				t.Fatalf("firing %d at %v, want %v", k, x.Sub(start), want.Sub(start))
			}
		}
	})
}

// TestSchedulerCloseWaitsForFunction: Close returns only once a call of the
// alarm's function under way has returned, and the goroutine stops with
// the last alarm and starts again with a new one.
func TestSchedulerCloseWaitsForFunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Real())
		entered, release := make(chan struct{}), make(chan struct{})
		a := s.NewAlarm(func(time.Time) {
			close(entered)
			<-release
		})
		a.Set(time.Now())
		<-entered
		closed := make(chan struct{})
		go func() { a.Close(); close(closed) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while the alarm's function ran")
		default:
		}
		close(release)
		<-closed
		s.mu.Lock()
		stopped := s.w == nil
		s.mu.Unlock()
		if !stopped {
			t.Fatal("the scheduler kept its timer after the last alarm closed")
		}
		a.Set(time.Now()) // after Close: nothing
		var f firings
		b := s.NewAlarm(f.fn("b"))
		b.Set(time.Now().Add(time.Second))
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.take(); len(got) != 1 {
			t.Fatalf("a new alarm after the last Close fired %d times, want 1", len(got))
		}
		b.Close()
	})
}

// TestSchedulerWindowRidesAlong: an alarm with a window fires early with
// another that is due, once its window has begun, and not before; an alarm
// set without one never fires early.
func TestSchedulerWindowRidesAlong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Real())
		var f firings
		start := time.Now()
		at := func(d time.Duration) time.Time { return start.Add(d) }
		due := s.NewAlarm(f.fn("due"))
		inWindow := s.NewAlarm(f.fn("inWindow"))
		notYet := s.NewAlarm(f.fn("notYet"))
		plain := s.NewAlarm(f.fn("plain"))
		due.Set(at(10 * time.Second))
		inWindow.SetWindow(at(8*time.Second), at(12*time.Second))
		notYet.SetWindow(at(11*time.Second), at(14*time.Second))
		plain.Set(at(10*time.Second + time.Millisecond))

		time.Sleep(10*time.Second + time.Millisecond/2)
		synctest.Wait()
		got := f.take()
		if len(got) != 2 || got[0].name != "due" || got[1].name != "inWindow" {
			t.Fatalf("at 10 s fired %v, want due then inWindow", got)
		}
		for _, g := range got {
			if !g.at.Equal(at(10 * time.Second)) {
				t.Fatalf("%s fired at %v, want 10s", g.name, g.at.Sub(start))
			}
		}
		// plain was 1 ms away and without a window: it waits for its own
		// deadline, and notYet's window has not begun by then.
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := f.take(); len(got) != 1 || got[0].name != "plain" || !got[0].at.Equal(at(10*time.Second+time.Millisecond)) {
			t.Fatalf("after 10.001 s fired %v, want plain alone at 10.001s", got)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := f.take(); len(got) != 1 || got[0].name != "notYet" || !got[0].at.Equal(at(14*time.Second)) {
			t.Fatalf("after 14 s fired %v, want notYet alone at its deadline", got)
		}
		// Alone, an alarm with a window fires at its deadline.
		inWindow.SetWindow(at(20*time.Second), at(25*time.Second))
		time.Sleep(12 * time.Second)
		synctest.Wait()
		if got := f.take(); len(got) != 1 || !got[0].at.Equal(at(25*time.Second)) {
			t.Fatalf("a lone alarm with a window fired %v, want at 25s", got)
		}
		// A window starting after the deadline is the deadline.
		inWindow.SetWindow(at(40*time.Second), at(35*time.Second))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := f.take(); len(got) != 1 || !got[0].at.Equal(at(35*time.Second)) {
			t.Fatalf("an inverted window fired %v, want at 35s", got)
		}
		for _, a := range []*Alarm{due, inWindow, notYet, plain} {
			a.Close()
		}
	})
}

// TestSchedulerRide: a caller awake anyway (a backup's demux, which has
// just moved its master-down alarm later) runs the alarms whose windows
// have begun by then (and no other), so that the timer does not wake for
// them; it looks at most every rideGap.
func TestSchedulerRide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Real())
		var f firings
		start := time.Now()
		at := func(d time.Duration) time.Time { return start.Add(d) }
		window := s.NewAlarm(f.fn("window"))
		defer window.Close()
		later := s.NewAlarm(f.fn("later"))
		defer later.Close()
		down := s.NewAlarm(f.fn("down")) // a master-down deadline, far off
		defer down.Close()
		window.SetWindow(at(8*time.Second), at(10*time.Second))
		later.SetWindow(at(8600*time.Millisecond), at(20*time.Second))
		advert := func() {
			now := time.Now()
			down.SetWindowAt(now.Add(time.Hour), now.Add(time.Hour), now)
			s.Ride()
		}

		time.Sleep(7 * time.Second)
		advert()
		if got := f.take(); len(got) != 0 {
			t.Fatalf("rode %v before any window began", got)
		}
		time.Sleep(1500 * time.Millisecond) // 8.5 s: window's has begun
		advert()
		if got := f.take(); len(got) != 1 || got[0].name != "window" || !got[0].at.Equal(at(8500*time.Millisecond)) {
			t.Fatalf("rode %v, want window at 8.5s", got)
		}
		time.Sleep(rideGap / 2) // later's window begins meanwhile
		advert()
		if got := f.take(); len(got) != 0 {
			t.Fatalf("rode %v within rideGap of the last look", got)
		}
		// The timer, set for window's deadline, was moved to later's: it
		// does not wake at 10 s for nothing.
		time.Sleep(time.Until(at(10*time.Second)) + time.Millisecond)
		synctest.Wait()
		s.mu.Lock()
		wasted := s.wasted
		s.mu.Unlock()
		if got := f.take(); len(got) != 0 || wasted != 0 {
			t.Fatalf("by 10 s fired %v and woke %d times for nothing", got, wasted)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := f.take(); len(got) != 1 || got[0].name != "later" || !got[0].at.Equal(at(20*time.Second)) {
			t.Fatalf("fired %v, want later at its deadline", got)
		}
	})
}
