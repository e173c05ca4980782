package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

// Issue 13, item 4: an order re-read is not an edit. A forced failover
// writes a cluster-wide order; reloading (SIGHUP) or restarting nodes whose
// order (inline, or in an order file) did not change must leave it in
// force, however often that happens (configuration-management tools reload
// on every run); an edit of the local order still wins.

// orderForm is how the nodes get their order: inline in the configuration,
// or from an order file.
type orderForm struct {
	name string
	// set gives g the order and returns its configuration.
	set func(t *testing.T, g *gnode, order ...string) string
}

var orderForms = []orderForm{
	{"inline", func(t *testing.T, g *gnode, order ...string) string {
		g.order = true // the order file's line, replaced by the inline one
		file := "order: {file: " + g.orderFile() + "}"
		cfg := g.config()
		if !strings.Contains(cfg, file) {
			t.Fatalf("no order line in the configuration:\n%s", cfg)
		}
		return strings.Replace(cfg, file, "order: {nodes: ["+strings.Join(order, ", ")+"]}", 1)
	}},
	{"file", func(t *testing.T, g *gnode, order ...string) string {
		g.order = true
		writeOrderFile(t, g.orderFile(), order...)
		return g.config()
	}},
}

// clusterOrder is the order of web as g's node sees it (`vipd order`):
// its nodes, space separated, and its version.
func clusterOrder(t *testing.T, g *gnode) (string, string) {
	t.Helper()
	o := decodeJSON(t, run(t, testbed.VipdBinary(t), "order", "web", "--socket", g.d.Socket, "-o", "json"))
	var names []string
	nodes, _ := o["nodes"].([]any)
	for _, n := range nodes {
		if m, _ := n.(map[string]any); m != nil {
			names = append(names, fmt.Sprint(m["name"]))
		}
	}
	return strings.Join(names, " "), fmt.Sprint(o["version"])
}

// effectivePriority is web's priority on g's node (`vipd status`): what the
// order in force there gives it.
func effectivePriority(t *testing.T, g *gnode) string {
	t.Helper()
	st := decodeJSON(t, run(t, testbed.VipdBinary(t), "status", "--socket", g.d.Socket, "-o", "json"))
	insts, _ := st["instances"].([]any)
	for _, x := range insts {
		if m, _ := x.(map[string]any); m != nil && m["name"] == "web" {
			return fmt.Sprint(m["effectivePriority"])
		}
	}
	t.Fatalf("%s: no instance web in %v", g.name, st)
	return ""
}

// checkOrderEverywhere checks that every node shows order want (at version,
// if not empty) and runs with the priorities it gives (the default 250,
// 200, 150). It returns the version.
func checkOrderEverywhere(t *testing.T, nodes []*gnode, version string, want ...string) string {
	t.Helper()
	prio := map[string]string{}
	for i, n := range want {
		prio[n] = fmt.Sprint(250 - 50*i)
	}
	for _, g := range nodes {
		var got, v, p string
		waitFor(t, 2*time.Second, g.name+" to run with order "+strings.Join(want, " "), func() bool {
			got, v = clusterOrder(t, g)
			p = effectivePriority(t, g)
			return got == strings.Join(want, " ") && (version == "" || v == version) && p == prio[g.name]
		})
		version = v
	}
	return version
}

// publishedSince counts g's "order published cluster-wide" lines at or
// after since.
func publishedSince(g *gnode, since time.Time) int {
	n := 0
	for _, at := range g.d.LogTimes("order published cluster-wide", "instance=web") {
		if !at.Before(since.Truncate(time.Millisecond)) {
			n++
		}
	}
	return n
}

// TestOrderReloadKeepsFailover: with the order inline and in a file, after
// `vipd failover web --to n3`, 100 SIGHUPs spread over n1 and n2 and a
// restart of n1, all with nothing changed, leave the VIP on n3 and the
// order n3 n1 n2 on every node; then an edit on n1 (followed by a SIGHUP)
// is published and moves the VIP to n2, and so is one made while n1 was
// stopped, at its start.
func TestOrderReloadKeepsFailover(t *testing.T) {
	t.Parallel()
	for _, form := range orderForms {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			nodes := gossipLab(t, gossipSpec{"n1", 1, 0}, gossipSpec{"n2", 2, 0}, gossipSpec{"n3", 1, 0})
			members := gmembers(nodes...)
			start := time.Now()
			for _, g := range nodes {
				g.d = testbed.StartVipd(t, g.node, form.set(t, g, "n1", "n2", "n3"), ".yaml")
			}
			waitConverged(t, nodes, 5*time.Second)
			testbed.WaitSoleHolder(t, members, gossipVIP, "n1", start, masterDown(gossipAdvert, 250)+2*time.Second)
			checkOrderEverywhere(t, nodes, "", "n1", "n2", "n3")

			// The failover, asked on n2 with the real CLI.
			asked := time.Now()
			run(t, testbed.VipdBinary(t), "failover", "web", "--to", "n3", "--socket", nodes[1].d.Socket)
			took := testbed.WaitSoleHolder(t, members, gossipVIP, "n3", asked, 2*gossipAdvert+slack)
			t.Logf("vipd failover web --to n3: n3 holds the VIP after %v", took)
			version := checkOrderEverywhere(t, nodes, "", "n3", "n1", "n2")

			// 100 SIGHUPs, alternately to n1 and n2, each sent as soon as
			// the node's previous reload is done (so none is merged into
			// another): the VIP must not leave n3 meanwhile.
			reloads := map[*gnode]int{}
			for _, g := range nodes[:2] {
				reloads[g] = g.d.CountLog("configuration reloaded")
			}
			hups := time.Now()
			for i := range 100 {
				g := nodes[i%2]
				if i >= 2 {
					// Wait for this node's previous reload.
					want := reloads[g]
					waitFor(t, 5*time.Second, g.name+"'s reload to finish", func() bool {
						return g.d.CountLog("configuration reloaded") >= want
					})
				}
				reloads[g]++
				g.d.Signal(syscall.SIGHUP)
				if h := testbed.Holders(t, members, gossipVIP); len(h) != 1 || h[0] != "n3" {
					t.Fatalf("after %d SIGHUPs: VIP holders %v, want only n3", i+1, h)
				}
			}
			// Each reload re-reads the order: wait until the last one has
			// (the moment the old code published it), then give the agents
			// ten sync rounds, fifty times what the old code took to move
			// the VIP (200 ms).
			for _, g := range nodes[:2] {
				want := reloads[g]
				waitFor(t, 5*time.Second, g.name+"'s last reload", func() bool {
					return g.d.CountLog("configuration reloaded") >= want
				})
				if n := len(afterTimes(g.d.LogTimes("order loaded", "instance=web"), hups)); n < 50 {
					t.Errorf("%s re-read its order %d times during the SIGHUPs, want one per reload (50)", g.name, n)
				}
			}
			t.Logf("100 SIGHUPs (50 each to n1 and n2) done in %v", time.Since(hups))
			testbed.StaySoleHolder(t, members, gossipVIP, "n3", 10*250*time.Millisecond)
			checkOrderEverywhere(t, nodes, version, "n3", "n1", "n2")
			for _, g := range nodes {
				if n := publishedSince(g, asked); n != 0 {
					t.Errorf("%s published its unchanged order %d times after the failover", g.name, n)
				}
			}

			// A graceful restart of n1, configuration unchanged.
			nodes[0].d.Term()
			if !nodes[0].d.Wait(10 * time.Second) {
				t.Fatal("n1 did not stop within 10 s")
			}
			restarted := time.Now()
			nodes[0].d = testbed.StartVipd(t, nodes[0].node, form.set(t, nodes[0], "n1", "n2", "n3"), ".yaml")
			firstLogged(t, daemons(nodes[0]), restarted, 5*time.Second, "cluster order in effect", "instance=web", "version="+version+" ")
			waitConverged(t, nodes, 10*time.Second)
			testbed.StaySoleHolder(t, members, gossipVIP, "n3", masterDown(gossipAdvert, 250)+slack)
			checkOrderEverywhere(t, nodes, version, "n3", "n1", "n2")
			if n := publishedSince(nodes[0], restarted); n != 0 {
				t.Errorf("n1 published its unchanged order %d times after a restart", n)
			}
			// And n1's instance started with the cluster's order, not for a
			// moment with its own (n1 first, the priority to take over).
			if !firstLineBefore(nodes[0].d, "cluster order in effect", "instance started") {
				t.Errorf("n1's instance started before the cluster's order was in effect")
			}

			// A real edit on n1 still wins: n2 first.
			edited := time.Now()
			cfg := form.set(t, nodes[0], "n2", "n1", "n3")
			rewrite(t, nodes[0].d.Config, cfg)
			nodes[0].d.Signal(syscall.SIGHUP)
			firstLogged(t, daemons(nodes[0]), edited, 2*time.Second, "order published cluster-wide", "instance=web")
			took = testbed.WaitSoleHolder(t, members, gossipVIP, "n2", edited, time.Second+orderReach+2*gossipAdvert)
			t.Logf("an edit on n1 after the failover moved the VIP to n2 after %v", took)
			checkOrderEverywhere(t, nodes, "", "n2", "n1", "n3")
			if n := publishedSince(nodes[0], edited); n != 1 {
				t.Errorf("n1 published its edit %d times, want once", n)
			}

			// An edit made while n1 is stopped is an edit too: published at
			// start (n1 first again), it moves the VIP to n1.
			nodes[0].d.Term()
			if !nodes[0].d.Wait(10 * time.Second) {
				t.Fatal("n1 did not stop within 10 s")
			}
			cfg = form.set(t, nodes[0], "n1", "n2", "n3")
			restarted = time.Now()
			nodes[0].d = testbed.StartVipd(t, nodes[0].node, cfg, ".yaml")
			firstLogged(t, daemons(nodes[0]), restarted, 5*time.Second, "order published cluster-wide", "instance=web")
			took = testbed.WaitSoleHolder(t, members, gossipVIP, "n1", restarted, 5*time.Second+masterDown(gossipAdvert, 250))
			t.Logf("an edit made while n1 was stopped moved the VIP to n1 %v after its start", took)
			checkOrderEverywhere(t, nodes, "", "n1", "n2", "n3")
		})
	}
}

// afterTimes keeps the times at or after since (to the millisecond, as
// slog writes them).
func afterTimes(ts []time.Time, since time.Time) []time.Time {
	var out []time.Time
	for _, at := range ts {
		if !at.Before(since.Truncate(time.Millisecond)) {
			out = append(out, at)
		}
	}
	return out
}

// firstLineBefore reports whether d's log has a line with a before any line
// with b (line order: the time stamps are only to the millisecond).
func firstLineBefore(d *testbed.Daemon, a, b string) bool {
	for _, l := range strings.Split(d.Output(), "\n") {
		switch {
		case strings.Contains(l, a):
			return true
		case strings.Contains(l, b):
			return false
		}
	}
	return false
}
