// Package inet holds the address family, the one notion of "IPv4 or IPv6"
// that the configuration, the VRRP sockets, gossip and the metrics share.
// It imports nothing of vipd, so every package can use it without a cycle;
// the API's AddressFamily stays at the protobuf edge (server/convert.go).
package inet

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Family is an address family. Its value is the IP version number, which
// is also how gossip carries it on the wire (one byte, 4 or 6).
type Family uint8

// The families. The zero Family is invalid, so that a forgotten field is an
// error rather than a silent IPv4.
const (
	// IPv4 instances advertise over IPv4 (protocol 112 to 224.0.0.18 or unicast).
	IPv4 Family = 4
	// IPv6 instances advertise over IPv6 (to ff02::12 or unicast).
	IPv6 Family = 6
)

// Valid reports whether f is IPv4 or IPv6.
func (f Family) Valid() bool { return f == IPv4 || f == IPv6 }

// String returns "IPv4" or "IPv6", as messages and tables spell them.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// Label returns "ipv4" or "ipv6": the spelling of the YAML configuration
// and of the metrics' family label.
func (f Family) Label() string { return strings.ToLower(f.String()) }

// ParseFamily reads "ipv4" or "ipv6" in any case (the inverse of Label).
func ParseFamily(s string) (Family, error) {
	switch strings.ToLower(s) {
	case "ipv4":
		return IPv4, nil
	case "ipv6":
		return IPv6, nil
	}
	return 0, fmt.Errorf("%q is not ipv4 or ipv6", s)
}

// FamilyOf returns the family a is written in: an IPv4-mapped IPv6 address
// is IPv6, as keepalived decides by the presence of a colon. The
// configuration uses it; packets use PacketFamily.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// PacketFamily returns the family a packet from or to a travels in: an
// IPv4-mapped IPv6 address is IPv4 (the kernel sends it so); ok is false
// for the invalid Addr.
func PacketFamily(a netip.Addr) (f Family, ok bool) {
	switch {
	case !a.IsValid():
		return 0, false
	case a.Unmap().Is4():
		return IPv4, true
	}
	return IPv6, true
}
