package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingTries and pingWait bound Ping: the first echo may be held while the
// neighbour is resolved, so one loss is not yet a failure.
const (
	pingTries = 3
	pingWait  = time.Second
)

// Ping sends ICMP echo requests from the node to dst until one is answered,
// up to a few seconds. It needs no ping binary. dst must not be link-local
// (there is no zone to pick the interface).
func (n *Node) Ping(dst netip.Addr) error {
	dst = dst.Unmap()
	if !dst.IsValid() || dst.IsLinkLocalUnicast() {
		return fmt.Errorf("lab: ping %v: need a routable address", dst)
	}
	return n.Do(func() error { return ping(dst) })
}

func ping(dst netip.Addr) error {
	network, laddr := "ip4:icmp", "0.0.0.0"
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if dst.Is6() {
		network, laddr = "ip6:ipv6-icmp", "::"
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
		proto = 58
	}
	c, err := icmp.ListenPacket(network, laddr)
	if err != nil {
		return fmt.Errorf("lab: ping %v: %w", dst, err)
	}
	defer c.Close()

	id := os.Getpid() & 0xffff
	buf := make([]byte, 1500)
	for seq := 1; seq <= pingTries; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("vipd lab")}}
		b, err := msg.Marshal(nil) // the kernel fills in the ICMPv6 checksum
		if err != nil {
			return fmt.Errorf("lab: ping %v: %w", dst, err)
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return fmt.Errorf("lab: ping %v: %w", dst, err)
		}
		if err := c.SetReadDeadline(time.Now().Add(pingWait)); err != nil {
			return err
		}
		for {
			nr, from, err := c.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return fmt.Errorf("lab: ping %v: %w", dst, err)
			}
			src, ok := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			if !ok || src.Unmap() != dst {
				continue
			}
			rm, err := icmp.ParseMessage(proto, buf[:nr])
			if err != nil || rm.Type != replyType {
				continue
			}
			if e, ok := rm.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
				return nil
			}
		}
	}
	return fmt.Errorf("lab: ping %v: no reply to %d echo requests", dst, pingTries)
}
