package fsm

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// Simulations of Params.FastTakeover: clusters where it is on everywhere,
// and mixed clusters where some nodes (keepalived peers) lack it.

// noOwner lowers a priority-255 node to the highest free priority: the
// owner's priority cannot change, and these tests drop the master's.
func noOwner(s *sim) {
	used := map[uint8]bool{}
	for _, n := range s.nodes {
		used[n.p.Priority] = true
	}
	for _, n := range s.nodes {
		if n.p.Priority != PriorityOwner {
			continue
		}
		prio := uint8(PriorityOwner - 1)
		for used[prio] {
			prio--
		}
		used[prio] = true
		s.reconfigure(n, func(p *Params) { p.Priority = prio })
	}
}

// dropMaster lowers the converged master's priority below the best backup's
// (or, if that one has priority 1, to 1 as well) with nothing in flight, and
// returns the old master, the node that must win, and the time of the drop.
func dropMaster(s *sim) (old, next *simNode, at time.Time) {
	s.t.Helper()
	s.quiesce()
	old = s.assertConverged("before the drop")
	second := s.best2(old)
	prio := uint8(1)
	if second.m.Priority() > 1 {
		prio = uint8(1 + s.rng.IntN(int(second.m.Priority())-1))
	}
	at = s.now
	s.setPriority(old, prio)
	return old, s.best(), at
}

// checkTakeover asserts that next became master after the drop at dropAt,
// no later than limit.
func checkTakeover(t *testing.T, s *sim, next *simNode, dropAt, limit time.Time) time.Time {
	t.Helper()
	since, ok := next.masterSince()
	if !ok {
		t.Fatalf("%s is %v, want MASTER%s", next.name, next.m.State(), s.dump())
	}
	if since.Before(dropAt) || since.After(limit) {
		t.Fatalf("%s became master at %v, want within [%v, %v]%s",
			next.name, since.Sub(t0), dropAt.Sub(t0), limit.Sub(t0), s.dump())
	}
	return since
}

// assertNoOtherMaster fails if any node but winner became master in
// [from, to]: the flap that Skew_Time in the fast takeover prevents.
func assertNoOtherMaster(t *testing.T, s *sim, winner *simNode, from, to time.Time) {
	t.Helper()
	for _, n := range s.nodes {
		if n != winner && n.everMasterBetween(from, to) {
			t.Fatalf("%s became master between %v and %v although %s was the one to win%s",
				n.name, from.Sub(t0), to.Sub(t0), winner.name, s.dump())
		}
	}
}

func TestSimFastTakeoverPriorityDrop(t *testing.T) {
	for seed := uint64(3001); seed <= 3300; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newSim(t, seed)
			randomCluster(s)
			noOwner(s)
			for _, n := range s.nodes {
				s.reconfigure(n, func(p *Params) { p.FastTakeover = true })
			}
			s.runFor(settle)
			s.assertConverged("after start")

			old, next, dropAt := dropMaster(s)
			// Every backup learned the master's interval, so this is the
			// skew next waits once it hears the drop.
			skew := next.m.SkewTime()
			oldInterval := old.p.AdvertInterval
			s.runFor(settle)
			s.assertConverged("after the drop")
			if next == old {
				// A tie on priority 1 that the old master wins by address.
				assertNoOtherMaster(t, s, old, dropAt, s.now)
				return
			}
			since := checkTakeover(t, s, next, dropAt, dropAt.Add(oldInterval+maxLatency))
			// Exactly: the immediate advert's latency plus next's skew.
			if lo, hi := dropAt.Add(minLatency+skew), dropAt.Add(maxLatency+skew); since.Before(lo) || since.After(hi) {
				t.Fatalf("%s became master at %v, want drop + latency + skew %v within [%v, %v]%s",
					next.name, since.Sub(t0), skew, lo.Sub(t0), hi.Sub(t0), s.dump())
			}
			assertNoOtherMaster(t, s, next, dropAt, s.now)
		})
	}
}

func TestSimFastTakeoverMixedClusters(t *testing.T) {
	for seed := uint64(4001); seed <= 4300; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newSim(t, seed)
			randomCluster(s)
			noOwner(s)
			for _, n := range s.nodes {
				on := s.rng.IntN(2) == 0
				s.reconfigure(n, func(p *Params) { p.FastTakeover = on })
				n.name += fmt.Sprintf("[fast=%v]", on)
			}
			s.runFor(settle)
			s.assertConverged("after start")

			old, next, dropAt := dropMaster(s)
			skew, down := next.m.SkewTime(), next.m.MasterDownInterval()
			oldInterval := old.p.AdvertInterval
			s.runFor(settle)
			s.assertConverged("after the drop")
			if next == old {
				return
			}
			var limit time.Time
			switch {
			case next.p.FastTakeover && old.p.FastTakeover:
				// The drop is advertised at once.
				limit = dropAt.Add(maxLatency + skew)
			case next.p.FastTakeover:
				// The old master's next regular advert carries the drop.
				limit = dropAt.Add(oldInterval + maxLatency + skew)
			default:
				// RFC timing: the last advert next accepted was sent
				// before the drop.
				limit = dropAt.Add(maxLatency + down)
			}
			checkTakeover(t, s, next, dropAt, limit)
		})
	}
}

func TestSimFastTakeoverScenarios(t *testing.T) {
	addr := func(h byte) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, h}) }
	p := func(prio uint8, h byte, fast bool) Params {
		return Params{Version: 3, Priority: prio, AdvertInterval: time.Second, Preempt: true, Self: addr(h), FastTakeover: fast}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *sim)
	}{
		{"on: master priority drop hands over within one advert interval", func(t *testing.T, s *sim) {
			a := s.add("a", p(150, 1, true), 0)
			b := s.add("b", p(100, 2, true), time.Second)
			s.runFor(20 * time.Second)
			s.quiesce()
			dropAt := s.now
			s.setPriority(a, 50)
			s.runFor(10 * time.Second)
			checkTakeover(t, s, b, dropAt, dropAt.Add(time.Second+maxLatency))
			if a.m.State() != Backup {
				t.Fatalf("a=%v, want BACKUP%s", a.m.State(), s.dump())
			}
			s.assertConverged("after the drop")
		}},
		{"off: master priority drop waits for the master-down timer", func(t *testing.T, s *sim) {
			a := s.add("a", p(150, 1, false), 0)
			b := s.add("b", p(100, 2, false), time.Second)
			s.runFor(20 * time.Second)
			s.quiesce()
			dropAt, lastHeard := s.now, b.lastRecv
			s.setPriority(a, 50)
			s.runFor(10 * time.Second)
			checkTakeover(t, s, b, dropAt, lastHeard.Add(b.m.MasterDownInterval()))
			if since, _ := b.masterSince(); !since.Equal(lastHeard.Add(b.m.MasterDownInterval())) {
				t.Fatalf("b became master at %v, want last accepted advert %v + master-down%s",
					since.Sub(t0), lastHeard.Sub(t0), s.dump())
			}
			s.assertConverged("after the drop")
		}},
		{"on: with three backups above the dropped master only the best takes over", func(t *testing.T, s *sim) {
			a := s.add("a", p(250, 1, true), 0)
			b := s.add("b", p(200, 2, true), time.Second)
			c := s.add("c", p(199, 3, true), time.Second)
			d := s.add("d", p(150, 4, true), time.Second)
			s.runFor(20 * time.Second)
			s.quiesce()
			dropAt := s.now
			s.setPriority(a, 1)
			s.runFor(10 * time.Second)
			checkTakeover(t, s, b, dropAt, dropAt.Add(time.Second+maxLatency))
			assertNoOtherMaster(t, s, b, dropAt, s.now)
			for _, n := range []*simNode{a, c, d} {
				if n.m.State() != Backup {
					t.Fatalf("%s=%v, want BACKUP%s", n.name, n.m.State(), s.dump())
				}
			}
		}},
		{"mixed: a higher backup without fast takeover still wins", func(t *testing.T, s *sim) {
			a := s.add("a", p(250, 1, true), 0)
			ka := s.add("keepalived", p(200, 2, false), time.Second)
			b := s.add("b", p(150, 3, true), time.Second)
			s.runFor(20 * time.Second)
			s.quiesce()
			dropAt := s.now
			s.setPriority(a, 100)
			s.runFor(20 * time.Second)
			// b goes first, then the keepalived peer after its master-down
			// timer, and b steps back down.
			if !b.everMasterBetween(dropAt, s.now) {
				t.Fatalf("b never took over: the test no longer shows the mixed case%s", s.dump())
			}
			if got := s.assertConverged("after the drop"); got != ka {
				t.Fatalf("master %s, want keepalived%s", got.name, s.dump())
			}
		}},
		{"on: a backup whose priority rises preempts at the master's next advert", func(t *testing.T, s *sim) {
			a := s.add("a", p(150, 1, true), 0)
			b := s.add("b", p(100, 2, true), time.Second)
			s.runFor(20 * time.Second)
			s.quiesce()
			raiseAt := s.now
			s.setPriority(b, 200)
			s.runFor(10 * time.Second)
			// a's next advert is at most one interval away; then b's skew.
			checkTakeover(t, s, b, raiseAt, raiseAt.Add(time.Second+maxLatency+b.m.SkewTime()))
			if a.m.State() != Backup {
				t.Fatalf("a=%v, want BACKUP%s", a.m.State(), s.dump())
			}
			s.assertConverged("after the rise")
		}},
		{"on: preempt_delay holds off the fast takeover", func(t *testing.T, s *sim) {
			low := s.add("low", p(50, 1, true), 0)
			s.runFor(10 * time.Second)
			hp := p(150, 2, true)
			hp.PreemptDelay = 20 * time.Second
			high := s.add("high", hp, 0)
			s.runFor(2 * time.Second)
			firstHeard := high.firstRecv
			if firstHeard.IsZero() {
				t.Fatalf("high heard nothing from low%s", s.dump())
			}
			s.runFor(60 * time.Second)
			// After the delay the next lower advert (≤ 1 interval) starts
			// the skew wait.
			earliest := firstHeard.Add(hp.PreemptDelay)
			checkTakeover(t, s, high, earliest, earliest.Add(time.Second+maxLatency+high.m.SkewTime()))
			if low.m.State() != Backup {
				t.Fatalf("low=%v, want BACKUP%s", low.m.State(), s.dump())
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newSim(t, uint64(6000+i)))
		})
	}
}
