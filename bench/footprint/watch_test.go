package footprint

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/bench/internal/sockwatch"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// vrrpProto is VRRP's IP protocol number.
const vrrpProto = 112

// heldVIPs returns how many of the benchmark's VIPs node holds on eth0.
func heldVIPs(b *testing.B, n *lab.Node) int {
	b.Helper()
	ns, err := netns.GetFromName(n.Name())
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(iface)
	if err != nil {
		b.Fatal(err)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		b.Fatal(err)
	}
	held := 0
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && vipNet.Contains(ip.Unmap()) {
			held++
		}
	}
	return held
}

// waitVIPs waits until node holds want VIPs.
func waitVIPs(b *testing.B, n *lab.Node, want int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := heldVIPs(b, n)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s holds %d VIPs after %v, want %d", n.Name(), got, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masterDown is the backup's Master_Down_Interval for VRRPv3 as keepalived
// 2.2.7 computes it: 3 intervals plus (256 - priority) / 256 of one, in
// whole microseconds.
func masterDown(interval time.Duration, prio int) time.Duration {
	cs := int64(interval / (10 * time.Millisecond))
	return 3*interval + time.Duration(int64(256-prio)*cs*625/16)*time.Microsecond
}

// failover kills the master's daemon (SIGKILL to its process group: a
// crash, no priority-0 advert) and times, per instance, the backup's bind
// of its VIP from the arrival of the master's last advert for its VRID.
func failover(b *testing.B, p pair, c cell, dm *testbed.Daemon) Failover {
	b.Helper()
	aw := watchAdverts(b, p.k)
	defer aw.close()
	bw := watchBinds(b, p.k, c.instances)
	defer bw.close()
	// Every VRID has advertised at least once since the watch began.
	time.Sleep(3*c.interval + 100*time.Millisecond)
	if n := aw.vrids.Load(); n != int64(c.instances) {
		b.Fatalf("heard adverts for %d VRIDs before the kill, want %d", n, c.instances)
	}
	if n := heldVIPs(b, p.k); n != 0 || bw.count.Load() != 0 {
		b.Logf("no failover measured: the backup bound %d VIPs before the kill", max(int64(n), bw.count.Load()))
		return Failover{Invalid: true}
	}
	killAt := time.Now()
	dm.Kill()
	floor := masterDown(c.interval, backupPrio)
	select {
	case <-bw.all:
	case <-time.After(floor + 15*time.Second):
		b.Fatalf("%d of %d VIPs bound on the backup %v after the kill", bw.count.Load(), c.instances, floor+15*time.Second)
	}
	bw.close()
	aw.close()
	if aw.err != nil {
		b.Fatal(aw.err)
	}
	var delays []float64
	var last time.Time
	for i := 1; i <= c.instances; i++ {
		at, ok := bw.bound[vip(i).Addr()]
		heard := aw.last[i]
		if !ok || heard.IsZero() {
			b.Fatalf("VRID %d: bound %v, last advert %v", i, ok, heard)
		}
		delays = append(delays, benchstat.MS(at.Sub(heard)))
		if at.After(last) {
			last = at
		}
	}
	return Failover{
		FloorMS:     benchstat.MS(floor),
		MedianMS:    benchstat.Median(delays),
		MaxMS:       slicesMax(delays),
		KillToAllMS: benchstat.MS(last.Sub(killAt)),
	}
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// advertWatch records, on a raw VRRP socket of its own in the backup's
// namespace (the kernel gives every raw socket a copy), the kernel arrival
// time of the master's last advert for each VRID.
type advertWatch struct {
	r     *sockwatch.Reader
	vrids atomic.Int64 // VRIDs heard so far
	last  [256]time.Time
	err   error // why the reader stopped early; set by close
}

func watchAdverts(b *testing.B, n *lab.Node) *advertWatch {
	b.Helper()
	fd, err := sockwatch.OpenVRRP(n, iface, 4<<20)
	if err != nil {
		b.Fatalf("raw VRRP socket in %s: %v", n.Name(), err)
	}
	w := &advertWatch{}
	w.r = sockwatch.Start(fd, 2048, func(at time.Time, pkt []byte) {
		// IPv4 header, then VRRP: version/type, VRID, priority.
		src, _, payload, ok := sockwatch.ParseIPv4(pkt)
		if !ok || src != masterAddr || len(payload) < 3 || payload[2] == 0 {
			return
		}
		vrid := payload[1]
		if w.last[vrid].IsZero() {
			w.vrids.Add(1)
		}
		w.last[vrid] = at
	})
	return w
}

// close stops the reader; its results are stable after. Calling it again
// does nothing.
func (w *advertWatch) close() {
	w.r.Close()
	w.err = w.r.Err()
}

// bindWatch notes when the kernel reports each VIP added in a namespace
// (RTM_NEWADDR, read as it comes).
type bindWatch struct {
	stop  chan struct{}
	done  chan struct{}
	all   chan struct{} // closed when want VIPs are bound
	count atomic.Int64
	bound map[netip.Addr]time.Time // read after close
	once  atomic.Bool
}

func watchBinds(b *testing.B, n *lab.Node, want int) *bindWatch {
	b.Helper()
	ns, err := netns.GetFromName(n.Name())
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	w := &bindWatch{stop: make(chan struct{}), done: make(chan struct{}), all: make(chan struct{}), bound: map[netip.Addr]time.Time{}}
	ch := make(chan netlink.AddrUpdate, 1024)
	if err := netlink.AddrSubscribeWithOptions(ch, w.stop, netlink.AddrSubscribeOptions{Namespace: &ns, ReceiveBufferSize: 1 << 20}); err != nil {
		b.Fatalf("address notifications in %s: %v", n.Name(), err)
	}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case u, ok := <-ch:
				if !ok {
					return
				}
				at := time.Now()
				ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
				if !u.NewAddr || !ok || !vipNet.Contains(ip.Unmap()) {
					continue
				}
				if _, seen := w.bound[ip.Unmap()]; seen {
					continue
				}
				w.bound[ip.Unmap()] = at
				if w.count.Add(1) == int64(want) {
					close(w.all)
				}
			}
		}
	}()
	return w
}

// close stops the watch; bound is stable after. Calling it again does
// nothing.
func (w *bindWatch) close() {
	if w.once.Swap(true) {
		return
	}
	close(w.stop)
	<-w.done
}

// perfRecord, when $VIPD_FOOTPRINT_PERF names a directory, records a call
// graph of each side's daemon over the window with perf(1) into
// DIR/DAEMON-CELL-SIDE.data; the returned func waits for perf to finish.
// perf's sampling costs the daemons some CPU: runs that profile are for
// finding hot spots, not for the table.
func perfRecord(b *testing.B, daemon string, c cell, mPids, kPids []int, window time.Duration) func() {
	b.Helper()
	dir := os.Getenv(envPerf)
	if dir == "" {
		return func() {}
	}
	if label := os.Getenv(envLabel); label != "" && daemon == "vipd" {
		daemon = label
	}
	var cmds []*exec.Cmd
	for _, s := range []struct {
		name string
		pids []int
	}{{"master", mPids}, {"backup", kPids}} {
		var ps []string
		for _, p := range s.pids {
			ps = append(ps, strconv.Itoa(p))
		}
		out := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.data", daemon, c.name, s.name))
		cmd := exec.Command("perf", "record", "-q", "-F", "499", "-g", "-p", strings.Join(ps, ","), "-o", out,
			"--", "sleep", strconv.FormatFloat(window.Seconds(), 'f', 3, 64))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatalf("perf: %v", err)
		}
		cmds = append(cmds, cmd)
	}
	return func() {
		for _, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				b.Logf("perf: %v", err)
			}
		}
	}
}
