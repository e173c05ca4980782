// Package e2e runs vipd (and keepalived) as real processes on the nodes of
// network-namespace labs and checks elections, failover times and VIP
// ownership from the outside, as an operator would see them.
package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// masterDown is RFC 5798's Master_Down_Interval for an advert interval and a
// backup's priority: 3 × interval + (256 − priority) × interval / 256.
func masterDown(interval time.Duration, prio int) time.Duration {
	return 3*interval + skew(interval, prio)
}

func skew(interval time.Duration, prio int) time.Duration {
	return time.Duration(256-prio) * interval / 256
}

// slack is what the issue allows on top of the protocol's own timers.
const slack = 300 * time.Millisecond

var vip4 = netip.MustParsePrefix("198.51.100.100/24")

type yamlNode struct {
	name     string
	priority int
	preempt  bool
	unicast  []string // peers; empty = multicast
	src      string
}

func (n yamlNode) config(version int, interval string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node:\n  name: %s\ninstances:\n  - name: web\n    interface: eth0\n    vrid: 51\n", n.name)
	fmt.Fprintf(&b, "    priority: %d\n    advert_interval: %s\n    version: %d\n    preempt: %t\n", n.priority, interval, version, n.preempt)
	if len(n.unicast) > 0 {
		fmt.Fprintf(&b, "    unicast:\n      source: %s\n      peers: [%s]\n", n.src, strings.Join(n.unicast, ", "))
	}
	fmt.Fprintf(&b, "    vips:\n      - %s\n", vip4)
	return b.String()
}

// threeNodes builds a lab of three nodes on one segment.
func threeNodes(t *testing.T) ([]*lab.Node, []testbed.Member) {
	t.Helper()
	return segment(t, false, "n1", "n2", "n3")
}

// segment builds a lab of one switch with a node for each name, the i-th
// (from 1) at 198.51.100.i/24 on eth0, and with dual at 2001:db8::i/64
// too; the members watch every node's eth0.
func segment(t *testing.T, dual bool, names ...string) ([]*lab.Node, []testbed.Member) {
	t.Helper()
	lab.Require(t)
	testbed.VipdBinary(t) // build before any clock starts
	l := lab.New(t)
	sw := l.Switch("sw")
	var nodes []*lab.Node
	var members []testbed.Member
	for i, name := range names {
		n := l.Node(name)
		addrs := []string{fmt.Sprintf("198.51.100.%d/24", i+1)}
		if dual {
			addrs = append(addrs, fmt.Sprintf("2001:db8::%d/64", i+1))
		}
		l.Connect(n, sw, "eth0", addrs...)
		nodes = append(nodes, n)
		members = append(members, testbed.Member{Name: name, Node: n, Iface: "eth0"})
	}
	return nodes, members
}

// TestThreeVipdNodes: the highest priority is elected; kill -9 of the master
// hands over within the master-down interval (+300 ms); the old master
// returns and preempts; a graceful stop hands over within the skew time.
func TestThreeVipdNodes(t *testing.T) {
	for _, mode := range []string{"multicast", "unicast"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			nodes, members := threeNodes(t)
			const interval = time.Second
			cfgs := make([]string, 3)
			for i := range nodes {
				n := yamlNode{name: members[i].Name, priority: 250 - 50*i, preempt: true}
				if mode == "unicast" {
					n.src = fmt.Sprintf("198.51.100.%d", i+1)
					for j := range nodes {
						if j != i {
							n.unicast = append(n.unicast, fmt.Sprintf("198.51.100.%d", j+1))
						}
					}
				}
				cfgs[i] = n.config(3, "1s")
			}
			// The unicast run also covers the .yml spelling and SIGINT (an
			// operator's ^C), which must stop as gracefully as SIGTERM.
			ext, stopSig := ".yaml", syscall.SIGTERM
			if mode == "unicast" {
				ext, stopSig = ".yml", syscall.SIGINT
			}
			d := make([]*testbed.Daemon, 3)
			start := time.Now()
			for i, n := range nodes {
				d[i] = testbed.StartVipd(t, n, cfgs[i], ext)
			}

			testbed.WaitSoleHolder(t, members, vip4, "n1", start, masterDown(interval, 250)+2*time.Second)
			testbed.StaySoleHolder(t, members, vip4, "n1", 2*interval)

			// Crash of the master: n2 (priority 200) takes over.
			killed := time.Now()
			d[0].Kill()
			took := testbed.WaitSoleHolder(t, members[1:], vip4, "n2", killed, masterDown(interval, 200)+slack)
			t.Logf("kill -9 of n1: n2 took over after %v (bound %v)", took, masterDown(interval, 200)+slack)
			testbed.StaySoleHolder(t, members[1:], vip4, "n2", interval)

			// The old master returns: it clears its stale VIP and preempts.
			back := time.Now()
			d[0] = testbed.StartVipd(t, nodes[0], cfgs[0], ext)
			took = testbed.WaitRestartedSoleHolder(t, d[0], members, vip4, "n1", back, masterDown(interval, 250)+2*slack)
			t.Logf("n1 back: preempted after %v", took)

			// Graceful stop: priority-0 advert, so n2 waits only its skew
			// time; the VIP is released and the process gone within 1 s of
			// the signal.
			stopped := time.Now()
			d[0].Signal(stopSig)
			took = testbed.WaitSoleHolder(t, members, vip4, "n2", stopped, skew(interval, 200)+slack)
			t.Logf("%v to n1: n2 took over after %v (bound %v)", stopSig, took, skew(interval, 200)+slack)
			if !d[0].Wait(time.Second - time.Since(stopped)) {
				t.Fatalf("vipd did not exit within 1 s of %v", stopSig)
			}
			if h := testbed.Holders(t, members[:1], vip4); len(h) != 0 {
				t.Fatalf("n1 still holds %s after a graceful stop", vip4)
			}
		})
	}
}

// TestNopreempt: with preempt off, a returning higher-priority node stays
// backup while the current master lives.
func TestNopreempt(t *testing.T) {
	nodes, members := threeNodes(t)
	const interval = time.Second
	cfgs := make([]string, 3)
	for i := range nodes {
		cfgs[i] = yamlNode{name: members[i].Name, priority: 250 - 50*i, preempt: false}.config(3, "1s")
	}
	d := make([]*testbed.Daemon, 3)
	start := time.Now()
	for i, n := range nodes {
		d[i] = testbed.StartVipd(t, n, cfgs[i], ".yaml")
	}
	testbed.WaitSoleHolder(t, members, vip4, "n1", start, masterDown(interval, 250)+2*time.Second)

	killed := time.Now()
	d[0].Kill()
	testbed.WaitSoleHolder(t, members[1:], vip4, "n2", killed, masterDown(interval, 200)+slack)

	d[0] = testbed.StartVipd(t, nodes[0], cfgs[0], ".yaml")
	// n1 first clears the VIP its crash left bound...
	testbed.WaitSoleHolder(t, members, vip4, "n2", time.Now(), 2*time.Second)
	// ...then stays backup for two master-down intervals: long enough for
	// it to have preempted if it were going to.
	testbed.StaySoleHolder(t, members, vip4, "n2", 2*masterDown(interval, 250))
}

// TestUnicastThroughRouter: two nodes in different subnets, joined by a
// router that decrements the TTL, still elect over unicast.
func TestUnicastThroughRouter(t *testing.T) {
	lab.Require(t)
	testbed.VipdBinary(t)
	l := lab.New(t)
	s1, s2 := l.Switch("s1"), l.Switch("s2")
	r := l.Node("r")
	l.Connect(r, s1, "eth0", "198.51.100.254/24")
	l.Connect(r, s2, "eth1", "203.0.113.254/24")
	r.Router(true)
	a, b := l.Node("a"), l.Node("b")
	l.Connect(a, s1, "eth0", "198.51.100.1/24")
	l.Connect(b, s2, "eth0", "203.0.113.1/24")
	a.Run(t, "ip", "route", "add", "default", "via", "198.51.100.254")
	b.Run(t, "ip", "route", "add", "default", "via", "203.0.113.254")

	vip := netip.MustParsePrefix("203.0.113.200/32")
	cfg := func(name string, prio int, src, peer string) string {
		return fmt.Sprintf(`node: {name: %s}
instances:
  - name: web
    interface: eth0
    vrid: 60
    priority: %d
    advert_interval: 1s
    version: 3
    unicast: {source: %s, peers: [%s]}
    vips: [%s]
`, name, prio, src, peer, vip)
	}
	members := []testbed.Member{{Name: "a", Node: a, Iface: "eth0"}, {Name: "b", Node: b, Iface: "eth0"}}
	start := time.Now()
	da := testbed.StartVipd(t, a, cfg("a", 150, "198.51.100.1", "203.0.113.1"), ".yaml")
	testbed.StartVipd(t, b, cfg("b", 100, "203.0.113.1", "198.51.100.1"), ".yaml")
	testbed.WaitSoleHolder(t, members, vip, "a", start, masterDown(time.Second, 150)+2*time.Second)
	// b must keep hearing a through the router: no takeover.
	testbed.StaySoleHolder(t, members, vip, "a", 2*masterDown(time.Second, 100))

	killed := time.Now()
	da.Kill()
	testbed.WaitSoleHolder(t, members[1:], vip, "b", killed, masterDown(time.Second, 100)+slack)
}

// pair is the most common lab: nodes a and b on one segment (eth0,
// 198.51.100.1 and .2) and, with private set, a second one (eth1,
// 203.0.113.1 and .2). members watch eth0, private watches eth1.
type pair struct {
	a, b    *lab.Node
	members []testbed.Member
	private []testbed.Member
}

func newPair(t *testing.T, private bool) pair {
	t.Helper()
	lab.Require(t)
	testbed.VipdBinary(t)
	l := lab.New(t)
	pub := l.Switch("pub")
	p := pair{a: l.Node("a"), b: l.Node("b")}
	l.Connect(p.a, pub, "eth0", "198.51.100.1/24")
	l.Connect(p.b, pub, "eth0", "198.51.100.2/24")
	p.members = []testbed.Member{{Name: "a", Node: p.a, Iface: "eth0"}, {Name: "b", Node: p.b, Iface: "eth0"}}
	if private {
		priv := l.Switch("priv")
		l.Connect(p.a, priv, "eth1", "203.0.113.1/24")
		l.Connect(p.b, priv, "eth1", "203.0.113.2/24")
		p.private = []testbed.Member{{Name: "a", Node: p.a, Iface: "eth1"}, {Name: "b", Node: p.b, Iface: "eth1"}}
	}
	return p
}
