package history

import (
	"fmt"
	"slices"
	"time"
)

// Answer is one node's part of a cluster-wide query.
type Answer struct {
	// Node is the node asked.
	Node string
	// Events are its events, in its seq order.
	Events []Event
	// Err says why it did not answer; empty if it did.
	Err string
	// Offset is its clock minus the asking node's, estimated from the
	// exchange (its reported time against the middle of the round trip);
	// RTT is the round trip. Both zero for the asking node itself.
	Offset, RTT time.Duration
}

// NodeReport is what a merge says about one node.
type NodeReport struct {
	// Node is the node.
	Node string
	// Answered is false when the node did not answer (Error says why).
	Answered bool
	Error    string
	// Events counts the node's events in the timeline.
	Events int
	// Offset is its estimated clock offset from the asking node.
	Offset time.Duration
	// Skew lists what suggests its clock is off; empty when nothing does.
	Skew []string
}

// Timeline is a merged, cluster-wide history.
type Timeline struct {
	// Events in time order; one node's events always in its seq order.
	Events []Event
	// Nodes are the nodes asked, by name.
	Nodes []NodeReport
}

// DefaultSkew is the clock difference Merge flags.
const DefaultSkew = time.Second

// Merge puts several nodes' answers into one timeline. Each node's events
// stay in seq order (a clock stepped back does not reorder them) and are
// interleaved with the others' by wall-clock time. A node's clock is
// flagged as skewed when its offset estimated from the exchange exceeds
// skew (beyond what the round trip explains), when its own clock ran
// backwards between two of its events, or when it recorded an order
// version earlier than the order's origin says it was written.
func Merge(answers []Answer, skew time.Duration) Timeline {
	if skew <= 0 {
		skew = DefaultSkew
	}
	var tl Timeline
	lists := make([][]Event, 0, len(answers))
	reports := map[string]*NodeReport{}
	for _, a := range answers {
		rep := NodeReport{Node: a.Node, Answered: a.Err == "", Error: a.Err, Offset: a.Offset}
		if a.Err == "" {
			evs := slices.Clone(a.Events)
			slices.SortStableFunc(evs, func(x, y Event) int { return cmpU(x.Seq, y.Seq) })
			rep.Events = len(evs)
			if d := abs(a.Offset); d > skew+a.RTT/2 {
				rep.Skew = append(rep.Skew, fmt.Sprintf("clock %v off this node's (round trip %v)", a.Offset.Round(time.Millisecond), a.RTT.Round(time.Millisecond)))
			}
			for i := 1; i < len(evs); i++ {
				if back := evs[i-1].Time.Sub(evs[i].Time); back > skew {
					rep.Skew = append(rep.Skew, fmt.Sprintf("clock went back %v between its events %d and %d", back.Round(time.Millisecond), evs[i-1].Seq, evs[i].Seq))
					break
				}
			}
			lists = append(lists, evs)
		}
		tl.Nodes = append(tl.Nodes, rep)
	}
	slices.SortFunc(tl.Nodes, func(a, b NodeReport) int { return cmpS(a.Node, b.Node) })
	for i := range tl.Nodes {
		reports[tl.Nodes[i].Node] = &tl.Nodes[i]
	}
	orderCausality(lists, reports, skew)

	// A k-way merge of the per-node lists by time (then node, then seq).
	heads := make([]int, len(lists))
	for {
		best := -1
		for i, l := range lists {
			if heads[i] >= len(l) {
				continue
			}
			if best < 0 || before(&l[heads[i]], &lists[best][heads[best]]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		tl.Events = append(tl.Events, lists[best][heads[best]])
		heads[best]++
	}
	return tl
}

// orderCausality flags a node that applied an order version before its
// origin wrote it, by more than skew: one of the two clocks is off.
func orderCausality(lists [][]Event, reports map[string]*NodeReport, skew time.Duration) {
	type key struct {
		instance, origin string
		version          uint64
	}
	written := map[key]time.Time{}
	for _, l := range lists {
		for _, e := range l {
			if e.Kind == KindOrder && e.Origin == e.Node {
				written[key{e.Instance, e.Origin, e.Version}] = e.Time
			}
		}
	}
	for _, l := range lists {
		for _, e := range l {
			if e.Kind != KindOrder || e.Origin == e.Node {
				continue
			}
			w, ok := written[key{e.Instance, e.Origin, e.Version}]
			if !ok || w.Sub(e.Time) <= skew {
				continue
			}
			if r := reports[e.Node]; r != nil {
				r.Skew = append(r.Skew, fmt.Sprintf("applied order %s v%d %v before %s wrote it", e.Instance, e.Version, w.Sub(e.Time).Round(time.Millisecond), e.Origin))
			}
			break
		}
	}
}

func before(a, b *Event) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.Seq < b.Seq
}

func cmpS(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
