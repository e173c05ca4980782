package vrrp

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// ProtocolNumber is the IP protocol number of VRRP (RFC 3768 §5.2.4).
const ProtocolNumber = 112

// Multicast groups adverts are sent to when no unicast peers are configured
// (RFC 5798 §5.1.1.2 and §5.1.2.2).
var (
	MulticastIPv4 = netip.MustParseAddr("224.0.0.18")
	MulticastIPv6 = netip.MustParseAddr("ff02::12")
)

// Sizes of the message parts, in bytes.
const (
	// HeaderLen is the fixed header before the address list.
	HeaderLen = 8
	// AuthDataLen is the authentication data that ends every version 2
	// advert, whatever its auth type (keepalived sends zeros for none).
	AuthDataLen = 8
	// MaxAddrs is the most addresses one advert can carry: the count
	// field is one byte.
	MaxAddrs = 255
	// MaxLen is the longest possible message (version 3, 255 IPv6
	// addresses), enough for any buffer passed to AppendMarshal.
	MaxLen = HeaderLen + MaxAddrs*16
)

// Interval limits. Version 2 carries whole seconds in one byte; version 3
// carries centiseconds in 12 bits. Zero is refused both ways: it would make
// the master-down interval zero, and keepalived never sends it.
const (
	MinIntervalV2 = time.Second
	MaxIntervalV2 = 255 * time.Second
	MinIntervalV3 = 10 * time.Millisecond
	MaxIntervalV3 = 0x0fff * 10 * time.Millisecond // 40.95 s
)

const (
	typeAdvert    = 1
	v3IntervalMsk = 0x0fff // the top 4 bits are reserved (RFC 5798 §5.2.5)
	centisecond   = 10 * time.Millisecond
)

// AuthType is the version 2 authentication type (RFC 3768 §5.3.6; keepalived
// also implements RFC 2338's simple password and IPsec AH).
type AuthType uint8

// Authentication types.
const (
	// AuthNone: no authentication; the auth data is zero on send and
	// ignored on receive.
	AuthNone AuthType = 0
	// AuthPass: an 8-byte clear-text password (version 2 only).
	AuthPass AuthType = 1
	// AuthAH: IPsec AH. Refused: it needs an AH header this package does
	// not build, and RFC 3768 removed it.
	AuthAH AuthType = 2
)

// String returns "none", "pass", "ah" or "auth_type(N)".
func (t AuthType) String() string {
	switch t {
	case AuthNone:
		return "none"
	case AuthPass:
		return "pass"
	case AuthAH:
		return "ah"
	}
	return "auth_type(" + strconv.Itoa(int(t)) + ")"
}

// Advert is one decoded VRRP advertisement.
type Advert struct {
	// Version is 2 (RFC 3768) or 3 (RFC 5798).
	Version uint8
	// VRID is the virtual router id, 1..255.
	VRID uint8
	// Priority is the sender's priority; 0 means the master is leaving and
	// 255 that it owns the addresses.
	Priority uint8
	// Interval is the advertisement interval: whole seconds from 1 s to
	// 255 s for version 2; multiples of 10 ms from 10 ms to 40.95 s for
	// version 3.
	Interval time.Duration
	// AuthType is the version 2 authentication type; always AuthNone for
	// version 3, which has no authentication.
	AuthType AuthType
	// AuthData is the version 2 password when AuthType is AuthPass, zero
	// padded (see PassAuthData); otherwise all zero.
	AuthData [AuthDataLen]byte
	// Addrs are the virtual addresses, all of the IP header's family.
	// Version 2 carries IPv4 only. In an IPv4 advert, IPv4-mapped IPv6
	// addresses are sent as IPv4; an IPv6 advert sends them as IPv6.
	Addrs []netip.Addr
}

// PassAuthData turns a configured password into version 2 auth data the way
// keepalived does: the first 8 bytes, zero padded.
func PassAuthData(password string) [AuthDataLen]byte {
	var d [AuthDataLen]byte
	copy(d[:], password)
	return d
}

// Equal reports whether a and o hold the same fields and the same addresses
// in the same order.
func (a *Advert) Equal(o *Advert) bool {
	return a.Version == o.Version && a.VRID == o.VRID && a.Priority == o.Priority &&
		a.Interval == o.Interval && a.AuthType == o.AuthType && a.AuthData == o.AuthData &&
		slices.Equal(a.Addrs, o.Addrs)
}

// CheckInterval reports, as an *EncodeError, whether d can be sent in a
// version's advert without rounding.
func CheckInterval(version uint8, d time.Duration) error {
	switch version {
	case 2:
		if d < MinIntervalV2 || d > MaxIntervalV2 || d%time.Second != 0 {
			return encodeErr("Interval", "%v: version 2 needs whole seconds from %v to %v", d, MinIntervalV2, MaxIntervalV2)
		}
	case 3:
		if d < MinIntervalV3 || d > MaxIntervalV3 || d%centisecond != 0 {
			return encodeErr("Interval", "%v: version 3 needs a multiple of 10ms from %v to %v", d, MinIntervalV3, MaxIntervalV3)
		}
	default:
		return encodeErr("Version", "%d: must be 2 or 3", version)
	}
	return nil
}

// Marshal returns the VRRP message (no IP header) with its checksum filled
// in. src and dst are the addresses the IP header will carry: they fix the
// address family and, for version 3, enter the checksum through the IPv4 or
// IPv6 pseudo-header (RFC 5798 §5.2.8 and its erratum for IPv4, which
// keepalived 2.2.7 follows). For a version 3 peer that uses keepalived's
// old_unicast_checksum mode, pass MulticastIPv4 as dst: dst is used only for
// the checksum. Version 2 checksums cover the VRRP message alone.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	return a.AppendMarshal(nil, src, dst)
}

// AppendMarshal appends the message Marshal would return to b. It does not
// allocate when b has room for it (MaxLen is always enough). On error b is
// returned unchanged.
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr) ([]byte, error) {
	is6, err := a.validate(src, dst)
	if err != nil {
		return b, err
	}
	n := msgLen(a.Version, is6, len(a.Addrs))
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	m := b[start:]

	m[0] = a.Version<<4 | typeAdvert
	m[1] = a.VRID
	m[2] = a.Priority
	m[3] = uint8(len(a.Addrs))
	if a.Version == 2 {
		m[4] = uint8(a.AuthType)
		m[5] = uint8(a.Interval / time.Second)
	} else {
		binary.BigEndian.PutUint16(m[4:], uint16(a.Interval/centisecond))
	}
	m[6], m[7] = 0, 0
	off := HeaderLen
	for _, ip := range a.Addrs {
		if is6 {
			a16 := ip.As16()
			off += copy(m[off:], a16[:])
		} else {
			a4 := ip.Unmap().As4()
			off += copy(m[off:], a4[:])
		}
	}
	if a.Version == 2 {
		copy(m[off:], a.AuthData[:]) // zero unless AuthPass, checked by validate
	}
	binary.BigEndian.PutUint16(m[6:], checksum(a.Version, src, dst, m))
	return b, nil
}

// validate checks everything AppendMarshal needs, so that writing cannot
// fail half way, and returns whether the advert is IPv6.
func (a *Advert) validate(src, dst netip.Addr) (is6 bool, err error) {
	if a.Version != 2 && a.Version != 3 {
		return false, encodeErr("Version", "%d: must be 2 or 3", a.Version)
	}
	if a.VRID == 0 {
		return false, encodeErr("VRID", "0: must be 1..255")
	}
	is6, ok := family(src, dst)
	if !ok {
		return false, encodeErr("src/dst", "%v and %v are not two IP addresses of one family", src, dst)
	}
	if a.Version == 2 && is6 {
		return false, encodeErr("Version", "version 2 cannot be sent over IPv6 (RFC 3768 is IPv4 only)")
	}
	if err := CheckInterval(a.Version, a.Interval); err != nil {
		return false, err
	}
	switch {
	case a.Version == 3 && a.AuthType != AuthNone:
		return false, encodeErr("AuthType", "%v: version 3 has no authentication", a.AuthType)
	case a.AuthType == AuthAH:
		return false, encodeErr("AuthType", "authentication type AH is not supported")
	case a.AuthType != AuthNone && a.AuthType != AuthPass:
		return false, encodeErr("AuthType", "%v: unknown authentication type", a.AuthType)
	case a.AuthType == AuthNone && a.AuthData != [AuthDataLen]byte{}:
		return false, encodeErr("AuthData", "must be zero when AuthType is none")
	}
	if len(a.Addrs) > MaxAddrs {
		return false, encodeErr("Addrs", "%d addresses: at most %d fit in an advert", len(a.Addrs), MaxAddrs)
	}
	for i, ip := range a.Addrs {
		if !ip.IsValid() {
			return false, encodeErr("Addrs", "address %d is the zero netip.Addr", i)
		}
		// An IPv6 advert carries IPv4-mapped addresses as they are (a
		// decoded one may hold them); an IPv4 advert takes them as IPv4.
		if ip.Is6() && !ip.Is4In6() && !is6 || ip.Is4() && is6 {
			return false, encodeErr("Addrs", "address %d (%v) is not of the IP header's family (src %v)", i, ip, src)
		}
	}
	return is6, nil
}

// family reports whether src and dst are IPv6, after mapping IPv4-mapped
// IPv6 addresses (as a dual-stack socket may report them) to IPv4.
// ok is false unless both are valid addresses of the same family.
func family(src, dst netip.Addr) (is6, ok bool) {
	is6 = src.Unmap().Is6()
	return is6, src.IsValid() && dst.IsValid() && dst.Unmap().Is6() == is6
}

func msgLen(version uint8, is6 bool, naddr int) int {
	n := HeaderLen
	if is6 {
		n += naddr * 16
	} else {
		n += naddr * 4
	}
	if version == 2 {
		n += AuthDataLen
	}
	return n
}

// Unmarshal decodes and verifies one VRRP message (the IP header already
// stripped, the slice trimmed to the IP payload length); src and dst are the
// IP header's addresses. Refusals are *DecodeError values carrying a
// DropReason. Like keepalived it refuses trailing bytes, ignores the version
// 3 reserved bits and, for auth type none, the auth data. It refuses an
// interval of 0 (DropBadInterval): neither RFC gives it a meaning, it would
// make a backup's master-down timer fire at once, and Marshal cannot send it.
// It does not judge the fields against local configuration (VRID, password,
// interval, peers, TTL): that is the runtime's job.
func Unmarshal(b []byte, src, dst netip.Addr) (Advert, error) {
	var a Advert
	err := UnmarshalInto(&a, b, src, dst)
	return a, err
}

// UnmarshalInto is Unmarshal writing into *a and reusing the capacity of
// a.Addrs, so a receive loop can decode without allocating. On error *a is
// left unchanged. The result never aliases b.
func UnmarshalInto(a *Advert, b []byte, src, dst netip.Addr) error {
	if len(b) < HeaderLen {
		return decodeErr(DropShort, "%d bytes, the header alone is %d", len(b), HeaderLen)
	}
	version := b[0] >> 4
	if version != 2 && version != 3 {
		return decodeErr(DropBadVersion, "version %d, want 2 or 3", version)
	}
	if t := b[0] & 0x0f; t != typeAdvert {
		return decodeErr(DropBadType, "type %d, want %d (advertisement)", t, typeAdvert)
	}
	is6, ok := family(src, dst)
	if !ok {
		return decodeErr(DropBadFamily, "IP source %v and destination %v are not two addresses of one family", src, dst)
	}
	if version == 2 && is6 {
		return decodeErr(DropBadFamily, "version 2 advert over IPv6 from %v", src)
	}
	naddr := int(b[3])
	if want := msgLen(version, is6, naddr); len(b) != want {
		how := "short"
		if len(b) > want {
			how = "long" // keepalived refuses trailing bytes too
		}
		return decodeErr(DropBadLength, "too %s: %d bytes, but version %d with %d addresses is %d", how, len(b), version, naddr, want)
	}
	if got, want := binary.BigEndian.Uint16(b[6:]), checksum(version, src, dst, b); got != want &&
		// 0xffff is the other ones'-complement zero: keepalived, summing
		// the whole message, accepts it where we would send 0x0000.
		(want != 0 || got != 0xffff) {
		return decodeErr(DropBadChecksum, "checksum 0x%04x, computed 0x%04x", got, want)
	}
	if b[1] == 0 {
		return decodeErr(DropBadVRID, "virtual router id 0")
	}

	var (
		interval time.Duration
		auth     = AuthNone
		authData [AuthDataLen]byte
	)
	if version == 2 {
		switch auth = AuthType(b[4]); auth {
		case AuthNone:
		case AuthPass:
			copy(authData[:], b[len(b)-AuthDataLen:])
		case AuthAH:
			return decodeErr(DropUnsupportedAuth, "authentication type AH is not supported")
		default:
			return decodeErr(DropUnsupportedAuth, "unknown authentication type %d", b[4])
		}
		interval = time.Duration(b[5]) * time.Second
	} else {
		interval = time.Duration(binary.BigEndian.Uint16(b[4:])&v3IntervalMsk) * centisecond
	}
	if interval == 0 {
		return decodeErr(DropBadInterval, "advertisement interval 0")
	}

	*a = Advert{
		Version:  version,
		VRID:     b[1],
		Priority: b[2],
		Interval: interval,
		AuthType: auth,
		AuthData: authData,
		Addrs:    a.Addrs[:0],
	}
	if cap(a.Addrs) < naddr {
		a.Addrs = make([]netip.Addr, 0, naddr)
	}
	p := b[HeaderLen:]
	for range naddr {
		if is6 {
			a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(p[:16])))
			p = p[16:]
		} else {
			a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(p[:4])))
			p = p[4:]
		}
	}
	return nil
}
