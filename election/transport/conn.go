package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/inet"
)

// oobSize holds IP_PKTINFO, or IPV6_PKTINFO plus IPV6_HOPLIMIT, with room to
// spare for anything else the kernel adds.
const oobSize = 128

// Conn is a raw VRRP socket of one family on one interface. ReadPacket may
// run in one goroutine while others call WriteTo; Close unblocks ReadPacket.
// The socket is bound to the interface as it was at Listen: if the interface
// is deleted and created again, open a new Conn.
type Conn struct {
	cfg Config
	ifi net.Interface
	pc  net.PacketConn // owns the descriptor and its poller registration
	rc  syscall.RawConn

	readMu sync.Mutex // guards rd
	rd     *readOp

	writeMu sync.Mutex // guards wr
	wr      *writeOp

	// joined is whether the socket is a member of the VRRP group; a socket
	// opened for unicast instances joins later when a multicast one arrives.
	joined atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// Listen opens a raw protocol 112 socket for cfg in the calling thread's
// network namespace. The socket may be used from any goroutine afterwards.
func Listen(cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("transport: interface %q: %w", cfg.Interface, err)
	}
	domain := unix.AF_INET
	if cfg.Family == inet.IPv6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, Protocol)
	if err != nil {
		return nil, fmt.Errorf("transport: open raw %v socket: %w", cfg.Family.Label(), os.NewSyscallError("socket", err))
	}
	if err := setOptions(fd, cfg, ifi.Index); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("transport: %v socket on %s: %w", cfg.Family.Label(), cfg.Interface, err)
	}
	// Hand the descriptor to the runtime poller so that reads block
	// without a thread and Close wakes them.
	f := os.NewFile(uintptr(fd), fmt.Sprintf("vrrp-%v-%s", cfg.Family.Label(), cfg.Interface))
	pc, err := net.FilePacketConn(f)
	f.Close() // FilePacketConn works on a duplicate
	if err != nil {
		return nil, fmt.Errorf("transport: %v socket on %s: %w", cfg.Family.Label(), cfg.Interface, err)
	}
	sc, ok := pc.(syscall.Conn)
	if !ok {
		pc.Close()
		return nil, fmt.Errorf("transport: %T has no raw descriptor", pc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("transport: %v socket on %s: %w", cfg.Family.Label(), cfg.Interface, err)
	}
	c := &Conn{cfg: cfg, ifi: *ifi, pc: pc, rc: rc, rd: newReadOp(), wr: newWriteOp()}
	c.joined.Store(cfg.Multicast)
	return c, nil
}

// Multicast reports whether the Conn has joined its family's VRRP group.
func (c *Conn) Multicast() bool { return c.joined.Load() }

// JoinGroup joins the family's VRRP group on the Conn's interface, so that
// a multicast instance can share a socket first opened for unicast ones.
// Joining twice is harmless.
func (c *Conn) JoinGroup() error {
	if c.joined.Load() {
		return nil
	}
	var serr error
	err := c.rc.Control(func(fd uintptr) { serr = joinGroup(int(fd), c.cfg.Family, c.ifi.Index) })
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("transport: %v socket on %s: %w", c.cfg.Family.Label(), c.cfg.Interface, err)
	}
	c.joined.Store(true)
	return nil
}

type sockopt struct {
	name  string
	level int
	opt   int
	value int
}

func setOptions(fd int, cfg Config, ifindex int) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); err != nil {
		return os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
	}
	var opts []sockopt
	if cfg.Family == inet.IPv4 {
		ttl := DefaultHopLimit
		if cfg.UnicastHopLimit != 0 {
			ttl = cfg.UnicastHopLimit
		}
		opts = []sockopt{
			{"IP_MULTICAST_ALL", unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0},
			{"IP_PKTINFO", unix.IPPROTO_IP, unix.IP_PKTINFO, 1},
			{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, tosNetworkControl},
			{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, ttl},
			{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, DefaultHopLimit},
			{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0},
			// keepalived builds the header itself with DF clear.
			{"IP_MTU_DISCOVER", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT},
		}
	} else {
		opts = []sockopt{
			{"IPV6_MULTICAST_ALL", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0},
			{"IPV6_RECVPKTINFO", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
			{"IPV6_RECVHOPLIMIT", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1},
			// The codec computes and checks the checksum; -1 keeps the
			// kernel from touching it (the default, said explicitly).
			{"IPV6_CHECKSUM", unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, -1},
			{"IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tosNetworkControl},
			{"IPV6_MULTICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, DefaultHopLimit},
			{"IPV6_MULTICAST_LOOP", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0},
			{"IPV6_MULTICAST_IF", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex},
		}
		if cfg.UnicastHopLimit != 0 {
			opts = append(opts, sockopt{"IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, cfg.UnicastHopLimit})
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return os.NewSyscallError("setsockopt "+o.name, err)
		}
	}
	if cfg.Family == inet.IPv4 {
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)}); err != nil {
			return os.NewSyscallError("setsockopt IP_MULTICAST_IF", err)
		}
	}
	if !cfg.Multicast {
		return nil
	}
	return joinGroup(fd, cfg.Family, ifindex)
}

func joinGroup(fd int, fam inet.Family, ifindex int) error {
	if fam == inet.IPv4 {
		mreq := &unix.IPMreqn{Multiaddr: GroupIPv4.As4(), Ifindex: int32(ifindex)}
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return os.NewSyscallError("setsockopt IP_ADD_MEMBERSHIP", err)
		}
		return nil
	}
	mreq := &unix.IPv6Mreq{Multiaddr: GroupIPv6.As16(), Interface: uint32(ifindex)}
	if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
		return os.NewSyscallError("setsockopt IPV6_JOIN_GROUP", err)
	}
	return nil
}

// Interface returns a copy of the interface the Conn is bound to, as it was
// when Listen ran.
func (c *Conn) Interface() *net.Interface {
	ifi := c.ifi
	return &ifi
}

// Family returns the Conn's address family.
func (c *Conn) Family() inet.Family { return c.cfg.Family }

// SetReadDeadline makes a blocked or later ReadPacket return an error
// wrapping os.ErrDeadlineExceeded once t has passed; the zero t clears it.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.pc.SetReadDeadline(t) }

// ReadPacket blocks until a VRRP packet arrives and returns it: unicast
// packets, and multicast ones only to the VRRP group and only if the Conn
// joined it. Payload aliases buf, which should hold the largest packet
// expected plus, for IPv4, the IP header (up to 60 bytes): 1500 bytes are
// plenty. After Close it returns net.ErrClosed. ErrTruncated and
// ErrMalformed concern one packet only: keep reading.
func (c *Conn) ReadPacket(buf []byte) (Packet, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		p, err := c.readOne(buf)
		if err != nil {
			return Packet{}, err
		}
		if c.wanted(p.Dst) {
			return p, nil
		}
	}
}

// wanted filters multicast in user space: an unbound raw IPv6 socket gets
// every multicast packet its interface accepts, whichever socket joined the
// group (IPV6_MULTICAST_ALL only governs UDP), so a Conn that did not join
// would otherwise see adverts to ff02::12 joined by another socket.
func (c *Conn) wanted(dst netip.Addr) bool {
	if !dst.IsMulticast() {
		return true
	}
	return c.joined.Load() && dst == Group(c.cfg.Family)
}

func (c *Conn) readOne(buf []byte) (Packet, error) {
	op := c.rd
	op.buf = buf
	err := c.rc.Read(op.fn)
	op.buf = nil
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return Packet{}, net.ErrClosed
		}
		return Packet{}, fmt.Errorf("transport: read on %s: %w", c.cfg.Interface, err)
	}
	if op.err != 0 {
		return Packet{}, fmt.Errorf("transport: read on %s: %w", c.cfg.Interface, os.NewSyscallError("recvmsg", op.err))
	}
	if op.flags&unix.MSG_TRUNC != 0 {
		return Packet{}, fmt.Errorf("%w (%d bytes)", ErrTruncated, len(buf))
	}
	if c.cfg.Family == inet.IPv4 {
		return c.parse4(buf[:op.n], op.oob[:op.oobn])
	}
	return c.parse6(buf[:op.n], op.oob[:op.oobn], &op.from)
}

// parse4 strips the IPv4 header the kernel hands raw sockets, taking the
// addresses and TTL from it and the interface from IP_PKTINFO.
func (c *Conn) parse4(b, oob []byte) (Packet, error) {
	if len(b) < ipv4.HeaderLen || b[0]>>4 != 4 {
		return Packet{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	// The kernel checked the lengths before delivering; a packet that
	// claims more bytes than were read is refused rather than trusted.
	if ihl < ipv4.HeaderLen || ihl > len(b) || total < ihl || total > len(b) {
		return Packet{}, fmt.Errorf("%w: header length %d, total length %d, %d bytes read", ErrMalformed, ihl, total, len(b))
	}
	// Ethernet padding can follow a short packet: trust the header.
	b = b[:total]
	p := Packet{
		Src:      netip.AddrFrom4([4]byte(b[12:16])),
		Dst:      netip.AddrFrom4([4]byte(b[16:20])),
		HopLimit: int(b[8]),
		IfIndex:  c.ifi.Index,
		Payload:  b[ihl:],
	}
	if !routerSource(p.Src) {
		return Packet{}, fmt.Errorf("%w: source %v", ErrMalformed, p.Src)
	}
	if ifindex, _, _, err := parseCmsgs(oob); err == nil && ifindex > 0 {
		p.IfIndex = ifindex
	}
	return p, nil
}

// routerSource reports whether a can be the source of an advert: no router
// sends from the unspecified address or a multicast group, and the kernel
// drops such packets before a raw socket sees them; this holds the line
// should it not.
func routerSource(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast()
}

// parse6 takes the source from the socket address and the destination,
// interface and hop limit from IPV6_PKTINFO and IPV6_HOPLIMIT.
func (c *Conn) parse6(b, oob []byte, from *unix.RawSockaddrInet6) (Packet, error) {
	p := Packet{IfIndex: c.ifi.Index, Payload: b}
	if from.Family == unix.AF_INET6 {
		p.Src = netip.AddrFrom16(from.Addr)
	}
	ifindex, dst, hopLimit, err := parseCmsgs(oob)
	if err != nil {
		return Packet{}, fmt.Errorf("%w: control messages: %v", ErrMalformed, err)
	}
	p.Dst = dst
	if ifindex > 0 {
		p.IfIndex = ifindex
	}
	// IPV6_RECVHOPLIMIT is always on, so the hop limit is always there;
	// were it not, 0 fails the receiver's hop limit check.
	if hopLimit > 255 {
		return Packet{}, fmt.Errorf("%w: hop limit %d", ErrMalformed, hopLimit)
	}
	p.HopLimit = max(hopLimit, 0)
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return Packet{}, fmt.Errorf("%w: missing source or destination", ErrMalformed)
	}
	if !routerSource(p.Src) {
		return Packet{}, fmt.Errorf("%w: source %v", ErrMalformed, p.Src)
	}
	// IPv4-mapped addresses name IPv4 nodes inside the host's own stack;
	// on an IPv6 wire they are forged (RFC 4291 §2.5.5.2), and read back
	// they would pass for IPv4 peers.
	if p.Src.Is4In6() || p.Dst.Is4In6() {
		return Packet{}, fmt.Errorf("%w: IPv4-mapped address %v -> %v", ErrMalformed, p.Src, p.Dst)
	}
	return p, nil
}

// WriteTo sends one VRRP message from src to dst out of the Conn's
// interface. src must be an address of this host (IP_PKTINFO /
// IPV6_PKTINFO pick it per packet); the invalid Addr lets the kernel choose.
// dst is a peer for unicast or the family's group for multicast. The
// TTL/hop limit is set as the package documentation describes.
func (c *Conn) WriteTo(payload []byte, src, dst netip.Addr) error {
	src, dst = src.Unmap(), dst.Unmap()
	if err := c.checkAddr(dst, "destination"); err != nil {
		return err
	}
	if src.IsValid() {
		if err := c.checkAddr(src, "source"); err != nil {
			return err
		}
		if src.IsMulticast() {
			return &AddrError{Addr: src, Role: "source", Reason: "is multicast"}
		}
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	op := c.wr
	op.pktinfo(c.cfg.Family, c.ifi.Index, src)
	if c.cfg.Family == inet.IPv4 {
		op.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.As4()}
		op.sa, op.salen = unsafe.Pointer(&op.sa4), unix.SizeofSockaddrInet4
	} else {
		op.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
		if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
			op.sa6.Scope_id = uint32(c.ifi.Index)
		}
		op.sa, op.salen = unsafe.Pointer(&op.sa6), unix.SizeofSockaddrInet6
	}
	op.payload = payload
	err := c.rc.Write(op.fn)
	op.payload = nil
	werr := op.err
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return net.ErrClosed
		}
		return fmt.Errorf("transport: write on %s: %w", c.cfg.Interface, err)
	}
	if werr != 0 {
		return fmt.Errorf("transport: send %v -> %v on %s: %w", src, dst, c.cfg.Interface, os.NewSyscallError("sendmsg", werr))
	}
	return nil
}

func (c *Conn) checkAddr(a netip.Addr, role string) error {
	f, ok := inet.PacketFamily(a)
	switch {
	case !ok:
		return &AddrError{Addr: a, Role: role, Reason: "missing"}
	case f != c.cfg.Family:
		return &AddrError{Addr: a, Role: role, Reason: fmt.Sprintf("is %v, the connection is %v", f.Label(), c.cfg.Family.Label())}
	case a.IsUnspecified():
		return &AddrError{Addr: a, Role: role, Reason: "is unspecified"}
	}
	return nil
}

// Close closes the socket; a blocked ReadPacket returns net.ErrClosed.
// Closing twice returns the first result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.pc.Close() })
	return c.closeErr
}
