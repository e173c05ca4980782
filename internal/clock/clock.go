package clock

import (
	"errors"
	"time"
)

// Clock tells the time and makes timers. Implementations must be safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that vipd uses, so that another clock's
// timers (PreciseTimer, a test's counting wrapper) can stand in.
// Implementations may differ on an expiry delivered but not yet received
// when Stop or Reset is called: Real's timers and PreciseTimer drop it (Go
// 1.23 semantics), another may keep it, so code that must not see a stale
// expiry drains C after Stop, as election's instance does.
type Timer interface {
	// C returns the channel the expiry time is delivered on.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
	// Reset changes the timer to fire after d; it reports whether it was active.
	Reset(d time.Duration) bool
}

// Real returns the wall clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// PreciseClock is a Clock that can also make timers firing well within a
// millisecond of their deadline (a median of about 0.1 ms on the benchmark
// VM), where a time.Timer can be up to a millisecond late. Real
// implements it on Linux. Callers find it by a type assertion and fall back
// to NewTimer when the assertion or NewPreciseTimer fails.
type PreciseClock interface {
	Clock
	// NewPreciseTimer returns an armed timer that fires once after d. It
	// fails, with an error wrapping ErrNoPreciseTimer and the cause, when
	// the system cannot give one (out of descriptors, no timerfd) or time
	// is faked (inside a testing/synctest bubble).
	NewPreciseTimer(d time.Duration) (PreciseTimer, error)
}

// PreciseTimer is a Timer that holds a descriptor and a goroutine until
// Close. Its Stop and Reset follow *time.Timer's contract as of Go 1.23:
//
//   - Stop returns true if the call stops the timer: it was armed, or it had
//     fired and the expiry had not been received yet. It returns false if
//     the expiry was already received or the timer was already stopped.
//   - Reset(d) re-arms the timer to fire after d (d <= 0: at once) and
//     returns what Stop would have returned.
//   - After Stop or Reset returns, a receive from C never yields an expiry
//     of an earlier arming.
//
// A PreciseTimer is safe for concurrent use.
type PreciseTimer interface {
	Timer
	// Close stops the timer for good and returns once its descriptor is
	// closed and its goroutine has ended. Stop and Reset after Close do
	// nothing and return false; a second Close returns nil.
	Close() error
}

// ErrNoPreciseTimer is wrapped by NewPreciseTimer's errors.
var ErrNoPreciseTimer = errors.New("clock: precise timer unavailable")
