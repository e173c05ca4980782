package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Fixed parts of the unsolicited neighbour advertisement (RFC 4861 §7.2.6,
// keepalived's ndisc_send_unsolicited_na_immediate).
var (
	allNodes    = netip.MustParseAddr("ff02::1")
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1} // RFC 2464 §7
)

const (
	ipv6HeaderLen = 40
	ndpHopLimit   = 255 // receivers drop NDP with anything else
	protoICMPv6   = 58
)

// dropAll is a socket filter that accepts nothing ("ret #0"): the packet
// sockets only send, and must not queue every ARP or IPv6 frame of the
// segment. keepalived attaches the same filter to its send sockets.
var dropAll = []bpf.RawInstruction{{Op: bpfRet | bpfK, K: 0}}

// Classic BPF opcode parts (linux/filter.h).
const (
	bpfRet = 0x06
	bpfK   = 0x00
)

// Announcer sends gratuitous ARPs and unsolicited neighbour advertisements.
// It keeps per-interface packet sockets and a netlink socket to look the
// interface up, opened on first use in the network namespace of the
// calling thread, and reopens the packet sockets when the interface is
// recreated. It is safe for concurrent use; its netlink requests run on a
// goroutine of its own (see serial), which Close stops.
type Announcer struct {
	mu     sync.Mutex
	ifaces map[string]*ifaceSockets
	nl     *netlink.Handle
	nlq    *serial
	closed bool
}

type ifaceSockets struct {
	index int
	arp   *packet.Conn // EtherType ARP
	ip6   *packet.Conn // EtherType IPv6
}

func (s *ifaceSockets) close() {
	if s.arp != nil {
		s.arp.Close()
	}
	if s.ip6 != nil {
		s.ip6.Close()
	}
}

// NewAnnouncer returns an Announcer with no sockets open yet.
func NewAnnouncer() *Announcer {
	return &Announcer{ifaces: make(map[string]*ifaceSockets), nlq: newSerial()}
}

// Announce sends one gratuitous ARP for each IPv4 address and one
// unsolicited neighbour advertisement for each IPv6 address, out of iface
// and from its current MAC. It goes through every address even when one
// fails and returns the failures joined. The addresses need not be on the
// interface, though they normally are.
func (a *Announcer) Announce(iface string, addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("vip: announce on %s: %w", iface, net.ErrClosed)
	}
	ifi, err := a.interfaceByName(iface)
	if err != nil {
		return fmt.Errorf("vip: announce on %s: %w (%v)", iface, ErrNoInterface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("vip: announce on %s: %w", iface, ErrNoHardwareAddr)
	}
	socks := a.ifaces[iface]
	if socks != nil && socks.index != ifi.Index {
		// Same name, new interface: the old sockets are bound to a
		// device that is gone.
		socks.close()
		socks = nil
	}
	if socks == nil {
		socks = &ifaceSockets{index: ifi.Index}
		a.ifaces[iface] = socks
	}

	var errs []error
	var router bool
	var routerErr error
	if slices.ContainsFunc(addrs, func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }) {
		router, routerErr = forwarding(iface) // only a neighbour advertisement needs it
	}
	for _, addr := range addrs {
		var err error
		switch {
		case !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() || addr.Zone() != "":
			err = errors.New("not a unicast address")
		case addr.Unmap().Is4():
			err = a.garp(ifi, socks, addr.Unmap())
		case routerErr != nil:
			err = routerErr
		default:
			err = a.unsolicitedNA(ifi, socks, addr, router)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: announce %v on %s: %w", addr, iface, err))
		}
	}
	if len(errs) > 0 {
		// Perhaps the sockets are what broke (device gone, down):
		// start afresh next time.
		socks.close()
		delete(a.ifaces, iface)
	}
	return errors.Join(errs...)
}

// interfaceByName looks iface up with one netlink request for that name.
// net.InterfaceByName dumps and parses every interface of the namespace
// instead, some 200 kB of garbage per call with a handful of interfaces:
// an agent announcing a hundred VIPs made most of its start-up heap that
// way. Called with a.mu held.
func (a *Announcer) interfaceByName(iface string) (*net.Interface, error) {
	if a.nl == nil {
		h, err := openNetlink()
		if err != nil {
			return nil, err
		}
		a.nl = h
	}
	var (
		link netlink.Link
		err  error
	)
	if qerr := a.nlq.do(func() { link, err = a.nl.LinkByName(iface) }); qerr != nil {
		return nil, qerr
	}
	if err != nil {
		return nil, err
	}
	attrs := link.Attrs()
	return &net.Interface{
		Index:        attrs.Index,
		MTU:          attrs.MTU,
		Name:         attrs.Name,
		HardwareAddr: attrs.HardwareAddr,
		Flags:        attrs.Flags,
	}, nil
}

// garp sends an ARP request for ip from ip, as keepalived does: some hosts
// ignore gratuitous replies, every host looks at requests.
func (a *Announcer) garp(ifi *net.Interface, socks *ifaceSockets, ip netip.Addr) error {
	if socks.arp == nil {
		c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, &packet.Config{Filter: dropAll})
		if err != nil {
			return fmt.Errorf("open ARP socket: %w", err)
		}
		socks.arp = c
	}
	frame, err := garpFrame(ifi.HardwareAddr, ip)
	if err != nil {
		return err
	}
	return write(socks.arp, ifi, frame, ethernet.Broadcast)
}

// write sends frame to dst on c. A link that goes down leaves ENETDOWN
// pending on every packet socket bound to it, and the first send after the
// link is back reports that stale error instead of sending: the first
// announcement after a flap would be lost. Reporting the error clears it,
// so when the interface is up, one more try goes out.
func write(c *packet.Conn, ifi *net.Interface, frame []byte, dst net.HardwareAddr) error {
	_, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	if errors.Is(err, unix.ENETDOWN) && ifi.Flags&net.FlagUp != 0 {
		_, err = c.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	}
	return err
}

func garpFrame(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	// Built by hand rather than with ethernet.Frame, which pads to 60
	// bytes: keepalived sends the bare 42 and the NIC pads if it must.
	return ethernetFrame(ethernet.Broadcast, mac, ethernet.EtherTypeARP, pb), nil
}

func ethernetFrame(dst, src net.HardwareAddr, et ethernet.EtherType, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], uint16(et))
	return append(b, payload...)
}

// unsolicitedNA sends a neighbour advertisement for ip to all nodes. It
// builds the whole frame, as keepalived does, so that it needs no
// link-local address and the source can be the VIP itself.
func (a *Announcer) unsolicitedNA(ifi *net.Interface, socks *ifaceSockets, ip netip.Addr, router bool) error {
	if socks.ip6 == nil {
		c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_IPV6, &packet.Config{Filter: dropAll})
		if err != nil {
			return fmt.Errorf("open IPv6 packet socket: %w", err)
		}
		socks.ip6 = c
	}
	frame, err := naFrame(ifi.HardwareAddr, ip, router)
	if err != nil {
		return err
	}
	return write(socks.ip6, ifi, frame, allNodesMAC)
}

func naFrame(mac net.HardwareAddr, ip netip.Addr, router bool) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Router:        router,
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, ip, allNodes)
	if err != nil {
		return nil, err
	}
	pkt := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(icmp))
	pkt[0] = 6 << 4 // version; traffic class and flow label 0
	binary.BigEndian.PutUint16(pkt[4:6], uint16(len(icmp)))
	pkt[6] = protoICMPv6
	pkt[7] = ndpHopLimit
	src, dst := ip.As16(), allNodes.As16()
	copy(pkt[8:24], src[:])
	copy(pkt[24:40], dst[:])
	pkt = append(pkt, icmp...)
	return ethernetFrame(allNodesMAC, mac, ethernet.EtherTypeIPv6, pkt), nil
}

// forwarding reports whether IPv6 forwarding is on for iface: keepalived
// then sets the router flag, so that hosts keep using the VIP as a router.
// /proc/sys/net shows the namespace of the thread that opens it.
func forwarding(iface string) (bool, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + iface + "/forwarding")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // IPv6 disabled on the interface or in the kernel
	}
	if err != nil {
		return false, fmt.Errorf("read IPv6 forwarding setting: %w", err)
	}
	return strings.TrimSpace(string(b)) != "0", nil
}

// Close closes every socket. Announce fails afterwards.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, s := range a.ifaces {
		s.close()
		delete(a.ifaces, name)
	}
	a.nlq.stop()
	if a.nl != nil {
		a.nl.Close()
		a.nl = nil
	}
	a.closed = true
	return nil
}

// netipAddr converts a netlink address, unmapping IPv4.
func netipAddr(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}
