package failover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/lab"
	"golang.org/x/sys/unix"
)

// pollTimeout bounds each blocking receive of the watchers so that they
// notice close; it plays no part in what they measure.
const pollTimeout = 50 * time.Millisecond

// advertWatch reads, on a raw protocol-112 socket of its own in a node's
// namespace, every advert one sender sends there; the kernel hands each raw
// socket its own copy, so in the backup's namespace it sees exactly what the
// backup's daemon sees. Arrival times are the kernel's receive timestamps
// (SO_TIMESTAMPNS), free of any scheduling delay of this process. Once armed
// with a process group, it sends SIGKILL to that group from the receiving
// thread as soon as the sender's next advert arrives.
type advertWatch struct {
	fd   int
	from netip.Addr // the sender watched
	vrid uint8
	prio uint8 // the sender's priority: its normal adverts

	stop      atomic.Bool
	done      chan struct{}
	closeOnce sync.Once

	seen atomic.Int64 // normal adverts so far
	pgid atomic.Int32 // non-zero: kill this group after the next advert

	// Written by the reader before fired is closed: the kill, and what the
	// normal adverts looked like up to it (to check the interval run).
	fired       chan struct{}
	trigger     time.Time // arrival of the advert that triggered the kill
	killAt      time.Time // just before kill(2)
	killErr     error
	field       time.Duration // interval field of the last normal advert
	first       time.Time     // arrival of the first normal advert
	firstToLast int64         // normal adverts after the first

	// Written by the reader before done is closed.
	last     time.Time // arrival of the last advert from the sender
	after    int       // adverts that arrived after the trigger
	resigned bool      // one of them had priority 0: the kill was not a crash
	err      error     // why the reader stopped early
}

func watchAdverts(n *lab.Node, iface string, from netip.Addr, vrid, prio uint8) (*advertWatch, error) {
	w := &advertWatch{from: from, vrid: vrid, prio: prio, done: make(chan struct{}), fired: make(chan struct{})}
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
			w.err = fmt.Errorf("recvmsg: %w", err)
			return
		}
		at, ok := rxTime(oob[:oobn])
		if !ok {
			at = time.Now()
		}
		src, dst, payload, ok := parseIPv4(buf[:n])
		if !ok || src != w.from {
			continue
		}
		if vrrp.UnmarshalInto(&adv, payload, src, dst) != nil || adv.VRID != w.vrid {
			continue
		}
		if w.trigger.IsZero() {
			if adv.Priority != w.prio {
				continue
			}
			if w.first.IsZero() {
				w.first = at
			} else {
				w.firstToLast++
			}
			w.last, w.field = at, adv.Interval
			w.seen.Add(1)
			if pg := w.pgid.Load(); pg != 0 {
				w.killAt = time.Now()
				w.killErr = unix.Kill(-int(pg), unix.SIGKILL)
				w.trigger = at
				close(w.fired)
			}
			continue
		}
		// After the kill: the sender should be silent.
		w.last = at
		w.after++
		if adv.Priority == 0 {
			w.resigned = true
		}
	}
}

// period returns the mean spacing of the normal adverts up to the trigger, and the interval they carried; read only after fired.
func (w *advertWatch) period() (mean, field time.Duration) {
	if w.firstToLast == 0 {
		return 0, w.field
	}
	return w.trigger.Sub(w.first) / time.Duration(w.firstToLast), w.field
}

// arm makes the reader kill process group pgid right after the sender's
// next normal advert.
func (w *advertWatch) arm(pgid int) { w.pgid.Store(int32(pgid)) }

// close stops the reader and waits for it; the results are stable after.
// Calling it again does nothing.
func (w *advertWatch) close() {
	w.closeOnce.Do(func() {
		w.stop.Store(true)
		<-w.done
		unix.Close(w.fd)
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

// addrWatch listens to the kernel's address notifications (RTM_NEWADDR) in
// a namespace and reports when one address is added to one interface. The
// kernel sends the notification from inside the address-add request itself,
// so the time it is read is the bind time plus only this process's wake-up.
type addrWatch struct {
	fd      int
	ifindex uint32
	addr    netip.Addr

	stop      atomic.Bool
	done      chan struct{}
	closeOnce sync.Once
	added     chan time.Time // one per notification of the address being added
	err       error          // why the reader stopped early; read after done
}

func watchAddr(n *lab.Node, iface string, addr netip.Addr) (*addrWatch, error) {
	w := &addrWatch{addr: addr, done: make(chan struct{}), added: make(chan time.Time, 64)}
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		w.ifindex = uint32(ifi.Index)
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		tv := unix.NsecToTimeval(pollTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return fmt.Errorf("netlink SO_RCVTIMEO: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("netlink bind: %w", err)
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

func (w *addrWatch) read() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	for !w.stop.Load() {
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.err = fmt.Errorf("netlink recv: %w", err)
			return
		}
		at := time.Now()
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for i := range msgs {
			if w.isOurs(&msgs[i]) {
				select {
				case w.added <- at:
				default: // nobody waits for that many
				}
			}
		}
	}
}

// isOurs reports whether m announces our address on our interface.
func (w *addrWatch) isOurs(m *syscall.NetlinkMessage) bool {
	if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
		return false
	}
	if binary.NativeEndian.Uint32(m.Data[4:8]) != w.ifindex {
		return false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return false
	}
	for _, a := range attrs {
		if a.Attr.Type != unix.IFA_LOCAL && a.Attr.Type != unix.IFA_ADDRESS {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.Value); ok && ip.Unmap() == w.addr {
			return true
		}
	}
	return false
}

// close stops the reader and waits for it. Calling it again does nothing.
func (w *addrWatch) close() {
	w.closeOnce.Do(func() {
		w.stop.Store(true)
		<-w.done
		unix.Close(w.fd)
	})
}

// nodePids lists the processes in the node's namespace other than this
// test process, whose main thread may have been left there by lab.Node.Do.
func nodePids(n *lab.Node) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", n.Name()).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %w", n.Name(), err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("ip netns pids: %q is no pid", f)
		}
		if pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// processGroup returns the one process group of everything running in the
// node's namespace: the daemon under test and, for keepalived, its VRRP
// child. Killing that group is what a crash of the whole daemon looks like.
// It refuses our own group, which we must never kill.
func processGroup(n *lab.Node) (int, error) {
	pids, err := nodePids(n)
	if err != nil {
		return 0, err
	}
	group, leader := -1, false
	for _, pid := range pids {
		pg, err := unix.Getpgid(pid)
		if err != nil {
			return 0, fmt.Errorf("process group of %d: %w", pid, err)
		}
		if group != -1 && pg != group {
			return 0, fmt.Errorf("%s runs pids %v in more than one process group (%d, %d)", n.Name(), pids, group, pg)
		}
		group = pg
		leader = leader || pg == pid
	}
	switch {
	case !leader:
		return 0, fmt.Errorf("%s runs pids %v: no process group leader among them", n.Name(), pids)
	case group == unix.Getpgrp():
		return 0, fmt.Errorf("%s runs pids %v in our own process group", n.Name(), pids)
	}
	return group, nil
}
