package clock

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep waits d on c, or until ctx ends, and reports whether the whole d
// passed with ctx still live. Retry loops wait here rather than on
// time.Sleep, so that a cancelled context ends them at once and a test
// drives them with the clock it injected. A d of zero or less does not
// wait.
func Sleep(ctx context.Context, c Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// Jitter returns a wait drawn uniformly from [d/2, d], so that nodes that
// start a period or a retry together spread out instead of calling at
// once, while none waits less than half the period. rnd is the source
// (nil: math/rand/v2's global one); a *rand.Rand is not safe for
// concurrent use, so the caller serialises draws from a shared one.
func Jitter(d time.Duration, rnd *rand.Rand) time.Duration {
	if d <= 0 {
		return 0
	}
	lo := d / 2
	n := int64(d-lo) + 1
	if rnd == nil {
		return lo + time.Duration(rand.Int64N(n))
	}
	return lo + time.Duration(rnd.Int64N(n))
}

// Backoff yields the waits between the attempts of a retry loop: the
// ceiling starts at Min and doubles after each wait up to Max, and each
// wait is Jitter of the ceiling ("equal jitter": at least half the
// ceiling, so retries slow down for sure, spread over the other half). A
// Max below Min caps every wait at Max. The zero Backoff waits nothing.
// A Backoff is not safe for concurrent use.
type Backoff struct {
	// Min is the first ceiling, Max the largest.
	Min, Max time.Duration
	// Rand draws the jitter; nil means math/rand/v2's global source.
	Rand *rand.Rand

	ceil time.Duration // the next wait's ceiling; 0: Min, not started
}

// Next returns the next wait and raises the ceiling.
func (b *Backoff) Next() time.Duration {
	c := b.ceil
	if c == 0 {
		c = min(b.Min, b.Max)
	}
	if c <= b.Max/2 {
		b.ceil = 2 * c
	} else {
		b.ceil = b.Max
	}
	return Jitter(c, b.Rand)
}

// Reset starts the ceiling at Min again, after a success.
func (b *Backoff) Reset() { b.ceil = 0 }
