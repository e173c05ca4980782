package vrrp

import (
	"encoding/binary"
	"net/netip"
)

// checksum returns the Internet checksum (RFC 1071) of the VRRP message m,
// computed as if its checksum field were zero. Version 3 adds the IPv4 or
// IPv6 pseudo-header of src and dst (RFC 5798 §5.2.8); version 2 covers the
// message alone (RFC 3768 §5.3.8). src and dst must be valid and of one
// family, and len(m) must be at least HeaderLen.
func checksum(version uint8, src, dst netip.Addr, m []byte) uint16 {
	var acc uint32
	if version == 3 {
		src, dst = src.Unmap(), dst.Unmap()
		if src.Is4() {
			s, d := src.As4(), dst.As4()
			acc = sum(acc, s[:])
			acc = sum(acc, d[:])
			acc += ProtocolNumber // zero byte, then the protocol byte
			acc += uint32(len(m)) // 16-bit length
		} else {
			s, d := src.As16(), dst.As16()
			acc = sum(acc, s[:])
			acc = sum(acc, d[:])
			acc += uint32(len(m)) >> 16 // 32-bit upper-layer length
			acc += uint32(len(m)) & 0xffff
			acc += ProtocolNumber // three zero bytes, then next header
		}
	}
	acc = sum(acc, m[:6])
	acc = sum(acc, m[8:]) // skip the checksum field itself
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// sum adds b to acc as big-endian 16-bit words, padding an odd tail with
// zero. Messages are at most MaxLen bytes, far from overflowing 32 bits.
func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}
