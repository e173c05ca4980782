package agent

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/notify"
)

// A Watch event of this node's own transition carries the master as
// believed after it (Master, the API's master_address): its own address when it
// becomes MASTER, the better master's when it steps down for it.
func TestWatchOwnTransitionCarriesNewMaster(t *testing.T) {
	ic := testInstance("web", 51, 100, notify.Config{})
	h := newTrackHarness(t, baseConfig(ic), nil)
	h.tr.events = newHub()
	h.tr.node = "node-a"
	w, cancel := h.tr.events.subscribe()
	defer cancel()
	inst := h.start(ic)
	next := func() *InstanceEvent {
		t.Helper()
		select {
		case ev := <-w.ch:
			return ev.Instance
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event within 10 s")
			return nil
		}
	}
	if ev := next(); ev == nil || ev.To != fsm.Backup || ev.Master.IsValid() {
		t.Fatalf("start: event %v, want BACKUP with no master known", ev)
	}
	h.becomeMaster(inst)
	if ev := next(); ev == nil || ev.To != fsm.Master || ev.Master != testSelf {
		t.Fatalf("BACKUP to MASTER: event %v, want master_address %s (this node)", ev, testSelf)
	}
	inst.Deliver(vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{testVIP.Addr()}},
		testPeer, vrrp.MulticastIPv4, 255)
	if ev := next(); ev == nil || ev.To != fsm.Backup || ev.Master != testPeer {
		t.Fatalf("MASTER to BACKUP for a better master: event %v, want master_address %s", ev, testPeer)
	}
}

// Another node's new state becomes events for what is new or changed:
// an instance or check seen for the first time has no state before
// (gossip's Unknown states, which the API shows as unspecified), one
// whose state did not change gives none.
func TestClusterEventsDiff(t *testing.T) {
	h := newHub()
	w, cancel := h.subscribe()
	defer cancel()
	e := newClusterEvents(h, "n1")
	at := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	prev := gossip.NodeState{Node: "n2",
		Instances: []gossip.InstanceState{{Name: "web", State: fsm.Backup}, {Name: "db", State: fsm.Master}},
		Checks:    []gossip.CheckState{{Name: "dns", State: checks.StateHealthy}}}
	cur := gossip.NodeState{Node: "n2",
		Instances: []gossip.InstanceState{{Name: "web", State: fsm.Master, VRID: 51, Family: inet.IPv4, Priority: 150, Reason: "preempted",
			Master: testPeer}, {Name: "db", State: fsm.Master}, {Name: "new", State: fsm.Init}},
		Checks: []gossip.CheckState{{Name: "dns", State: checks.StateFailed, Output: "refused"}, {Name: "tcp", State: checks.StateInit}}}
	e.diff(at, prev, cur)
	want := []Event{
		{Time: at, Node: "n2", Instance: &InstanceEvent{Name: "web", VRID: 51, Family: inet.IPv4, From: fsm.Backup, To: fsm.Master,
			Reason: "preempted", Priority: 150, Master: testPeer}},
		{Time: at, Node: "n2", Instance: &InstanceEvent{Name: "new", From: gossip.UnknownState, To: fsm.Init}},
		{Time: at, Node: "n2", Check: &CheckEvent{Name: "dns", From: checks.StateHealthy, To: checks.StateFailed, Output: "refused"}},
		{Time: at, Node: "n2", Check: &CheckEvent{Name: "tcp", From: gossip.UnknownCheckState, To: checks.StateInit}},
	}
	if len(w.ch) != len(want) {
		t.Fatalf("%d events, want %d", len(w.ch), len(want))
	}
	for i, wv := range want {
		got := <-w.ch
		if !reflect.DeepEqual(got, wv) {
			t.Errorf("event %d:\n got %+v %+v %+v\nwant %+v %+v %+v", i, got, got.Instance, got.Check, wv, wv.Instance, wv.Check)
		}
	}
}
