package vip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"

	"github.com/vipd/vipd/internal/lab"
)

const captureWait = 10 * time.Second

// announce runs Announce inside node n (the packet sockets are opened in
// the namespace of the calling thread).
func announce(t *testing.T, n *lab.Node, a *Announcer, iface string, addrs ...netip.Addr) {
	t.Helper()
	if err := n.Do(func() error { return a.Announce(iface, addrs) }); err != nil {
		t.Fatalf("Announce(%s, %v) in %s: %v", iface, addrs, n.Name(), err)
	}
}

func newAnnouncer(t *testing.T) *Announcer {
	a := NewAnnouncer()
	t.Cleanup(func() { a.Close() })
	return a
}

// isARPFor and isNAFor pick the announcement of ip out of a capture.
func isARPFor(ip netip.Addr) func(lab.Frame) bool {
	return func(f lab.Frame) bool {
		p, ok := parseARP(f)
		return ok && p.SenderIP == ip
	}
}

func isNAFor(ip netip.Addr) func(lab.Frame) bool {
	return func(f lab.Frame) bool {
		na, _, ok := parseNA(f)
		return ok && na.TargetAddress == ip
	}
}

func parseARP(f lab.Frame) (*arp.Packet, bool) {
	e, ok := f.Ethernet()
	if !ok || e.EtherType != lab.EtherTypeARP {
		return nil, false
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(e.Payload); err != nil {
		return nil, false
	}
	return &p, true
}

func parseNA(f lab.Frame) (*ndp.NeighborAdvertisement, lab.IP, bool) {
	ip, ok := f.IP()
	if !ok || ip.Version != 6 || ip.Protocol != protoICMPv6 {
		return nil, ip, false
	}
	m, err := ndp.ParseMessage(ip.Payload)
	if err != nil {
		return nil, ip, false
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	return na, ip, ok
}

// icmpv6ChecksumOK verifies the checksum over the IPv6 pseudo-header.
func icmpv6ChecksumOK(ip lab.IP) bool {
	var sum uint32
	add := func(b []byte) {
		for len(b) > 1 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	src, dst := ip.Src.As16(), ip.Dst.As16()
	add(src[:])
	add(dst[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[0:4], uint32(len(ip.Payload)))
	tail[7] = protoICMPv6
	add(tail[:])
	add(ip.Payload)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

// shape describes everything about an announcement that does not depend on
// which host sent it or for which address: it must be the same for
// keepalived's and ours.
func shape(t *testing.T, f lab.Frame) string {
	t.Helper()
	e, ok := f.Ethernet()
	if !ok {
		t.Fatalf("not an Ethernet frame: % x", f.Data)
	}
	if p, ok := parseARP(f); ok {
		return fmt.Sprintf("ARP %d bytes; eth dst %v; hw type %d proto %#x op %d; sender MAC is eth src %v; target MAC %v; sender IP is target IP %v",
			len(f.Data), e.Dst, p.HardwareType, uint16(p.ProtocolType), uint16(p.Operation), bytes.Equal(p.SenderHardwareAddr, e.Src), p.TargetHardwareAddr, p.SenderIP == p.TargetIP)
	}
	if na, ip, ok := parseNA(f); ok {
		var opts []string
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok {
				opts = append(opts, fmt.Sprintf("lla dir %d is eth src %v", int(lla.Direction), bytes.Equal(lla.Addr, e.Src)))
			} else {
				opts = append(opts, fmt.Sprintf("option %T", o))
			}
		}
		return fmt.Sprintf("NA %d bytes; eth dst %v; IP src is target %v dst %v hop limit %d class %#x checksum ok %v; router %v solicited %v override %v; options %v",
			len(f.Data), e.Dst, ip.Src == na.TargetAddress, ip.Dst, ip.TTL, ip.TOS, icmpv6ChecksumOK(ip), na.Router, na.Solicited, na.Override, opts)
	}
	t.Fatalf("neither ARP nor NA: % x", f.Data)
	return ""
}

func TestAnnounceFrames(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	a, b := l.Node("a"), l.Node("b")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(b, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	macA := a.MAC(t, "eth0")
	ann := newAnnouncer(t)
	ip := netip.MustParseAddr

	tests := []struct {
		name    string
		addr    netip.Addr
		forward bool // IPv6 forwarding on a's eth0
		want    string
	}{
		{"gratuitous ARP request", ip("198.51.100.100"), false,
			"ARP 42 bytes; eth dst ff:ff:ff:ff:ff:ff; hw type 1 proto 0x800 op 1; sender MAC is eth src true; target MAC ff:ff:ff:ff:ff:ff; sender IP is target IP true"},
		{"neighbour advertisement", ip("2001:db8::100"), false,
			"NA 86 bytes; eth dst 33:33:00:00:00:01; IP src is target true dst ff02::1 hop limit 255 class 0x0 checksum ok true; router false solicited false override true; options [lla dir 2 is eth src true]"},
		{"neighbour advertisement from a router", ip("2001:db8::101"), true,
			"NA 86 bytes; eth dst 33:33:00:00:00:01; IP src is target true dst ff02::1 hop limit 255 class 0x0 checksum ok true; router true solicited false override true; options [lla dir 2 is eth src true]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fwd := "0"
			if tc.forward {
				fwd = "1"
			}
			a.Sysctl(t, "net.ipv6.conf.eth0.forwarding", fwd)
			c := b.Capture(t, "eth0", "arp or icmp6")
			announce(t, a, ann, "eth0", tc.addr)
			match := isARPFor(tc.addr)
			if tc.addr.Is6() {
				match = isNAFor(tc.addr)
			}
			f := c.WaitFor(t, captureWait, match)
			if e, _ := f.Ethernet(); !bytes.Equal(e.Src, macA) {
				t.Errorf("sent from %v, want a's MAC %v", e.Src, macA)
			}
			if got := shape(t, f); got != tc.want {
				t.Errorf("announcement:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// keepalivedVIPs has keepalived in node k take one IPv4 and one IPv6 VIP;
// on becoming master it announces them.
const keepalivedVIPs = `
vrrp_instance V4 {
  state MASTER
  interface eth0
  virtual_router_id 71
  priority 150
  advert_int 1
  virtual_ipaddress {
    198.51.100.71/24
  }
}
vrrp_instance V6 {
  state MASTER
  interface eth0
  virtual_router_id 72
  priority 150
  advert_int 1
  virtual_ipaddress {
    2001:db8::72/64
  }
}
`

// TestAnnounceMatchesKeepalived captures the GARP and NA of a live
// keepalived 2.2.7 and ours on the same segment and compares them field by
// field, so that "as keepalived does" is checked, not assumed.
func TestAnnounceMatchesKeepalived(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	k, a, p := l.Node("k"), l.Node("a"), l.Node("p")
	l.Connect(k, sw, "eth0", "198.51.100.10/24", "2001:db8::10/64")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(p, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	c := p.Capture(t, "eth0", "arp or icmp6")
	k.Keepalived(t, keepalivedVIPs)
	ann := newAnnouncer(t)
	ip := netip.MustParseAddr

	tests := []struct {
		name         string
		theirs, ours netip.Addr
	}{
		{"gratuitous ARP", ip("198.51.100.71"), ip("198.51.100.100")},
		{"neighbour advertisement", ip("2001:db8::72"), ip("2001:db8::100")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			match := func(addr netip.Addr) func(lab.Frame) bool {
				if addr.Is6() {
					return isNAFor(addr)
				}
				return isARPFor(addr)
			}
			theirs := c.WaitFor(t, 15*time.Second, match(tc.theirs))
			announce(t, a, ann, "eth0", tc.ours)
			ours := c.WaitFor(t, captureWait, match(tc.ours))
			if s1, s2 := shape(t, theirs), shape(t, ours); s1 != s2 {
				t.Errorf("announcements differ:\nkeepalived %s\n      vipd %s", s1, s2)
			}
		})
	}
}

// TestNeighbourCacheFollowsVIP moves a VIP from a to b and checks that a
// third host's neighbour entry for it now points at b: the point of
// announcing.
func TestNeighbourCacheFollowsVIP(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	a, b, c := l.Node("a"), l.Node("b"), l.Node("c")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(b, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	l.Connect(c, sw, "eth0", "198.51.100.3/24", "2001:db8::3/64")
	ma, mb := newManager(t, a), newManager(t, b)
	annA, annB := newAnnouncer(t), newAnnouncer(t)
	macA, macB := a.MAC(t, "eth0"), b.MAC(t, "eth0")

	tests := []struct {
		name string
		vip  VIP
	}{
		{"IPv4", VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("198.51.100.100/24")}},
		{"IPv6", VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("2001:db8::100/64")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.vip.Prefix.Addr()
			if err := ma.Add(tc.vip); err != nil {
				t.Fatal(err)
			}
			announce(t, a, annA, "eth0", addr)
			if err := c.Ping(addr); err != nil {
				t.Fatal(err)
			}
			waitNeigh(t, c, addr, macA)

			if err := ma.Remove(tc.vip); err != nil {
				t.Fatal(err)
			}
			if err := mb.Add(tc.vip); err != nil {
				t.Fatal(err)
			}
			// Moving the address alone tells c nothing.
			if nb, _ := c.Neigh(t, "eth0", addr); !bytes.Equal(nb.MAC, macA) {
				t.Fatalf("c's entry changed to %v before any announcement: the check below would prove nothing", nb.MAC)
			}
			announce(t, b, annB, "eth0", addr)
			waitNeigh(t, c, addr, macB)
			if err := c.Ping(addr); err != nil {
				t.Errorf("VIP unreachable after the move: %v", err)
			}
		})
	}
}

// waitNeigh polls c's neighbour table: the kernel applies a received
// announcement asynchronously.
func waitNeigh(t *testing.T, n *lab.Node, addr netip.Addr, want net.HardwareAddr) {
	t.Helper()
	deadline := time.Now().Add(captureWait)
	var last lab.Neighbour
	for time.Now().Before(deadline) {
		nb, ok := n.Neigh(t, "eth0", addr)
		if ok && bytes.Equal(nb.MAC, want) {
			return
		}
		last = nb
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("neighbour entry for %v: %v %v, want %v", addr, last.MAC, last.State, want)
}

func TestAnnounceErrors(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24", "2001:db8::1/64")
	ann := newAnnouncer(t)
	ip := netip.MustParseAddr

	tests := []struct {
		name    string
		iface   string
		addrs   []netip.Addr
		wantIs  error // nil: any error
		partial bool  // the good address in addrs must still go out
	}{
		{"missing interface", "nosuch0", []netip.Addr{ip("198.51.100.100")}, ErrNoInterface, false},
		{"loopback has no MAC", "lo", []netip.Addr{ip("198.51.100.100")}, ErrNoHardwareAddr, false},
		{"invalid address among good ones", "eth0", []netip.Addr{{}, ip("198.51.100.100")}, nil, true},
		{"multicast address", "eth0", []netip.Addr{ip("ff02::1")}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *lab.Capture
			if tc.partial {
				c = n.Capture(t, "eth0", "arp")
			}
			err := n.Do(func() error { return ann.Announce(tc.iface, tc.addrs) })
			if err == nil || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) {
				t.Errorf("Announce: %v, want error %v", err, tc.wantIs)
			}
			if c != nil {
				c.WaitFor(t, captureWait, isARPFor(ip("198.51.100.100")))
			}
		})
	}

	if err := ann.Close(); err != nil {
		t.Fatal(err)
	}
	err := n.Do(func() error { return ann.Announce("eth0", []netip.Addr{ip("198.51.100.100")}) })
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Announce after Close: %v, want net.ErrClosed", err)
	}
}

func TestFramesBuild(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tests := []struct {
		name    string
		build   func() ([]byte, error)
		wantErr bool
	}{
		{"GARP", func() ([]byte, error) { return garpFrame(mac, netip.MustParseAddr("198.51.100.1")) }, false},
		{"GARP for IPv6", func() ([]byte, error) { return garpFrame(mac, netip.MustParseAddr("2001:db8::1")) }, true},
		{"NA", func() ([]byte, error) { return naFrame(mac, netip.MustParseAddr("2001:db8::1"), false) }, false},
		{"NA for IPv4", func() ([]byte, error) { return naFrame(mac, netip.MustParseAddr("198.51.100.1"), false) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.build()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var f ethernet.Frame
			if err := f.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Source, mac) {
				t.Errorf("source %v, want %v", f.Source, mac)
			}
		})
	}
}

// TestAnnounceAfterLinkFlap: a link that went down leaves an error pending
// on the announcer's cached packet sockets (the kernel's ENETDOWN); the
// first announcement after the link is back must not be lost to it. Every
// one of a burst after the flap reaches the segment.
func TestAnnounceAfterLinkFlap(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	a, b := l.Node("a"), l.Node("b")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(b, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	ann := newAnnouncer(t)
	v4, v6 := netip.MustParseAddr("198.51.100.100"), netip.MustParseAddr("2001:db8::100")

	// The sockets are opened and cached by a first announcement.
	announce(t, a, ann, "eth0", v4, v6)

	for flap := range 2 {
		a.SetLink(t, "eth0", false)
		a.SetLink(t, "eth0", true)
		waitOperUp(t, a, "eth0")
		c := b.Capture(t, "eth0", "arp or icmp6")
		const burst = 5
		for k := range burst {
			if err := a.Do(func() error { return ann.Announce("eth0", []netip.Addr{v4, v6}) }); err != nil {
				t.Errorf("flap %d: announcement %d of %d failed: %v", flap, k+1, burst, err)
			}
		}
		// The frames are on the wire once the last of each has arrived.
		arps, nas := 0, 0
		c.WaitFor(t, captureWait, func(lab.Frame) bool {
			arps, nas = 0, 0
			for _, f := range c.Frames() {
				if isARPFor(v4)(f) {
					arps++
				}
				if isNAFor(v6)(f) {
					nas++
				}
			}
			return arps == burst && nas == burst
		})
		if arps != burst || nas != burst {
			t.Fatalf("flap %d: %d ARPs and %d NAs on the wire, want %d of each", flap, arps, nas, burst)
		}
	}
}

// waitOperUp waits until ifname in n reports carrier (operstate up): the
// kernel sets it shortly after the link is brought up.
func waitOperUp(t *testing.T, n *lab.Node, ifname string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if strings.TrimSpace(n.Run(t, "cat", "/sys/class/net/"+ifname+"/operstate")) == "up" {
			return
		}
	}
	t.Fatalf("%s in %s did not come up", ifname, n.Name())
}
