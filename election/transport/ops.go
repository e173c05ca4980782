package transport

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/inet"
)

// readOp and writeOp hold what one recvmsg or sendmsg reads and writes,
// with the function handed to syscall.RawConn made once per op: a closure
// over local variables passed to RawConn.Read or Write moves them to the
// heap, several allocations per advert on both sides, which at 100
// instances were most of what the agent allocated.

// readOp is the Conn's one read state; readMu guards it.
type readOp struct {
	buf, oob       []byte
	from           unix.RawSockaddrInet6
	n, oobn, flags int
	err            unix.Errno
	fn             func(fd uintptr) bool
}

func newReadOp() *readOp {
	op := &readOp{oob: make([]byte, oobSize)}
	op.fn = op.read
	return op
}

func (op *readOp) read(fd uintptr) bool {
	for {
		op.n, op.oobn, op.flags, op.err = recvmsg(fd, op.buf, op.oob, &op.from)
		if op.err != unix.EINTR {
			return op.err != unix.EAGAIN
		}
	}
}

// writeOp is one send's state; writeMu guards the Conn's.
type writeOp struct {
	payload []byte
	oob     [unix.SizeofCmsghdr + 32]byte // one IP_PKTINFO or IPV6_PKTINFO
	oobn    int
	sa4     unix.RawSockaddrInet4
	sa6     unix.RawSockaddrInet6
	sa      unsafe.Pointer
	salen   uint32
	err     unix.Errno
	fn      func(fd uintptr) bool
}

func newWriteOp() *writeOp {
	op := &writeOp{}
	op.fn = op.write
	return op
}

func (op *writeOp) write(fd uintptr) bool {
	for {
		op.err = sendmsg(fd, op.payload, op.oob[:op.oobn], op.sa, op.salen)
		if op.err != unix.EINTR {
			return op.err != unix.EAGAIN
		}
	}
}

// pktinfo fills op.oob with the control message that picks the outgoing
// interface and, when src is valid, the source address: IP_PKTINFO
// (struct in_pktinfo, source in ipi_spec_dst) for IPv4, IPV6_PKTINFO
// (struct in6_pktinfo) for IPv6, as x/net's ControlMessage.Marshal writes
// them.
func (op *writeOp) pktinfo(family inet.Family, ifindex int, src netip.Addr) {
	clear(op.oob[:])
	var level, typ, size int
	data := op.oob[unix.CmsgLen(0):]
	if family == inet.IPv4 {
		level, typ, size = unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo
		binary.NativeEndian.PutUint32(data[0:4], uint32(ifindex)) // ipi_ifindex
		if src.Is4() {
			a := src.As4()
			copy(data[4:8], a[:]) // ipi_spec_dst
		}
	} else {
		level, typ, size = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo
		if src.Is6() {
			a := src.As16()
			copy(data[0:16], a[:]) // ipi6_addr
		}
		binary.NativeEndian.PutUint32(data[16:20], uint32(ifindex)) // ipi6_ifindex
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&op.oob[0]))
	h.Level = int32(level)
	h.Type = int32(typ)
	h.SetLen(unix.CmsgLen(size))
	op.oobn = unix.CmsgSpace(size)
}

// cmsgLenSize is the size of struct cmsghdr's cmsg_len, a size_t: 8 bytes
// on 64-bit Linux, 4 on 32-bit; cmsg_level and cmsg_type follow it.
const cmsgLenSize = unix.SizeofCmsghdr - 8

// errBadCmsg reports control message bytes that do not parse; one value,
// so that a bad packet costs no allocation.
var errBadCmsg = errors.New("control message header cut short or with a bad length")

// parseCmsgs walks the control messages of a received packet without
// allocating and returns what the Conn asks the kernel for: the interface
// (IP_PKTINFO or IPV6_PKTINFO), the IPv6 destination (IPV6_PKTINFO) and the
// IPv6 hop limit (IPV6_HOPLIMIT); -1 for what is not there. It reads the
// headers itself, with bounds checks: unix.ParseOneSocketControlMessage
// casts the buffer to a header before looking at its length, reading past
// the end of one shorter than a header.
func parseCmsgs(oob []byte) (ifindex int, dst6 netip.Addr, hopLimit int, err error) {
	ifindex, hopLimit = -1, -1
	hdr := unix.CmsgLen(0) // the header, aligned: where the data starts
	for len(oob) > 0 {
		if len(oob) < unix.SizeofCmsghdr {
			return ifindex, dst6, hopLimit, errBadCmsg
		}
		var n uint64
		if cmsgLenSize == 8 {
			n = binary.NativeEndian.Uint64(oob)
		} else {
			n = uint64(binary.NativeEndian.Uint32(oob))
		}
		level := int32(binary.NativeEndian.Uint32(oob[cmsgLenSize:]))
		typ := int32(binary.NativeEndian.Uint32(oob[cmsgLenSize+4:]))
		if n < uint64(hdr) || n > uint64(len(oob)) {
			return ifindex, dst6, hopLimit, errBadCmsg
		}
		data := oob[hdr:n]
		// The next header starts at the aligned end of this one; the last
		// message may omit its padding.
		if next := unix.CmsgSpace(len(data)); next < len(oob) {
			oob = oob[next:]
		} else {
			oob = nil
		}
		switch {
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			ifindex = int(binary.NativeEndian.Uint32(data[0:4]))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			dst6 = netip.AddrFrom16([16]byte(data[0:16]))
			ifindex = int(binary.NativeEndian.Uint32(data[16:20]))
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT && len(data) >= 4:
			hopLimit = int(int32(binary.NativeEndian.Uint32(data[0:4])))
		}
	}
	return ifindex, dst6, hopLimit, nil
}
