package e2e

import (
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// Bad input of issue 14: adverts that crossed a router, and configuration
// files that would hang or exhaust the loader.

// sendRaw6 sends payload as IPv6 next header 112 from node to dst with the
// given hop limit, the kernel writing the IPv6 header (and leaving the
// VRRP checksum as the payload has it).
func sendRaw6(t *testing.T, node *lab.Node, dst netip.Addr, hops int, payload []byte) {
	t.Helper()
	err := node.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_RAW, 112)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, hops); err != nil {
			return err
		}
		return syscall.Sendto(fd, payload, 0, &syscall.SockaddrInet6{Addr: dst.As16()})
	})
	if err != nil {
		t.Fatalf("sending a crafted IPv6 advert from %s: %v", node.Name(), err)
	}
}

// dropCount returns the count of one drop reason in a status.
func (s statusJSON) dropCount(reason string) uint64 {
	for _, d := range s.Drops {
		if d.Reason == reason {
			n, _ := strconv.ParseUint(d.Count, 10, 64)
			return n
		}
	}
	return 0
}

// TestBadInputRoutedAdvertToMulticastMaster: a node on the segment sends a
// vipd master adverts of a higher priority straight to its unicast
// address with TTL/hop limit 64, as a router (or a forger pretending to be
// one) would deliver them: VRRPv3 over IPv4, VRRPv3 over IPv6, and VRRPv2
// with the right password. A multicast instance takes only adverts from
// its link (TTL 255, RFC 3768 §7.1, RFC 5798 §7.1): each is dropped as
// bad_ttl, counted and logged, and the master keeps its VIPs. The control:
// a lower-priority advert sent the same way with 255 is taken by each
// instance, so the route to the instance works; and a unicast instance
// still takes a routed advert from its peer, as keepalived does.
func TestBadInputRoutedAdvertToMulticastMaster(t *testing.T) {
	t.Parallel()
	lab.Require(t)
	testbed.VipdBinary(t)
	l := lab.New(t)
	sw := l.Switch("sw")
	a, x := l.Node("a"), l.Node("x")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(x, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	cfg := `node: {name: a}
instances:
  - name: mc4
    interface: eth0
    vrid: 61
    priority: 100
    advert_interval: 500ms
    version: 3
    vips: [198.51.100.110/24]
  - name: v2
    interface: eth0
    vrid: 62
    priority: 100
    advert_interval: 1s
    version: 2
    auth: {type: pass, password: s3cret}
    vips: [198.51.100.111/24]
  - name: mc6
    interface: eth0
    vrid: 63
    priority: 100
    advert_interval: 500ms
    version: 3
    vips: [2001:db8::110/64]
  - name: uc
    interface: eth0
    vrid: 64
    priority: 100
    advert_interval: 500ms
    version: 3
    unicast: {source: 198.51.100.1, peers: [198.51.100.2]}
    vips: [198.51.100.112/24]
`
	start := time.Now()
	da := testbed.StartVipd(t, a, cfg, ".yaml")
	only := []testbed.Member{{Name: "a", Node: a, Iface: "eth0"}}
	vips := []string{"198.51.100.110/24", "198.51.100.111/24", "2001:db8::110/64", "198.51.100.112/24"}
	for _, v := range vips {
		testbed.WaitSoleHolder(t, only, netip.MustParsePrefix(v), "a", start, masterDown(time.Second, 100)+2*time.Second)
	}
	before := vipdStatus(t, da)
	trans := da.CountLog("state change")

	src4, dst4 := netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.1")
	src6, dst6 := netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::1")
	marshal := func(adv vrrp.Advert, src, dst netip.Addr) []byte {
		m, err := adv.Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	v3 := func(vrid, prio uint8, addr string) vrrp.Advert {
		return vrrp.Advert{Version: 3, VRID: vrid, Priority: prio, Interval: 500 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr(addr)}}
	}
	v2 := func(prio uint8) vrrp.Advert {
		return vrrp.Advert{Version: 2, VRID: 62, Priority: prio, Interval: time.Second, AuthType: vrrp.AuthPass, AuthData: vrrp.PassAuthData("s3cret"),
			Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.111")}}
	}
	const repeat = 3
	for range repeat {
		sendRaw(t, x, "eth0", dst4, 64, marshal(v3(61, 254, "198.51.100.110"), src4, dst4))
		sendRaw(t, x, "eth0", dst4, 64, marshal(v2(254), src4, dst4))
		sendRaw6(t, x, dst6, 64, marshal(v3(63, 254, "2001:db8::110"), src6, dst6))
	}
	// The controls: lower priorities, so that taking them changes nothing.
	sendRaw(t, x, "eth0", dst4, 255, marshal(v3(61, 50, "198.51.100.110"), src4, dst4))
	sendRaw(t, x, "eth0", dst4, 255, marshal(v2(50), src4, dst4))
	sendRaw6(t, x, dst6, 255, marshal(v3(63, 50, "2001:db8::110"), src6, dst6))
	sendRaw(t, x, "eth0", dst4, 64, marshal(v3(64, 50, "198.51.100.112"), src4, dst4))

	want := before.dropCount("bad_ttl") + 3*repeat
	accepted := func(s statusJSON) map[string]uint64 {
		out := map[string]uint64{}
		for _, name := range []string{"mc4", "v2", "mc6", "uc"} {
			_, _, _, _, rcvd := s.instance(t, name)
			out[name] = rcvd
		}
		return out
	}
	rcvd0 := accepted(before)
	var after statusJSON
	end := time.Now().Add(5 * time.Second)
	for {
		after = vipdStatus(t, da)
		rcvd := accepted(after)
		done := after.dropCount("bad_ttl") >= want
		for name, n := range rcvd {
			done = done && n > rcvd0[name]
		}
		if done || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := after.dropCount("bad_ttl"); got != want {
		t.Errorf("bad_ttl drops %d, want %d (%d routed adverts sent)", got, want, 3*repeat)
	}
	rcvd := accepted(after)
	for name, n := range rcvd {
		// The unicast master answers a peer's advert with its own,
		// which only it counts as sent: taken means received here.
		if n != rcvd0[name]+1 {
			t.Errorf("%s accepted %d adverts, want 1 (the control)", name, n-rcvd0[name])
		}
	}
	if n := da.CountLog("level=DEBUG", "dropped", "reason=bad_ttl", "hop limit 64"); n != 3*repeat {
		t.Errorf("%d debug log lines for the bad_ttl drops, want %d", n, 3*repeat)
	}
	for _, name := range []string{"mc4", "v2", "mc6", "uc"} {
		if s, prio, _, _, _ := after.instance(t, name); s != "INSTANCE_STATE_MASTER" || prio != 100 {
			t.Errorf("%s is %s priority %d after the routed adverts", name, s, prio)
		}
	}
	for _, v := range vips {
		if !a.HasAddr(t, "eth0", netip.MustParsePrefix(v)) {
			t.Errorf("a lost %s", v)
		}
	}
	if n := da.CountLog("state change"); n != trans {
		t.Errorf("a logged %d state changes while refusing routed adverts", n-trans)
	}
	if da.Exited() {
		t.Fatal("vipd exited")
	}
}
