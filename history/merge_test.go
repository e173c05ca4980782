package history

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func at(node string, seq uint64, d time.Duration, kind Kind) Event {
	return Event{Node: node, Seq: seq, Time: t0.Add(d), Kind: kind, Instance: "dns"}
}

func TestMergeOrderAndMissing(t *testing.T) {
	tl := Merge([]Answer{
		{Node: "n1", Events: []Event{at("n1", 7, 3*time.Second, KindTransition), at("n1", 6, time.Second, KindFailover)}},
		{Node: "n2", Events: []Event{at("n2", 1, 2*time.Second, KindTransition), at("n2", 2, 3*time.Second, KindCheck)}, Offset: 5 * time.Millisecond, RTT: time.Millisecond},
		{Node: "n3", Err: "did not answer within 2s"},
	}, 0)
	var got []string
	for _, e := range tl.Events {
		got = append(got, e.Node+":"+string(e.Kind))
	}
	want := []string{"n1:failover", "n2:transition", "n1:transition", "n2:check"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if len(tl.Nodes) != 3 || tl.Nodes[2].Node != "n3" || tl.Nodes[2].Answered || tl.Nodes[2].Error == "" {
		t.Fatalf("nodes %+v: n3 must be reported as not answering", tl.Nodes)
	}
	for _, n := range tl.Nodes[:2] {
		if !n.Answered || n.Events != 2 || len(n.Skew) != 0 {
			t.Fatalf("node %+v", n)
		}
	}
}

func TestMergeSkew(t *testing.T) {
	order := func(node string, seq uint64, d time.Duration) Event {
		e := at(node, seq, d, KindOrder)
		e.Origin, e.Version = "n1", 4
		return e
	}
	tl := Merge([]Answer{
		// n1 wrote order v4 at +10s.
		{Node: "n1", Events: []Event{order("n1", 1, 10*time.Second)}},
		// n2's clock is 3 s behind: it applied v4 "7 s after the start".
		{Node: "n2", Events: []Event{order("n2", 1, 7*time.Second)}},
		// n3's clock stepped back 5 s between its events: they stay in
		// seq order all the same.
		{Node: "n3", Events: []Event{at("n3", 1, 20*time.Second, KindCheck), at("n3", 2, 15*time.Second, KindTransition)}},
		// n4 reports a time 4 s off with a 10 ms round trip.
		{Node: "n4", Events: []Event{at("n4", 1, 11*time.Second, KindCheck)}, Offset: -4 * time.Second, RTT: 10 * time.Millisecond},
		// n5 is 200 ms off: within the limit.
		{Node: "n5", Events: []Event{order("n5", 1, 10*time.Second+200*time.Millisecond)}, Offset: 200 * time.Millisecond},
		// n6 wrote a v4 of its own at +20 s: another origin's version is
		// another order, so n5 applying n1's v4 at +10.2 s is no skew.
		{Node: "n6", Events: []Event{{Node: "n6", Seq: 1, Time: t0.Add(20 * time.Second), Kind: KindOrder, Instance: "dns", Origin: "n6", Version: 4}}},
	}, time.Second)
	skew := map[string]string{}
	for _, n := range tl.Nodes {
		skew[n.Node] = strings.Join(n.Skew, "; ")
	}
	for node, want := range map[string]string{"n1": "", "n2": "before n1 wrote it", "n3": "clock went back 5s", "n4": "clock -4s off", "n5": "", "n6": ""} {
		if got := skew[node]; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: skew %q, want %q", node, got, want)
		}
	}
	var n3 []uint64
	for _, e := range tl.Events {
		if e.Node == "n3" {
			n3 = append(n3, e.Seq)
		}
	}
	if !slices.Equal(n3, []uint64{1, 2}) {
		t.Fatalf("n3's events out of seq order: %v", n3)
	}
}

func TestCausesAreFixed(t *testing.T) {
	reasons := map[string]string{
		"startup": CauseStartup,
		"address owner (priority 255) at startup":                   CauseStartup,
		"master down timer expired":                                 CauseMasterDown,
		"master resigned (priority 0 advert)":                       CauseResigned,
		"preempted a lower priority master":                         CausePreempted,
		"advert with lower priority: fast takeover after skew time": CausePreempted,
		"advert with higher priority":                               CauseHigherPriority,
		"advert with equal priority from a higher address":          CauseHigherPriority,
		"fault":                           CauseFault,
		"fault cleared":                   CauseFault,
		"shutdown":                        CauseShutdown,
		"sync group member became master": CauseSyncGroup,
		"failover to n2 requested on n1":  CauseFailover,
		"maintenance":                     CauseMaintenance,
		"split-brain guard: n2 (198.51.100.2, priority 200) is master and its adverts do not arrive": CauseGuard,
		"something new": CauseOther,
		"":              CauseOther,
	}
	for r, want := range reasons {
		if got := Cause(r); got != want {
			t.Errorf("Cause(%q) = %q, want %q", r, got, want)
		}
	}
	for _, w := range causeWords {
		if !slices.Contains(Causes, w.cause) {
			t.Errorf("cause %q of %q is not in Causes", w.cause, w.word)
		}
	}
}
