// Package sockwatch holds what the benchmarks' watchers share: a socket
// opened inside a lab node's namespace, read by a goroutine of its own that
// hands each packet over with the kernel's arrival time, so the figures do
// not include any scheduling delay of the benchmark process.
package sockwatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/lab"
	"golang.org/x/sys/unix"
)

// PollTimeout bounds each blocking receive so that a reader notices Close;
// it plays no part in what is measured.
const PollTimeout = 50 * time.Millisecond

// OpenVRRP opens, in n's namespace, a raw VRRP (protocol 112) socket bound
// to iface, with kernel receive timestamps (SO_TIMESTAMPNS) and a receive
// timeout of PollTimeout. The kernel hands each raw socket its own copy, so
// it sees exactly what a daemon in that namespace sees. A non-zero rcvbuf
// forces the receive buffer to that size, for watchers that must not drop
// under a burst of adverts.
func OpenVRRP(n *lab.Node, iface string, rcvbuf int) (int, error) {
	var fd int
	err := n.Do(func() error {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, vrrp.ProtocolNumber)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		tv := unix.NsecToTimeval(PollTimeout.Nanoseconds())
		opts := []func() error{
			func() error { return unix.SetsockoptString(s, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface) },
			func() error { return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) },
			func() error { return unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) },
		}
		if rcvbuf > 0 {
			opts = append(opts, func() error { return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) })
		}
		for _, o := range opts {
			if err := o(); err != nil {
				unix.Close(s)
				return fmt.Errorf("raw socket options: %w", err)
			}
		}
		fd = s
		return nil
	})
	return fd, err
}

// Reader reads one socket on a goroutine of its own until Close.
type Reader struct {
	fd   int
	stop atomic.Bool
	done chan struct{}
	once sync.Once

	mu  sync.Mutex
	err error
}

// Start reads fd, which must have a receive timeout (so that Close is
// noticed), in packets of up to size bytes and calls handle with each on
// the reading goroutine. at is the kernel's receive timestamp when the
// socket has SO_TIMESTAMPNS set, else the time the receive returned.
// Whatever handle writes is safe to read after Close. The Reader owns fd
// and closes it.
func Start(fd, size int, handle func(at time.Time, pkt []byte)) *Reader {
	r := &Reader{fd: fd, done: make(chan struct{})}
	go r.read(size, handle)
	return r
}

func (r *Reader) read(size int, handle func(time.Time, []byte)) {
	defer close(r.done)
	buf := make([]byte, size)
	oob := make([]byte, 128)
	for !r.stop.Load() {
		n, oobn, _, _, err := unix.Recvmsg(r.fd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			r.mu.Lock()
			r.err = fmt.Errorf("recvmsg: %w", err)
			r.mu.Unlock()
			return
		}
		at, ok := rxTime(oob[:oobn])
		if !ok {
			at = time.Now()
		}
		handle(at, buf[:n])
	}
}

// Err returns why the reader stopped early, or nil; it may be called at
// any time.
func (r *Reader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close stops the reader, waits for it and closes the socket; calling it
// again does nothing.
func (r *Reader) Close() {
	r.once.Do(func() {
		r.stop.Store(true)
		<-r.done
		unix.Close(r.fd)
	})
}

// rxTime finds the kernel's receive timestamp among control messages; the
// timespec is two native 64-bit words on the 64-bit Linux this runs on.
func rxTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

// ParseIPv4 splits what a raw IPv4 socket returns into the header's
// addresses and the payload.
func ParseIPv4(b []byte) (src, dst netip.Addr, payload []byte, ok bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return src, dst, nil, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || total > len(b) {
		return src, dst, nil, false
	}
	return netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), b[ihl:total], true
}
