package agent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
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
