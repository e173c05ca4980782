package main

import (
	"net"
	"net/netip"

	"github.com/vipd/vipd/config"
)

// localHost answers the config validator's questions about this machine.
type localHost struct{}

var _ config.Host = localHost{}

// InterfaceAddrs returns the addresses on ifname, for the check that only
// the owner of a VIP may use priority 255.
func (localHost) InterfaceAddrs(ifname string) ([]netip.Prefix, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(n.IP)
			ones, _ := n.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
		}
	}
	return out, nil
}
