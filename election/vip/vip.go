package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// maxIfName is IFNAMSIZ less the terminating NUL; labels share the limit.
const maxIfName = 15

// VIP is one virtual address on one interface.
type VIP struct {
	// Interface is the name of the interface that holds the address.
	Interface string
	// Prefix is the address and its prefix length, e.g. 198.51.100.10/24
	// or 2001:db8::10/64 (not masked: the address is the VIP).
	Prefix netip.Prefix
	// Label is the optional IPv4 address label (keepalived's "label"); it
	// must begin with the interface name, as the kernel requires. IPv6
	// addresses have no labels.
	Label string
}

// String formats the VIP like `ip addr`: "198.51.100.10/24 dev eth0 label
// eth0:1".
func (v VIP) String() string {
	s := v.Prefix.String() + " dev " + v.Interface
	if v.Label != "" {
		s += " label " + v.Label
	}
	return s
}

// Validate checks the VIP without asking the kernel.
func (v VIP) Validate() error {
	bad := func(format string, args ...any) error {
		return &InvalidError{VIP: v, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case v.Interface == "":
		return bad("no interface")
	case len(v.Interface) > maxIfName:
		return bad("interface name %q is longer than %d bytes", v.Interface, maxIfName)
	case !v.Prefix.IsValid():
		return bad("no valid prefix")
	}
	a := v.Prefix.Addr()
	switch {
	case a.Is4In6():
		return bad("IPv4-mapped IPv6 address: give the IPv4 form")
	case a.Zone() != "":
		return bad("address has a zone")
	case a.IsUnspecified():
		return bad("unspecified address")
	case a.IsMulticast():
		return bad("multicast address")
	}
	if v.Label == "" {
		return nil
	}
	switch {
	case a.Is6():
		// keepalived drops such labels with a configuration error.
		return bad("IPv6 addresses cannot have a label")
	case len(v.Label) > maxIfName:
		return bad("label %q is longer than %d bytes", v.Label, maxIfName)
	case !strings.HasPrefix(v.Label, v.Interface):
		return bad("label %q does not begin with the interface name %q", v.Label, v.Interface)
	}
	return nil
}

// InvalidError reports a VIP that cannot be used, whatever the system.
type InvalidError struct {
	VIP    VIP    // the VIP refused
	Reason string // why
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("vip: invalid %s: %s", e.VIP, e.Reason)
}

// OpError is the error of a Manager operation on one VIP; Err is an
// *InvalidError, ErrNoInterface, ErrConflict or the kernel's error.
type OpError struct {
	Op  string // "add", "remove" or "has"
	VIP VIP    // the VIP operated on
	Err error  // the cause
}

func (e *OpError) Error() string {
	return fmt.Sprintf("vip: %s %s: %v", e.Op, e.VIP, e.Err)
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// Errors to test with errors.Is.
var (
	// ErrNoInterface means the VIP's interface does not exist.
	ErrNoInterface = errors.New("no such interface")
	// ErrConflict means the address is already on the interface with
	// another prefix length (IPv6 allows one address only once).
	ErrConflict = errors.New("address already present with another prefix length")
	// ErrNoHardwareAddr means the interface has no Ethernet address to
	// announce from (loopback, tunnels).
	ErrNoHardwareAddr = errors.New("interface has no Ethernet hardware address")
)
