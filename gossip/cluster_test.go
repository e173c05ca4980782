package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/priority"
)

// Loopback clusters of real memberlist instances. Each test uses its own
// cluster name and kernel-chosen ports, so tests cannot cross-talk.

func TestClusterConverges(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d nodes", size), func(t *testing.T) {
			cfg := testConfig(t, fmt.Sprintf("converge-%d", size))
			key := testKey(7)
			cfg.Keys = []string{b64(key)}
			nodes := []*node{startNode(t, "n0", cfg)}
			for i := 1; i < size; i++ {
				// Each node joins one earlier node: membership spreads by
				// gossip. Node 1 joins by name, resolved when it joins.
				jc := joining(t, *cfg, nodes[i-1])
				if i == 1 {
					jc.Join = []string{fmt.Sprintf("localhost:%d", nodes[0].c.LocalAddr().Port())}
				}
				nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), jc))
			}
			var names []string
			for _, n := range nodes {
				names = append(names, n.name)
			}
			waitFor(t, 10*time.Second, "every node to see every member", func() bool {
				for _, n := range nodes {
					if !sameStrings(aliveNames(n.c), names) {
						return false
					}
				}
				return true
			})
			for _, n := range nodes {
				for _, o := range nodes {
					if n.events.count(MemberJoin, o.name) != 1 {
						t.Errorf("%s: %d MemberJoin events for %s, want 1", n.name, n.events.count(MemberJoin, o.name), o.name)
					}
				}
				for _, m := range n.c.Members() {
					if m.Meta.Name != m.Name || m.Meta.AZ != "az-1" || m.Meta.Version != "test" || m.Meta.APIAddr != m.Name+":9100" {
						t.Errorf("%s sees meta of %s as %+v", n.name, m.Name, m.Meta)
					}
					if !m.Addr.Addr().IsLoopback() || m.Addr.Port() == 0 {
						t.Errorf("%s sees %s at %v", n.name, m.Name, m.Addr)
					}
				}
			}

			// Every node publishes its instances; node 0's state is too large
			// for one gossip packet and goes by TCP.
			for i, n := range nodes {
				s := NodeState{
					Instances: []InstanceState{{Name: "vi-dns", VRID: 10, Family: 4, Cluster: "dns",
						Src: netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), State: fsm.Backup, Priority: 100}},
					Checks: []CheckState{{Name: "dig", Healthy: true, State: checks.StateHealthy}},
				}
				if i == 0 {
					for j := range 40 {
						s.Instances = append(s.Instances, InstanceState{Name: fmt.Sprintf("bulk-%02d", j), VRID: uint8(100 + j), Family: 4,
							Reason: strings.Repeat("r", 20), State: fsm.Backup})
					}
					if len(encodeState(normalize(s, "n0"))) <= n.c.maxBroadcast {
						t.Fatal("node 0's state should exceed the gossip packet size")
					}
				}
				if i == 1 {
					s.Instances[0].Cluster = "other" // not a peer of the others
				}
				if err := n.c.SetLocal(s); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "every node to have every state", func() bool {
				for _, n := range nodes {
					st := n.c.States()
					if len(st) != size {
						return false
					}
					for _, o := range nodes {
						if st[o.name].Incarnation != 1 {
							return false
						}
					}
					if len(st["n0"].Instances) != 41 {
						return false
					}
				}
				return true
			})

			// Peers: the dns sources of the others, not node 1 (other
			// cluster), not oneself.
			for i, n := range nodes {
				var want []netip.Addr
				for j := range size {
					if j != i && j != 1 {
						want = append(want, netip.AddrFrom4([4]byte{198, 51, 100, byte(j + 1)}))
					}
				}
				if i == 1 {
					want = nil
					for j := range size {
						if j != 1 {
							want = append(want, netip.AddrFrom4([4]byte{198, 51, 100, byte(j + 1)}))
						}
					}
					if got := n.c.Peers("dns", 10, 4); !slices.Equal(got, want) {
						t.Errorf("%s: Peers(dns) = %v, want %v", n.name, got, want)
					}
					if got := n.c.Peers("other", 10, 4); len(got) != 0 {
						t.Errorf("%s: Peers(other) = %v, want none", n.name, got)
					}
					continue
				}
				if got := n.c.Peers("dns", 10, 4); !slices.Equal(got, want) {
					t.Errorf("%s: Peers(dns) = %v, want %v", n.name, got, want)
				}
				if got := n.c.Peers("other", 10, 4); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("198.51.100.2")}) {
					t.Errorf("%s: Peers(other) = %v, want [198.51.100.2]", n.name, got)
				}
			}

			// An order written on the last node reaches all and is saved.
			last := nodes[size-1]
			e, err := last.c.SetOrder("vi-dns", []priority.OrderNode{{Name: "n2"}, {Name: "n0"}, {Name: "n1", Disabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "every node to have the order", func() bool {
				for _, n := range nodes {
					if !reflect.DeepEqual(n.c.Orders()["vi-dns"], e) {
						return false
					}
				}
				return true
			})
			for _, n := range nodes {
				if got := n.events.count(OrderUpdate, last.name); got != 1 {
					t.Errorf("%s: %d OrderUpdate events, want 1", n.name, got)
				}
				if n.events.count(StateUpdate, "") < size-1 {
					t.Errorf("%s: %d StateUpdate events, want at least %d", n.name, n.events.count(StateUpdate, ""), size-1)
				}
			}
			for _, n := range nodes {
				if s := n.c.Stats(); s.DecodeErrors != 0 || s.RejectedKey != 0 || s.RejectedCluster != 0 {
					t.Errorf("%s: stats %+v", n.name, s)
				}
			}
		})
	}
}

func TestMemberFailureDetected(t *testing.T) {
	tests := []struct {
		name       string
		graceful   bool
		wantStatus string
	}{
		{"leaves", true, StatusLeft},
		{"dies", false, StatusDead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "failure-"+tt.name)
			a := startNode(t, "a", cfg)
			b := startNode(t, "b", joining(t, *cfg, a))
			c := startNode(t, "c", joining(t, *cfg, a))
			all := []*node{a, b, c}
			for _, n := range all {
				if err := n.c.SetLocal(NodeState{Instances: []InstanceState{{Name: "vi", VRID: 1, Family: 4, State: fsm.Backup}}}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "every node to have every state", func() bool {
				for _, n := range all {
					if len(n.c.States()) != 3 {
						return false
					}
				}
				return true
			})
			bound := a.c.DetectionTime()
			if bound <= 0 {
				t.Fatalf("DetectionTime = %v", bound)
			}
			start := time.Now()
			if tt.graceful {
				if err := c.c.Leave(time.Second); err != nil {
					t.Fatalf("Leave: %v", err)
				}
			} else {
				c.cancel() // memberlist shuts down without a leave message
			}
			waitFor(t, 3*bound, "c's state to be dropped", func() bool {
				_, inA := a.c.States()["c"]
				_, inB := b.c.States()["c"]
				return !inA && !inB
			})
			took := time.Since(start)
			t.Logf("dropped after %v (bound %v)", took, bound)
			if took > bound {
				t.Errorf("c dropped after %v, over DetectionTime %v", took, bound)
			}
			for _, n := range []*node{a, b} {
				var status string
				for _, m := range n.c.Members() {
					if m.Name == "c" {
						status = m.Status
					}
				}
				if status != tt.wantStatus {
					t.Errorf("%s sees c as %q, want %q", n.name, status, tt.wantStatus)
				}
				if n.events.count(MemberLeave, "c") != 1 {
					t.Errorf("%s: %d MemberLeave events for c, want 1", n.name, n.events.count(MemberLeave, "c"))
				}
				if got := n.c.Peers("", 1, 4); len(got) != 0 {
					t.Errorf("%s: Peers = %v", n.name, got)
				}
			}
		})
	}
}

// Concurrent writers of one order, made while apart, must end with the
// same winner everywhere once they meet.
func TestOrderConflictResolves(t *testing.T) {
	tests := []struct {
		name       string
		writesA    int // SetOrder calls on node a before joining
		writesB    int // on node b
		wantOrigin string
		wantVer    uint64
	}{
		{"same version: higher origin wins", 1, 1, "b", 1},
		{"more writes: higher version wins", 3, 1, "a", 3},
		{"b ahead", 1, 2, "b", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "lww-"+strings.ReplaceAll(tt.name, " ", ""))
			a := startNode(t, "a", cfg)
			cfgB := testConfig(t, cfg.ClusterName) // own state file
			b := newNode(t, "b", cfgB)
			for range tt.writesA {
				if _, err := a.c.SetOrder("vi", []priority.OrderNode{{Name: "a"}, {Name: "b"}}); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.writesB {
				if _, err := b.c.SetOrder("vi", []priority.OrderNode{{Name: "b"}, {Name: "a"}}); err != nil {
					t.Fatal(err)
				}
			}
			b.c.joins = []joinTarget{mustTarget(t, a.c.LocalAddr().String())}
			b.start(t)
			waitFor(t, 10*time.Second, "both nodes to agree", func() bool {
				oa, ob := a.c.Orders()["vi"], b.c.Orders()["vi"]
				return reflect.DeepEqual(oa, ob) && oa.Origin == tt.wantOrigin && oa.Version == tt.wantVer
			})
			// The winner is on disk on both sides.
			for _, p := range []string{cfg.StateFile, cfgB.StateFile} {
				waitFor(t, 5*time.Second, "the state file "+p, func() bool {
					st, err := readStateFile(p)
					o := st.orders
					return err == nil && o["vi"].Origin == tt.wantOrigin && o["vi"].Version == tt.wantVer
				})
			}
			// The next write anywhere is newer than both.
			e, err := a.c.SetOrder("vi", []priority.OrderNode{{Name: "a"}})
			if err != nil {
				t.Fatal(err)
			}
			if e.Version != tt.wantVer+1 {
				t.Errorf("next version %d, want %d", e.Version, tt.wantVer+1)
			}
		})
	}
}

func mustTarget(t *testing.T, s string) joinTarget {
	t.Helper()
	jt, err := parseJoinTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return jt
}

func TestStateFileSurvivesRestart(t *testing.T) {
	cfg := testConfig(t, "restart")
	a := startNode(t, "a", cfg)
	b := startNode(t, "b", joining(t, *cfg, a))
	waitFor(t, 10*time.Second, "b to join", func() bool { return len(aliveNames(a.c)) == 2 })
	want, err := b.c.SetOrder("vi", []priority.OrderNode{{Name: "b"}, {Name: "a", Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a to get the order", func() bool { return reflect.DeepEqual(a.c.Orders()["vi"], want) })
	if err := a.c.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	// While a is down the order changes again.
	newer, err := b.c.SetOrder("vi", []priority.OrderNode{{Name: "a"}, {Name: "b"}})
	if err != nil {
		t.Fatal(err)
	}

	// a restarts from its state file, alone: it still has the order it saw.
	a2 := newNode(t, "a", cfg)
	if got := a2.c.Orders()["vi"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart Orders = %+v, want %+v", got, want)
	}
	// Joining, it learns the newer order and saves it.
	a2.c.joins = []joinTarget{mustTarget(t, b.c.LocalAddr().String())}
	a2.start(t)
	waitFor(t, 10*time.Second, "the restarted node to get the newer order", func() bool {
		return reflect.DeepEqual(a2.c.Orders()["vi"], newer)
	})
	waitFor(t, 5*time.Second, "the newer order on disk", func() bool {
		st, err := readStateFile(cfg.StateFile)
		return err == nil && reflect.DeepEqual(st.orders["vi"], newer)
	})
	raw, err := os.ReadFile(cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"origin": "b"`) {
		t.Errorf("state file:\n%s", raw)
	}
}

// Nodes that must not form a cluster: the join fails, the reason is
// logged as an error on both sides and counted.
func TestRejectedJoin(t *testing.T) {
	keyCount := func(s Stats) uint64 { return s.RejectedKey }
	clusterCount := func(s Stats) uint64 { return s.RejectedCluster }
	tests := []struct {
		name      string
		keysA     [][]byte
		keysB     [][]byte
		clusterB  string // "" = same as a
		count     func(Stats) uint64
		logA      string // error logged by the node refusing the traffic
		logB      string // what the joiner logs
		logBLevel slog.Level
		countOnB  bool // the joiner also refuses the answer
	}{
		{"wrong key", [][]byte{testKey(1)}, [][]byte{testKey(2)}, "", keyCount,
			"encryption keys differ", "encryption keys differ", slog.LevelError, true},
		{"no key against a key", [][]byte{testKey(1)}, nil, "", keyCount,
			"encryption keys differ", "encryption keys differ", slog.LevelError, true},
		{"other cluster name", nil, nil, "other", clusterCount,
			"cluster names differ", "different cluster_name or keys?", slog.LevelWarn, false},
		{"other cluster name, same key", [][]byte{testKey(1)}, [][]byte{testKey(1)}, "other", clusterCount,
			"cluster names differ", "different cluster_name or keys?", slog.LevelWarn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgA := testConfig(t, "reject-"+strings.ReplaceAll(tt.name, " ", "-"))
			for _, k := range tt.keysA {
				cfgA.Keys = append(cfgA.Keys, b64(k))
			}
			a := startNode(t, "a", cfgA)
			cfgB := testConfig(t, cfgA.ClusterName)
			if tt.clusterB != "" {
				cfgB.ClusterName = tt.clusterB
			}
			for _, k := range tt.keysB {
				cfgB.Keys = append(cfgB.Keys, b64(k))
			}
			b := startNode(t, "b", joining(t, *cfgB, a))
			waitFor(t, 10*time.Second, "the rejection to be counted and b's join to fail twice", func() bool {
				return tt.count(a.c.Stats()) > 0 && b.c.Stats().JoinFailures >= 2
			})
			if !a.rec.has(slog.LevelError, tt.logA) {
				t.Errorf("a logged no error %q", tt.logA)
			}
			if !b.rec.has(tt.logBLevel, tt.logB) {
				t.Errorf("b logged nothing at %v containing %q", tt.logBLevel, tt.logB)
			}
			if got := tt.count(b.c.Stats()) > 0; got != tt.countOnB {
				t.Errorf("b counted a rejection: %v, want %v (%+v)", got, tt.countOnB, b.c.Stats())
			}
			for _, n := range []*node{a, b} {
				if got := aliveNames(n.c); !sameStrings(got, []string{n.name}) {
					t.Errorf("%s sees members %v, want only itself", n.name, got)
				}
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	cfg := testConfig(t, "rotation")
	cfg.Keys = []string{b64(k1)}
	a := startNode(t, "a", cfg)
	b := startNode(t, "b", joining(t, *cfg, a))
	c := startNode(t, "c", joining(t, *cfg, a))
	all := []*node{a, b, c}
	waitFor(t, 10*time.Second, "three members", func() bool {
		for _, n := range all {
			if len(aliveNames(n.c)) != 3 {
				return false
			}
		}
		return true
	})

	steps := []struct {
		name string
		keys [][]byte
	}{
		{"install the new key", [][]byte{k1, k2}},
		{"encrypt with the new key", [][]byte{k2, k1}},
		{"retire the old key", [][]byte{k2}},
	}
	inc := uint64(0)
	for _, st := range steps {
		for _, n := range all {
			if err := n.c.UpdateKeys(st.keys); err != nil {
				t.Fatalf("%s: %s: %v", st.name, n.name, err)
			}
		}
		// Traffic under the new keys: a state change reaches everyone.
		inc++
		if err := a.c.SetLocal(NodeState{Checks: []CheckState{{Name: "step", Output: st.name}}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, st.name+": a's state everywhere", func() bool {
			for _, n := range all {
				if n.c.States()["a"].Incarnation != inc {
					return false
				}
			}
			return true
		})
	}
	// Nobody was suspected away for a detection time after the rotation.
	holdsFor(t, a.c.DetectionTime(), "three alive members", func() bool {
		for _, n := range all {
			if len(aliveNames(n.c)) != 3 {
				return false
			}
		}
		return true
	})
	for _, n := range all {
		if got := n.events.count(MemberLeave, ""); got != 0 {
			t.Errorf("%s: %d MemberLeave events during the rotation", n.name, got)
		}
		if s := n.c.Stats(); s.RejectedKey != 0 {
			t.Errorf("%s: %d packets rejected for their key during the rotation", n.name, s.RejectedKey)
		}
	}

	// The retired key no longer gets in; the new one does.
	oldCfg := *cfg
	oldCfg.Keys = []string{b64(k1)}
	old := startNode(t, "old", joining(t, oldCfg, a))
	newCfg := oldCfg
	newCfg.Keys = []string{b64(k2)}
	fresh := startNode(t, "fresh", joining(t, newCfg, b))
	waitFor(t, 10*time.Second, "fresh to join and old to be refused", func() bool {
		return len(aliveNames(fresh.c)) == 4 && old.c.Stats().JoinFailures > 0
	})
	if got := aliveNames(old.c); !sameStrings(got, []string{"old"}) {
		t.Errorf("old-key node sees %v", got)
	}
}

// Ping answers at once for a live member and fails, within the probe
// timeout, for one that has just died, long before failure detection
// would declare it dead.
func TestPing(t *testing.T) {
	cfg := testConfig(t, "ping")
	a := startNode(t, "a", cfg)
	b := startNode(t, "b", joining(t, *cfg, a))
	waitFor(t, 5*time.Second, "a to see b", func() bool { return len(aliveNames(a.c)) == 2 })
	// (memberlist stamps the send after the syscall, so on loopback the
	// round trip it reports can even be negative: only the error counts.)
	if _, err := a.c.Ping("b"); err != nil {
		t.Fatalf("Ping(b) while alive: %v", err)
	}
	if _, err := a.c.Ping("nobody"); err == nil {
		t.Error("Ping of an unknown member succeeded")
	}
	b.cancel() // dies without a leave message
	waitFor(t, 2*time.Second, "b's memberlist to shut down", func() bool {
		b.c.lifeMu.Lock()
		defer b.c.lifeMu.Unlock()
		return b.c.down
	})
	start := time.Now()
	if _, err := a.c.Ping("b"); err == nil {
		t.Fatal("Ping(b) succeeded after b died")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("failed Ping took %v, want about the probe timeout (%v)", took, cfg.Timings.ProbeTimeout)
	}
}

// A command reaches the named node of an encrypted cluster, its order
// applied first; in a cluster without encryption it is refused.
func TestCommands(t *testing.T) {
	cfg := testConfig(t, "commands")
	cfg.Keys = []string{b64(testKey(7))}
	a := startNode(t, "a", cfg)
	got := make(chan Command, 1)
	bn := newNode(t, "b", joining(t, *cfg, a))
	bn.c.onCommand = func(c Command) {
		if _, ok := bn.c.Orders()["vi"]; !ok {
			t.Error("command handed over before its order was applied")
		}
		got <- c
	}
	bn.start(t)
	waitFor(t, 5*time.Second, "a to see b", func() bool { return len(aliveNames(a.c)) == 2 })
	order := priority.Order{Instance: "vi", Nodes: []priority.OrderNode{{Name: "b"}, {Name: "a"}}, Version: 9, Origin: "a"}
	if err := a.c.Send(Command{To: "b", Kind: CommandResign, Instance: "vi", Order: &order}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	select {
	case c := <-got:
		want := Command{From: "a", To: "b", Kind: CommandResign, Instance: "vi", Order: &order}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("received %+v, want %+v", c, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b never received the command")
	}
	if err := a.c.Send(Command{To: "nobody", Kind: CommandMaintenance}); err == nil {
		t.Error("Send to an unknown member succeeded")
	}

	plain := testConfig(t, "plain")
	p := startNode(t, "p", plain)
	q := startNode(t, "q", joining(t, *plain, p))
	waitFor(t, 5*time.Second, "p to see q", func() bool { return len(aliveNames(p.c)) == 2 })
	if err := p.c.Send(Command{To: "q", Kind: CommandMaintenance, Enabled: true}); !errors.Is(err, ErrUnencrypted) {
		t.Errorf("Send in an unencrypted cluster: %v, want ErrUnencrypted", err)
	}
	// A command that arrives anyway (a forged packet) is dropped and counted.
	q.c.handleCommand(Command{From: "p", To: "q", Kind: CommandMaintenance, Enabled: true})
	if n := q.c.Stats().RejectedCommands; n != 1 {
		t.Errorf("RejectedCommands = %d, want 1", n)
	}
}
