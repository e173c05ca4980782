package pressure

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

// pollTimeout bounds each blocking receive so that the watcher notices
// close; it plays no part in what is measured.
const pollTimeout = 50 * time.Millisecond

// arrival is one advert as the backup's namespace received it.
type arrival struct {
	at   time.Time // kernel receive timestamp (SO_TIMESTAMPNS)
	src  netip.Addr
	prio uint8
}

// advertWatch records every advert of one VRID that reaches a node, on a
// raw protocol-112 socket of its own: the kernel hands each raw socket its
// own copy, so it sees what the backup's daemon sees, timed by the kernel.
type advertWatch struct {
	fd   int
	vrid uint8
	stop atomic.Bool
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	seen []arrival
	err  error
}

func watchAdverts(n *lab.Node, iface string, vrid uint8) (*advertWatch, error) {
	w := &advertWatch{vrid: vrid, done: make(chan struct{})}
	err := n.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, vrrp.ProtocolNumber)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		tv := unix.NsecToTimeval(pollTimeout.Nanoseconds())
		for _, o := range []func() error{
			func() error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface) },
			func() error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) },
			func() error { return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) },
		} {
			if err := o(); err != nil {
				unix.Close(fd)
				return fmt.Errorf("raw socket options: %w", err)
			}
		}
		w.fd = fd
		return nil
	})
	if err != nil {
		return nil, err
	}
	go w.read()
	return w, nil
}

func (w *advertWatch) read() {
	defer close(w.done)
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	var adv vrrp.Advert
	for !w.stop.Load() {
		n, oobn, _, _, err := unix.Recvmsg(w.fd, buf, oob, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.mu.Lock()
			w.err = fmt.Errorf("recvmsg: %w", err)
			w.mu.Unlock()
			return
		}
		at, ok := rxTime(oob[:oobn])
		if !ok {
			at = time.Now()
		}
		src, dst, payload, ok := parseIPv4(buf[:n])
		if !ok || vrrp.UnmarshalInto(&adv, payload, src, dst) != nil || adv.VRID != w.vrid {
			continue
		}
		w.mu.Lock()
		w.seen = append(w.seen, arrival{at: at, src: src, prio: adv.Priority})
		w.mu.Unlock()
	}
}

// since returns the adverts that arrived at or after t.
func (w *advertWatch) since(t time.Time) ([]arrival, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []arrival
	for _, a := range w.seen {
		if !a.at.Before(t) {
			out = append(out, a)
		}
	}
	return out, w.err
}

// count returns how many adverts from src at prio arrived since t.
func (w *advertWatch) count(src netip.Addr, prio uint8, t time.Time) int {
	as, _ := w.since(t)
	n := 0
	for _, a := range as {
		if a.src == src && a.prio == prio {
			n++
		}
	}
	return n
}

// close stops the reader and waits for it; calling it again does nothing.
func (w *advertWatch) close() {
	w.once.Do(func() {
		w.stop.Store(true)
		<-w.done
		unix.Close(w.fd)
	})
}

// rxTime finds the kernel's receive timestamp among control messages.
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

// parseIPv4 splits what a raw IPv4 socket returns into the header's
// addresses and the payload.
func parseIPv4(b []byte) (src, dst netip.Addr, payload []byte, ok bool) {
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
