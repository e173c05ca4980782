package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/internal/clock"
)

// unstartedAt is unstarted, on the wall clock: the tests run it in a
// synctest bubble, whose time a time.Sleep moves on.
func unstartedAt(t *testing.T) *Cluster {
	t.Helper()
	cfg := testConfig(t, "unit")
	c, err := New(cfg, "self", Options{Log: discardLog(), Clock: clock.Real()})
	if err != nil {
		t.Fatal(err)
	}
	c.startedAt = time.Now()
	return c
}

// joinAt records member name alive at addr.
func joinAt(c *Cluster, name, addr string) {
	ap := netip.MustParseAddrPort(addr)
	meta, _ := encodeMeta(NodeMeta{Name: name})
	(&events{c}).NotifyJoin(&memberlist.Node{Name: name, Addr: net.IP(ap.Addr().AsSlice()), Port: ap.Port(), Meta: meta, State: memberlist.StateAlive})
}

func failAt(c *Cluster, name, addr string) {
	ap := netip.MustParseAddrPort(addr)
	(&events{c}).NotifyLeave(&memberlist.Node{Name: name, Addr: net.IP(ap.Addr().AsSlice()), Port: ap.Port(), State: memberlist.StateDead})
}

func vrrpState(node, src string) NodeState {
	return NodeState{Node: node, Incarnation: 1, Instances: []InstanceState{{Name: "vi", Cluster: "dns", VRID: 10, Family: 4, Src: netip.MustParseAddr(src)}}}
}

func peerList(c *Cluster) string { return fmt.Sprint(c.Peers("dns", 10, 4)) }

// A failed member stays a peer until the reconnect timeout; past it, it is
// dropped if others remain, but a timer never empties an instance's peer
// list: the last peers stay, listed as members, until they come back or
// leave.
func TestPeersNeverEmptiedByTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := unstartedAt(t)
		joinAt(c, "a", "198.51.100.1:7946")
		joinAt(c, "b", "198.51.100.2:7946")
		c.handleState(vrrpState("a", "198.51.100.1"), false)
		c.handleState(vrrpState("b", "198.51.100.2"), false)
		failAt(c, "a", "198.51.100.1:7946")

		time.Sleep(c.reconnectTimeout - time.Minute)
		if got := peerList(c); got != "[198.51.100.1 198.51.100.2]" {
			t.Fatalf("before the timeout: peers %s, want a (failed) and b", got)
		}
		time.Sleep(2 * time.Minute)
		if got := peerList(c); got != "[198.51.100.2]" {
			t.Fatalf("past the timeout with b alive: peers %s, want b alone", got)
		}
		if ms := c.Members(); slices.ContainsFunc(ms, func(m Member) bool { return m.Name == "a" }) {
			t.Errorf("a, failed past the timeout, still listed: %+v", ms)
		}

		// b fails too and the timeout passes: b is the last peer and stays.
		failAt(c, "b", "198.51.100.2:7946")
		time.Sleep(c.reconnectTimeout + time.Hour)
		if got := peerList(c); got != "[198.51.100.2]" {
			t.Fatalf("last peer past the timeout: peers %s, want b kept", got)
		}
		if ms := c.Members(); !slices.ContainsFunc(ms, func(m Member) bool { return m.Name == "b" && m.Status == StatusDead }) {
			t.Errorf("b, the last peer, no longer listed as failed: %+v", ms)
		}
		// A new live peer makes the old one expendable.
		joinAt(c, "c", "198.51.100.3:7946")
		c.handleState(vrrpState("c", "198.51.100.3"), false)
		if got := peerList(c); got != "[198.51.100.3]" {
			t.Errorf("with c alive: peers %s, want c alone", got)
		}
		// b leaving on purpose drops it at once, timeout or not.
		joinAt(c, "d", "198.51.100.4:7946")
		c.handleState(vrrpState("d", "198.51.100.4"), false)
		failAt(c, "d", "198.51.100.4:7946")
		c.handleLeaving("d")
		if got := peerList(c); got != "[198.51.100.3]" {
			t.Errorf("after d left: peers %s, want c alone", got)
		}
	})
}

// The rejoin targets: failed members (not those that left), join entries
// that are neither this node nor a live member, remembered members not met
// again; each for the reconnect timeout only, unless this node is alone.
func TestRejoinTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := unstartedAt(t)
		self := netip.MustParseAddrPort("198.51.100.9:7946")
		joinAt(c, "self", self.String())
		for _, s := range []string{self.String(), "198.51.100.1", "198.51.100.5:7946"} {
			jt, err := parseJoinTarget(s)
			if err != nil {
				t.Fatal(err)
			}
			c.joins = append(c.joins, jt)
		}
		c.mc.BindPort = 7946
		c.remembered = []savedMember{
			{Name: "a", Addr: netip.MustParseAddrPort("198.51.100.1:7946")}, // also a member: not twice
			{Name: "r", Addr: netip.MustParseAddrPort("198.51.100.6:7946")},
			{Name: "self", Addr: self},
		}
		joinAt(c, "a", "198.51.100.1:7946")
		joinAt(c, "f", "198.51.100.2:7946")
		joinAt(c, "l", "198.51.100.3:7946")
		failAt(c, "f", "198.51.100.2:7946")
		c.handleLeaving("l")
		failAt(c, "l", "198.51.100.3:7946")

		list := func(alone bool) []string {
			var out []string
			for _, tg := range c.rejoinTargets(context.Background(), time.Now(), alone) {
				out = append(out, tg.what+" "+tg.addr.String())
			}
			slices.Sort(out)
			return out
		}
		want := []string{"failed member 198.51.100.2:7946", "join 198.51.100.5:7946", "remembered member 198.51.100.6:7946"}
		if got := list(false); !slices.Equal(got, want) {
			t.Errorf("targets %v, want %v", got, want)
		}
		// a fails: its address comes back as a target (once).
		failAt(c, "a", "198.51.100.1:7946")
		want = []string{"failed member 198.51.100.1:7946", "failed member 198.51.100.2:7946", "join 198.51.100.5:7946", "remembered member 198.51.100.6:7946"}
		if got := list(false); !slices.Equal(got, want) {
			t.Errorf("after a failed: targets %v, want %v", got, want)
		}
		// Past the reconnect timeout, nothing is tried, unless this node is
		// alone: then everything still known is.
		time.Sleep(c.reconnectTimeout + time.Second)
		if got := list(false); len(got) != 0 {
			t.Errorf("past the timeout: targets %v, want none", got)
		}
		if got := list(true); len(got) < 2 || !slices.Contains(got, "join 198.51.100.5:7946") || !slices.Contains(got, "remembered member 198.51.100.6:7946") {
			t.Errorf("alone past the timeout: targets %v, want the join entries and remembered members at least", got)
		}
	})
}

// A member declared dead is joined again: b restarts on the same address
// knowing nobody (no join list, no state file), and a, which saw it fail,
// reconnects it.
func TestReconnectFailedMember(t *testing.T) {
	cfg := testConfig(t, "reconnect")
	a := newNode(t, "a", cfg)
	a.c.reconnectInterval = 200 * time.Millisecond
	a.start(t)
	b := newNode(t, "b", joining(t, *cfg, a))
	b.start(t)
	waitFor(t, 10*time.Second, "a and b to meet", func() bool { return len(aliveNames(a.c)) == 2 })
	addr := b.c.LocalAddr()
	b.cancel() // a crash: no leave message
	waitFor(t, 10*time.Second, "a to declare b failed", func() bool {
		return slices.ContainsFunc(a.c.Members(), func(m Member) bool { return m.Name == "b" && m.Status == StatusDead })
	})
	_ = b.c.Leave(time.Second)

	lonely := *cfg
	lonely.StateFile = t.TempDir() + "/state.json"
	b2 := newNode(t, "b", &lonely)
	b2.c.mc.BindPort, b2.c.mc.AdvertisePort = int(addr.Port()), int(addr.Port())
	b2.c.reconnectInterval = time.Hour
	b2.start(t)
	waitFor(t, 10*time.Second, "a to take b back", func() bool {
		return sameStrings(aliveNames(a.c), []string{"a", "b"}) && sameStrings(aliveNames(b2.c), []string{"a", "b"})
	})
	if !a.rec.has(slog.LevelInfo, "reconnected to a failed member") {
		t.Error("a did not log the reconnection")
	}
}

// A node whose join list names only itself finds its cluster again after
// a restart through the members its state file remembered, and says at
// start that the list names nobody else.
func TestRejoinRememberedMembers(t *testing.T) {
	cfg := testConfig(t, "remember")
	a := newNode(t, "a", cfg)
	a.start(t)
	self := a.c.LocalAddr()
	b := newNode(t, "b", joining(t, *cfg, a))
	b.c.reconnectInterval = time.Hour // only a's memory may bring a back
	b.start(t)
	waitFor(t, 10*time.Second, "a and b to meet", func() bool { return len(aliveNames(a.c)) == 2 })
	waitFor(t, 5*time.Second, "b in a's state file", func() bool {
		st, err := readStateFile(cfg.StateFile)
		return err == nil && len(st.members) == 1 && st.members[0].Name == "b"
	})
	a.cancel()
	waitFor(t, 10*time.Second, "b to declare a failed", func() bool {
		return slices.ContainsFunc(b.c.Members(), func(m Member) bool { return m.Name == "a" && m.Status == StatusDead })
	})
	_ = a.c.Leave(time.Second)

	again := *cfg
	again.Join = []string{self.String()}
	a2 := newNode(t, "a", &again)
	a2.c.mc.BindPort, a2.c.mc.AdvertisePort = int(self.Port()), int(self.Port())
	a2.start(t)
	waitFor(t, 10*time.Second, "a back in the cluster", func() bool {
		return sameStrings(aliveNames(a2.c), []string{"a", "b"}) && sameStrings(aliveNames(b.c), []string{"a", "b"})
	})
	if !a2.rec.has(slogWarn, "the join list names no other node") {
		t.Error("no warning that the join list names only this node")
	}
	if !a2.rec.has(slog.LevelInfo, "reconnected to a remembered member") {
		t.Error("a did not log joining the remembered member")
	}
	if !a2.c.Joined() {
		t.Error("Joined() false after joining")
	}
}
