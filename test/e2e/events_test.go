package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

// Issue 17: the cluster-wide history. Three nodes in two zones with
// gossip; a `vipd failover` asked on n3 moves the VIP from n1 to n2.
// Every node's `vipd events` then shows the transitions with their
// reasons from all three nodes (each fetched from the node that recorded
// it, over gossip), and the failover request with the API it came
// through; `vipd why` on every node names the holder and why it and not
// the next. After a kill -9 of n3 the answers say n3 did not answer; once
// n3 is back, its history from before the crash is still there.

// historyEvent is the part of a HistoryEvent (protojson) the test reads.
type historyEvent struct {
	Node             string `json:"node"`
	Seq              string `json:"seq"`
	Kind             string `json:"kind"`
	Instance         string `json:"instance"`
	Reason           string `json:"reason"`
	Cause            string `json:"cause"`
	From             string `json:"from"`
	To               string `json:"to"`
	Origin           string `json:"origin"`
	Priority         int    `json:"priority"`
	PreviousPriority int    `json:"previousPriority"`
	Via              string `json:"via"`
	Caller           string `json:"caller"`
}

type eventsAnswer struct {
	Events  []historyEvent `json:"events"`
	Sources []struct {
		Node     string   `json:"node"`
		Answered bool     `json:"answered"`
		Error    string   `json:"error"`
		Skew     []string `json:"skew"`
	} `json:"sources"`
}

func vipdEvents(t *testing.T, sock string, args ...string) eventsAnswer {
	t.Helper()
	var a eventsAnswer
	vipdJSON(t, sock, &a, append([]string{"events"}, args...)...)
	return a
}

// find returns the first event matching all of the given field values.
func (a eventsAnswer) find(match func(historyEvent) bool) (historyEvent, bool) {
	for _, e := range a.Events {
		if match(e) {
			return e, true
		}
	}
	return historyEvent{}, false
}

func (a eventsAnswer) unanswered() []string {
	var out []string
	for _, s := range a.Sources {
		if !s.Answered {
			out = append(out, s.Node+": "+s.Error)
		}
	}
	return out
}

func TestEventsAndWhy(t *testing.T) {
	t.Parallel()
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 2, 150}, gossipSpec{"n3", 1, 100})
	members := startWithMaster(t, nodes)
	bin := testbed.VipdBinary(t)

	// n3 must see n1 as the master (gossip) for the failover to be
	// forwarded to n1 as a resign command.
	waitFor(t, 5*time.Second, "n3's gossip view to show n1 as web's master", func() bool {
		var c struct {
			Nodes []struct {
				Member    struct{ Name string }
				Instances []struct{ Name, State string }
			}
		}
		vipdJSON(t, nodes[2].d.Socket, &c, "status", "--cluster")
		for _, n := range c.Nodes {
			for _, in := range n.Instances {
				if n.Member.Name == "n1" && in.Name == "web" && in.State == "INSTANCE_STATE_MASTER" {
					return true
				}
			}
		}
		return false
	})
	asked := time.Now()
	run(t, bin, "failover", "web", "--to", "n2", "--socket", nodes[2].d.Socket)
	testbed.WaitSoleHolder(t, members, gossipVIP, "n2", asked, 2*gossipAdvert+slack)

	// From every node, the whole cluster's story.
	for _, g := range nodes {
		var a eventsAnswer
		var missing []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			a = vipdEvents(t, g.d.Socket, "--instance", "web")
			missing = nil
			if u := a.unanswered(); len(u) > 0 {
				missing = append(missing, "unanswered: "+strings.Join(u, "; "))
			}
			checks := map[string]func(historyEvent) bool{
				"n1 MASTER -> BACKUP for the failover": func(e historyEvent) bool {
					return e.Node == "n1" && e.Kind == "transition" && e.From == "MASTER" && e.To == "BACKUP" && e.Cause == "failover" && strings.Contains(e.Reason, "failover")
				},
				"n2 BACKUP -> MASTER as n1 resigned": func(e historyEvent) bool {
					return e.Node == "n2" && e.Kind == "transition" && e.To == "MASTER" && e.Reason != "" && e.Cause != ""
				},
				"n3's own transition at its start": func(e historyEvent) bool {
					return e.Node == "n3" && e.Kind == "transition" && e.To == "BACKUP" && e.Reason != ""
				},
				"n3's failover request, through its unix socket": func(e historyEvent) bool {
					return e.Node == "n3" && e.Kind == "failover" && e.From == "n1" && e.To == "n2" && e.Via == "unix"
				},
				"n1's record of the resign command from n3": func(e historyEvent) bool {
					return e.Node == "n1" && e.Kind == "failover" && e.Origin == "n3" && e.Via == "gossip"
				},
				"n2's priority raised by the new order": func(e historyEvent) bool {
					return e.Node == "n2" && e.Kind == "priority" && e.Priority == 250 && e.PreviousPriority == 150 && strings.Contains(e.Reason, "order")
				},
				"the new order on n2, written by n3": func(e historyEvent) bool {
					return e.Node == "n2" && e.Kind == "order" && e.Origin == "n3"
				},
			}
			for what, match := range checks {
				if _, ok := a.find(match); !ok {
					missing = append(missing, what)
				}
			}
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(missing) > 0 {
			t.Fatalf("%s: vipd events lacks %v:\n%+v", g.name, missing, a)
		}
		for _, s := range a.Sources {
			if len(s.Skew) > 0 {
				t.Errorf("%s: clock skew flagged for %s on one machine: %v", g.name, s.Node, s.Skew)
			}
		}
		// The table form names the reason too.
		if out := run(t, bin, "events", "--since", "5m", "--socket", g.d.Socket); !strings.Contains(out, "failover to n2 requested on n3") {
			t.Errorf("%s: vipd events table lacks the failover reason:\n%s", g.name, out)
		}
		why := run(t, bin, "why", "web", "--socket", g.d.Socket)
		if g.name == "n1" {
			t.Logf("vipd why web on n1:\n%s", why)
		}
		for _, want := range []string{
			"n2 holds web: MASTER",
			"why n2 and not n1: n2's priority 250 is higher than n1's 200 (places 1 and 2 in the order)",
			"written by n3: n2, n1, n3",
			"Events that led here:",
			"answered: n1 (", // every member answered
		} {
			if !strings.Contains(why, want) {
				t.Errorf("%s: vipd why web lacks %q:\n%s", g.name, want, why)
			}
		}
		if strings.Contains(why, "did not answer") {
			t.Errorf("%s: vipd why web says a member did not answer:\n%s", g.name, why)
		}
	}

	// The same over HTTP/JSON, with the filters in the query string.
	since := asked.Add(-time.Minute).UTC().Format(time.RFC3339)
	ev := curlJSON(t, nodes[1].d.Socket, "GET", "/v1/events?instance=web&kind=failover&since="+since, "")
	evs, _ := ev["events"].([]any)
	if len(evs) != 2 {
		t.Errorf("GET /v1/events?kind=failover: %d events, want n3's request and n1's resign: %v", len(evs), ev)
	}
	for _, e := range evs {
		if m, _ := e.(map[string]any); m["kind"] != "failover" {
			t.Errorf("GET /v1/events?kind=failover gave %v", m)
		}
	}
	if w := curlJSON(t, nodes[1].d.Socket, "GET", "/v1/instances/web/why", ""); fmt.Sprint(w["holders"]) != "[n2]" {
		t.Errorf("GET /v1/instances/web/why: holders %v", w["holders"])
	}

	// n3 dies: the others say so.
	before := vipdEvents(t, nodes[2].d.Socket, "--node", "n3", "--local")
	nodes[2].d.Kill()
	for _, g := range nodes[:2] {
		a := vipdEvents(t, g.d.Socket)
		if u := a.unanswered(); len(u) != 1 || !strings.HasPrefix(u[0], "n3: ") {
			t.Errorf("%s after n3's kill: unanswered %v, want n3 only", g.name, u)
		}
		if _, ok := a.find(func(e historyEvent) bool { return e.Node == "n3" }); ok {
			t.Errorf("%s after n3's kill: events of n3 (which cannot answer)", g.name)
		}
		why := run(t, bin, "why", "web", "--socket", g.d.Socket)
		if g.name == "n1" {
			t.Logf("vipd why web on n1 after n3's kill:\n%s", why)
		}
		if !strings.Contains(why, "did not answer: n3") || !strings.Contains(why, "n2 holds web") {
			t.Errorf("%s: vipd why after n3's kill:\n%s", g.name, why)
		}
	}

	// n3 restarts: what it recorded before the kill -9 is still there,
	// and its numbering goes on.
	nodes[2].start(t)
	waitConverged(t, nodes, 10*time.Second)
	var after eventsAnswer
	waitFor(t, 5*time.Second, "n3's history to be readable from n1 after its restart", func() bool {
		after = vipdEvents(t, nodes[0].d.Socket, "--node", "n3")
		return len(after.unanswered()) == 0 && len(after.Events) > len(before.Events)
	})
	for i, e := range before.Events {
		if got := after.Events[i]; got.Seq != e.Seq || got.Kind != e.Kind || got.Reason != e.Reason {
			t.Fatalf("n3's event %d before the crash %+v, after %+v", i, e, got)
		}
	}
	last := after.Events[len(after.Events)-1]
	if fmt.Sprint(len(after.Events)) != last.Seq {
		t.Errorf("n3's events after the restart are not numbered 1..%d without gaps: last is %s", len(after.Events), last.Seq)
	}
}
