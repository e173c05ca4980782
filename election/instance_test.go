package election

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vip"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/clock"
)

// These tests run instances inside a synctest bubble: the injected clock is
// the real one, whose time the bubble fakes, so timers fire in virtual time
// and synctest.Wait tells when every goroutine has settled. Nothing sleeps
// for real.

type sent struct {
	at       time.Time
	src, dst netip.Addr
	adv      vrrp.Advert
}

// wire is an in-memory segment: every advert written is recorded and
// delivered to every other attached instance.
type wire struct {
	mu    sync.Mutex
	sent  []sent
	insts []*Instance
}

type port struct {
	w    *wire
	self netip.Addr
}

func (p port) WriteTo(b []byte, src, dst netip.Addr) error {
	adv, err := vrrp.Unmarshal(b, src, dst)
	if err != nil {
		return err
	}
	p.w.mu.Lock()
	p.w.sent = append(p.w.sent, sent{at: time.Now(), src: src, dst: dst, adv: adv})
	targets := append([]*Instance(nil), p.w.insts...)
	p.w.mu.Unlock()
	for _, i := range targets {
		if i.src != src && (!dst.IsValid() || dst.IsMulticast() || dst == i.src) {
			i.Deliver(adv, src, dst, 255)
		}
	}
	return nil
}

func (w *wire) from(src netip.Addr) []sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []sent
	for _, s := range w.sent {
		if s.src == src {
			out = append(out, s)
		}
	}
	return out
}

// host records what an instance does to its node's addresses.
type host struct {
	mu        sync.Mutex
	bound     map[netip.Prefix]vip.VIP
	announces []time.Time
}

func newHost(pre ...netip.Prefix) *host {
	h := &host{bound: map[netip.Prefix]vip.VIP{}}
	for _, p := range pre {
		h.bound[p] = vip.VIP{Prefix: p}
	}
	return h
}

func (h *host) Add(v vip.VIP) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bound[v.Prefix] = v
	return nil
}

func (h *host) Remove(v vip.VIP) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.bound, v.Prefix)
	return nil
}

func (h *host) Announce(string, []netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.announces = append(h.announces, time.Now())
	return nil
}

func (h *host) has(p netip.Prefix) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.bound[p]
	return ok
}

func (h *host) announceCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.announces)
}

var (
	addrA  = netip.MustParseAddr("198.51.100.1")
	addrB  = netip.MustParseAddr("198.51.100.2")
	vipPfx = netip.MustParsePrefix("198.51.100.100/24")
)

func instanceConfig(name string, prio uint8) *config.Instance {
	ic := config.DefaultInstance()
	ic.Name = name
	ic.Interface = "eth0"
	ic.VRID = 51
	ic.Version = 3
	ic.Priority = prio
	ic.AdvertInterval = time.Second
	ic.VIPs = []config.VIP{{Prefix: vipPfx}}
	ic.GARP = config.GARP{MasterDelay: 5 * time.Second, MasterRepeat: 2, MasterRefreshRepeat: 1}
	return ic
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestInstance(t *testing.T, ic *config.Instance, src netip.Addr, w *wire, h *host, drops *DropCounter) *Instance {
	t.Helper()
	inst, err := NewInstance(ic, src, port{w: w, self: src}, Deps{
		Clock: clock.Real(), Log: quiet(), Addrs: h, Announcer: h, Drops: drops,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.insts = append(w.insts, inst)
	w.mu.Unlock()
	return inst
}

func TestInstanceLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := &wire{}, newHost(vipPfx) // the VIP is left over from a crash
		inst := newTestInstance(t, instanceConfig("web", 100), addrA, w, h, &DropCounter{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { _ = inst.Run(ctx); close(done) }()

		synctest.Wait()
		if h.has(vipPfx) {
			t.Fatal("stale VIP from a crash was not removed at start")
		}
		if got := inst.State(); got != fsm.Backup {
			t.Fatalf("state at start = %v, want BACKUP", got)
		}

		// Alone on the wire: master after the master-down interval,
		// 3 s + (256-100)/256 s.
		down := 3*time.Second + 156*time.Second/256
		time.Sleep(down - time.Millisecond)
		synctest.Wait()
		if inst.State() != fsm.Backup {
			t.Fatal("became master before the master-down interval")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if inst.State() != fsm.Master {
			t.Fatalf("state after master-down = %v, want MASTER", inst.State())
		}
		if !h.has(vipPfx) {
			t.Fatal("VIP not bound on becoming master")
		}
		// First burst: garp_master_repeat (2) announcements at once.
		if n := h.announceCount(); n != 2 {
			t.Fatalf("%d announcements on becoming master, want 2", n)
		}
		time.Sleep(5 * time.Second) // garp_master_delay
		synctest.Wait()
		if n := h.announceCount(); n != 4 {
			t.Fatalf("%d announcements after garp_master_delay, want 4", n)
		}

		// Adverts every second while master, with our priority.
		ads := w.from(addrA)
		if len(ads) != 6 { // the first at takeover, then one a second for 5 s
			t.Fatalf("%d adverts sent, want 6", len(ads))
		}
		for k, s := range ads {
			if s.adv.Priority != 100 || s.dst != vrrp.MulticastIPv4 || s.adv.VRID != 51 {
				t.Fatalf("advert %d = %+v to %v", k, s.adv, s.dst)
			}
			if k > 0 && s.at.Sub(ads[k-1].at) != time.Second {
				t.Fatalf("advert %d came %v after the previous, want 1s", k, s.at.Sub(ads[k-1].at))
			}
		}
		if ads[0].at.Sub(start) != down {
			t.Fatalf("first advert at %v, want %v", ads[0].at.Sub(start), down)
		}

		// Graceful stop: a priority-0 advert, VIPs released.
		cancel()
		<-done
		ads = w.from(addrA)
		if last := ads[len(ads)-1]; last.adv.Priority != 0 {
			t.Fatalf("last advert priority %d, want 0", last.adv.Priority)
		}
		if h.has(vipPfx) {
			t.Fatal("VIP still bound after stop")
		}
		if inst.State() != fsm.Stopped {
			t.Fatalf("state after stop = %v", inst.State())
		}
	})
}

func TestInstanceAddressOwnerKeepsAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := &wire{}, newHost(vipPfx)
		inst := newTestInstance(t, instanceConfig("owner", 255), addrA, w, h, &DropCounter{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = inst.Run(ctx); close(done) }()
		synctest.Wait()
		if inst.State() != fsm.Master {
			t.Fatalf("owner state = %v, want MASTER at once", inst.State())
		}
		cancel()
		<-done
		if !h.has(vipPfx) {
			t.Fatal("the owner's own address was removed")
		}
	})
}

func TestTwoInstancesElect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &wire{}
		ha, hb := newHost(), newHost()
		a := newTestInstance(t, instanceConfig("a", 150), addrA, w, ha, &DropCounter{})
		b := newTestInstance(t, instanceConfig("b", 100), addrB, w, hb, &DropCounter{})
		ctxA, stopA := context.WithCancel(context.Background())
		ctxB, stopB := context.WithCancel(context.Background())
		defer stopB()
		doneA := make(chan struct{})
		go func() { _ = a.Run(ctxA); close(doneA) }()
		go func() { _ = b.Run(ctxB) }()

		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.State() != fsm.Master || b.State() != fsm.Backup {
			t.Fatalf("states a=%v b=%v, want MASTER/BACKUP", a.State(), b.State())
		}
		if !ha.has(vipPfx) || hb.has(vipPfx) {
			t.Fatal("VIP not held by the master alone")
		}

		// a resigns: b takes over after its skew time, (256-100)/256 s.
		stopA()
		<-doneA
		resigned := time.Now()
		skew := 156 * time.Second / 256
		time.Sleep(skew - time.Millisecond)
		synctest.Wait()
		if b.State() != fsm.Backup {
			t.Fatal("b took over before its skew time")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if b.State() != fsm.Master || !hb.has(vipPfx) {
			t.Fatalf("b state %v %v after skew", b.State(), time.Since(resigned))
		}
	})
}

// TestInstanceDrops: adverts the instance must discard are counted by
// reason and change nothing.
func TestInstanceDrops(t *testing.T) {
	peer := netip.MustParseAddr("198.51.100.9")
	good := vrrp.Advert{Version: 2, VRID: 51, Priority: 200, Interval: time.Second, AuthType: vrrp.AuthPass, AuthData: vrrp.PassAuthData("s3cret")}
	cases := []struct {
		name     string
		mod      func(a *vrrp.Advert)
		src, dst netip.Addr
		hop      int
		want     vrrp.DropReason
	}{
		{"own packet", nil, addrA, peer, 255, vrrp.DropOwnPacket},
		{"other version", func(a *vrrp.Advert) { a.Version = 3 }, peer, addrA, 255, vrrp.DropBadVersion},
		{"multicast with ttl 254", nil, peer, vrrp.MulticastIPv4, 254, vrrp.DropBadTTL},
		{"not a peer", nil, addrB, addrA, 255, vrrp.DropNotAPeer},
		{"wrong password", func(a *vrrp.Advert) { a.AuthData = vrrp.PassAuthData("guess") }, peer, addrA, 255, vrrp.DropAuthMismatch},
		{"no auth", func(a *vrrp.Advert) { a.AuthType, a.AuthData = vrrp.AuthNone, [8]byte{} }, peer, addrA, 255, vrrp.DropAuthMismatch},
		{"v2 interval mismatch", func(a *vrrp.Advert) { a.Interval = 2 * time.Second }, peer, addrA, 255, vrrp.DropIntervalMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ic := instanceConfig("v2", 100)
				ic.Version = 2
				ic.AuthPass = "s3cret"
				ic.UnicastSource = addrA
				ic.UnicastPeers = []netip.Addr{peer}
				drops := &DropCounter{}
				inst := newTestInstance(t, ic, addrA, &wire{}, newHost(), drops)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _ = inst.Run(ctx) }()
				synctest.Wait()

				adv := good
				if c.mod != nil {
					c.mod(&adv)
				}
				inst.Deliver(adv, c.src, c.dst, c.hop)
				synctest.Wait()
				if got := drops.Get(c.want); got != 1 {
					t.Fatalf("drops[%v] = %d, want 1 (all: %v)", c.want, got, drops.Snapshot())
				}
				if _, rcvd := inst.Counters(); rcvd != 0 {
					t.Fatalf("%d adverts accepted, want 0", rcvd)
				}

				// The same advert done right is accepted (and, being
				// higher, keeps us backup past our master-down time).
				inst.Deliver(good, peer, addrA, 64)
				synctest.Wait()
				if _, rcvd := inst.Counters(); rcvd != 1 {
					t.Fatalf("valid advert not accepted; drops %v", drops.Snapshot())
				}
			})
		})
	}
}
