package transport

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/inet"
)

// dumpRetries bounds retries of a netlink dump that the kernel interrupted
// because the address list changed while it was being read.
const dumpRetries = 5

// PrimaryAddr returns the address adverts on ifname should come from, read
// through netlink in the calling thread's network namespace:
//
//   - IPv4: the first primary address of the interface (the kernel lists
//     primaries in the order they were added), falling back to a secondary
//     one only if every primary is excluded;
//   - IPv6: the interface's link-local address, which RFC 5798 §5.1.2.1
//     requires as the source of adverts, skipping tentative and DAD-failed
//     ones.
//
// Pass the instance's virtual addresses as exclude so that a VIP, which may
// itself be a primary when it is outside the interface's subnets, is never
// chosen. ErrNoAddress (wrapped) means nothing usable is there yet: an
// interface coming up, or DAD still running; try again later.
func PrimaryAddr(ifname string, fam inet.Family, exclude ...netip.Addr) (netip.Addr, error) {
	if fam != inet.IPv4 && fam != inet.IPv6 {
		return netip.Addr{}, &ConfigError{Field: "Family", Reason: fmt.Sprintf("%v is neither IPv4 nor IPv6", fam.Label())}
	}
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("transport: interface %q: %w", ifname, err)
	}
	nlFamily := netlink.FAMILY_V4
	if fam == inet.IPv6 {
		nlFamily = netlink.FAMILY_V6
	}
	var addrs []netlink.Addr
	for try := 0; ; try++ {
		addrs, err = netlink.AddrList(link, nlFamily)
		if !errors.Is(err, netlink.ErrDumpInterrupted) || try == dumpRetries {
			break
		}
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("transport: addresses of %q: %w", ifname, err)
	}
	return choosePrimary(addrs, fam, exclude, ifname)
}

func choosePrimary(addrs []netlink.Addr, fam inet.Family, exclude []netip.Addr, ifname string) (netip.Addr, error) {
	excluded := func(a netip.Addr) bool {
		for _, x := range exclude {
			if x.Unmap() == a {
				return true
			}
		}
		return false
	}
	var fallback netip.Addr
	for _, na := range addrs {
		a, ok := netip.AddrFromSlice(na.IP)
		if !ok {
			continue
		}
		a = a.Unmap()
		if excluded(a) {
			continue
		}
		if fam == inet.IPv4 {
			if !a.Is4() {
				continue
			}
			if na.Flags&unix.IFA_F_SECONDARY != 0 {
				if !fallback.IsValid() {
					fallback = a
				}
				continue
			}
			return a, nil
		}
		if a.Is6() && a.IsLinkLocalUnicast() && na.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			return a, nil
		}
	}
	if fallback.IsValid() {
		return fallback, nil
	}
	what := "IPv4 address"
	if fam == inet.IPv6 {
		what = "usable IPv6 link-local address"
	}
	return netip.Addr{}, fmt.Errorf("%w: %s has no %s", ErrNoAddress, ifname, what)
}
