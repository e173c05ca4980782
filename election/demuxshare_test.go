package election

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/election/transport"
	"github.com/vipd/vipd/election/vrrp"
)

// Unicast instances may share a VRID on one socket, as keepalived allows
// when they have no common peer: each advert reaches the instance whose
// peers list its source. A multicast advert of the VRID goes to the
// multicast instance; a stranger's to the first instance, which counts it
// as not a peer.
func TestDemuxSharedVRID(t *testing.T) {
	self := netip.MustParseAddr("198.51.100.1")
	peerB, peerC := netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")
	stranger := netip.MustParseAddr("198.51.100.9")
	unicastInst := func(name string, peer netip.Addr) *Instance {
		in := &Instance{cfg: instanceConfig(name, 100), in: make(chan *received, 8), unicast: true, src: self}
		view := map[netip.Addr]bool{peer: true}
		in.peerView.Store(&view)
		return in
	}
	toB, toC := unicastInst("to-b", peerB), unicastInst("to-c", peerC)
	mc := &Instance{cfg: instanceConfig("mc", 100), in: make(chan *received, 8)}

	pkt := func(src, dst netip.Addr, prio uint8) transport.Packet {
		a := vrrp.Advert{Version: 3, VRID: 51, Priority: prio, Interval: time.Second}
		b, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return transport.Packet{Src: src, Dst: dst, HopLimit: 64, Payload: b}
	}
	conn := &script{pkts: []transport.Packet{
		pkt(peerC, self, 3),
		pkt(peerB, self, 2),
		pkt(peerC, self, 33),
		pkt(peerB, vrrp.MulticastIPv4, 4),
		pkt(stranger, self, 9),
	}}
	d := NewDemux(conn, quiet(), &DropCounter{})
	for _, in := range []*Instance{toB, toC, mc} {
		if err := d.Register(51, in); err != nil {
			t.Fatalf("Register(%s): %v", in.Name(), err)
		}
	}
	if err := d.Register(51, &Instance{cfg: instanceConfig("mc2", 100)}); err == nil {
		t.Fatal("a second multicast instance with the same VRID was accepted")
	}
	if err := d.Run(); err != nil {
		t.Fatal(err)
	}
	got := func(in *Instance) []uint8 {
		var out []uint8
		for len(in.in) > 0 {
			out = append(out, (<-in.in).adv.Priority)
		}
		return out
	}
	for _, tc := range []struct {
		in   *Instance
		want []uint8
	}{{toB, []uint8{2, 9}}, {toC, []uint8{3, 33}}, {mc, []uint8{4}}} {
		if g := got(tc.in); len(g) != len(tc.want) || (len(g) > 0 && string(g) != string(tc.want)) {
			t.Errorf("%s got adverts of priorities %v, want %v", tc.in.Name(), g, tc.want)
		}
	}

	// Unregistering one leaves the others routed.
	d.Unregister(51, toB)
	d.mu.RLock()
	left := d.byVRID[51]
	d.mu.RUnlock()
	if len(left) != 2 || left[0] != toC || left[1] != mc {
		t.Fatalf("after Unregister: %d instances left", len(left))
	}
}
