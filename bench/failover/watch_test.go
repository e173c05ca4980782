package failover

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vipd/vipd/bench/internal/sockwatch"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/lab"
	"golang.org/x/sys/unix"
)

// advertWatch reads, on a raw protocol-112 socket of its own in a node's
// namespace, every advert one sender sends there; the kernel hands each raw
// socket its own copy, so in the backup's namespace it sees exactly what the
// backup's daemon sees. Arrival times are the kernel's receive timestamps
// (SO_TIMESTAMPNS), free of any scheduling delay of this process. Once armed
// with a process group, it sends SIGKILL to that group from the receiving
// thread as soon as the sender's next advert arrives.
type advertWatch struct {
	r    *sockwatch.Reader
	from netip.Addr // the sender watched
	vrid uint8
	prio uint8       // the sender's priority: its normal adverts
	adv  vrrp.Advert // used by the reader only

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

	// Written by the reader, read after close.
	last     time.Time // arrival of the last advert from the sender
	after    int       // adverts that arrived after the trigger
	resigned bool      // one of them had priority 0: the kill was not a crash
	err      error     // why the reader stopped early; set by close
}

func watchAdverts(n *lab.Node, iface string, from netip.Addr, vrid, prio uint8) (*advertWatch, error) {
	fd, err := sockwatch.OpenVRRP(n, iface, 0)
	if err != nil {
		return nil, err
	}
	w := &advertWatch{from: from, vrid: vrid, prio: prio, fired: make(chan struct{})}
	w.r = sockwatch.Start(fd, 2048, w.handle)
	return w, nil
}

func (w *advertWatch) handle(at time.Time, pkt []byte) {
	src, dst, payload, ok := sockwatch.ParseIPv4(pkt)
	if !ok || src != w.from {
		return
	}
	adv := &w.adv
	if vrrp.UnmarshalInto(adv, payload, src, dst) != nil || adv.VRID != w.vrid {
		return
	}
	if w.trigger.IsZero() {
		if adv.Priority != w.prio {
			return
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
		return
	}
	// After the kill: the sender should be silent.
	w.last = at
	w.after++
	if adv.Priority == 0 {
		w.resigned = true
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
	w.r.Close()
	w.err = w.r.Err()
}

// addrWatch listens to the kernel's address notifications (RTM_NEWADDR) in
// a namespace and reports when one address is added to one interface. The
// kernel sends the notification from inside the address-add request itself,
// so the time it is read is the bind time plus only this process's wake-up.
type addrWatch struct {
	r       *sockwatch.Reader
	ifindex uint32
	addr    netip.Addr
	added   chan time.Time // one per notification of the address being added
	err     error          // why the reader stopped early; set by close
}

func watchAddr(n *lab.Node, iface string, addr netip.Addr) (*addrWatch, error) {
	w := &addrWatch{addr: addr, added: make(chan time.Time, 64)}
	var fd int
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		w.ifindex = uint32(ifi.Index)
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		tv := unix.NsecToTimeval(sockwatch.PollTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return fmt.Errorf("netlink SO_RCVTIMEO: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("netlink bind: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.r = sockwatch.Start(fd, 1<<16, w.handle)
	return w, nil
}

// handle passes on, with the time it was read (netlink carries no kernel
// timestamp), each notification of our address being added.
func (w *addrWatch) handle(at time.Time, pkt []byte) {
	msgs, err := syscall.ParseNetlinkMessage(pkt)
	if err != nil {
		return
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
	w.r.Close()
	w.err = w.r.Err()
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
