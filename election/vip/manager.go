package vip

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netlinkTimeout bounds each netlink exchange so that a wedged kernel
// answer cannot hang a state transition forever.
const netlinkTimeout = 5 * time.Second

// dumpRetries bounds retries of an address dump that the kernel interrupted
// because the list changed while it was read.
const dumpRetries = 5

// Manager adds and removes VIPs through a netlink socket opened in the
// network namespace of the thread that called NewManager. It is safe for
// concurrent use; its requests run one at a time on a goroutine of its own
// (see serial), which Close stops.
type Manager struct {
	h   *netlink.Handle
	nlq *serial
}

// NewManager opens a route netlink socket in the calling thread's network
// namespace.
func NewManager() (*Manager, error) {
	h, err := openNetlink()
	if err != nil {
		return nil, fmt.Errorf("vip: %w", err)
	}
	return &Manager{h: h, nlq: newSerial()}, nil
}

// openNetlink opens a route netlink socket in the calling thread's network
// namespace, each exchange bounded by netlinkTimeout.
func openNetlink() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink timeout: %w", err)
	}
	return h, nil
}

// Close stops the Manager's goroutine and closes the netlink socket; calls
// made afterwards fail with net.ErrClosed.
func (m *Manager) Close() error {
	m.nlq.stop()
	m.h.Close()
	return nil
}

// exec runs f, which makes netlink requests, on the Manager's goroutine.
func (m *Manager) exec(f func() error) error {
	var err error
	if qerr := m.nlq.do(func() { err = f() }); qerr != nil {
		return qerr
	}
	return err
}

// Add puts v on its interface. An address already there with the same
// prefix length is success, whatever its label; one there with another
// prefix length that the kernel refuses to duplicate is ErrConflict. Add
// cannot tell a VIP it added from a host address that was there before: a
// caller that must not remove the latter checks Has first.
func (m *Manager) Add(v VIP) error {
	if err := v.Validate(); err != nil {
		return &OpError{Op: "add", VIP: v, Err: err}
	}
	if err := m.exec(func() error { return m.add(v) }); err != nil {
		return &OpError{Op: "add", VIP: v, Err: err}
	}
	return nil
}

func (m *Manager) add(v VIP) error {
	link, err := m.link(v)
	if err != nil {
		return err
	}
	addr := toNetlink(v)
	addr.Label = v.Label
	if v.Prefix.Addr().Is4() {
		// netlink would compute a broadcast address; keepalived sets
		// none unless configured, and the zero address means none.
		addr.Broadcast = net.IPv4zero
	} else {
		// Usable at once instead of tentative for a second or more,
		// and no DAD probe that the old owner could answer.
		addr.Flags = unix.IFA_F_NODAD
	}
	err = m.h.AddrAdd(link, addr)
	if errors.Is(err, unix.EEXIST) {
		has, herr := m.has(link, v)
		switch {
		case herr != nil:
			err = herr
		case has:
			err = nil
		default:
			err = ErrConflict
		}
	}
	return err
}

// Remove takes v off its interface. An address that is not there, or an
// interface that no longer exists, is success. The label is not compared.
func (m *Manager) Remove(v VIP) error {
	if err := v.Validate(); err != nil {
		return &OpError{Op: "remove", VIP: v, Err: err}
	}
	if err := m.exec(func() error { return m.remove(v) }); err != nil {
		return &OpError{Op: "remove", VIP: v, Err: err}
	}
	return nil
}

func (m *Manager) remove(v VIP) error {
	link, err := m.link(v)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	// No label in the request: the kernel would then only delete an
	// address with that very label.
	err = m.h.AddrDel(link, toNetlink(v))
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return err
	}
	return nil
}

// Has reports whether v's address is on its interface with v's prefix
// length (the label is not compared).
func (m *Manager) Has(v VIP) (bool, error) {
	if err := v.Validate(); err != nil {
		return false, &OpError{Op: "has", VIP: v, Err: err}
	}
	var has bool
	err := m.exec(func() error {
		link, err := m.link(v)
		if err != nil {
			return err
		}
		has, err = m.has(link, v)
		return err
	})
	if err != nil {
		return false, &OpError{Op: "has", VIP: v, Err: err}
	}
	return has, nil
}

func (m *Manager) has(link netlink.Link, v VIP) (bool, error) {
	family := netlink.FAMILY_V4
	if v.Prefix.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	var (
		addrs []netlink.Addr
		err   error
	)
	for try := 0; ; try++ {
		addrs, err = m.h.AddrList(link, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) || try == dumpRetries {
			break
		}
	}
	if err != nil {
		return false, err
	}
	want := v.Prefix.Addr()
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ones, _ := a.Mask.Size()
		if got, ok := netipAddr(a.IP); ok && got == want && ones == v.Prefix.Bits() {
			return true, nil
		}
	}
	return false, nil
}

func (m *Manager) link(v VIP) (netlink.Link, error) {
	link, err := m.h.LinkByName(v.Interface)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: %s", ErrNoInterface, v.Interface)
	}
	return link, err
}

// toNetlink converts the address part of v; callers add label and flags.
func toNetlink(v VIP) *netlink.Addr {
	a := v.Prefix.Addr()
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   a.AsSlice(),
		Mask: net.CIDRMask(v.Prefix.Bits(), a.BitLen()),
	}}
}
