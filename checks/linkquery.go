package checks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkQuery asks the kernel for one link by name over a netlink socket kept
// open, with raw system calls. The kernel answers RTM_GETLINK within the
// send, so the reply is there to read at once, and a raw call does not go
// through the Go scheduler: an ordinary one wakes the runtime's monitor
// thread, which then polls every 20 µs while the probe runs. The advert
// path sends the same way (election/transport/rawmsg.go).
//
// Not safe for concurrent use: the ifaceProber's mutex guards it.
type linkQuery struct {
	fd  int
	seq uint32
	buf []byte
}

// errNoReply means the reply was not there to read: the caller asks again
// the ordinary way.
var errNoReply = errors.New("no netlink reply ready")

// errNoLink means there is no link of that name.
var errNoLink = errors.New("no such link")

// newLinkQuery opens the socket in the calling thread's network namespace.
func newLinkQuery() (*linkQuery, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &linkQuery{fd: fd, buf: make([]byte, 32<<10)}, nil
}

func (q *linkQuery) close() { unix.Close(q.fd) }

// byName returns the link called name; errNoLink when there is none,
// errNoReply when the reply could not be read at once.
func (q *linkQuery) byName(name string) (netlink.Link, error) {
	q.seq++
	req := q.request(name)
	sa := unix.RawSockaddrNetlink{Family: unix.AF_NETLINK}
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(q.fd), uintptr(unsafe.Pointer(&req[0])), uintptr(len(req)), 0,
		uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if e != 0 {
		return nil, fmt.Errorf("netlink send: %w", e)
	}
	// Replies to earlier questions left unread (none, normally) come
	// first: read until ours.
	for range 8 {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(q.fd), uintptr(unsafe.Pointer(&q.buf[0])), uintptr(len(q.buf)), 0, 0, 0)
		switch {
		case e == unix.EAGAIN || e == unix.EINTR:
			return nil, errNoReply
		case e != 0:
			return nil, fmt.Errorf("netlink receive: %w", e)
		}
		msgs, err := syscall.ParseNetlinkMessage(q.buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != q.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("netlink reply: short error message")
				}
				errno := syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data)))
				if errno == unix.ENODEV {
					return nil, errNoLink
				}
				return nil, fmt.Errorf("netlink: %w", errno)
			case unix.RTM_NEWLINK:
				h := unix.NlMsghdr(m.Header)
				return netlink.LinkDeserialize(&h, m.Data)
			}
		}
	}
	return nil, errNoReply
}

// flags returns the link's flags (IFF_UP, IFF_RUNNING...: the ones
// RTM_NEWLINK carries, to 16 bits) through SIOCGIFFLAGS on the same
// socket: one raw system call, with no message for the kernel to fill
// (a link's message carries its statistics and every attribute) nor for
// us to parse. errNoLink when there is no such link.
func (q *linkQuery) flags(name string) (uint16, error) {
	var ifr [unix.IFNAMSIZ + 24]byte // struct ifreq: the name, then a union
	if len(name) >= unix.IFNAMSIZ {
		return 0, errNoLink
	}
	copy(ifr[:], name)
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(q.fd), unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr[0])))
	switch {
	case e == unix.ENODEV:
		return 0, errNoLink
	case e != 0:
		return 0, fmt.Errorf("SIOCGIFFLAGS: %w", e)
	}
	return binary.NativeEndian.Uint16(ifr[unix.IFNAMSIZ:]), nil
}

// request builds RTM_GETLINK for name: a header, an ifinfomsg and the
// IFLA_IFNAME attribute.
func (q *linkQuery) request(name string) []byte {
	attrLen := unix.SizeofRtAttr + len(name) + 1
	size := unix.SizeofNlMsghdr + unix.SizeofIfInfomsg + (attrLen+3)&^3
	b := make([]byte, size)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(size))
	ne.PutUint16(b[4:], unix.RTM_GETLINK)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], q.seq)
	// ifinfomsg: all zero (AF_UNSPEC, any index).
	a := b[unix.SizeofNlMsghdr+unix.SizeofIfInfomsg:]
	ne.PutUint16(a[0:], uint16(attrLen))
	ne.PutUint16(a[2:], unix.IFLA_IFNAME)
	copy(a[unix.SizeofRtAttr:], name) // NUL-terminated by make
	return b
}
