//go:build linux

package clock

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// waitLimit bounds every wait for an expiry that must come; only a broken
// timer gets near it.
const waitLimit = 5 * time.Second

func newPrecise(t testing.TB, d time.Duration) *fdTimer {
	t.Helper()
	pc, ok := Real().(PreciseClock)
	if !ok {
		t.Fatal("Real() is not a PreciseClock on Linux")
	}
	pt, err := pc.NewPreciseTimer(d)
	if err != nil {
		t.Fatalf("NewPreciseTimer: %v", err)
	}
	t.Cleanup(func() { pt.Close() })
	return pt.(*fdTimer)
}

// receive waits for an expiry, failing the test after waitLimit.
func receive(t *testing.T, tm Timer) time.Time {
	t.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	select {
	case at := <-tm.C():
		return at
	case <-limit.C:
		t.Fatal("timer did not fire")
		return time.Time{}
	}
}

// waitDelivered waits until the timer's goroutine has put an expiry on C,
// without receiving it.
func waitDelivered(t *testing.T, tm *fdTimer) {
	t.Helper()
	for end := time.Now().Add(waitLimit); len(tm.c) == 0; runtime.Gosched() {
		if time.Now().After(end) {
			t.Fatal("timer did not fire")
		}
	}
}

// disarmed reports whether the kernel timer is disarmed; a one-shot
// timerfd disarms itself when it expires.
func disarmed(t *testing.T, tm *fdTimer) bool {
	t.Helper()
	var v unix.ItimerSpec
	if err := unix.TimerfdGettime(tm.fd, &v); err != nil {
		t.Fatalf("timerfd_gettime: %v", err)
	}
	return v.Value.Sec == 0 && v.Value.Nsec == 0
}

// waitExpired waits until the kernel timer has expired, whether or not the
// goroutine has read it yet.
func waitExpired(t *testing.T, tm *fdTimer) {
	t.Helper()
	for end := time.Now().Add(waitLimit); !disarmed(t, tm); runtime.Gosched() {
		if time.Now().After(end) {
			t.Fatal("timerfd did not expire")
		}
	}
}

func TestPreciseTimerFires(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0, time.Nanosecond, time.Millisecond, 3 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			start := time.Now()
			tm := newPrecise(t, d)
			at := receive(t, tm)
			if early := start.Add(d).Sub(at); early > 0 {
				t.Fatalf("fired %v before its deadline", early)
			}
			if tm.Stop() {
				t.Fatal("Stop after the expiry was received reported active")
			}
		})
	}
}

// TestPreciseTimerStopReset checks what Stop and Reset report, and that
// neither lets an earlier arming's expiry through, in each state the
// previous arming can be in.
func TestPreciseTimerStopReset(t *testing.T) {
	states := []struct {
		name string
		// prepare leaves the timer in the state; want is what Stop or
		// Reset must report from it.
		prepare func(t *testing.T, tm *fdTimer)
		want    bool
		// held: prepare returns with tm.mu held, so that the goroutine
		// cannot read the expiry first; the test then calls set, the
		// body of Stop and Reset, and unlocks.
		held bool
	}{
		{"armed", func(t *testing.T, tm *fdTimer) { tm.Reset(time.Hour) }, true, false},
		{"stopped", func(t *testing.T, tm *fdTimer) { tm.Reset(time.Hour); tm.Stop() }, false, false},
		{"expired in the kernel, not read", func(t *testing.T, tm *fdTimer) {
			tm.mu.Lock()
			tm.set(time.Nanosecond, true)
			waitExpired(t, tm)
		}, true, true},
		{"delivered, not received", func(t *testing.T, tm *fdTimer) {
			tm.Reset(0)
			waitDelivered(t, tm)
		}, true, false},
		{"received", func(t *testing.T, tm *fdTimer) {
			tm.Reset(0)
			receive(t, tm)
		}, false, false},
	}
	stop := func(tm *fdTimer, held bool) bool {
		if held {
			defer tm.mu.Unlock()
			return tm.set(0, false)
		}
		return tm.Stop()
	}
	reset := func(tm *fdTimer, held bool, d time.Duration) bool {
		if held {
			defer tm.mu.Unlock()
			return tm.set(d, true)
		}
		return tm.Reset(d)
	}
	const next = 3 * time.Millisecond
	for _, s := range states {
		t.Run("Stop/"+s.name, func(t *testing.T) {
			tm := newPrecise(t, time.Hour)
			s.prepare(t, tm)
			if got := stop(tm, s.held); got != s.want {
				t.Fatalf("Stop = %v, want %v", got, s.want)
			}
			if len(tm.c) != 0 {
				t.Fatal("an expiry is still queued after Stop")
			}
			if !disarmed(t, tm) {
				t.Fatal("timerfd still armed after Stop")
			}
			if tm.Stop() {
				t.Fatal("second Stop reported active")
			}
			// A fresh arming fires on its own deadline, not early from
			// a leftover expiry.
			start := time.Now()
			tm.Reset(next)
			if early := start.Add(next).Sub(receive(t, tm)); early > 0 {
				t.Fatalf("stale expiry after Stop: fired %v before the new deadline", early)
			}
		})
		t.Run("Reset/"+s.name, func(t *testing.T) {
			tm := newPrecise(t, time.Hour)
			s.prepare(t, tm)
			start := time.Now()
			if got := reset(tm, s.held, next); got != s.want {
				t.Fatalf("Reset = %v, want %v", got, s.want)
			}
			if early := start.Add(next).Sub(receive(t, tm)); early > 0 {
				t.Fatalf("stale expiry after Reset: fired %v before the new deadline", early)
			}
		})
	}
}

// TestPreciseTimerNoStaleExpiryRace re-arms the timer while its previous
// expiry is anywhere on its way (kernel, goroutine, channel), and checks
// that what arrives next is never earlier than the new deadline.
func TestPreciseTimerNoStaleExpiryRace(t *testing.T) {
	const next = 200 * time.Microsecond
	tm := newPrecise(t, time.Hour)
	for i := range 300 {
		tm.Reset(0)
		for range i % 7 {
			runtime.Gosched()
		}
		if i%2 == 1 {
			tm.Stop()
		}
		start := time.Now()
		tm.Reset(next)
		if early := start.Add(next).Sub(receive(t, tm)); early > 0 {
			t.Fatalf("round %d: stale expiry %v before the new deadline", i, early)
		}
	}
}

func TestPreciseTimerClose(t *testing.T) {
	before := runtime.NumGoroutine()
	const n = 20
	timers := make([]*fdTimer, n)
	for k := range timers {
		timers[k] = newPrecise(t, time.Duration(k)*time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got < before+n {
		t.Fatalf("%d goroutines with %d timers, started from %d", got, n, before)
	}
	for k, tm := range timers {
		if err := tm.Close(); err != nil {
			t.Fatalf("Close of timer %d: %v", k, err)
		}
		select {
		case <-tm.done:
		default:
			t.Fatalf("timer %d's goroutine still running after Close", k)
		}
		if err := tm.Close(); err != nil {
			t.Fatalf("second Close of timer %d: %v", k, err)
		}
		if tm.Stop() || tm.Reset(0) {
			t.Fatalf("Stop or Reset after Close of timer %d reported active", k)
		}
		if len(tm.c) != 0 {
			t.Fatalf("closed timer %d has an expiry queued", k)
		}
		if _, err := unix.FcntlInt(uintptr(tm.fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
			t.Fatalf("timer %d's descriptor still open after Close (fcntl: %v)", k, err)
		}
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Fatalf("%d goroutines after Close, %d before the timers", got, before)
	}
}

func TestPreciseTimerUnavailable(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Exhaust descriptors under a low soft limit, restored on return.
	low := lim
	low.Cur = 64
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		files = append(files, f)
	}
	_, err := Real().(PreciseClock).NewPreciseTimer(time.Second)
	if !errors.Is(err, ErrNoPreciseTimer) || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("NewPreciseTimer with no descriptor left: err = %v, want ErrNoPreciseTimer wrapping EMFILE", err)
	}
}

// TestPreciseTimerSynctest checks that code under testing/synctest, which
// fakes time.Now and time.Timer, is refused a kernel timer (its goroutine
// would never let the bubble idle) and so falls back to NewTimer.
func TestPreciseTimerSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pt, err := Real().(PreciseClock).NewPreciseTimer(time.Second)
		if !errors.Is(err, ErrNoPreciseTimer) {
			if pt != nil {
				pt.Close()
			}
			t.Fatalf("NewPreciseTimer in a synctest bubble: err = %v, want ErrNoPreciseTimer", err)
		}
	})
	if err := sameClockAsKernel(); err != nil {
		t.Fatalf("outside a bubble: %v", err)
	}
}

// lateness returns the median of n timers' lateness, each armed for d.
func lateness(tb testing.TB, n int, d time.Duration, mk func(time.Duration) Timer) time.Duration {
	tb.Helper()
	late := make([]time.Duration, 0, n)
	tm := mk(time.Hour)
	tm.Stop()
	for range n {
		start := time.Now()
		tm.Reset(d)
		<-tm.C()
		late = append(late, time.Since(start)-d)
	}
	slices.Sort(late)
	return late[n/2]
}

// TestPreciseTimerLateness checks the point of the exercise, loosely: the
// median precise timer is well under the millisecond a time.Timer may lose,
// at the backup's master-down interval for a 1 ms advert (a time.Timer
// loses about 0.6 ms there on the benchmark VM).
func TestPreciseTimerLateness(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("timing is meaningless under -race; skipped in -short")
	}
	tm := newPrecise(t, time.Hour)
	med := lateness(t, 101, 3609375*time.Nanosecond, func(time.Duration) Timer { return tm })
	if med > 500*time.Microsecond {
		t.Fatalf("median lateness of a precise timer = %v, want < 500µs", med)
	}
}

// BenchmarkTimerLateness reports the median lateness, as late-µs, of
// precise timers and time.Timers armed for a whole and a fractional number
// of milliseconds (the runtime's epoll timeouts truncate to whole ones).
func BenchmarkTimerLateness(b *testing.B) {
	kinds := []struct {
		name string
		mk   func(time.Duration) Timer
	}{
		{"precise", func(d time.Duration) Timer { return newPrecise(b, d) }},
		{"time.Timer", Real().NewTimer},
	}
	for _, d := range []time.Duration{time.Millisecond, 3609375 * time.Nanosecond} {
		for _, k := range kinds {
			b.Run(k.name+"/"+d.String(), func(b *testing.B) {
				med := lateness(b, b.N, d, k.mk)
				b.ReportMetric(float64(med)/float64(time.Microsecond), "late-µs")
			})
		}
	}
}
