package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	src4  = netip.MustParseAddr("198.51.100.1")
	dst4  = netip.MustParseAddr("198.51.100.2")
	src6  = netip.MustParseAddr("2001:db8::1")
	dst6  = netip.MustParseAddr("2001:db8::2")
	vip4a = netip.MustParseAddr("203.0.113.10")
	vip4b = netip.MustParseAddr("203.0.113.11")
	vip6a = netip.MustParseAddr("2001:db8:1::10")
	vip6b = netip.MustParseAddr("fe80::1")
)

func v2Advert() Advert {
	return Advert{Version: 2, VRID: 7, Priority: 100, Interval: 3 * time.Second,
		AuthType: AuthPass, AuthData: PassAuthData("pw"), Addrs: []netip.Addr{vip4a, vip4b}}
}

func v3Advert(addrs ...netip.Addr) Advert {
	return Advert{Version: 3, VRID: 9, Priority: 200, Interval: 250 * time.Millisecond, Addrs: addrs}
}

func mustMarshal(t *testing.T, a Advert, src, dst netip.Addr) []byte {
	t.Helper()
	b, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatalf("Marshal(%+v): %v", a, err)
	}
	return b
}

// refChecksumOK verifies a message the long way, independently of
// checksum(): the ones'-complement sum of pseudo-header and message,
// checksum field included, must be all ones.
func refChecksumOK(version uint8, src, dst netip.Addr, m []byte) bool {
	var buf []byte
	if version == 3 {
		buf = append(buf, src.AsSlice()...)
		buf = append(buf, dst.AsSlice()...)
		if src.Is4() {
			buf = append(buf, 0, ProtocolNumber)
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(m)))
		} else {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(m)))
			buf = append(buf, 0, 0, 0, ProtocolNumber)
		}
	}
	buf = append(buf, m...)
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var s uint64
	for i := 0; i < len(buf); i += 2 {
		s += uint64(buf[i])<<8 | uint64(buf[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return s == 0xffff
}

// fixChecksum rewrites the checksum of a hand-modified message so that the
// modification, not the checksum, is what the decoder sees.
func fixChecksum(version uint8, src, dst netip.Addr, m []byte) {
	binary.BigEndian.PutUint16(m[6:], checksum(version, src, dst, m))
}

func TestUnmarshalMalformed(t *testing.T) {
	type tc struct {
		name     string
		msg      func(t *testing.T) []byte
		src, dst netip.Addr
		want     DropReason
		detail   string // substring the error must contain, if set
	}
	// edit returns a marshaled copy of a changed by f, with the checksum
	// recomputed when fix is set.
	edit := func(a Advert, src, dst netip.Addr, fix bool, f func(m []byte) []byte) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			m := f(mustMarshal(t, a, src, dst))
			if fix && len(m) >= HeaderLen {
				fixChecksum(m[0]>>4, src, dst, m)
			}
			return m
		}
	}
	same := func(m []byte) []byte { return m }
	raw := func(b ...byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }
	setByte := func(i int, v byte) func([]byte) []byte { return func(m []byte) []byte { m[i] = v; return m } }
	v2, v3, v36 := v2Advert(), v3Advert(vip4a), v3Advert(vip6a, vip6b)

	cases := []tc{
		{name: "empty", msg: raw(), src: src4, dst: dst4, want: DropShort},
		{name: "seven bytes", msg: raw(0x31, 1, 100, 0, 0, 100, 0), src: src4, dst: dst4, want: DropShort},
		{name: "version 0", msg: edit(v3, src4, dst4, true, setByte(0, 0x01)), src: src4, dst: dst4, want: DropBadVersion},
		{name: "version 1", msg: edit(v2, src4, dst4, true, setByte(0, 0x11)), src: src4, dst: dst4, want: DropBadVersion},
		{name: "version 4", msg: edit(v3, src4, dst4, true, setByte(0, 0x41)), src: src4, dst: dst4, want: DropBadVersion},
		{name: "type 0", msg: edit(v3, src4, dst4, true, setByte(0, 0x30)), src: src4, dst: dst4, want: DropBadType},
		{name: "type 2", msg: edit(v2, src4, dst4, true, setByte(0, 0x22)), src: src4, dst: dst4, want: DropBadType},
		{name: "v2 over IPv6", msg: raw(0x21, 1, 100, 0, 0, 1, 0xde, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0), src: src6, dst: dst6, want: DropBadFamily, detail: "version 2"},
		{name: "src IPv4 dst IPv6", msg: edit(v3, src4, dst4, false, same), src: src4, dst: dst6, want: DropBadFamily},
		{name: "src zero addr", msg: edit(v3, src4, dst4, false, same), src: netip.Addr{}, dst: dst4, want: DropBadFamily},
		{name: "IPv4 payload with IPv6 header", msg: edit(v3, src4, dst4, false, same), src: src6, dst: dst6, want: DropBadLength},
		{name: "count 2, one address", msg: edit(v3, src4, dst4, true, setByte(3, 2)), src: src4, dst: dst4, want: DropBadLength, detail: "too short"},
		{name: "count 0, one address", msg: edit(v3, src4, dst4, true, setByte(3, 0)), src: src4, dst: dst4, want: DropBadLength, detail: "too long"},
		{name: "trailing byte", msg: edit(v3, src4, dst4, false, func(m []byte) []byte { return append(m, 0) }), src: src4, dst: dst4, want: DropBadLength, detail: "too long"},
		{name: "trailing word v6", msg: edit(v36, src6, dst6, false, func(m []byte) []byte { return append(m, 0, 0) }), src: src6, dst: dst6, want: DropBadLength},
		{name: "v2 without auth data", msg: edit(v2, src4, dst4, false, func(m []byte) []byte { return m[:len(m)-AuthDataLen] }), src: src4, dst: dst4, want: DropBadLength},
		{name: "v6 address cut short", msg: edit(v36, src6, dst6, false, func(m []byte) []byte { return m[:len(m)-12] }), src: src6, dst: dst6, want: DropBadLength},
		{name: "v2 address bit flipped", msg: edit(v2, src4, dst4, false, func(m []byte) []byte { m[9] ^= 0x10; return m }), src: src4, dst: dst4, want: DropBadChecksum},
		{name: "v2 password changed", msg: edit(v2, src4, dst4, false, func(m []byte) []byte { m[len(m)-1] = 'x'; return m }), src: src4, dst: dst4, want: DropBadChecksum},
		{name: "v3 priority changed", msg: edit(v3, src4, dst4, false, setByte(2, 201)), src: src4, dst: dst4, want: DropBadChecksum},
		{name: "v3 checksum zeroed (kernel left it to us)", msg: edit(v36, src6, dst6, false, func(m []byte) []byte { m[6], m[7] = 0, 0; return m }), src: src6, dst: dst6, want: DropBadChecksum},
		{name: "v3 IPv4 checked against other dst", msg: edit(v3, src4, MulticastIPv4, false, same), src: src4, dst: dst4, want: DropBadChecksum},
		{name: "v3 IPv6 checked against other src", msg: edit(v36, src6, dst6, false, same), src: vip6b, dst: dst6, want: DropBadChecksum},
		{name: "v3 IPv4 summed without pseudo-header", msg: edit(v3, src4, dst4, false, func(m []byte) []byte {
			binary.BigEndian.PutUint16(m[6:], checksum(2, src4, dst4, m))
			return m
		}), src: src4, dst: dst4, want: DropBadChecksum},
		{name: "vrid 0", msg: edit(v3, src4, dst4, true, setByte(1, 0)), src: src4, dst: dst4, want: DropBadVRID},
		{name: "v2 auth AH", msg: edit(v2, src4, dst4, true, setByte(4, 2)), src: src4, dst: dst4, want: DropUnsupportedAuth, detail: "authentication type AH is not supported"},
		{name: "v2 auth type 3", msg: edit(v2, src4, dst4, true, setByte(4, 3)), src: src4, dst: dst4, want: DropUnsupportedAuth, detail: "unknown authentication type 3"},
		{name: "v2 auth type 255", msg: edit(v2, src4, dst4, true, setByte(4, 255)), src: src4, dst: dst4, want: DropUnsupportedAuth},
		{name: "v2 interval 0", msg: edit(v2, src4, dst4, true, setByte(5, 0)), src: src4, dst: dst4, want: DropBadInterval},
		{name: "v3 interval 0", msg: edit(v3, src4, dst4, true, func(m []byte) []byte { m[4], m[5] = 0, 0; return m }), src: src4, dst: dst4, want: DropBadInterval},
		{name: "v3 interval only reserved bits", msg: edit(v36, src6, dst6, true, func(m []byte) []byte { m[4], m[5] = 0xf0, 0; return m }), src: src6, dst: dst6, want: DropBadInterval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.msg(t)
			orig := slices.Clone(m)
			a, err := Unmarshal(m, c.src, c.dst)
			if err == nil {
				t.Fatalf("decoded %+v, want drop %v", a, c.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if de.Reason != c.want {
				t.Errorf("reason %v (%v), want %v", de.Reason, err, c.want)
			}
			if !strings.Contains(err.Error(), c.want.String()) || !strings.Contains(err.Error(), c.detail) {
				t.Errorf("error %q should name %q and contain %q", err, c.want, c.detail)
			}
			if !slices.Equal(m, orig) {
				t.Error("Unmarshal modified its input")
			}
		})
	}
}

// TestUnmarshalTolerant covers what keepalived sends or accepts although
// the strict encoder would not produce it.
func TestUnmarshalTolerant(t *testing.T) {
	t.Run("v3 reserved bits ignored", func(t *testing.T) {
		m := mustMarshal(t, v3Advert(vip4a), src4, dst4)
		m[4] |= 0xf0
		fixChecksum(3, src4, dst4, m)
		a, err := Unmarshal(m, src4, dst4)
		if err != nil {
			t.Fatal(err)
		}
		if a.Interval != 250*time.Millisecond {
			t.Errorf("interval %v, want 250ms", a.Interval)
		}
	})
	t.Run("v2 auth none ignores auth data", func(t *testing.T) {
		in := Advert{Version: 2, VRID: 1, Priority: 1, Interval: time.Second, Addrs: []netip.Addr{vip4a}}
		m := mustMarshal(t, in, src4, dst4)
		copy(m[len(m)-AuthDataLen:], "garbage!")
		fixChecksum(2, src4, dst4, m)
		a, err := Unmarshal(m, src4, dst4)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Equal(&in) {
			t.Errorf("decoded %+v, want %+v", a, in)
		}
	})
	t.Run("checksum 0xffff for a computed 0x0000", func(t *testing.T) {
		// Search the priority and vrid space for a message whose
		// checksum computes to zero, then send the other zero.
		for vrid := 1; vrid < 256; vrid++ {
			for prio := range 256 {
				a := v3Advert(vip4a)
				a.VRID, a.Priority = uint8(vrid), uint8(prio)
				m := mustMarshal(t, a, src4, dst4)
				if binary.BigEndian.Uint16(m[6:]) != 0 {
					continue
				}
				m[6], m[7] = 0xff, 0xff
				if !refChecksumOK(3, src4, dst4, m) {
					t.Fatal("0xffff should verify by the reference sum")
				}
				got, err := Unmarshal(m, src4, dst4)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(&a) {
					t.Errorf("decoded %+v, want %+v", got, a)
				}
				return
			}
		}
		t.Fatal("no message with checksum 0 found")
	})
	t.Run("IPv4-mapped IPv6 header addresses", func(t *testing.T) {
		in := v3Advert(vip4a)
		m := mustMarshal(t, in, src4, dst4)
		mapped := func(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }
		a, err := Unmarshal(m, mapped(src4), mapped(dst4))
		if err != nil {
			t.Fatal(err)
		}
		if !a.Equal(&in) {
			t.Errorf("decoded %+v, want %+v", a, in)
		}
		m2, err := in.Marshal(mapped(src4), mapped(dst4))
		if err != nil || !slices.Equal(m, m2) {
			t.Errorf("Marshal with mapped addresses = % x, %v; want % x", m2, err, m)
		}
	})
	t.Run("old_unicast_checksum peer via multicast dst", func(t *testing.T) {
		in := v3Advert(vip4a)
		m := mustMarshal(t, in, src4, MulticastIPv4)
		if _, err := Unmarshal(m, src4, dst4); err == nil {
			t.Fatal("strict decode should refuse the old checksum")
		}
		if _, err := Unmarshal(m, src4, MulticastIPv4); err != nil {
			t.Errorf("decode with the multicast pseudo-header: %v", err)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	many := func(is6 bool, n int) []netip.Addr {
		out := make([]netip.Addr, n)
		for i := range out {
			if is6 {
				out[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
			} else {
				out[i] = netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
			}
		}
		return out
	}
	type tc struct {
		name     string
		a        Advert
		src, dst netip.Addr
	}
	var cases []tc
	for _, n := range []int{0, 1, 2, 17, MaxAddrs} {
		for _, fam := range []struct {
			name     string
			is6      bool
			src, dst netip.Addr
		}{{"ipv4 unicast", false, src4, dst4}, {"ipv4 multicast", false, src4, MulticastIPv4}, {"ipv6 unicast", true, src6, dst6}, {"ipv6 multicast", true, vip6b, MulticastIPv6}} {
			cases = append(cases, tc{
				name: fmt.Sprintf("v3 %s %d addrs", fam.name, n),
				a:    Advert{Version: 3, VRID: 255, Priority: 255, Interval: MaxIntervalV3, Addrs: many(fam.is6, n)},
				src:  fam.src, dst: fam.dst,
			})
			if fam.is6 {
				continue
			}
			cases = append(cases,
				tc{name: fmt.Sprintf("v2 pass %s %d addrs", fam.name, n),
					a:   Advert{Version: 2, VRID: 1, Priority: 0, Interval: MaxIntervalV2, AuthType: AuthPass, AuthData: PassAuthData("12345678"), Addrs: many(false, n)},
					src: fam.src, dst: fam.dst},
				tc{name: fmt.Sprintf("v2 none %s %d addrs", fam.name, n),
					a:   Advert{Version: 2, VRID: 200, Priority: 1, Interval: MinIntervalV2, Addrs: many(false, n)},
					src: fam.src, dst: fam.dst},
			)
		}
	}
	cases = append(cases, tc{name: "v3 minimum interval", a: Advert{Version: 3, VRID: 3, Priority: 100, Interval: MinIntervalV3}, src: src4, dst: dst4})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mustMarshal(t, c.a, c.src, c.dst)
			wantLen := HeaderLen + len(c.a.Addrs)*4
			if c.src.Is6() {
				wantLen = HeaderLen + len(c.a.Addrs)*16
			}
			if c.a.Version == 2 {
				wantLen += AuthDataLen
			}
			if len(m) != wantLen {
				t.Errorf("message is %d bytes, want %d", len(m), wantLen)
			}
			if !refChecksumOK(c.a.Version, c.src, c.dst, m) {
				t.Errorf("checksum 0x%04x does not verify by the reference sum", binary.BigEndian.Uint16(m[6:]))
			}
			got, err := Unmarshal(m, c.src, c.dst)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !got.Equal(&c.a) {
				t.Errorf("round trip gave\n %+v\nwant\n %+v", got, c.a)
			}
			// Any single flipped bit must be refused (a ones'-complement
			// sum always notices one); in the address list and auth data
			// it can only be the checksum that notices.
			for i := range len(m) * 8 {
				bad := slices.Clone(m)
				bad[i/8] ^= 1 << (i % 8)
				_, err := Unmarshal(bad, c.src, c.dst)
				r, ok := ReasonOf(err)
				switch {
				case !ok:
					t.Fatalf("bit %d flipped: err %v, want a *DecodeError", i, err)
				case i/8 >= HeaderLen && r != DropBadChecksum:
					t.Fatalf("bit %d flipped: reason %v, want bad_checksum", i, r)
				}
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	tooMany := make([]netip.Addr, MaxAddrs+1)
	for i := range tooMany {
		tooMany[i] = vip4a
	}
	with := func(a Advert, f func(*Advert)) Advert { f(&a); return a }
	v2, v3 := v2Advert(), v3Advert(vip4a)
	cases := []struct {
		name      string
		a         Advert
		src, dst  netip.Addr
		field     string
		detailHas string
	}{
		{"version 0", with(v3, func(a *Advert) { a.Version = 0 }), src4, dst4, "Version", ""},
		{"version 4", with(v3, func(a *Advert) { a.Version = 4 }), src4, dst4, "Version", ""},
		{"vrid 0", with(v3, func(a *Advert) { a.VRID = 0 }), src4, dst4, "VRID", ""},
		{"v2 over IPv6", with(v2, func(a *Advert) { a.Addrs = []netip.Addr{vip6a} }), src6, dst6, "Version", "IPv6"},
		{"v2 fractional seconds", with(v2, func(a *Advert) { a.Interval = 1500 * time.Millisecond }), src4, dst4, "Interval", ""},
		{"v2 zero interval", with(v2, func(a *Advert) { a.Interval = 0 }), src4, dst4, "Interval", ""},
		{"v2 256 s", with(v2, func(a *Advert) { a.Interval = 256 * time.Second }), src4, dst4, "Interval", ""},
		{"v3 5 ms", with(v3, func(a *Advert) { a.Interval = 5 * time.Millisecond }), src4, dst4, "Interval", ""},
		{"v3 15 ms", with(v3, func(a *Advert) { a.Interval = 15 * time.Millisecond }), src4, dst4, "Interval", ""},
		{"v3 41 s", with(v3, func(a *Advert) { a.Interval = 41 * time.Second }), src4, dst4, "Interval", ""},
		{"v3 negative", with(v3, func(a *Advert) { a.Interval = -time.Second }), src4, dst4, "Interval", ""},
		{"v3 with PASS", with(v3, func(a *Advert) { a.AuthType = AuthPass; a.AuthData = PassAuthData("x") }), src4, dst4, "AuthType", "no authentication"},
		{"v2 AH", with(v2, func(a *Advert) { a.AuthType = AuthAH }), src4, dst4, "AuthType", "authentication type AH is not supported"},
		{"v2 auth type 9", with(v2, func(a *Advert) { a.AuthType = 9 }), src4, dst4, "AuthType", "auth_type(9)"},
		{"v2 none with auth data", with(v2, func(a *Advert) { a.AuthType = AuthNone }), src4, dst4, "AuthData", ""},
		{"v3 IPv6 addr over IPv4", v3Advert(vip4a, vip6a), src4, dst4, "Addrs", "address 1"},
		{"v3 IPv4 addr over IPv6", v3Advert(vip6a, vip4a), src6, dst6, "Addrs", "address 1"},
		{"zero address", v3Advert(vip4a, netip.Addr{}), src4, dst4, "Addrs", "zero"},
		{"256 addresses", v3Advert(tooMany...), src4, dst4, "Addrs", "256"},
		{"src and dst families differ", v3, src4, dst6, "src/dst", ""},
		{"zero src", v3, netip.Addr{}, dst4, "src/dst", ""},
		{"zero dst", v3, src4, netip.Addr{}, "src/dst", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := []byte{0xaa, 0xbb}
			b, err := c.a.AppendMarshal(prefix, c.src, c.dst)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v (%T), want *EncodeError", err, err)
			}
			if ee.Field != c.field || !strings.Contains(ee.Detail, c.detailHas) {
				t.Errorf("error %q: field %q, want %q containing %q", err, ee.Field, c.field, c.detailHas)
			}
			if !slices.Equal(b, prefix) {
				t.Errorf("AppendMarshal returned % x on error, want the input back", b)
			}
		})
	}
}

func TestAppendMarshalAppends(t *testing.T) {
	a := v3Advert(vip6a)
	want := mustMarshal(t, a, src6, dst6)
	prefix := []byte("prefix")
	b, err := a.AppendMarshal(slices.Clone(prefix), src6, dst6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b[:len(prefix)], prefix) || !slices.Equal(b[len(prefix):], want) {
		t.Errorf("got % x, want prefix then % x", b, want)
	}
}

func TestNoAllocs(t *testing.T) {
	a := v3Advert(vip4a, vip4b)
	buf := make([]byte, 0, MaxLen)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := a.AppendMarshal(buf[:0], src4, dst4); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendMarshal with room: %v allocs, want 0", n)
	}
	m := mustMarshal(t, a, src4, dst4)
	var into Advert
	if n := testing.AllocsPerRun(100, func() {
		if err := UnmarshalInto(&into, m, src4, dst4); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("UnmarshalInto reusing Addrs: %v allocs, want 0", n)
	}
	if !into.Equal(&a) {
		t.Errorf("UnmarshalInto gave %+v, want %+v", into, a)
	}
}

func TestUnmarshalIntoLeavesTargetOnError(t *testing.T) {
	a := v2Advert()
	before := v2Advert()
	m := mustMarshal(t, v3Advert(vip4a), src4, dst4)
	m[2]++ // break the checksum
	if err := UnmarshalInto(&a, m, src4, dst4); err == nil {
		t.Fatal("want an error")
	}
	if !a.Equal(&before) {
		t.Errorf("target changed to %+v", a)
	}
}

func TestDropReasonString(t *testing.T) {
	// The label values other packages and dashboards rely on.
	want := map[DropReason]string{
		DropShort: "short", DropBadVersion: "bad_version", DropBadType: "bad_type",
		DropBadChecksum: "bad_checksum", DropBadLength: "bad_length", DropBadFamily: "bad_family",
		DropUnsupportedAuth: "unsupported_auth", DropBadVRID: "bad_vrid", DropBadInterval: "bad_interval",
		DropUnknownVRID: "unknown_vrid", DropAuthMismatch: "auth_mismatch", DropIntervalMismatch: "interval_mismatch",
		DropNotAPeer: "not_a_peer", DropOwnPacket: "own_packet", DropBadTTL: "bad_ttl",
		DropQueueFull: "queue_full",
	}
	if len(AllDropReasons) != len(want) {
		t.Errorf("AllDropReasons has %d entries, want %d", len(AllDropReasons), len(want))
	}
	label := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for _, r := range AllDropReasons {
		s := r.String()
		if s != want[r] {
			t.Errorf("DropReason(%d).String() = %q, want %q", r, s, want[r])
		}
		if !label.MatchString(s) || seen[s] {
			t.Errorf("%q is not a unique snake_case label", s)
		}
		seen[s] = true
	}
	for _, r := range []DropReason{0, DropQueueFull + 1, 255} {
		if s := r.String(); s != "unknown" {
			t.Errorf("DropReason(%d).String() = %q, want unknown", r, s)
		}
	}
}

func TestReasonOf(t *testing.T) {
	_, err := Unmarshal(nil, src4, dst4)
	wrapped := fmt.Errorf("reading socket: %w", err)
	for name, e := range map[string]error{"direct": err, "wrapped": wrapped} {
		if r, ok := ReasonOf(e); !ok || r != DropShort {
			t.Errorf("%s: ReasonOf = %v, %v; want short, true", name, r, ok)
		}
	}
	if r, ok := ReasonOf(errors.New("other")); ok {
		t.Errorf("ReasonOf(plain error) = %v, true", r)
	}
	if _, ok := ReasonOf(nil); ok {
		t.Error("ReasonOf(nil) = true")
	}
}

func TestPassAuthData(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     [AuthDataLen]byte
	}{
		{"empty", "", [8]byte{}},
		{"short padded", "s3cret", [8]byte{'s', '3', 'c', 'r', 'e', 't', 0, 0}},
		{"exactly eight", "12345678", [8]byte{'1', '2', '3', '4', '5', '6', '7', '8'}},
		{"long truncated", "longpassword", [8]byte{'l', 'o', 'n', 'g', 'p', 'a', 's', 's'}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := PassAuthData(c.in); got != c.want {
				t.Errorf("PassAuthData(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestAuthTypeString(t *testing.T) {
	for typ, want := range map[AuthType]string{AuthNone: "none", AuthPass: "pass", AuthAH: "ah", 7: "auth_type(7)"} {
		if got := typ.String(); got != want {
			t.Errorf("AuthType(%d).String() = %q, want %q", typ, got, want)
		}
	}
}

func TestCheckInterval(t *testing.T) {
	for _, c := range []struct {
		version uint8
		d       time.Duration
		ok      bool
	}{
		{2, time.Second, true}, {2, 255 * time.Second, true}, {2, 0, false},
		{2, 500 * time.Millisecond, false}, {2, 256 * time.Second, false},
		{3, 10 * time.Millisecond, true}, {3, 40950 * time.Millisecond, true},
		{3, 0, false}, {3, 40960 * time.Millisecond, false}, {3, 25 * time.Millisecond, false},
		{1, time.Second, false},
	} {
		t.Run(fmt.Sprintf("v%d %v", c.version, c.d), func(t *testing.T) {
			if err := CheckInterval(c.version, c.d); (err == nil) != c.ok {
				t.Errorf("CheckInterval = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestMappedVIPs(t *testing.T) {
	mapped := netip.AddrFrom16(vip4a.As16()) // ::ffff:203.0.113.10
	t.Run("IPv6 advert keeps them IPv6", func(t *testing.T) {
		a := v3Advert(vip6a, mapped)
		got, err := Unmarshal(mustMarshal(t, a, src6, dst6), src6, dst6)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(&a) {
			t.Errorf("decoded %+v, want %+v", got, a)
		}
	})
	t.Run("IPv4 advert sends them as IPv4", func(t *testing.T) {
		m := mustMarshal(t, v3Advert(mapped), src4, dst4)
		if want := mustMarshal(t, v3Advert(vip4a), src4, dst4); !slices.Equal(m, want) {
			t.Errorf("got % x, want % x", m, want)
		}
	})
}
