package clock

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// Sleep on the real clock waits exactly d of (bubble) time, ends at once
// when ctx ends, and does not wait for d <= 0.
func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !Sleep(t.Context(), Real(), 3*time.Second) {
			t.Fatal("Sleep with a live context reported cancelled")
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("slept %v, want 3s", got)
		}

		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start = time.Now()
		if Sleep(ctx, Real(), time.Hour) {
			t.Error("Sleep cancelled after 1s reported the whole hour")
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("cancelled Sleep returned after %v, want 1s", got)
		}

		start = time.Now()
		if !Sleep(t.Context(), Real(), 0) || !Sleep(t.Context(), Real(), -time.Second) {
			t.Error("Sleep(0) with a live context reported cancelled")
		}
		if Sleep(ctx, Real(), 0) {
			t.Error("Sleep(0) with an ended context reported a whole wait")
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("Sleep(<=0) waited %v", got)
		}
	})
}

// draws collects n draws of f and checks each is in [lo, hi]; it returns
// the smallest and the largest.
func draws(t *testing.T, n int, lo, hi time.Duration, f func() time.Duration) (least, most time.Duration) {
	t.Helper()
	least, most = hi, lo
	for range n {
		d := f()
		if d < lo || d > hi {
			t.Fatalf("draw %v outside [%v, %v]", d, lo, hi)
		}
		least, most = min(least, d), max(most, d)
	}
	return least, most
}

// Jitter draws from the whole of [d/2, d]: the extremes of 2000 draws
// come within 1% of the span's ends.
func TestJitterSpan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, d := range []time.Duration{time.Second, 333 * time.Millisecond, 30 * time.Second} {
		least, most := draws(t, 2000, d/2, d, func() time.Duration { return Jitter(d, rnd) })
		if slack := d / 200; least > d/2+slack || most < d-slack {
			t.Errorf("Jitter(%v) drew only within [%v, %v]", d, least, most)
		}
	}
	// The global source (nil) obeys the same bounds.
	draws(t, 200, 50*time.Millisecond, 100*time.Millisecond, func() time.Duration { return Jitter(100*time.Millisecond, nil) })
	if Jitter(0, rnd) != 0 || Jitter(-time.Second, nil) != 0 {
		t.Error("Jitter of a non-positive period is not 0")
	}
	if got := Jitter(1, rnd); got != 0 && got != 1 {
		t.Errorf("Jitter(1ns) = %v", got)
	}
}

// A seeded Backoff is reproducible: the same seed, the same waits.
func TestBackoffSeeded(t *testing.T) {
	seq := func() []time.Duration {
		b := Backoff{Min: 100 * time.Millisecond, Max: time.Second, Rand: rand.New(rand.NewPCG(7, 8))}
		var out []time.Duration
		for range 8 {
			out = append(out, b.Next())
		}
		return out
	}
	a, b := seq(), seq()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different waits: %v and %v", a, b)
		}
	}
}

// The ceiling starts at Min, doubles after each wait up to Max, and Reset
// starts it again; every wait is within [ceiling/2, ceiling].
func TestBackoffCeiling(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second, Rand: rnd}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	check := func() {
		t.Helper()
		for _, ms := range want {
			c := ms * time.Millisecond
			// One draw per step, from a fresh copy of the state, to see
			// the whole span of this step's draws: 500 of them.
			snap := b
			least, most := draws(t, 500, c/2, c, func() time.Duration { s := snap; return s.Next() })
			if least > c/2+c/50 || most < c-c/50 {
				t.Errorf("ceiling %v: draws only within [%v, %v]", c, least, most)
			}
			if d := b.Next(); d < c/2 || d > c {
				t.Fatalf("wait %v outside [%v, %v]", d, c/2, c)
			}
		}
	}
	check()
	b.Reset()
	check()

	// Max below Min: every wait is capped at Max.
	capped := Backoff{Min: 2 * time.Second, Max: time.Second, Rand: rnd}
	draws(t, 50, 500*time.Millisecond, time.Second, capped.Next)

	// The zero Backoff waits nothing; a huge Max does not overflow.
	var zero Backoff
	if d := zero.Next(); d != 0 {
		t.Errorf("zero Backoff waited %v", d)
	}
	huge := Backoff{Min: time.Second, Max: time.Duration(1<<63 - 1), Rand: rnd}
	prev := time.Duration(0)
	for i := range 80 {
		d := huge.Next()
		if d < 0 || (i > 40 && d < prev/4) {
			t.Fatalf("wait %d: %v after %v (overflow?)", i, d, prev)
		}
		prev = d
	}
}
