package soak

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// dealRun deals a whole disturbance phase of p as TestSoak does, with
// each usual disturbance taking step and a long partition its longest
// hold, and returns the kinds in order with when each was dealt.
func dealRun(s *schedule, p profile, start time.Time, step time.Duration) (dealt []string, at []time.Time) {
	end := start.Add(p.Chaos)
	for now := start; end.Sub(now) > 12*time.Second; {
		k := s.next(now)
		dealt, at = append(dealt, k), append(at, now)
		if k == kindLongPartition {
			now = now.Add(longPartitionMax)
		} else {
			now = now.Add(step)
		}
	}
	return dealt, at
}

// TestScheduleLong: whatever the seed, the long profile deals exactly one
// long partition, not before its moment, early enough to end with a
// margin before the disturbance phase does, and spends the rest of the
// run on the usual kinds, dealt evenly.
func TestScheduleLong(t *testing.T) {
	p := profile{Name: "long", Chaos: 30 * time.Minute}
	start := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	usual := slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return slices.Contains(longKinds, k) })
	for seed := range uint64(50) {
		s := newSchedule(rand.New(rand.NewPCG(seed, seed^0x5eed)), p, start)
		due := s.longAt
		if latest := start.Add(p.Chaos - longPartitionMax - longPartitionMargin); due.Before(start) || !due.Before(latest) {
			t.Fatalf("seed %d: long partition due at %v, want in [0, %v)", seed, due.Sub(start), latest.Sub(start))
		}
		dealt, at := dealRun(s, p, start, 10*time.Second)
		counts := map[string]int{}
		for i, k := range dealt {
			counts[k]++
			// Dealt at the first chance from its moment on, it ends before
			// the disturbance phase does.
			if k == kindLongPartition && (at[i].Before(due) || at[i].Sub(due) >= 10*time.Second || at[i].Add(longPartitionMax).After(start.Add(p.Chaos))) {
				t.Errorf("seed %d: long partition dealt %v into the run (due %v)", seed, at[i].Sub(start), due.Sub(start))
			}
		}
		if counts[kindLongPartition] != 1 || s.longPartitions() != 1 {
			t.Errorf("seed %d: %d long partitions dealt (%d expected by the schedule), want 1", seed, counts[kindLongPartition], s.longPartitions())
		}
		lo, hi := len(dealt), 0
		for _, k := range usual {
			lo, hi = min(lo, counts[k]), max(hi, counts[k])
		}
		// 30 minutes less the long partition, 10 s a disturbance: 107 or so.
		if n := len(dealt) - 1; n < 100 || hi-lo > 1 {
			t.Errorf("seed %d: %d usual disturbances, %d to %d of each kind; want 100 or more, evenly dealt: %v", seed, n, lo, hi, counts)
		}
	}
}

// TestScheduleShort: the short profile (what CI runs) and a profile given
// as a duration deal no long partition, and draw from the random source
// exactly what the deck alone draws, so a seed replays a run as before.
func TestScheduleShort(t *testing.T) {
	start := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	for _, p := range []profile{{Name: "short", Chaos: 140 * time.Second}, {Name: "45m", Chaos: 45 * time.Minute}} {
		s := newSchedule(rand.New(rand.NewPCG(7, 7^0x5eed)), p, start)
		if !s.longAt.IsZero() || s.longPartitions() != 0 {
			t.Errorf("%s: a long partition is scheduled", p.Name)
		}
		dealt, _ := dealRun(s, p, start, 10*time.Second)
		if slices.Contains(dealt, kindLongPartition) {
			t.Errorf("%s: a long partition was dealt: %v", p.Name, dealt)
		}
		// The deck alone, as the loop dealt it before the schedule.
		rng := rand.New(rand.NewPCG(7, 7^0x5eed))
		var want, deck []string
		for len(want) < len(dealt) {
			if len(deck) == 0 {
				deck = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return slices.Contains(longKinds, k) })
				rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
			}
			want, deck = append(want, deck[0]), deck[1:]
		}
		if !slices.Equal(dealt, want) {
			t.Errorf("%s: dealt %v, want the deck's own order %v", p.Name, dealt, want)
		}
	}
}
