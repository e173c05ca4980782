package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
)

// capturedAdvert is one VRRP message found in a capture, with the IP header
// fields the codec needs.
type capturedAdvert struct {
	src, dst netip.Addr
	payload  []byte // the VRRP message, IP header stripped
}

// Link types (tcpdump.org/linktypes.html) this reader understands.
const (
	linkEthernet = 1
	linkRaw      = 101
)

// readPcap returns the VRRP messages in a classic libpcap file. It is only
// as general as the golden captures need: Ethernet (optionally one 802.1Q
// tag) or raw IP, no IPv4 options beyond what IHL skips, no IPv6 extension
// headers. Anything else is an error, so a new capture cannot be silently
// misread.
func readPcap(path string) ([]capturedAdvert, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 24 {
		return nil, fmt.Errorf("%s: %d bytes, shorter than the pcap header", path, len(data))
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d: // micro- or nanosecond timestamps
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: not a pcap file (magic %x)", path, data[:4])
	}
	link := bo.Uint32(data[20:]) & 0x0fffffff // the top bits may carry FCS info
	if link != linkEthernet && link != linkRaw {
		return nil, fmt.Errorf("%s: link type %d not supported", path, link)
	}
	var out []capturedAdvert
	for off, n := 24, 0; off < len(data); n++ {
		if len(data)-off < 16 {
			return nil, fmt.Errorf("%s: record %d: truncated record header", path, n)
		}
		incl, orig := int(bo.Uint32(data[off+8:])), int(bo.Uint32(data[off+12:]))
		off += 16
		if incl > len(data)-off {
			return nil, fmt.Errorf("%s: record %d: %d bytes captured but only %d left", path, n, incl, len(data)-off)
		}
		if incl != orig {
			return nil, fmt.Errorf("%s: record %d: truncated by snaplen (%d of %d bytes)", path, n, incl, orig)
		}
		frame := data[off : off+incl]
		off += incl
		adv, err := parseFrame(frame, link)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %w", path, n, err)
		}
		out = append(out, adv)
	}
	return out, nil
}

func parseFrame(frame []byte, link uint32) (capturedAdvert, error) {
	ip := frame
	if link == linkEthernet {
		if len(frame) < 14 {
			return capturedAdvert{}, fmt.Errorf("short Ethernet frame")
		}
		etherType, rest := binary.BigEndian.Uint16(frame[12:]), frame[14:]
		if etherType == 0x8100 && len(rest) >= 4 {
			etherType, rest = binary.BigEndian.Uint16(rest[2:]), rest[4:]
		}
		if etherType != 0x0800 && etherType != 0x86dd {
			return capturedAdvert{}, fmt.Errorf("ethertype 0x%04x is not IP", etherType)
		}
		ip = rest
	}
	if len(ip) < 1 {
		return capturedAdvert{}, fmt.Errorf("empty IP packet")
	}
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return capturedAdvert{}, fmt.Errorf("short IPv4 header")
		}
		ihl, total := int(ip[0]&0x0f)*4, int(binary.BigEndian.Uint16(ip[2:]))
		if ihl < 20 || total < ihl || total > len(ip) {
			return capturedAdvert{}, fmt.Errorf("bad IPv4 lengths: ihl %d, total %d, have %d", ihl, total, len(ip))
		}
		if ip[9] != ProtocolNumber {
			return capturedAdvert{}, fmt.Errorf("IPv4 protocol %d is not VRRP", ip[9])
		}
		return capturedAdvert{
			src:     netip.AddrFrom4([4]byte(ip[12:16])),
			dst:     netip.AddrFrom4([4]byte(ip[16:20])),
			payload: ip[ihl:total], // drop Ethernet padding, as the kernel does
		}, nil
	case 6:
		if len(ip) < 40 {
			return capturedAdvert{}, fmt.Errorf("short IPv6 header")
		}
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if 40+plen > len(ip) {
			return capturedAdvert{}, fmt.Errorf("IPv6 payload length %d, have %d", plen, len(ip)-40)
		}
		if ip[6] != ProtocolNumber {
			return capturedAdvert{}, fmt.Errorf("IPv6 next header %d is not VRRP", ip[6])
		}
		return capturedAdvert{
			src:     netip.AddrFrom16([16]byte(ip[8:24])),
			dst:     netip.AddrFrom16([16]byte(ip[24:40])),
			payload: ip[40 : 40+plen],
		}, nil
	}
	return capturedAdvert{}, fmt.Errorf("IP version %d", ip[0]>>4)
}
