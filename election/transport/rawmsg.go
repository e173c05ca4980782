package transport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvmsg and sendmsg are the two system calls of every packet, made raw:
// the socket is non-blocking, so they never block, and a call through the
// runtime's entersyscall wakes the runtime's sysmon thread whenever it
// sleeps, which cost a futex round trip and a sysmon pass per advert.

// recvmsg reads one datagram into p, its control messages into oob (which
// must not be empty) and its source address into from.
func recvmsg(fd uintptr, p, oob []byte, from *unix.RawSockaddrInet6) (n, oobn, flags int, errno unix.Errno) {
	iov := unix.Iovec{Base: unsafe.SliceData(p)}
	iov.SetLen(len(p))
	msg := unix.Msghdr{
		Name:    (*byte)(unsafe.Pointer(from)),
		Namelen: unix.SizeofSockaddrInet6,
		Iov:     &iov,
		Control: unsafe.SliceData(oob),
	}
	msg.SetIovlen(1)
	msg.SetControllen(len(oob))
	r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, 0, 0, e
	}
	return int(r), int(msg.Controllen), int(msg.Flags), 0
}

// sendmsg sends p with the control messages oob (not empty) to the socket
// address to, of length tolen.
func sendmsg(fd uintptr, p, oob []byte, to unsafe.Pointer, tolen uint32) unix.Errno {
	iov := unix.Iovec{Base: unsafe.SliceData(p)}
	iov.SetLen(len(p))
	msg := unix.Msghdr{
		Name:    (*byte)(to),
		Namelen: tolen,
		Iov:     &iov,
		Control: unsafe.SliceData(oob),
	}
	msg.SetIovlen(1)
	msg.SetControllen(len(oob))
	_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
	return e
}
