package election

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
)

// TestMulticastInstanceTTL: a multicast instance takes adverts from its
// link only (RFC 3768 §7.1, RFC 5798 §7.1), whatever their destination: a
// higher-priority advert sent straight to the master's own address with a
// TTL/hop limit of 64 (it crossed a router, or was forged to look so) is
// dropped as bad_ttl and the master keeps its VIP; the same advert with
// 255 is taken and the master steps down. A unicast instance still takes
// routed adverts from its peers.
func TestMulticastInstanceTTL(t *testing.T) {
	ll6 := netip.MustParseAddr("fe80::1")
	peer6 := netip.MustParseAddr("fe80::2")
	vip6 := netip.MustParsePrefix("2001:db8::100/64")
	peer4 := netip.MustParseAddr("198.51.100.9")
	cases := []struct {
		name      string
		cfg       func(ic *config.Instance)
		self, src netip.Addr
		adv       vrrp.Advert
		hop       int
		wantDrop  bool
	}{
		{"v3 IPv4, unicast to the master, TTL 64", nil, addrA, addrB,
			vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}, 64, true},
		{"v3 IPv4, unicast to the master, TTL 254", nil, addrA, addrB,
			vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}, 254, true},
		{"v3 IPv4, unicast to the master, TTL 255", nil, addrA, addrB,
			vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}, 255, false},
		{"v3 IPv6, unicast to the master, hop limit 64", func(ic *config.Instance) { ic.VIPs = []config.VIP{{Prefix: vip6}} }, ll6, peer6,
			vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}, 64, true},
		{"v3 IPv6, unicast to the master, hop limit 255", func(ic *config.Instance) { ic.VIPs = []config.VIP{{Prefix: vip6}} }, ll6, peer6,
			vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}, 255, false},
		{"v2 with the password, unicast to the master, TTL 64", func(ic *config.Instance) { ic.Version, ic.AuthPass = 2, "s3cret" }, addrA, addrB,
			vrrp.Advert{Version: 2, VRID: 51, Priority: 200, Interval: time.Second, AuthType: vrrp.AuthPass, AuthData: vrrp.PassAuthData("s3cret")}, 64, true},
		{"v2 with the password, unicast to the master, TTL 255", func(ic *config.Instance) { ic.Version, ic.AuthPass = 2, "s3cret" }, addrA, addrB,
			vrrp.Advert{Version: 2, VRID: 51, Priority: 200, Interval: time.Second, AuthType: vrrp.AuthPass, AuthData: vrrp.PassAuthData("s3cret")}, 255, false},
		{"unicast instance, routed advert from a peer, TTL 64", func(ic *config.Instance) {
			ic.UnicastSource, ic.UnicastPeers = addrA, []netip.Addr{peer4}
		}, addrA, peer4, vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second}, 64, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ic := instanceConfig("web", 100)
				if c.cfg != nil {
					c.cfg(ic)
				}
				pfx := ic.VIPs[0].Prefix
				drops := &DropCounter{}
				h := newHost()
				inst := newTestInstance(t, ic, c.self, &wire{}, h, drops)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _ = inst.Run(ctx) }()
				time.Sleep(4 * time.Second) // alone: master after master-down
				synctest.Wait()
				if inst.State() != fsm.Master || !h.has(pfx) {
					t.Fatalf("state %v, VIP bound %v before the advert; want MASTER holding it", inst.State(), h.has(pfx))
				}

				inst.Deliver(c.adv, c.src, c.self, c.hop)
				synctest.Wait()
				got := drops.Get(vrrp.DropBadTTL)
				_, rcvd := inst.Counters()
				if c.wantDrop {
					if got != 1 || rcvd != 0 {
						t.Fatalf("bad_ttl drops %d, accepted %d; want 1 drop, none accepted (all drops: %v)", got, rcvd, drops.Snapshot())
					}
					if inst.State() != fsm.Master || !h.has(pfx) {
						t.Fatalf("state %v, VIP bound %v after a dropped advert; want MASTER holding it", inst.State(), h.has(pfx))
					}
					return
				}
				if got != 0 || rcvd != 1 {
					t.Fatalf("bad_ttl drops %d, accepted %d; want it accepted (all drops: %v)", got, rcvd, drops.Snapshot())
				}
				// A higher priority taken: the master steps down.
				if inst.State() != fsm.Backup {
					t.Fatalf("state %v after a higher-priority advert, want BACKUP", inst.State())
				}
			})
		})
	}
}
