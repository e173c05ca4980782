package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/inet"
)

// These tests feed the parsers what a hostile or broken kernel could hand
// a raw socket, before any byte reaches the VRRP codec; they need no root.

const testIfIndex = 7 // the Conn's own interface

func testConn(fam inet.Family) *Conn {
	return &Conn{cfg: Config{Family: fam, Interface: "eth0"}, ifi: net.Interface{Index: testIfIndex, Name: "eth0"}}
}

// cmsg encodes one control message the way the kernel lays it out: the
// header, the data, padding to the next header's alignment.
func cmsg(level, typ int, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0])) // make's memory is aligned
	h.Level, h.Type = int32(level), int32(typ)
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func pktinfo4(ifindex uint32) []byte {
	d := make([]byte, unix.SizeofInet4Pktinfo)
	binary.NativeEndian.PutUint32(d, ifindex)
	return cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, d)
}

func pktinfo6(dst netip.Addr, ifindex uint32) []byte {
	d := make([]byte, unix.SizeofInet6Pktinfo)
	a := dst.As16()
	copy(d, a[:])
	binary.NativeEndian.PutUint32(d[16:], ifindex)
	return cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, d)
}

func hoplimit6(h int32) []byte {
	d := make([]byte, 4)
	binary.NativeEndian.PutUint32(d, uint32(h))
	return cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, d)
}

func join(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ip4 is an IPv4 header (no options unless ihl says so) before payload.
func ip4(ihlWords int, total int, ttl byte, src, dst string, payload []byte) []byte {
	h := make([]byte, ihlWords*4)
	h[0] = 0x40 | byte(ihlWords)
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	h[8], h[9] = ttl, 112
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, payload...)
}

func TestParseCmsgs(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	short := pktinfo4(3)[:unix.SizeofCmsghdr-1]
	lenZero := pktinfo4(3)
	binary.NativeEndian.PutUint32(lenZero, 0)
	if cmsgLenSize == 8 {
		binary.NativeEndian.PutUint64(lenZero, 0)
	}
	tooLong := pktinfo4(3)
	tooLong[0] = 0xff // cmsg_len past the buffer (little or big endian: the low or a high byte)
	cases := []struct {
		name    string
		oob     []byte
		ifindex int
		dst     netip.Addr
		hop     int
		err     bool
	}{
		{"nothing", nil, -1, netip.Addr{}, -1, false},
		{"IP_PKTINFO", pktinfo4(3), 3, netip.Addr{}, -1, false},
		{"IPV6_PKTINFO and IPV6_HOPLIMIT", join(pktinfo6(ll, 4), hoplimit6(255)), 4, ll, 255, false},
		{"hop limit first, last message unpadded", join(hoplimit6(64), pktinfo6(ll, 4))[:unix.CmsgSpace(4)+unix.CmsgLen(unix.SizeofInet6Pktinfo)], 4, ll, 64, false},
		{"unknown message skipped", join(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMP, make([]byte, 16)), hoplimit6(255)), -1, netip.Addr{}, 255, false},
		{"pktinfo with its data cut short is ignored", cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, make([]byte, 8)), -1, netip.Addr{}, -1, false},
		{"negative hop limit", hoplimit6(-1), -1, netip.Addr{}, -1, false},
		{"one byte", []byte{1}, -1, netip.Addr{}, -1, true},
		{"header cut short", short, -1, netip.Addr{}, -1, true},
		{"trailing bytes shorter than a header", join(hoplimit6(255), []byte{0, 0, 0}), -1, netip.Addr{}, 255, true},
		{"cmsg_len 0", lenZero, -1, netip.Addr{}, -1, true},
		{"cmsg_len past the buffer", tooLong, -1, netip.Addr{}, -1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ifindex, dst, hop, err := parseCmsgs(c.oob)
			if (err != nil) != c.err {
				t.Fatalf("err = %v, want error %v", err, c.err)
			}
			if ifindex != c.ifindex || dst != c.dst || hop != c.hop {
				t.Fatalf("got ifindex %d, dst %v, hop limit %d; want %d, %v, %d", ifindex, dst, hop, c.ifindex, c.dst, c.hop)
			}
		})
	}
}

func TestParse4(t *testing.T) {
	payload := []byte{0x31, 51, 100, 0, 0, 100, 0, 0}
	good := ip4(5, 28, 255, "198.51.100.2", "224.0.0.18", payload)
	withOptions := ip4(6, 32, 64, "198.51.100.2", "198.51.100.1", payload)
	padded := append(ip4(5, 28, 255, "198.51.100.2", "224.0.0.18", payload), 0, 0, 0, 0, 0, 0)
	version6 := ip4(5, 28, 255, "198.51.100.2", "224.0.0.18", payload)
	version6[0] = 0x65
	cases := []struct {
		name    string
		b, oob  []byte
		want    Packet
		wantErr bool
	}{
		{"multicast advert", good, pktinfo4(3), Packet{Src: netip.MustParseAddr("198.51.100.2"), Dst: GroupIPv4, IfIndex: 3, HopLimit: 255, Payload: payload}, false},
		{"options skipped, routed TTL kept", withOptions, nil, Packet{Src: netip.MustParseAddr("198.51.100.2"), Dst: netip.MustParseAddr("198.51.100.1"), IfIndex: testIfIndex, HopLimit: 64, Payload: payload}, false},
		{"Ethernet padding cut off", padded, nil, Packet{Src: netip.MustParseAddr("198.51.100.2"), Dst: GroupIPv4, IfIndex: testIfIndex, HopLimit: 255, Payload: payload}, false},
		{"bad control messages: the Conn's interface", good, []byte{1, 2, 3}, Packet{Src: netip.MustParseAddr("198.51.100.2"), Dst: GroupIPv4, IfIndex: testIfIndex, HopLimit: 255, Payload: payload}, false},
		{"empty", nil, nil, Packet{}, true},
		{"19 bytes", good[:19], nil, Packet{}, true},
		{"version 6 nibble", version6, nil, Packet{}, true},
		{"header length 4 words", ip4(4, 28, 255, "198.51.100.2", "224.0.0.18", make([]byte, 12)), nil, Packet{}, true},
		{"header length beyond the bytes read", ip4(15, 60, 255, "198.51.100.2", "224.0.0.18", nil)[:40], nil, Packet{}, true},
		{"total length below the header", ip4(5, 10, 255, "198.51.100.2", "224.0.0.18", payload), nil, Packet{}, true},
		{"total length beyond the bytes read", ip4(5, 1000, 255, "198.51.100.2", "224.0.0.18", payload), nil, Packet{}, true},
		{"unspecified source", ip4(5, 28, 255, "0.0.0.0", "224.0.0.18", payload), nil, Packet{}, true},
		{"multicast source", ip4(5, 28, 255, "224.0.0.18", "198.51.100.1", payload), nil, Packet{}, true},
	}
	c4 := testConn(inet.IPv4)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c4.parse4(c.b, c.oob)
			if c.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("parse4 = %+v, %v; want ErrMalformed", p, err)
				}
				return
			}
			if err != nil || !equalPacket(p, c.want) {
				t.Fatalf("parse4 = %+v, %v; want %+v", p, err, c.want)
			}
		})
	}
}

func TestParse6(t *testing.T) {
	payload := []byte{0x31, 51, 100, 0, 0, 100, 0, 0}
	src := netip.MustParseAddr("fe80::2")
	from := func(a netip.Addr) *unix.RawSockaddrInet6 {
		return &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	}
	cases := []struct {
		name    string
		from    *unix.RawSockaddrInet6
		oob     []byte
		want    Packet
		wantErr bool
	}{
		{"multicast advert", from(src), join(pktinfo6(GroupIPv6, 3), hoplimit6(255)), Packet{Src: src, Dst: GroupIPv6, IfIndex: 3, HopLimit: 255, Payload: payload}, false},
		{"routed unicast advert", from(netip.MustParseAddr("2001:db8::9")), join(hoplimit6(64), pktinfo6(netip.MustParseAddr("2001:db8::1"), 0)),
			Packet{Src: netip.MustParseAddr("2001:db8::9"), Dst: netip.MustParseAddr("2001:db8::1"), IfIndex: testIfIndex, HopLimit: 64, Payload: payload}, false},
		{"no hop limit: 0, which the receiver refuses", from(src), pktinfo6(GroupIPv6, 3), Packet{Src: src, Dst: GroupIPv6, IfIndex: 3, HopLimit: 0, Payload: payload}, false},
		{"negative hop limit: 0", from(src), join(pktinfo6(GroupIPv6, 3), hoplimit6(-5)), Packet{Src: src, Dst: GroupIPv6, IfIndex: 3, HopLimit: 0, Payload: payload}, false},
		{"hop limit 256", from(src), join(pktinfo6(GroupIPv6, 3), hoplimit6(256)), Packet{}, true},
		{"no destination", from(src), hoplimit6(255), Packet{}, true},
		{"no control messages", from(src), nil, Packet{}, true},
		{"source of another family", &unix.RawSockaddrInet6{Family: unix.AF_INET}, join(pktinfo6(GroupIPv6, 3), hoplimit6(255)), Packet{}, true},
		{"unspecified source", from(netip.IPv6Unspecified()), join(pktinfo6(GroupIPv6, 3), hoplimit6(255)), Packet{}, true},
		{"multicast source", from(GroupIPv6), join(pktinfo6(netip.MustParseAddr("fe80::1"), 3), hoplimit6(255)), Packet{}, true},
		{"IPv4-mapped source", from(netip.MustParseAddr("::ffff:198.51.100.2")), join(pktinfo6(GroupIPv6, 3), hoplimit6(255)), Packet{}, true},
		{"IPv4-mapped destination", from(src), join(pktinfo6(netip.MustParseAddr("::ffff:198.51.100.1"), 3), hoplimit6(255)), Packet{}, true},
		{"control messages cut short", from(src), join(pktinfo6(GroupIPv6, 3), hoplimit6(255))[:unix.CmsgSpace(unix.SizeofInet6Pktinfo)+5], Packet{}, true},
		{"cmsg_len past the buffer", from(src), func() []byte { b := pktinfo6(GroupIPv6, 3); b[0] = 0xff; return b }(), Packet{}, true},
	}
	c6 := testConn(inet.IPv6)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c6.parse6(payload, c.oob, c.from)
			if c.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("parse6 = %+v, %v; want ErrMalformed", p, err)
				}
				return
			}
			if err != nil || !equalPacket(p, c.want) {
				t.Fatalf("parse6 = %+v, %v; want %+v", p, err, c.want)
			}
		})
	}
}

// refCmsgs walks control messages with x/sys's parser, over a copy with a
// header's worth of zero bytes behind it, so that its unchecked read of a
// short header stays inside the allocation: the oracle for parseCmsgs.
func refCmsgs(oob []byte) (ifindex int, dst6 netip.Addr, hopLimit int, ok bool) {
	ifindex, hopLimit = -1, -1
	buf := make([]byte, len(oob), len(oob)+unix.SizeofCmsghdr)
	copy(buf, oob)
	for len(buf) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(buf)
		if err != nil {
			return ifindex, dst6, hopLimit, false
		}
		buf = rest
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			ifindex = int(binary.NativeEndian.Uint32(data[0:4]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			dst6 = netip.AddrFrom16([16]byte(data[0:16]))
			ifindex = int(binary.NativeEndian.Uint32(data[16:20]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			hopLimit = int(int32(binary.NativeEndian.Uint32(data[0:4])))
		}
	}
	return ifindex, dst6, hopLimit, true
}

// FuzzParse feeds parse4, parse6 and parseCmsgs arbitrary packet and
// control message bytes: none may panic; parseCmsgs must agree with x/sys's
// parser wherever that one reads within bounds; a packet that parses has
// valid addresses of the Conn's family, a non-multicast source, a hop
// limit in 0..255 and a payload inside the bytes read.
func FuzzParse(f *testing.F) {
	payload := []byte{0x31, 51, 100, 0, 0, 100, 0, 0}
	ll := netip.MustParseAddr("fe80::2").As16()
	f.Add(ip4(5, 28, 255, "198.51.100.2", "224.0.0.18", payload), pktinfo4(3), false, ll[:])
	f.Add(ip4(6, 32, 64, "198.51.100.2", "198.51.100.1", payload), []byte{}, false, ll[:])
	f.Add(payload, join(pktinfo6(GroupIPv6, 3), hoplimit6(255)), true, ll[:])
	f.Add(payload, join(hoplimit6(64), pktinfo6(netip.MustParseAddr("2001:db8::1"), 0))[:unix.CmsgSpace(4)+unix.CmsgLen(unix.SizeofInet6Pktinfo)], true, ll[:])
	f.Add([]byte{0x45}, []byte{0xff, 0, 0, 0}, true, []byte{})
	f.Fuzz(func(t *testing.T, b, oob []byte, v6 bool, from []byte) {
		ifindex, dst, hop, err := parseCmsgs(oob)
		rIf, rDst, rHop, rOK := refCmsgs(oob)
		if (err == nil) != rOK || ifindex != rIf || dst != rDst || hop != rHop {
			t.Fatalf("parseCmsgs(%x) = %d, %v, %d, %v; x/sys: %d, %v, %d, ok %v", oob, ifindex, dst, hop, err, rIf, rDst, rHop, rOK)
		}

		var p Packet
		if v6 {
			sa := &unix.RawSockaddrInet6{}
			if len(from) >= 16 {
				sa.Family = unix.AF_INET6
				sa.Addr = [16]byte(from[:16])
			}
			p, err = testConn(inet.IPv6).parse6(b, oob, sa)
		} else {
			p, err = testConn(inet.IPv4).parse4(b, oob)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		fam := inet.IPv4
		if v6 {
			fam = inet.IPv6
		}
		if f, ok := inet.PacketFamily(p.Src); !ok || f != fam || !routerSource(p.Src) {
			t.Fatalf("source %v", p.Src)
		}
		if f, ok := inet.PacketFamily(p.Dst); !ok || f != fam {
			t.Fatalf("destination %v", p.Dst)
		}
		if p.HopLimit < 0 || p.HopLimit > 255 {
			t.Fatalf("hop limit %d", p.HopLimit)
		}
		if p.IfIndex == 0 {
			t.Fatal("no interface")
		}
		if len(p.Payload) == 0 {
			return
		}
		if k := indexIn(b, p.Payload); k < 0 || k+len(p.Payload) > len(b) {
			t.Fatalf("payload of %d bytes is not inside the %d bytes read", len(p.Payload), len(b))
		}
	})
}

// indexIn returns where sub starts inside b, which it must alias, or -1.
func indexIn(b, sub []byte) int {
	for k := range b {
		if &b[k] == &sub[0] {
			return k
		}
	}
	return -1
}
