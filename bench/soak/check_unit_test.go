package soak

import (
	"strings"
	"testing"
	"time"
)

// These tests need no root: they show that each invariant of the checker
// fails on a record that breaks it, and passes one that keeps it.

var unitNames = []string{"n1", "n2", "n3", "n4", "n5"}

var unitLimits = limits{
	masterDown: func(node, vip int) time.Duration {
		prio := 250 - 50*node
		return 3*time.Second + time.Duration(256-prio)*time.Second/256
	},
	gapMargin: 500 * time.Millisecond,
	handover:  250 * time.Millisecond,
	guard:     4800 * time.Millisecond,
}

// timeline builds 20 ms samples of VIP 0 from (duration, holders) steps.
func timeline(t0 time.Time, steps ...any) []sample {
	var out []sample
	at := t0
	for i := 0; i < len(steps); i += 2 {
		d, h := steps[i].(time.Duration), steps[i+1].(int)
		for end := at.Add(d); at.Before(end); at = at.Add(20 * time.Millisecond) {
			var s sample
			s.at = at
			s.held[0] = uint8(h)
			s.held[1] = 1 << 4 // VIP 1 stays with n5 throughout
			out = append(out, s)
		}
	}
	return out
}

const (
	n1 = 1 << iota
	n2
	n3
)

func TestCheckGaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// n1 dies; n2 (priority 200, master-down 3.22 s) takes over after
	// 3.6 s: within 3.72 s. Then n2 dies and n3 (150: 3.41 s) takes 4.2 s.
	s := timeline(t0, 2*time.Second, n1, 3600*time.Millisecond, 0, 2*time.Second, n2,
		4200*time.Millisecond, 0, time.Second, n3)
	c := check(s, nil, unitLimits, unitNames, []string{"a", "b"})
	if len(c.Violations) != 1 {
		t.Fatalf("violations %v, want exactly the 4.2 s gap", c.Violations)
	}
	if v := c.Violations[0].What; !strings.Contains(v, "a unowned for 4.2s") || !strings.Contains(v, "n3") {
		t.Errorf("violation %q", v)
	}
	if c.VIPs[0].Gaps != 2 || c.VIPs[0].WorstGapMS != 4200 {
		t.Errorf("VIP a stats %+v", c.VIPs[0])
	}
	if len(c.Episodes) != 2 || c.Episodes[1].OK || c.Episodes[1].MaxStepMS != 20 || c.Episodes[1].Holders != "n3" {
		t.Errorf("episodes %+v", c.Episodes)
	}
	if c.VIPs[1].Gaps != 0 || c.VIPs[1].Duals != 0 {
		t.Errorf("VIP b stats %+v", c.VIPs[1])
	}
	// A gap still open at the end is judged too.
	s = timeline(t0, time.Second, n1, 5*time.Second, 0)
	if c := check(s, nil, unitLimits, unitNames, []string{"a", "b"}); len(c.Violations) != 1 ||
		!strings.Contains(c.Violations[0].What, "nobody") {
		t.Errorf("open gap: violations %v", c.Violations)
	}
}

func TestCheckDuals(t *testing.T) {
	t0 := time.Unix(1000, 0)
	names := []string{"a", "b"}
	// A 100 ms overlap with no advert cut: a hand-over.
	s := timeline(t0, time.Second, n2, 100*time.Millisecond, n1|n2, time.Second, n1)
	c := check(s, nil, unitLimits, unitNames, names)
	if len(c.Violations) != 0 || c.Duals[noCut] == nil || c.Duals[noCut].Count != 1 {
		t.Errorf("hand-over: violations %v, duals %v", c.Violations, c.Duals)
	}
	// 2 s of two holders with nothing cut: a split brain.
	s = timeline(t0, time.Second, n2, 2*time.Second, n1|n2, time.Second, n1)
	c = check(s, nil, unitLimits, unitNames, names)
	if len(c.Violations) != 1 || !strings.Contains(c.Violations[0].What, "n1+n2 at once for 2s, bound 250ms (no advert cut)") {
		t.Errorf("unexcused dual: violations %v", c.Violations)
	}

	// VRRP cut between n1 and n2 from 1 s: n2 is master too from 4.3 s;
	// the guard must end it within 4.8 s of that, drop or not.
	drop := disturbance{Kind: kindVRRPDrop, Nodes: []string{"n1", "n2"}, Start: t0.Add(time.Second), End: t0.Add(12 * time.Second), mask: n1 | n2}
	s = timeline(t0, 4300*time.Millisecond, n1, 4500*time.Millisecond, n1|n2, 5*time.Second, n1)
	if c := check(s, []disturbance{drop}, unitLimits, unitNames, names); len(c.Violations) != 0 ||
		c.Duals[kindVRRPDrop] == nil {
		t.Errorf("guarded dual: violations %v, duals %v", c.Violations, c.Duals)
	}
	s = timeline(t0, 4300*time.Millisecond, n1, 6*time.Second, n1|n2, 5*time.Second, n1)
	if c := check(s, []disturbance{drop}, unitLimits, unitNames, names); len(c.Violations) != 1 ||
		!strings.Contains(c.Violations[0].What, "(protocol-112 drop); after protocol-112 drop on n1,n2 at") {
		t.Errorf("guard too slow: violations %v", c.Violations)
	}
	// A cut between n3 and n4 does not excuse n1 and n2 both holding.
	other := disturbance{Kind: kindVRRPDrop, Start: t0.Add(time.Second), End: t0.Add(12 * time.Second), mask: 1<<2 | 1<<3}
	s = timeline(t0, 4300*time.Millisecond, n1, 2*time.Second, n1|n2, 5*time.Second, n1)
	if c := check(s, []disturbance{other}, unitLimits, unitNames, names); len(c.Violations) != 1 {
		t.Errorf("cut elsewhere: violations %v", c.Violations)
	}
	// A gossip drop never excuses a dual.
	gd := disturbance{Kind: kindGossipDrop, Start: t0.Add(time.Second), End: t0.Add(12 * time.Second), mask: n1 | n2}
	if c := check(s, []disturbance{gd}, unitLimits, unitNames, names); len(c.Violations) != 1 {
		t.Errorf("gossip drop: violations %v", c.Violations)
	}

	// n1 SIGSTOPped from 1 s to 9 s: n2 takes over at 4.3 s while n1 keeps
	// its address; the dual may last until a guard bound after SIGCONT.
	stop := disturbance{Kind: kindStop, Start: t0.Add(time.Second), End: t0.Add(9 * time.Second), mask: n1}
	s = timeline(t0, 4300*time.Millisecond, n1, 5700*time.Millisecond, n1|n2, time.Second, n1)
	if c := check(s, []disturbance{stop}, unitLimits, unitNames, names); len(c.Violations) != 0 {
		t.Errorf("stopped master: violations %v", c.Violations)
	}
	s = timeline(t0, 4300*time.Millisecond, n1, 10*time.Second, n1|n2, time.Second, n1)
	if c := check(s, []disturbance{stop}, unitLimits, unitNames, names); len(c.Violations) != 1 {
		t.Errorf("dual long after SIGCONT: violations %v", c.Violations)
	}

	// A partition of the zones from 1 s to 21 s: each side has a master
	// from 4.3 s to the heal; after it, VRRP must settle within a guard
	// bound (a failed member is still a peer).
	all := uint8(1<<len(unitNames) - 1)
	part := disturbance{Kind: kindPartition, Start: t0.Add(time.Second), End: t0.Add(21 * time.Second), mask: all}
	s = timeline(t0, 4300*time.Millisecond, n1, 17*time.Second, n1|n2, 5*time.Second, n1)
	if c := check(s, []disturbance{part}, unitLimits, unitNames, names); len(c.Violations) != 0 || c.Duals[kindPartition] == nil {
		t.Errorf("partition: violations %v, duals %v", c.Violations, c.Duals)
	}
	// Two masters long after the heal: gossip or the peer lists failed.
	s = timeline(t0, 4300*time.Millisecond, n1, 30*time.Second, n1|n2, 5*time.Second, n1)
	if c := check(s, []disturbance{part}, unitLimits, unitNames, names); len(c.Violations) != 1 ||
		!strings.Contains(c.Violations[0].What, "(partition)") {
		t.Errorf("dual long after the heal: violations %v", c.Violations)
	}
}

func TestGrowth(t *testing.T) {
	var rs []resourceSample
	for i := range 20 {
		// Noise on single readings, and one descriptor leaked every
		// second reading.
		rs = append(rs, resourceSample{RSSKiB: 20000 + int64(i%3)*4000, FDs: 12 + i/2, Goroutines: 30 + i%4, MetricFDs: 12 + i/2})
	}
	first, last, ok := growth(rs, 3)
	if !ok {
		t.Fatal("20 readings are enough for windows of 3")
	}
	g := grew(first, last, growthLimits{Goroutines: 5, FDs: 4, RSSKiB: 8192})
	if len(g) != 2 || !strings.HasPrefix(g[0], "fds 12 → 20") || !strings.HasPrefix(g[1], "process_open_fds") {
		t.Errorf("growth %v, want the fd leak only", g)
	}
	if _, _, ok := growth(rs[:5], 3); ok {
		t.Error("5 readings cannot give two windows of 3")
	}
}
