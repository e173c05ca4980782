package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/clock/clocktest"
)

// These tests show that Sleep and a Scheduler wait on the clock they are
// given: a counting clock over the bubble's time that reads a year ahead
// of time.Now, so a wait on time's own timers, or a deadline compared with
// time.Now, shows.

const ahead = 365 * 24 * time.Hour

// Sleep ends when its clock's timer fires, not before, and leaves none
// armed.
func TestSleepOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := &clocktest.Counting{Clock: clock.Real(), Offset: ahead}
		done := make(chan bool, 1)
		go func() { done <- clock.Sleep(t.Context(), clk, 5*time.Second) }()
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait() // a wrongly woken Sleep has returned by now
		select {
		case <-done:
			t.Fatal("Sleep returned before its clock reached its end")
		default:
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		select {
		case ok := <-done:
			if !ok {
				t.Error("Sleep reported cancelled")
			}
		default:
			t.Fatal("Sleep still waiting at its end")
		}
		if n := clk.Made(); n != 1 {
			t.Errorf("Sleep made %d timers of its clock, want 1", n)
		}
		if n := clk.Armed(); n != 0 {
			t.Errorf("%d timers left armed after Sleep", n)
		}
	})
}

// A Scheduler on a clock that offers no precise timers sets its deadlines
// by that clock's time and waits on its timers. The synctest bubble lets
// synctest.Wait have the scheduler's goroutine act before the test looks:
// "not fired yet" is then a fact, not a race with that goroutine.
func TestSchedulerOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := &clocktest.Counting{Clock: clock.Real(), Offset: ahead}
		start := clk.Now()
		s := clock.NewScheduler(clk)
		fired := make(chan time.Time, 1)
		a := s.NewAlarm(func(now time.Time) { fired <- now })
		defer a.Close()
		if err := a.Imprecise(); err != nil {
			t.Fatalf("a clock that offers no precise timers, yet Imprecise = %v", err)
		}
		a.Set(start.Add(time.Minute))
		time.Sleep(30 * time.Second)
		synctest.Wait()
		select {
		case at := <-fired:
			t.Fatalf("fired at %v, before its deadline", at.Sub(start))
		default:
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		select {
		case at := <-fired:
			if !at.Equal(start.Add(time.Minute)) {
				t.Fatalf("fired at %v, want %v", at, start.Add(time.Minute))
			}
		default:
			t.Fatal("alarm did not fire when its clock reached its deadline")
		}
		if clk.Made() == 0 {
			t.Error("the scheduler waited without a timer of its clock")
		}
	})
}
