// Package clocktest helps tests show that code waits on the clock it is
// given. Tests run that code in a testing/synctest bubble on clock.Real,
// whose time is then the bubble's fake time: that is the one fake-time
// model. Counting wraps such a clock to count what is done with its timers.
package clocktest

import (
	"sync"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// Counting is a Clock (in tests, clock.Real inside a synctest bubble) that
// counts the timers made through it, how often they are armed, and which
// are armed now. Its zero value is not usable: set Clock.
type Counting struct {
	clock.Clock
	// Offset is added to the wrapped clock's Now: with one set, code
	// that reads time.Now instead of its clock shows in its results.
	Offset time.Duration

	mu     sync.Mutex
	made   int
	arms   int
	timers []*countingTimer
}

// From returns a Counting over clock.Real whose time reads at now, and
// then moves on with the real clock (in a synctest bubble, the bubble's
// time), so events can carry fixed dates while time.Now, which code under
// test must not read, stays elsewhere.
func From(at time.Time) *Counting {
	return &Counting{Clock: clock.Real(), Offset: time.Until(at)}
}

// Now returns the wrapped clock's time plus Offset.
func (c *Counting) Now() time.Time { return c.Clock.Now().Add(c.Offset) }

// NewTimer makes a timer of the wrapped clock and counts it.
func (c *Counting) NewTimer(d time.Duration) clock.Timer {
	t := &countingTimer{Timer: c.Clock.NewTimer(d), c: c}
	c.mu.Lock()
	c.made++
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.arm(d)
	return t
}

// Made returns how many timers were made through c.
func (c *Counting) Made() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.made
}

// Arms returns how often c's timers were armed: by NewTimer or Reset.
func (c *Counting) Arms() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arms
}

// Armed returns how many of c's timers are armed now: neither stopped nor
// past their deadline. In a synctest bubble time only reaches a deadline
// by firing that timer, so "past" means "fired".
func (c *Counting) Armed() int {
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active && t.at.After(now) {
			n++
		}
	}
	return n
}

type countingTimer struct {
	clock.Timer
	c      *Counting
	at     time.Time // deadline of the last arming
	active bool      // armed and not stopped since
}

func (t *countingTimer) arm(d time.Duration) {
	at := t.c.Now().Add(d)
	t.c.mu.Lock()
	t.c.arms++
	t.at, t.active = at, true
	t.c.mu.Unlock()
}

func (t *countingTimer) Stop() bool {
	t.c.mu.Lock()
	t.active = false
	t.c.mu.Unlock()
	return t.Timer.Stop()
}

func (t *countingTimer) Reset(d time.Duration) bool {
	was := t.Timer.Reset(d)
	t.arm(d)
	return was
}
