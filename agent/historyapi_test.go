package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/priority"
)

func sides(s ...*sideOf) []*sideOf {
	for _, x := range s {
		x.Running = true
		if x.Node != "gone" {
			x.answered = true
		}
	}
	rankSides(s)
	return s
}

func sideNames(s []*sideOf) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Node)
	}
	return out
}

func has(t *testing.T, lines []string, want string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, want) {
			return
		}
	}
	t.Errorf("no line with %q in:\n%s", want, strings.Join(lines, "\n"))
}

// Why's arithmetic: the ranking VRRP elects by and the sentence saying
// why the holder and not the next node.
func TestWhyArithmetic(t *testing.T) {
	since := time.Date(2026, 12, 6, 3, 12, 0, 0, time.UTC)
	t.Run("weights", func(t *testing.T) {
		s := sides(
			&sideOf{Node: "n2", State: "BACKUP", Priority: 50, Base: 150, Note: "check dns failed (weight -100): -100", FailedChecks: []string{"dns"}, Source: "198.51.100.2"},
			&sideOf{Node: "n1", State: "MASTER", Priority: 100, Base: 100, Reason: "master down timer expired", Since: since, Source: "198.51.100.1"},
			&sideOf{Node: "n3", State: "BACKUP", Priority: 90, Base: 90, Source: "198.51.100.3"},
		)
		if got := sideNames(s); !slices.Equal(got, []string{"n1", "n3", "n2"}) {
			t.Fatalf("ranked %v", got)
		}
		lines := explain("dns", s, nil)
		has(t, lines, "n1 holds dns: MASTER since 2026-12-06T03:12:00Z (master down timer expired)")
		has(t, lines, "why n1 and not n3: n1's priority 100 is higher than n3's 90")
		has(t, lines, "n2: BACKUP, priority 50 (configured 150; check dns failed (weight -100): -100), failed checks: dns")
	})
	t.Run("order", func(t *testing.T) {
		order := &priority.Order{Instance: "dns", Version: 7, Origin: "n3", Nodes: []priority.OrderNode{{Name: "n2"}, {Name: "n1"}, {Name: "n3", Disabled: true}}}
		s := sides(
			&sideOf{Node: "n1", State: "BACKUP", Priority: 200, OrderPlace: 2, Note: "node n1 is number 2 in order", Source: "198.51.100.1"},
			&sideOf{Node: "n2", State: "MASTER", Priority: 250, OrderPlace: 1, Source: "198.51.100.2"},
			&sideOf{Node: "n3", State: "BACKUP", Priority: 1, OrderPlace: 3, Disabled: true, Source: "198.51.100.3"},
		)
		lines := explain("dns", s, order)
		has(t, lines, "order v7, written by n3: n2, n1, n3 (disabled)")
		has(t, lines, "why n2 and not n1: n2's priority 250 is higher than n1's 200 (places 1 and 2 in the order)")
		has(t, lines, "n3: BACKUP, priority 1, place 3 in the order (disabled)")
	})
	t.Run("equal priority, maintenance, guard, fault", func(t *testing.T) {
		s := sides(
			&sideOf{Node: "n1", State: "BACKUP", Priority: 100, Source: "198.51.100.1"},
			&sideOf{Node: "n2", State: "MASTER", Priority: 100, Source: "198.51.100.2"},
		)
		has(t, explain("dns", s, nil), "equal priority 100: the higher address wins (n2's 198.51.100.2 against n1's 198.51.100.1)")
		s = sides(
			&sideOf{Node: "n1", State: "BACKUP", Priority: 250, Maintenance: true},
			&sideOf{Node: "n2", State: "MASTER", Priority: 100},
		)
		has(t, explain("dns", s, nil), "why n2 and not n1: n1 is in maintenance")
		s = sides(
			&sideOf{Node: "n1", State: "BACKUP", Priority: 250, Held: "split-brain guard: n9 is master"},
			&sideOf{Node: "n2", State: "MASTER", Priority: 100},
			&sideOf{Node: "n3", State: "FAULT", Priority: 240, Fault: true, Note: "interface eth0 down"},
		)
		if got := sideNames(s); !slices.Equal(got, []string{"n2", "n1", "n3"}) {
			t.Fatalf("ranked %v", got)
		}
		has(t, explain("dns", s, nil), "n1 is held in BACKUP: split-brain guard")
		s = sides(
			&sideOf{Node: "n1", State: "BACKUP", Priority: 250},
			&sideOf{Node: "n2", State: "MASTER", Priority: 100},
		)
		has(t, explain("dns", s, nil), "n1 has the higher priority (250 > 100) but has not taken over")
	})
	t.Run("nobody, split brain, silent node", func(t *testing.T) {
		s := sides(&sideOf{Node: "n1", State: "FAULT", Fault: true}, &sideOf{Node: "gone", State: "BACKUP", Priority: 90})
		lines := explain("dns", s, nil)
		has(t, lines, "nobody holds dns")
		has(t, lines, "the best candidate is gone: BACKUP, priority 90 (as gossip last showed it: the node did not answer)")
		s = sides(&sideOf{Node: "n1", State: "MASTER"}, &sideOf{Node: "n2", State: "MASTER"})
		has(t, explain("dns", s, nil), "split brain: n1, n2 are all MASTER of dns")
	})
}

// The chain keeps a node's tracked checks only, and the last chainLength.
func TestWhyChain(t *testing.T) {
	s := []*sideOf{{Node: "n1", Tracked: []string{"dns"}}}
	evs := []history.Event{
		{Node: "n1", Seq: 1, Kind: history.KindCheck, Check: "dns"},
		{Node: "n1", Seq: 2, Kind: history.KindCheck, Check: "web"},
		{Node: "n2", Seq: 1, Kind: history.KindCheck, Check: "dns"},
		{Node: "n1", Seq: 3, Kind: history.KindMember, To: "alive"},
		{Node: "n1", Seq: 4, Kind: history.KindMember, From: "alive", To: "dead"},
		{Node: "n1", Seq: 5, Kind: history.KindTransition},
	}
	var got []uint64
	for _, e := range chain(evs, s) {
		got = append(got, e.Seq)
	}
	if !slices.Equal(got, []uint64{1, 4, 5}) {
		t.Fatalf("chain %v", got)
	}
	for i := range 40 {
		evs = append(evs, history.Event{Node: "n1", Seq: uint64(10 + i), Kind: history.KindTransition})
	}
	if c := chain(evs, s); len(c) != chainLength || c[len(c)-1].Seq != 49 {
		t.Fatalf("long chain: %d events ending %d", len(c), c[len(c)-1].Seq)
	}
}
