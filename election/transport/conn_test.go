package transport

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/internal/lab"
)

// readWait bounds every read in these tests: long enough for a loaded CI
// machine, short enough that a lost packet fails fast.
const readWait = 5 * time.Second

// listen opens a Conn inside node n and closes it when the test ends.
func listen(t *testing.T, n *lab.Node, cfg Config) *Conn {
	t.Helper()
	var c *Conn
	if err := n.Do(func() (err error) { c, err = Listen(cfg); return err }); err != nil {
		t.Fatalf("Listen(%+v) in %s: %v", cfg, n.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// read returns the next packet, with its payload copied, or fails the test.
func read(t *testing.T, c *Conn) Packet {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(readWait)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	p, err := c.ReadPacket(buf)
	if err != nil {
		t.Fatalf("ReadPacket on %s: %v", c.Interface().Name, err)
	}
	p.Payload = bytes.Clone(p.Payload)
	return p
}

func write(t *testing.T, c *Conn, payload []byte, src, dst netip.Addr) {
	t.Helper()
	if err := c.WriteTo(payload, src, dst); err != nil {
		t.Fatalf("WriteTo(%v -> %v): %v", src, dst, err)
	}
}

func primary(t *testing.T, n *lab.Node, ifname string, fam inet.Family) netip.Addr {
	t.Helper()
	var a netip.Addr
	if err := n.Do(func() (err error) { a, err = PrimaryAddr(ifname, fam); return err }); err != nil {
		t.Fatalf("PrimaryAddr(%s, %v) in %s: %v", ifname, fam, n.Name(), err)
	}
	return a
}

// twoNodes is a lab of nodes a (198.51.100.1, 2001:db8::1) and b (.2, ::2)
// on one switch, each on its eth0.
func twoNodes(t *testing.T) (a, b *lab.Node) {
	t.Helper()
	l := lab.New(t)
	sw := l.Switch("sw")
	a, b = l.Node("a"), l.Node("b")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(b, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	return a, b
}

func TestUnicast(t *testing.T) {
	a, b := twoNodes(t)
	// A second address of each family: the source is chosen per packet
	// (IP_PKTINFO, IPV6_PKTINFO), not left to the kernel's preference.
	a.Run(t, "ip", "addr", "add", "198.51.100.11/24", "dev", "eth0")
	a.Run(t, "ip", "addr", "add", "2001:db8::11/64", "dev", "eth0")

	tests := []struct {
		name     string
		fam      inet.Family
		src, dst string
		hopLimit int // Config.UnicastHopLimit
		want     int // TTL / hop limit on the wire
	}{
		{"IPv4 default TTL is 255", inet.IPv4, "198.51.100.1", "198.51.100.2", 0, 255},
		{"IPv4 unicast_ttl", inet.IPv4, "198.51.100.1", "198.51.100.2", 10, 10},
		{"IPv4 from the secondary address", inet.IPv4, "198.51.100.11", "198.51.100.2", 0, 255},
		{"IPv6 default hop limit is the kernel's", inet.IPv6, "2001:db8::1", "2001:db8::2", 0, 64},
		{"IPv6 unicast_ttl 255", inet.IPv6, "2001:db8::1", "2001:db8::2", 255, 255},
		{"IPv6 from the second address", inet.IPv6, "2001:db8::11", "2001:db8::2", 0, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca := listen(t, a, Config{Family: tc.fam, Interface: "eth0", UnicastHopLimit: tc.hopLimit})
			cb := listen(t, b, Config{Family: tc.fam, Interface: "eth0"})
			capture := b.Capture(t, "eth0", "ip proto 112 or ip6 proto 112")
			src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
			payload := []byte{0x31, 7, 100, 1, 0, 100, 0xab, 0xcd, 1, 2, 3, 4}

			write(t, ca, payload, src, dst)
			p := read(t, cb)
			want := Packet{Src: src, Dst: dst, IfIndex: b.IfIndex(t, "eth0"), HopLimit: tc.want, Payload: payload}
			if !equalPacket(p, want) {
				t.Errorf("received %+v, want %+v", p, want)
			}

			// On the wire: what keepalived sends.
			f := capture.WaitFor(t, readWait, func(f lab.Frame) bool {
				ip, ok := f.IP()
				return ok && ip.Src == src && ip.Protocol == Protocol
			})
			ip, _ := f.IP()
			if ip.TOS != 0xc0 || ip.TTL != tc.want || ip.DF {
				t.Errorf("IP header: TOS %#x TTL %d DF %v, want TOS 0xc0 TTL %d DF false", ip.TOS, ip.TTL, ip.DF, tc.want)
			}
		})
	}
}

func equalPacket(a, b Packet) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.IfIndex == b.IfIndex && a.HopLimit == b.HopLimit && bytes.Equal(a.Payload, b.Payload)
}

// TestMulticast checks that multicast adverts reach joined sockets on the
// right interface only, and never the sender itself. Absence is proved
// without waiting: once a joined socket on the same node has read the
// advert, any socket that would get it has it queued, so a unicast marker
// sent afterwards must be the first thing it reads.
func TestMulticast(t *testing.T) {
	l := lab.New(t)
	sw1, sw2 := l.Switch("sw1"), l.Switch("sw2")
	a, b, c, d := l.Node("a"), l.Node("b"), l.Node("c"), l.Node("d")
	l.Connect(a, sw1, "eth0", "198.51.100.1/24", "2001:db8:1::1/64")
	l.Connect(b, sw1, "eth0", "198.51.100.2/24", "2001:db8:1::2/64")
	l.Connect(c, sw1, "eth0", "198.51.100.3/24", "2001:db8:1::3/64")
	l.Connect(b, sw2, "eth1", "203.0.113.2/24", "2001:db8:2::2/64")
	l.Connect(d, sw2, "eth0", "203.0.113.4/24", "2001:db8:2::4/64")

	tests := []struct {
		name   string
		fam    inet.Family
		addrOf map[*lab.Node]string // unicast address of each node's eth0 (b: eth0)
		bEth1  string
	}{
		{"IPv4", inet.IPv4, map[*lab.Node]string{a: "198.51.100.1", b: "198.51.100.2", c: "198.51.100.3", d: "203.0.113.4"}, "203.0.113.2"},
		{"IPv6", inet.IPv6, map[*lab.Node]string{a: "2001:db8:1::1", b: "2001:db8:1::2", c: "2001:db8:1::3", d: "2001:db8:2::4"}, "2001:db8:2::2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := func(n *lab.Node) netip.Addr { return netip.MustParseAddr(tc.addrOf[n]) }
			mcast := func(n *lab.Node, ifname string) *Conn {
				return listen(t, n, Config{Family: tc.fam, Interface: ifname, Multicast: true})
			}
			a0, b0, b1 := mcast(a, "eth0"), mcast(b, "eth0"), mcast(b, "eth1")
			// c has a joined socket too, so the group is joined on c's
			// interface: c0 must still not get it (IP_MULTICAST_ALL=0).
			cj := mcast(c, "eth0")
			c0 := listen(t, c, Config{Family: tc.fam, Interface: "eth0"})
			d0 := listen(t, d, Config{Family: tc.fam, Interface: "eth0"})

			src := primary(t, a, "eth0", tc.fam)
			advert := []byte("multicast advert")
			write(t, a0, advert, src, Group(tc.fam))

			for _, r := range []struct {
				name    string
				conn    *Conn
				ifindex int
			}{
				{"b on eth0", b0, b.IfIndex(t, "eth0")},
				{"c's joined socket", cj, c.IfIndex(t, "eth0")},
			} {
				want := Packet{Src: src, Dst: Group(tc.fam), IfIndex: r.ifindex, HopLimit: 255, Payload: advert}
				if p := read(t, r.conn); !equalPacket(p, want) {
					t.Errorf("%s received %+v, want %+v", r.name, p, want)
				}
			}

			for _, m := range []struct {
				name     string
				receiver *Conn
				from     *Conn
				src, dst netip.Addr
			}{
				{"b's socket on the other interface", b1, d0, addr(d), netip.MustParseAddr(tc.bEth1)},
				{"c's socket that did not join", c0, b0, addr(b), addr(c)},
				{"the sender itself", a0, b0, addr(b), addr(a)},
			} {
				marker := []byte("marker for " + m.name)
				write(t, m.from, marker, m.src, m.dst)
				if p := read(t, m.receiver); !bytes.Equal(p.Payload, marker) {
					t.Errorf("%s received %q (to %v), want only the unicast marker", m.name, p.Payload, p.Dst)
				}
			}
		})
	}
}

func TestAcrossRouter(t *testing.T) {
	l := lab.New(t)
	sw1, sw2 := l.Switch("sw1"), l.Switch("sw2")
	a, r, b := l.Node("a"), l.Node("r"), l.Node("b")
	l.Connect(a, sw1, "eth0", "198.51.100.1/24", "2001:db8:1::1/64")
	l.Connect(r, sw1, "eth0", "198.51.100.254/24", "2001:db8:1::fe/64")
	l.Connect(r, sw2, "eth1", "203.0.113.254/24", "2001:db8:2::fe/64")
	l.Connect(b, sw2, "eth0", "203.0.113.1/24", "2001:db8:2::1/64")
	r.Router(true)
	a.AddRoute(t, "203.0.113.0/24", "198.51.100.254")
	a.AddRoute(t, "2001:db8:2::/64", "2001:db8:1::fe")
	b.AddRoute(t, "198.51.100.0/24", "203.0.113.254")
	b.AddRoute(t, "2001:db8:1::/64", "2001:db8:2::fe")

	tests := []struct {
		name     string
		fam      inet.Family
		src, dst string
		hopLimit int
		want     int
	}{
		{"IPv4", inet.IPv4, "198.51.100.1", "203.0.113.1", 0, 254},
		{"IPv6 with unicast_ttl 255", inet.IPv6, "2001:db8:1::1", "2001:db8:2::1", 255, 254},
		{"IPv6 kernel default", inet.IPv6, "2001:db8:1::1", "2001:db8:2::1", 0, 63},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca := listen(t, a, Config{Family: tc.fam, Interface: "eth0", UnicastHopLimit: tc.hopLimit})
			cb := listen(t, b, Config{Family: tc.fam, Interface: "eth0"})
			src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
			payload := []byte("across a router")
			write(t, ca, payload, src, dst)
			want := Packet{Src: src, Dst: dst, IfIndex: b.IfIndex(t, "eth0"), HopLimit: tc.want, Payload: payload}
			if p := read(t, cb); !equalPacket(p, want) {
				t.Errorf("received %+v, want %+v", p, want)
			}
		})
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24", "2001:db8::1/64")
	for _, fam := range []inet.Family{inet.IPv4, inet.IPv6} {
		t.Run(fam.String(), func(t *testing.T) {
			c := listen(t, n, Config{Family: fam, Interface: "eth0", Multicast: true})
			errc := make(chan error, 1)
			go func() {
				_, err := c.ReadPacket(make([]byte, 1500))
				errc <- err
			}()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("ReadPacket after Close: %v, want net.ErrClosed", err)
				}
			case <-time.After(readWait):
				t.Fatal("ReadPacket still blocked after Close")
			}
			if err := c.WriteTo([]byte{1}, netip.Addr{}, Group(fam)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteTo after Close: %v, want net.ErrClosed", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestReadDeadline(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24")
	c := listen(t, n, Config{Family: inet.IPv4, Interface: "eth0"})
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadPacket(make([]byte, 1500)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadPacket past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestTruncated(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	a, b := l.Node("a"), l.Node("b")
	l.Connect(a, sw, "eth0", "198.51.100.1/24")
	l.Connect(b, sw, "eth0", "198.51.100.2/24")
	ca := listen(t, a, Config{Family: inet.IPv4, Interface: "eth0"})
	cb := listen(t, b, Config{Family: inet.IPv4, Interface: "eth0"})
	src, dst := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	write(t, ca, make([]byte, 100), src, dst)
	write(t, ca, []byte("next"), src, dst)
	if err := cb.SetReadDeadline(time.Now().Add(readWait)); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.ReadPacket(make([]byte, 64)); !errors.Is(err, ErrTruncated) {
		t.Fatalf("ReadPacket with a small buffer: %v, want ErrTruncated", err)
	}
	if p := read(t, cb); string(p.Payload) != "next" {
		t.Errorf("after a truncated packet read %q, want the next one", p.Payload)
	}
}

func TestListenErrors(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24")

	tests := []struct {
		name      string
		cfg       Config
		wantField string // "" for an error that is not a ConfigError
	}{
		{"zero family", Config{Interface: "eth0"}, "Family"},
		{"unknown family", Config{Family: 5, Interface: "eth0"}, "Family"},
		{"no interface", Config{Family: inet.IPv4}, "Interface"},
		{"interface name too long", Config{Family: inet.IPv4, Interface: "abcdefghijklmnop"}, "Interface"},
		{"negative hop limit", Config{Family: inet.IPv6, Interface: "eth0", UnicastHopLimit: -1}, "UnicastHopLimit"},
		{"hop limit above 255", Config{Family: inet.IPv4, Interface: "eth0", UnicastHopLimit: 256}, "UnicastHopLimit"},
		{"missing interface", Config{Family: inet.IPv4, Interface: "nosuch0"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *Conn
			err := n.Do(func() (err error) { c, err = Listen(tc.cfg); return err })
			if err == nil {
				c.Close()
				t.Fatal("Listen succeeded")
			}
			var ce *ConfigError
			isConfig := errors.As(err, &ce)
			if tc.wantField == "" && isConfig {
				t.Errorf("error %v is a ConfigError, want a lookup error", err)
			}
			if tc.wantField != "" && (!isConfig || ce.Field != tc.wantField) {
				t.Errorf("error %v, want a ConfigError on %s", err, tc.wantField)
			}
		})
	}
}

func TestWriteToErrors(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24", "2001:db8::1/64")
	c4 := listen(t, n, Config{Family: inet.IPv4, Interface: "eth0"})
	c6 := listen(t, n, Config{Family: inet.IPv6, Interface: "eth0"})

	tests := []struct {
		name     string
		c        *Conn
		src, dst netip.Addr
		wantRole string
	}{
		{"no destination", c4, netip.MustParseAddr("198.51.100.1"), netip.Addr{}, "destination"},
		{"IPv6 destination on IPv4", c4, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::2"), "destination"},
		{"IPv4 destination on IPv6", c6, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("198.51.100.2"), "destination"},
		{"unspecified destination", c6, netip.MustParseAddr("2001:db8::1"), netip.IPv6Unspecified(), "destination"},
		{"IPv4 source on IPv6", c6, netip.MustParseAddr("198.51.100.1"), GroupIPv6, "source"},
		{"multicast source", c4, GroupIPv4, netip.MustParseAddr("198.51.100.2"), "source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.WriteTo([]byte{1, 2, 3}, tc.src, tc.dst)
			var ae *AddrError
			if !errors.As(err, &ae) || ae.Role != tc.wantRole {
				t.Errorf("WriteTo: %v, want an AddrError on the %s", err, tc.wantRole)
			}
		})
	}

	// A source the host does not own is refused by the kernel.
	if err := c4.WriteTo([]byte{1}, netip.MustParseAddr("198.51.100.77"), netip.MustParseAddr("198.51.100.2")); err == nil {
		t.Error("WriteTo from a foreign source succeeded")
	}
}

func TestPrimaryAddr(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	n := l.Node("n")
	l.Connect(n, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(n, sw, "v6only", "2001:db8::2/64")
	// A secondary in the same subnet, and a /32 VIP that is a primary of
	// its own.
	n.Run(t, "ip", "addr", "add", "198.51.100.50/24", "dev", "eth0")
	n.Run(t, "ip", "addr", "add", "203.0.113.10/32", "dev", "eth0")
	var linkLocal netip.Addr
	for _, a := range n.Addrs(t, "eth0") {
		if a.Prefix.Addr().IsLinkLocalUnicast() {
			linkLocal = a.Prefix.Addr()
		}
	}
	if !linkLocal.IsValid() {
		t.Fatal("eth0 has no link-local address")
	}
	ip := netip.MustParseAddr

	tests := []struct {
		name    string
		ifname  string
		fam     inet.Family
		exclude []netip.Addr
		want    netip.Addr
		wantErr error
	}{
		{"first IPv4 primary", "eth0", inet.IPv4, nil, ip("198.51.100.1"), nil},
		{"excluded primary skipped", "eth0", inet.IPv4, []netip.Addr{ip("198.51.100.1")}, ip("203.0.113.10"), nil},
		{"secondary when every primary is excluded", "eth0", inet.IPv4, []netip.Addr{ip("198.51.100.1"), ip("203.0.113.10")}, ip("198.51.100.50"), nil},
		{"IPv6 link-local", "eth0", inet.IPv6, nil, linkLocal, nil},
		{"IPv6 link-local excluded", "eth0", inet.IPv6, []netip.Addr{linkLocal}, netip.Addr{}, ErrNoAddress},
		{"no IPv4 address", "v6only", inet.IPv4, nil, netip.Addr{}, ErrNoAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got netip.Addr
			err := n.Do(func() (err error) { got, err = PrimaryAddr(tc.ifname, tc.fam, tc.exclude...); return err })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("PrimaryAddr: %v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("PrimaryAddr = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	for _, bad := range []struct {
		name   string
		ifname string
		fam    inet.Family
	}{
		{"missing interface", "nosuch0", inet.IPv4},
		{"bad family", "eth0", 0},
	} {
		t.Run(bad.name, func(t *testing.T) {
			err := n.Do(func() error { _, err := PrimaryAddr(bad.ifname, bad.fam); return err })
			if err == nil {
				t.Error("PrimaryAddr succeeded")
			}
		})
	}
}

// Sending and receiving an advert allocate nothing: at 100 instances the
// per-packet garbage was most of what the agent allocated, and what sets
// how often its collector runs.
func TestNoAllocsPerPacket(t *testing.T) {
	a, b := twoNodes(t)
	for _, tc := range []struct {
		fam      inet.Family
		src, dst string
	}{
		{inet.IPv4, "198.51.100.1", "198.51.100.2"},
		{inet.IPv6, "2001:db8::1", "2001:db8::2"},
	} {
		ca := listen(t, a, Config{Family: tc.fam, Interface: "eth0"})
		cb := listen(t, b, Config{Family: tc.fam, Interface: "eth0"})
		src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
		payload := []byte{0x31, 7, 100, 1, 0, 100, 0xab, 0xcd, 1, 2, 3, 4}
		buf := make([]byte, 2048)
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			if err == nil {
				err = ca.WriteTo(payload, src, dst)
			}
			if err == nil {
				_, err = cb.ReadPacket(buf)
			}
		})
		if err != nil {
			t.Fatalf("%v: %v", tc.fam, err)
		}
		if allocs != 0 {
			t.Errorf("%v: %.1f allocations per advert sent and received, want 0", tc.fam, allocs)
		}
	}
}
