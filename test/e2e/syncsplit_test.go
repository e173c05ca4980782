package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// maxSplit is how long a sync group's addresses may sit on two nodes when
// vipd moves them: the time of a netlink call or two and a wake-up, with a
// margin for a loaded machine. The skew time it replaces is 609 ms at
// priority 100.
const maxSplit = 50 * time.Millisecond

// TestSyncGroupSplitMixed is a NAT pair: `vrrp_sync_group G { OUT IN }`,
// OUT on eth0 and IN on eth1, unicast, advert 1 s, priorities 150/100, one
// node vipd and the other keepalived 2.2.7 with the same keepalived.conf,
// vipd on either side. The master loses eth1, comes back, is killed -9,
// comes back, and stops gracefully. For every move the kernel's address
// events on each node (ip -ts monitor address) give how far apart the
// group's two VIPs arrived and left: that is the time outside and inside
// sat on different nodes. Wherever vipd is the one adding or removing the
// addresses it must be within maxSplit; keepalived's own are logged.
func TestSyncGroupSplitMixed(t *testing.T) {
	lab.Require(t)
	testbed.RequireKeepalived(t)
	testbed.VipdBinary(t)
	for _, side := range []string{"vipd-backup", "vipd-master"} {
		t.Run(side, func(t *testing.T) { syncSplit(t, side == "vipd-master") })
	}
}

var (
	splitOut = netip.MustParsePrefix("198.51.100.100/24")
	splitIn  = netip.MustParsePrefix("203.0.113.100/24")
)

// natConf is the pair's keepalived.conf for the node at host number self.
func natConf(router string, prio, self, peer int) string {
	inst := func(name, iface string, vrid int, net string, vip netip.Prefix) string {
		return fmt.Sprintf(`vrrp_instance %s {
  state BACKUP
  interface %s
  virtual_router_id %d
  priority %d
  advert_int 1
  unicast_src_ip %s.%d
  unicast_peer {
    %s.%d
  }
  virtual_ipaddress {
    %s dev %s
  }
}
`, name, iface, vrid, prio, net, self, net, peer, vip, iface)
	}
	return fmt.Sprintf("global_defs {\n  router_id %s\n  vrrp_version 2\n}\n", router) +
		"vrrp_sync_group G {\n  group {\n    OUT\n    IN\n  }\n}\n" +
		inst("OUT", "eth0", 61, "198.51.100", splitOut) +
		inst("IN", "eth1", 62, "203.0.113", splitIn)
}

func syncSplit(t *testing.T, vipdMaster bool) {
	p := newPair(t, true)
	// a has the higher priority and is master first.
	kinds := map[string]string{"a": "keepalived", "b": "vipd"}
	if vipdMaster {
		kinds = map[string]string{"a": "vipd", "b": "keepalived"}
	}
	nodes := map[string]*lab.Node{"a": p.a, "b": p.b}
	confs := map[string]string{"a": natConf("a", 150, 1, 2), "b": natConf("b", 100, 2, 1)}
	watch := map[string]*addrWatch{"a": watchAddrs(t, p.a), "b": watchAddrs(t, p.b)}
	run := func(n string) *testbed.Daemon {
		if kinds[n] == "vipd" {
			return testbed.StartVipd(t, nodes[n], confs[n], ".conf")
		}
		return testbed.StartKeepalived(t, nodes[n], confs[n])
	}
	out, in := p.members, p.private
	both := func(want string, members [2][]testbed.Member, since time.Time, bound time.Duration) {
		t.Helper()
		testbed.WaitSoleHolder(t, members[0], splitOut, want, since, bound)
		testbed.WaitSoleHolder(t, members[1], splitIn, want, since, bound)
	}
	all := [2][]testbed.Member{out, in}
	onlyB := [2][]testbed.Member{out[1:], in[1:]}
	const interval = time.Second
	takeBack := masterDown(interval, 150) + 3*time.Second
	// A backup's members time out up to an interval apart when the master
	// vanishes (their last adverts were sent at different times).
	crash := masterDown(interval, 100) + interval + slack

	worst := time.Duration(0)
	// moved checks one move of the group from one node to the other: the
	// arrival on to, and the departure from from unless it could not
	// remove anything (killed) or could not be seen to (its daemon left
	// the addresses on a downed link, which the kernel keeps).
	moved := func(what, from, to string, marks map[string]int, departed bool) {
		t.Helper()
		check := func(node string, added bool) {
			t.Helper()
			d := watch[node].split(t, marks[node], added, splitOut, splitIn)
			verb := "added"
			if !added {
				verb = "removed"
			}
			t.Logf("%s: %s (%s) %s OUT and IN %v apart", what, node, kinds[node], verb, d)
			if kinds[node] == "vipd" {
				worst = max(worst, d)
				if d > maxSplit {
					t.Errorf("%s: vipd on %s %s the group's VIPs %v apart, want at most %v", what, node, verb, d, maxSplit)
				}
			}
		}
		check(to, true)
		if departed {
			check(from, false)
		}
	}
	mark := func() map[string]int { return map[string]int{"a": watch["a"].mark(), "b": watch["b"].mark()} }

	start := time.Now()
	d := map[string]*testbed.Daemon{"a": run("a"), "b": run("b")}
	both("a", all, start, takeBack)

	// The master loses its inside link: its group goes to FAULT, OUT's
	// resignation reaches b on eth0, IN's cannot, so b's IN takes over
	// when its master-down interval ends, and OUT with it.
	m := mark()
	down := time.Now()
	p.a.SetLink(t, "eth1", false)
	both("b", all, down, masterDown(interval, 100)+slack)
	moved("eth1 down on a", "a", "b", m, true)

	m = mark()
	garps := p.b.Capture(t, "eth1", "arp")
	up := time.Now()
	p.a.SetLink(t, "eth1", true)
	both("a", all, up, takeBack)
	moved("eth1 back on a", "b", "a", m, true)
	// vipd's first burst of gratuitous ARPs on the link that flapped is
	// garp_master_repeat (5) strong, like any other: none is lost to the
	// error the link's going down left on a cached socket.
	if kinds["a"] == "vipd" {
		firstBurst(t, garps, p.a.MAC(t, "eth1"), splitIn.Addr(), 5)
	}
	garps.Stop()

	m = mark()
	killed := time.Now()
	d["a"].Kill()
	both("b", onlyB, killed, crash)
	moved("kill -9 of a", "a", "b", m, false)

	m = mark()
	back := time.Now()
	d["a"] = run("a")
	// a's addresses from before the kill stay bound until its new
	// process removes them: it is a's master state that counts.
	testbed.WaitRestartedSoleHolder(t, d["a"], all[0], splitOut, "a", back, takeBack)
	both("a", all, back, takeBack)
	moved("a restarted", "b", "a", m, true)

	m = mark()
	stopped := time.Now()
	d["a"].Term()
	both("b", onlyB, stopped, skew(interval, 100)+slack)
	moved("graceful stop of a", "a", "b", m, true)
	t.Logf("longest split where vipd moved the group: %v", worst)
}

// firstBurst waits for the first n gratuitous ARPs for vip from mac on c,
// and checks that they came as one burst: within a second of each other,
// where the next burst comes garp_master_delay (5 s) later.
func firstBurst(t *testing.T, c *lab.Capture, mac net.HardwareAddr, vip netip.Addr, n int) {
	t.Helper()
	var seen []time.Time
	c.WaitFor(t, 3*time.Second+masterDown(time.Second, 150), func(lab.Frame) bool {
		seen = seen[:0]
		for _, f := range c.Frames() {
			e, ok := f.Ethernet()
			// An ARP payload's sender protocol address is at bytes 14-17.
			if ok && e.EtherType == lab.EtherTypeARP && bytes.Equal(e.Src, mac) && len(e.Payload) >= 18 &&
				netip.AddrFrom4([4]byte(e.Payload[14:18])) == vip {
				seen = append(seen, f.Time)
			}
		}
		return len(seen) >= n
	})
	if spread := seen[n-1].Sub(seen[0]); spread > time.Second {
		t.Errorf("the first %d gratuitous ARPs for %v spread over %v: the first burst was short of %d", n, vip, spread, n)
		return
	}
	t.Logf("gratuitous ARPs for %v after the link came back: %d in the first burst, within %v", vip, n, seen[n-1].Sub(seen[0]))
}

// addrWatch records a node's address events as the kernel reports them
// (ip -ts monitor address): each with the time the event was read off
// netlink, microseconds apart, whichever daemon caused it.
type addrWatch struct {
	p *lab.Process
}

// watchLoopback is a loopback address added and removed once to know that
// the monitor is listening.
const watchLoopback = "127.0.0.99/32"

func watchAddrs(t *testing.T, n *lab.Node) *addrWatch {
	t.Helper()
	w := &addrWatch{p: n.Start(t, "ip", "-ts", "monitor", "address")}
	for {
		from := w.p.Mark()
		n.Run(t, "ip", "addr", "add", watchLoopback, "dev", "lo")
		n.Run(t, "ip", "addr", "del", watchLoopback, "dev", "lo")
		if strings.Contains(strings.Join(w.lines(from), "\n"), "Deleted") {
			return w
		}
		// Not subscribed yet when the address came and went: again.
		time.Sleep(50 * time.Millisecond)
	}
}

// mark returns a position to read later events from.
func (w *addrWatch) mark() int { return w.p.Mark() }

func (w *addrWatch) lines(from int) []string {
	all := strings.Split(w.p.Output(), "\n")
	if from > len(all) {
		return nil
	}
	return all[from:]
}

// split waits for the first event adding (or removing) each of vips after
// from, and returns how far apart the earliest and the latest were.
func (w *addrWatch) split(t *testing.T, from int, added bool, vips ...netip.Prefix) time.Duration {
	t.Helper()
	end := time.Now().Add(2 * time.Second)
	for {
		at := map[netip.Prefix]time.Time{}
		for _, l := range w.lines(from) {
			ts, rest, ok := strings.Cut(strings.TrimPrefix(l, "["), "] ")
			if !ok || strings.HasPrefix(rest, "Deleted ") == added {
				continue
			}
			when, err := time.ParseInLocation("2006-01-02T15:04:05.000000", ts, time.Local)
			if err != nil {
				continue
			}
			for _, v := range vips {
				if _, seen := at[v]; !seen && strings.Contains(rest, " "+v.String()+" ") {
					at[v] = when
				}
			}
		}
		if len(at) == len(vips) {
			var first, last time.Time
			for _, when := range at {
				if first.IsZero() || when.Before(first) {
					first = when
				}
				if when.After(last) {
					last = when
				}
			}
			return last.Sub(first)
		}
		if time.Now().After(end) {
			t.Fatalf("address events since mark: %d of %v (added %v):\n%s", len(at), vips, added, strings.Join(w.lines(from), "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
