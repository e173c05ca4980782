package election

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/election/transport"
	"github.com/vipd/vipd/election/vrrp"
)

// script replays packets, then reports the socket closed.
type script struct {
	pkts []transport.Packet
	errs []error
}

func (s *script) ReadPacket([]byte) (transport.Packet, error) {
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return transport.Packet{}, err
	}
	if len(s.pkts) == 0 {
		return transport.Packet{}, net.ErrClosed
	}
	p := s.pkts[0]
	s.pkts = s.pkts[1:]
	return p, nil
}

func TestDemuxRoutesAndCounts(t *testing.T) {
	src, dst := netip.MustParseAddr("198.51.100.9"), vrrp.MulticastIPv4
	advert := func(vrid uint8) []byte {
		a := vrrp.Advert{Version: 3, VRID: vrid, Priority: 100, Interval: time.Second}
		b, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	corrupt := advert(51)
	corrupt[6] ^= 0xff // checksum

	inst := &Instance{cfg: instanceConfig("web", 100), in: make(chan received, 8)}
	drops := &DropCounter{}
	conn := &script{
		errs: []error{transport.ErrTruncated},
		pkts: []transport.Packet{
			{Src: src, Dst: dst, HopLimit: 255, Payload: advert(51)},
			{Src: src, Dst: dst, HopLimit: 255, Payload: advert(52)},
			{Src: src, Dst: dst, HopLimit: 255, Payload: corrupt},
			{Src: src, Dst: dst, HopLimit: 255, Payload: []byte{0x31}},
		},
	}
	d := NewDemux(conn, quiet(), drops)
	if err := d.Register(51, inst); err != nil {
		t.Fatal(err)
	}
	if err := d.Register(51, &Instance{cfg: instanceConfig("other", 100)}); err == nil {
		t.Fatal("a second instance with the same VRID was accepted")
	}
	if err := d.Run(); err != nil {
		t.Fatalf("Run = %v, want nil on close", err)
	}
	if len(inst.in) != 1 {
		t.Fatalf("%d adverts routed to vrid 51, want 1", len(inst.in))
	}
	r := <-inst.in
	if r.adv.VRID != 51 || r.src != src || r.hopLimit != 255 {
		t.Fatalf("routed %+v", r)
	}
	for reason, want := range map[vrrp.DropReason]uint64{
		vrrp.DropUnknownVRID: 1, vrrp.DropBadChecksum: 1, vrrp.DropShort: 1, vrrp.DropBadLength: 1,
	} {
		if got := drops.Get(reason); got != want {
			t.Errorf("drops[%v] = %d, want %d", reason, got, want)
		}
	}
}
