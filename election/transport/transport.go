package transport

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vipd/vipd/inet"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// DefaultHopLimit is the TTL/hop limit of every multicast advert and of IPv4
// unicast ones unless configured otherwise; RFC 3768 and RFC 5798 require
// receivers to drop multicast adverts arriving with anything else.
const DefaultHopLimit = 255

// tosNetworkControl is the IPv4 TOS / IPv6 traffic class keepalived gives
// VRRP (precedence 6, DSCP CS6).
const tosNetworkControl = 0xc0

// The VRRP multicast groups (RFC 3768 §5.2.2, RFC 5798 §5.1.2.2).
var (
	GroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupIPv6 = netip.MustParseAddr("ff02::12")
)

// Group returns the VRRP multicast group of f, or the invalid Addr for
// an invalid family.
func Group(f inet.Family) netip.Addr {
	switch f {
	case inet.IPv4:
		return GroupIPv4
	case inet.IPv6:
		return GroupIPv6
	}
	return netip.Addr{}
}

// Config says which socket Listen opens.
type Config struct {
	// Family is IPv4 or IPv6.
	Family inet.Family
	// Interface is the name of the instance's interface. The socket is
	// bound to it (SO_BINDTODEVICE): it receives only what arrives there
	// and sends only out of it.
	Interface string
	// Multicast joins the family's VRRP group on Interface. Without it the
	// socket receives unicast adverts only.
	Multicast bool
	// UnicastHopLimit, when not 0, is the TTL/hop limit (1..255) of
	// unicast adverts, as keepalived's unicast_ttl. 0 keeps keepalived's
	// default: 255 for IPv4, the kernel's default (normally 64) for IPv6.
	// Multicast adverts always leave with 255.
	UnicastHopLimit int
}

// Validate checks the fields that need no system call.
func (c Config) Validate() error {
	if !c.Family.Valid() {
		return &ConfigError{Field: "Family", Reason: fmt.Sprintf("%v is neither IPv4 nor IPv6", c.Family.Label())}
	}
	if c.Interface == "" {
		return &ConfigError{Field: "Interface", Reason: "empty"}
	}
	// IFNAMSIZ is 16 including the terminating NUL.
	if len(c.Interface) > 15 {
		return &ConfigError{Field: "Interface", Reason: fmt.Sprintf("%q is longer than 15 bytes", c.Interface)}
	}
	if c.UnicastHopLimit < 0 || c.UnicastHopLimit > 255 {
		return &ConfigError{Field: "UnicastHopLimit", Reason: fmt.Sprintf("%d is outside 0..255", c.UnicastHopLimit)}
	}
	return nil
}

// Packet is one received VRRP message with what the IP header said.
type Packet struct {
	// Src and Dst are the IP header's addresses; Dst is the group for a
	// multicast advert. IPv6 link-local addresses carry no zone.
	Src, Dst netip.Addr
	// IfIndex is the index of the interface the packet arrived on.
	IfIndex int
	// HopLimit is the received IPv4 TTL or IPv6 hop limit: 255 for a
	// valid multicast advert; unicast adverts may arrive lower.
	HopLimit int
	// Payload is the VRRP message, IP header stripped. It aliases the
	// buffer given to ReadPacket.
	Payload []byte
}

// Multicast reports whether the packet was sent to a multicast group.
func (p Packet) Multicast() bool { return p.Dst.IsMulticast() }

// ConfigError reports a Config that Listen cannot use.
type ConfigError struct {
	Field  string // the Config field at fault
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return "transport: config " + e.Field + ": " + e.Reason
}

// AddrError reports an address WriteTo cannot send from or to.
type AddrError struct {
	Addr   netip.Addr // the address refused
	Role   string     // "source" or "destination"
	Reason string     // why
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("transport: %s address %v: %s", e.Role, e.Addr, e.Reason)
}

// Errors returned by ReadPacket and PrimaryAddr; test with errors.Is.
var (
	// ErrTruncated means the packet did not fit the buffer given to
	// ReadPacket; it has been consumed. Read on with a larger buffer.
	ErrTruncated = errors.New("transport: packet larger than the read buffer")
	// ErrMalformed means the kernel handed over a packet whose IPv4
	// header or control messages do not parse, or whose source no router
	// could send from; it has been consumed.
	ErrMalformed = errors.New("transport: malformed IP header")
	// ErrNoAddress means the interface has no address PrimaryAddr may use.
	ErrNoAddress = errors.New("transport: no usable address on the interface")
)
