package election

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/transport"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/clock"
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

	inst := &Instance{cfg: instanceConfig("web", 100), in: make(chan *received, 8)}
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

// feed is a PacketReader the test writes packets into; closing it closes
// the "socket".
type feed chan transport.Packet

func (f feed) ReadPacket([]byte) (transport.Packet, error) {
	p, ok := <-f
	if !ok {
		return transport.Packet{}, net.ErrClosed
	}
	return p, nil
}

// countingClock counts how often the timers it makes are armed.
type countingClock struct {
	clock.Clock
	arms atomic.Int64
}

func (c *countingClock) NewTimer(d time.Duration) clock.Timer {
	c.arms.Add(1)
	return countingTimer{c.Clock.NewTimer(d), c}
}

type countingTimer struct {
	clock.Timer
	c *countingClock
}

func (t countingTimer) Reset(d time.Duration) bool {
	t.c.arms.Add(1)
	return t.Timer.Reset(d)
}

// TestBackupsOnDemuxAndSharedTimers runs two backups the way an agent does:
// on one demux, which has them handle adverts on its own goroutine, and on
// one shared scheduler. Each takes over exactly its master-down interval
// after the master's last advert for it, and hearing adverts does not
// re-arm the shared timer per advert.
func TestBackupsOnDemuxAndSharedTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := &countingClock{Clock: clock.Real()}
		timers := clock.NewScheduler(clk)
		master := netip.MustParseAddr("198.51.100.9")
		in := make(feed)
		drops := &DropCounter{}
		d := NewDemux(in, quiet(), drops)
		demuxDone := make(chan struct{})
		go func() { _ = d.Run(); close(demuxDone) }()

		ctx, cancel := context.WithCancel(context.Background())
		var insts []*Instance
		var runs sync.WaitGroup
		hosts := map[uint8]*host{}
		for _, vrid := range []uint8{51, 52} {
			ic := instanceConfig(fmt.Sprintf("vr%d", vrid), 100)
			ic.VRID = vrid
			ic.VIPs = []config.VIP{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, vrid}), 32)}}
			hosts[vrid] = newHost()
			inst, err := NewInstance(ic, addrB, port{w: &wire{}, self: addrB}, Deps{
				Clock: clk, Log: quiet(), Addrs: hosts[vrid], Announcer: hosts[vrid], Drops: drops, Timers: timers,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Register(vrid, inst); err != nil {
				t.Fatal(err)
			}
			insts = append(insts, inst)
			runs.Go(func() { _ = inst.Run(ctx) })
		}
		synctest.Wait()

		advert := func(vrid uint8) transport.Packet {
			a := vrrp.Advert{Version: 3, VRID: vrid, Priority: 200, Interval: time.Second}
			b, err := a.Marshal(master, vrrp.MulticastIPv4)
			if err != nil {
				t.Fatal(err)
			}
			return transport.Packet{Src: master, Dst: vrrp.MulticastIPv4, HopLimit: 255, Payload: b}
		}
		// The master advertises both VRIDs every second for 20 s, then
		// stops advertising 52 and, 2 s later, 51.
		armsBefore := clk.arms.Load()
		var last [2]time.Time
		for k := range 22 {
			for j, vrid := range []uint8{51, 52} {
				if vrid == 52 && k >= 20 {
					continue
				}
				in <- advert(vrid)
				last[j] = time.Now()
			}
			time.Sleep(time.Second)
		}
		time.Sleep(time.Second) // vr52's last advert was 4 s ago, vr51's 2 s
		synctest.Wait()
		if got := insts[1].State(); got != fsm.Master {
			t.Fatalf("vr52 state %v %v after its last advert, want MASTER", got, time.Since(last[1]))
		}
		if got := insts[0].State(); got != fsm.Backup {
			t.Fatalf("vr51 state %v while its master still advertised, want BACKUP", got)
		}
		// Lazy master-down re-arms: the timer is re-armed about once per
		// master-down interval while adverts come (when its wake-up would
		// otherwise come before the next advert: every second or third),
		// not once per advert (42 of them here).
		if arms := clk.arms.Load() - armsBefore; arms > 16 {
			t.Fatalf("the shared timer was armed %d times for 42 adverts in 21 s, want a handful", arms)
		}
		for _, inst := range insts {
			if _, rcvd := inst.Counters(); rcvd < 20 {
				t.Fatalf("%s accepted %d adverts, want >= 20 (drops %v)", inst.Name(), rcvd, drops.Snapshot())
			}
		}

		down := 3*time.Second + 156*time.Second/256
		time.Sleep(time.Until(last[0].Add(down)) - time.Nanosecond)
		synctest.Wait()
		if insts[0].State() != fsm.Backup {
			t.Fatalf("vr51 took over %v after its master's last advert, before the master-down interval %v", time.Since(last[0]), down)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if insts[0].State() != fsm.Master || !hosts[51].has(netip.MustParsePrefix("203.0.113.51/32")) {
			t.Fatalf("vr51 state %v at the master-down interval, want MASTER with its VIP", insts[0].State())
		}

		cancel()
		runs.Wait()
		close(in)
		<-demuxDone
		for vrid, h := range hosts {
			if h.has(netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, vrid}), 32)) {
				t.Fatalf("vr%d's VIP still bound after stop", vrid)
			}
		}
	})
}
