package inet

import (
	"net/netip"
	"testing"
)

func TestFamilySpellings(t *testing.T) {
	for _, tc := range []struct {
		f            Family
		str, label   string
		valid, parse bool
	}{
		{IPv4, "IPv4", "ipv4", true, true},
		{IPv6, "IPv6", "ipv6", true, true},
		{0, "Family(0)", "family(0)", false, false},
		{5, "Family(5)", "family(5)", false, false},
	} {
		if got := tc.f.String(); got != tc.str {
			t.Errorf("%d.String() = %q, want %q", uint8(tc.f), got, tc.str)
		}
		if got := tc.f.Label(); got != tc.label {
			t.Errorf("%d.Label() = %q, want %q", uint8(tc.f), got, tc.label)
		}
		if got := tc.f.Valid(); got != tc.valid {
			t.Errorf("%d.Valid() = %v", uint8(tc.f), got)
		}
		got, err := ParseFamily(tc.str)
		if tc.parse && (err != nil || got != tc.f) {
			t.Errorf("ParseFamily(%q) = %v, %v; want %v", tc.str, got, err, tc.f)
		}
		if !tc.parse && err == nil {
			t.Errorf("ParseFamily(%q) = %v, want an error", tc.str, got)
		}
	}
	if _, err := ParseFamily("inet6"); err == nil || err.Error() != `"inet6" is not ipv4 or ipv6` {
		t.Errorf("ParseFamily(inet6): %v", err)
	}
}

// The configuration and the sockets disagree on purpose about IPv4-mapped
// addresses: keepalived reads "::ffff:198.51.100.1" as IPv6 (it has a
// colon), the kernel sends a packet to it as IPv4.
func TestFamilyOfAndPacketFamily(t *testing.T) {
	for _, tc := range []struct {
		addr         string
		written, pkt Family
	}{
		{"198.51.100.1", IPv4, IPv4},
		{"2001:db8::1", IPv6, IPv6},
		{"::ffff:198.51.100.1", IPv6, IPv4},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := FamilyOf(a); got != tc.written {
			t.Errorf("FamilyOf(%s) = %v, want %v", a, got, tc.written)
		}
		if got, ok := PacketFamily(a); !ok || got != tc.pkt {
			t.Errorf("PacketFamily(%s) = %v, %v; want %v", a, got, ok, tc.pkt)
		}
	}
	if f, ok := PacketFamily(netip.Addr{}); ok || f != 0 {
		t.Errorf("PacketFamily(invalid) = %v, %v", f, ok)
	}
}
