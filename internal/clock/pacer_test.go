package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/clock/clocktest"
)

// A Pacer fires once at its deadline, on its own Timer or on the
// Scheduler's Alarm, and a Cancel or a new Set drops what was due.
func TestPacer(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "timer"
		if shared {
			name = "alarm"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := &clocktest.Counting{Clock: clock.Real(), Offset: ahead}
				var s *clock.Scheduler
				if shared {
					s = clock.NewScheduler(clk)
				}
				p := clock.NewPacer(clk, s)
				defer p.Close()
				fired := func() bool {
					synctest.Wait()
					select {
					case <-p.TimerC():
						return true
					case <-p.Due():
						return true
					default:
						return false
					}
				}
				if fired() {
					t.Fatal("fired before any Set")
				}
				p.Set(clk.Now().Add(2*time.Second), clk.Now().Add(2*time.Second))
				time.Sleep(2*time.Second - time.Millisecond)
				if fired() {
					t.Fatal("fired before its deadline")
				}
				time.Sleep(time.Millisecond)
				if !fired() {
					t.Fatal("did not fire at its deadline")
				}
				if fired() {
					t.Fatal("fired twice")
				}
				// An expiry left unreceived is dropped by Cancel.
				p.Set(clk.Now().Add(time.Second), clk.Now().Add(time.Second))
				time.Sleep(time.Second)
				synctest.Wait()
				p.Cancel()
				if fired() {
					t.Fatal("an expiry survived Cancel")
				}
				// A new Set replaces the old deadline.
				p.Set(clk.Now().Add(time.Second), clk.Now().Add(time.Second))
				p.Set(clk.Now().Add(3*time.Second), clk.Now().Add(3*time.Second))
				time.Sleep(2 * time.Second)
				if fired() {
					t.Fatal("fired at a replaced deadline")
				}
				time.Sleep(time.Second)
				if !fired() {
					t.Fatal("did not fire at the new deadline")
				}
			})
		})
	}
}
