package e2e

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/testbed"
)

// Issue 13, items 1 and 3: a long partition heals (gossip merges again,
// one holder), and no node stands alone as a second master by a
// configuration mistake (a wrong key, a join list naming only itself).

// membersJSON is the part of `vipd members -o json` these tests read.
type membersJSON struct {
	Members []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"members"`
}

// vipdMembers runs the real CLI, `vipd members -o json`, against a
// daemon's socket and returns the names of the members it lists alive.
func vipdMembers(t *testing.T, d *testbed.Daemon) []string {
	t.Helper()
	var m membersJSON
	vipdJSON(t, d.Socket, &m, "members")
	var alive []string
	for _, x := range m.Members {
		if x.Status == "MEMBER_STATUS_ALIVE" {
			alive = append(alive, x.Name)
		}
	}
	slices.Sort(alive)
	return alive
}

// names lists the gnodes' names, sorted.
func names(nodes ...*gnode) []string {
	var out []string
	for _, g := range nodes {
		out = append(out, g.name)
	}
	slices.Sort(out)
	return out
}

// TestGossipPartitionHeals: five nodes in two zones, the lan profile and
// 1 s adverts, as an operator runs them. All traffic between the zones is
// cut for 40 s — longer than failure detection: each side declares the
// other dead, and each side has a master. When the cut heals, VRRP settles
// at once (a failed member stays a unicast peer), and gossip merges again
// within push_pull_interval + 10 s: every node lists all five alive in
// `vipd members`, has every other node as a peer, and n1 stays the only
// holder. (Before the reconnect loop memberlist never spoke to a dead
// member again and the sides stayed split for good; when the old 10-minute
// peer expiry ran out, a second master appeared on a healthy network.)
func TestGossipPartitionHeals(t *testing.T) {
	t.Parallel()
	nodes := gossipLab(t,
		gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 2, 150}, gossipSpec{"n3", 1, 140},
		gossipSpec{"n4", 2, 130}, gossipSpec{"n5", 1, 120})
	for _, g := range nodes {
		g.profile, g.timings = config.GossipProfileLAN, config.GossipTimings{}
	}
	timings := nodes[0].effective()
	router := nodes[0].router
	az1 := []*gnode{nodes[0], nodes[2], nodes[4]}
	az2 := []*gnode{nodes[1], nodes[3]}
	members := startCluster(t, nodes, timings.PushPullInterval+5*time.Second, 2*gossipAdvert)

	// The cut: the router forwards nothing between the zones.
	cut := time.Now()
	router.Run(t, "nft", "add", "table", "inet", "cut")
	router.Run(t, "nft", "add", "chain", "inet", "cut", "xzone", "{ type filter hook forward priority 0; policy drop; }")
	// az2 elects its own master: the cut is real.
	waitHolds(t, members, gossipVIP, "n2", masterDown(gossipAdvert, 150)+slack)
	// At least 40 s, and until every node has declared every node of the
	// other zone failed: the partition outlasts failure detection.
	for {
		var missing []string
		for _, pair := range [][2][]*gnode{{az1, az2}, {az2, az1}} {
			for _, g := range pair[0] {
				for _, o := range pair[1] {
					if len(g.d.LogTimes("gossip: member failed", nodeAttr(o.name))) == 0 {
						missing = append(missing, g.name+" sees "+o.name)
					}
				}
			}
		}
		since := time.Since(cut)
		if len(missing) == 0 && since >= 40*time.Second {
			break
		}
		if since > 90*time.Second {
			t.Fatalf("90 s into the cut, failure not detected: %v", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	healed := time.Now()
	router.Run(t, "nft", "delete", "table", "inet", "cut")
	t.Logf("cut for %v (every node saw the other zone fail)", healed.Sub(cut).Round(time.Millisecond))

	// VRRP settles at once: the failed members are still peers.
	took := testbed.WaitSoleHolder(t, members, gossipVIP, "n1", healed, 2*gossipAdvert+slack)
	t.Logf("healed: n1 sole holder after %v", took)

	// Gossip merges: every node logs the other zone's members joining
	// again within push_pull_interval + 10 s.
	bound := timings.PushPullInterval + 10*time.Second
	for _, pair := range [][2][]*gnode{{az1, az2}, {az2, az1}} {
		for _, o := range pair[1] {
			seen := firstLogged(t, daemons(pair[0]...), healed, bound+slack, "gossip: member joined", nodeAttr(o.name))
			last := checkWithin(t, o.name+" joined again", healed, seen, bound)
			t.Logf("%s seen back by %v after %v", o.name, names(pair[0]...), last)
		}
	}
	// `vipd members` is complete everywhere, and every node has every
	// other as a unicast peer.
	all := names(nodes...)
	deadline := time.Now().Add(5 * time.Second)
	for _, g := range nodes {
		for {
			got := vipdMembers(t, g.d)
			if slices.Equal(got, all) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("vipd members on %s lists alive %v, want %v", g.name, got, all)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitConverged(t, nodes, 5*time.Second)
	// And it stays so: one holder, whatever the merge's refutations and
	// hellos do to the peer lists.
	testbed.StaySoleHolder(t, members, gossipVIP, "n1", 3*gossipAdvert)
	for _, g := range nodes {
		for _, o := range nodes {
			if g != o && !slices.Contains(lastPeers(g.d), o.addr.String()) {
				t.Errorf("%s lacks peer %s after the merge: %v", g.name, o.name, lastPeers(g.d))
			}
		}
	}
}

// TestGossipWrongKeyHeld: n3, the best priority, has a mistyped gossip key.
// It joins nobody, hears nobody, and without require_join would take the
// VIP by itself after its master-down interval. With the default
// (require_join on, since it has a join list) it stays BACKUP with the
// reason in `vipd status` and vipd_gossip_join_wait 1, while both sides
// log "encryption keys differ" at error level naming the other's address.
// The documented escape, require_join: false and a reload, releases it.
func TestGossipWrongKeyHeld(t *testing.T) {
	t.Parallel()
	curlBin := requireTool(t, "curl")
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 2, 150}, gossipSpec{"n3", 1, 250})
	good, bad := nodes[:2], nodes[2]
	for _, g := range good {
		g.start(t)
	}
	members := gmembers(good...)
	waitConverged(t, good, 5*time.Second)
	testbed.WaitSoleHolder(t, members, gossipVIP, "n1", time.Now(), masterDown(gossipAdvert, 200)+2*time.Second)

	bad.key = gossipKey(2) // one byte off everywhere: a typo
	started := time.Now()
	bad.start(t)
	bad.d.WaitLog(t, "instance started", 5*time.Second)
	all := gmembers(nodes...)
	// Long past the master-down interval in which n3 would have taken
	// over: n1 is still the only holder.
	testbed.StaySoleHolder(t, all, gossipVIP, "n1", masterDown(gossipAdvert, 250)+2*time.Second)
	st := vipdStatus(t, bad.d)
	if len(st.Instances) != 1 || st.Instances[0].State != "INSTANCE_STATE_BACKUP" || !st.Instances[0].Held ||
		!strings.Contains(st.Instances[0].Reason, "require_join") {
		t.Errorf("n3's status %+v, want BACKUP, held, the reason naming require_join", st.Instances)
	}
	expo := run(t, curlBin, "-sS", "--fail", "--unix-socket", bad.d.Socket, "http://vipd/metrics")
	if !strings.Contains(expo, "\nvipd_gossip_join_wait 1\n") {
		t.Errorf("n3's metrics lack vipd_gossip_join_wait 1")
	}
	// Each side names the other in an error.
	const keyErr = "encryption keys differ"
	waitFor := func(d *testbed.Daemon, subs ...string) {
		end := time.Now().Add(10 * time.Second)
		for d.CountLog(subs...) == 0 {
			if time.Now().After(end) {
				t.Fatalf("%s never logged %q", d.Node.Name(), subs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(bad.d, keyErr, "level=ERROR", good[0].addr.String())
	waitFor(good[0].d, keyErr, "level=ERROR", bad.addr.String())
	if n := good[0].d.CountLog("gossip: member joined", nodeAttr("n3")); n != 0 {
		t.Errorf("n1 let n3 join")
	}

	// The escape for a genuine one-node start: require_join off, reload.
	cfg := bad.config()
	cfg = strings.Replace(cfg, "  az: az", "  require_join: false\n  az: az", 1)
	if err := os.WriteFile(bad.d.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bad.d.Signal(syscall.SIGHUP)
	bad.d.WaitLog(t, "require_join: hold released", 5*time.Second)
	waitHolds(t, all, gossipVIP, "n3", masterDown(gossipAdvert, 250)+slack)
	t.Logf("n3 held %v with a wrong key, then released by require_join: false", time.Since(started).Round(time.Millisecond))
}

// TestGossipJoinSelfTemplate: the "everyone joins n1" template, n1
// included. n1 is warned at load (PATH:LINE) and at start that its list
// names no other node. After n1 crashes and the others declare it dead,
// a restarted n1 is admitted again — through the members its state file
// remembers and the others' reconnects — and takes the VIP back, without
// standing alone as a second master in between (require_join holds it
// until it has joined).
func TestGossipJoinSelfTemplate(t *testing.T) {
	t.Parallel()
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 2, 150}, gossipSpec{"n3", 1, 100})
	n1 := nodes[0]
	for _, g := range nodes {
		g.seeds = []string{n1.addr.String()}
	}
	members := startWithMaster(t, nodes)
	if !n1.d.LogContains("gossip.join: names only this node") {
		t.Error("n1's configuration load did not warn that its join list names only itself")
	}
	if !n1.d.LogContains(n1.d.Config + ":") {
		t.Error("the join warning does not name the configuration file")
	}
	if !n1.d.LogContains("gossip: the join list names no other node") {
		t.Error("n1 did not warn at start that its join list names no other node")
	}

	// n1 crashes; n2 takes over; n2 and n3 declare n1 dead.
	killed := time.Now()
	n1.d.Kill()
	rest := nodes[1:]
	testbed.WaitSoleHolder(t, gmembers(rest...), gossipVIP, "n2", killed, masterDown(gossipAdvert, 150)+slack)
	bound := detectionBound(n1.effective(), 3)
	holdUntilDead(t, gmembers(rest...), "n2", daemons(rest...), "n1", killed, bound)

	// n1 restarts with the same files: it is admitted again.
	restarted := time.Now()
	n1.start(t)
	seen := firstLogged(t, daemons(rest...), restarted, 10*time.Second, "gossip: member joined", nodeAttr("n1"))
	t.Logf("n1 re-admitted after %v", checkWithin(t, "n1 re-admitted", restarted, seen, 10*time.Second))
	// Not one moment alone as a second master: n2 keeps the VIP alone
	// until n1, having joined, takes it back by VRRP (n1's new process
	// has become master: its address from before the crash would look
	// the same).
	deadline := restarted.Add(10 * time.Second)
	for {
		h := testbed.Holders(t, members, gossipVIP)
		if slices.Equal(h, []string{"n1"}) && n1.d.BecameMaster() {
			break
		}
		if len(h) > 1 {
			// The hand-over's overlap is at most an advert in flight.
			testbed.WaitRestartedSoleHolder(t, n1.d, members, gossipVIP, "n1", time.Now(), slack)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after its restart n1 does not hold the VIP (holders %v)", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := n1.d.CountLog("require_join: hold released: joined the gossip cluster"); n != 1 {
		t.Errorf("n1 logged the end of its join hold %d times, want once", n)
	}
	for _, g := range nodes {
		if got := vipdMembers(t, g.d); !slices.Equal(got, names(nodes...)) {
			t.Errorf("vipd members on %s: alive %v", g.name, got)
		}
	}
	testbed.StaySoleHolder(t, members, gossipVIP, "n1", 2*gossipAdvert)
}
