//go:build linux

package clock

import (
	"sync"
	"testing"
	"time"
)

// TestSchedulerPrecise runs many alarms on the real clock's timerfd: each
// fires once, and never before its deadline, also when moved later after
// the timer was armed for it.
func TestSchedulerPrecise(t *testing.T) {
	s := NewScheduler(Real())
	const n = 50
	type result struct {
		k    int
		late time.Duration
	}
	results := make(chan result, 2*n)
	want := make([]time.Time, n) // written before Set, read by the functions
	alarms := make([]*Alarm, n)
	for k := range n {
		alarms[k] = s.NewAlarm(func(now time.Time) { results <- result{k, now.Sub(want[k])} })
	}
	defer func() {
		for _, a := range alarms {
			a.Close()
		}
	}()
	if err := alarms[0].Imprecise(); err != nil {
		t.Fatalf("Imprecise on the real clock: %v", err)
	}
	s.mu.Lock()
	_, isFd := s.w.(*fdWaker)
	s.mu.Unlock()
	if !isFd {
		t.Fatal("the real clock's scheduler does not run on a timerfd")
	}
	start := time.Now()
	for k := range n {
		want[k] = start.Add(time.Duration(k+2) * time.Millisecond)
		alarms[k].Set(want[k])
	}
	// Move every fifth alarm later, after the timer was armed for it.
	for k := 0; k < n; k += 5 {
		want[k] = want[k].Add(7 * time.Millisecond)
		alarms[k].Set(want[k])
	}
	seen := map[int]bool{}
	limit := time.After(waitLimit)
	for len(seen) < n {
		select {
		case r := <-results:
			if seen[r.k] {
				t.Fatalf("alarm %d fired twice", r.k)
			}
			seen[r.k] = true
			if r.late < 0 {
				t.Fatalf("alarm %d fired %v before its deadline", r.k, -r.late)
			}
		case <-limit:
			t.Fatalf("%d of %d alarms fired", len(seen), n)
		}
	}
}

// alarmTimer is a Timer on one alarm of a scheduler, so lateness can
// measure it as it does the other timers.
type alarmTimer struct {
	clk Clock
	a   *Alarm
	c   chan time.Time
}

func newAlarmTimer(tb testing.TB, s *Scheduler) *alarmTimer {
	at := &alarmTimer{clk: s.clk, c: make(chan time.Time, 1)}
	at.a = s.NewAlarm(func(now time.Time) { at.c <- now })
	tb.Cleanup(at.a.Close)
	return at
}

func (t *alarmTimer) C() <-chan time.Time { return t.c }
func (t *alarmTimer) Stop() bool          { t.a.Stop(); return true }
func (t *alarmTimer) Reset(d time.Duration) bool {
	t.a.Set(t.clk.Now().Add(d))
	return true
}

// TestSchedulerLateness: the scheduler's alarms are as precise as a
// PreciseTimer (see TestPreciseTimerLateness), while another alarm, moved
// later all the time as a backup's master-down deadline is, wakes the
// timer early over and over.
func TestSchedulerLateness(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("timing is meaningless under -race; skipped in -short")
	}
	s := NewScheduler(Real())
	tm := newAlarmTimer(t, s)
	other := s.NewAlarm(func(time.Time) {})
	defer other.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				other.Set(time.Now().Add(2 * time.Millisecond))
			}
		}
	}()
	med := lateness(t, 101, 3609375*time.Nanosecond, func(time.Duration) Timer { return tm })
	close(stop)
	<-done
	if med > 500*time.Microsecond {
		t.Fatalf("median lateness of an alarm = %v, want < 500µs", med)
	}
}

// TestSchedulerPreciseConcurrent sets and stops alarms from many goroutines
// while the timer fires them (run it with -race), then checks that every
// alarm still fires when finally set.
func TestSchedulerPreciseConcurrent(t *testing.T) {
	s := NewScheduler(Real())
	const n = 8
	fired := make([]chan struct{}, n)
	alarms := make([]*Alarm, n)
	for k := range n {
		fired[k] = make(chan struct{}, 1)
		alarms[k] = s.NewAlarm(func(time.Time) {
			select {
			case fired[k] <- struct{}{}:
			default:
			}
		})
	}
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			for j := range 2000 {
				switch j % 3 {
				case 0, 1:
					alarms[k].Set(time.Now().Add(time.Duration(j%7) * 50 * time.Microsecond))
				case 2:
					alarms[k].Stop()
				}
			}
		})
	}
	wg.Wait()
	for k := range n {
		select {
		case <-fired[k]:
		default:
		}
		alarms[k].Set(time.Now().Add(time.Millisecond))
	}
	for k := range n {
		select {
		case <-fired[k]:
		case <-time.After(waitLimit):
			t.Fatalf("alarm %d did not fire", k)
		}
		alarms[k].Close()
	}
}
