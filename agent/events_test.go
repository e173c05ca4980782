package agent

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/vrrp"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// A Watch event of this node's own transition carries the master as
// believed after it (the proto's master_address): its own address when it
// becomes MASTER, the better master's when it steps down for it.
func TestWatchOwnTransitionCarriesNewMaster(t *testing.T) {
	ic := testInstance("web", 51, 100, config.Notify{})
	h := newTrackHarness(t, baseConfig(ic), nil)
	h.tr.events = newHub()
	h.tr.node = "node-a"
	w, cancel := h.tr.events.subscribe()
	defer cancel()
	inst := h.start(ic)
	next := func() *vipdv1.InstanceEvent {
		t.Helper()
		select {
		case ev := <-w.ch:
			return ev.GetInstance()
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event within 10 s")
			return nil
		}
	}
	if ev := next(); ev.GetTo() != vipdv1.InstanceState_INSTANCE_STATE_BACKUP || ev.GetMasterAddress() != "" {
		t.Fatalf("start: event %v, want BACKUP with no master known", ev)
	}
	h.becomeMaster(inst)
	if ev := next(); ev.GetTo() != vipdv1.InstanceState_INSTANCE_STATE_MASTER || ev.GetMasterAddress() != testSelf.String() {
		t.Fatalf("BACKUP to MASTER: event %v, want master_address %s (this node)", ev, testSelf)
	}
	inst.Deliver(vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{testVIP.Addr()}},
		testPeer, vrrp.MulticastIPv4, 255)
	if ev := next(); ev.GetTo() != vipdv1.InstanceState_INSTANCE_STATE_BACKUP || ev.GetMasterAddress() != testPeer.String() {
		t.Fatalf("MASTER to BACKUP for a better master: event %v, want master_address %s", ev, testPeer)
	}
}
