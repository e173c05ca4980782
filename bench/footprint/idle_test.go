package footprint

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// envIdleWindow sets BenchmarkIdle's window, a Go duration; default 60s.
const envIdleWindow = "VIPD_IDLE_WINDOW"

// idleKey is the gossip key of the gossip pair (a lab key: fixed bytes).
const idleKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// idleSetup is one daemon configuration BenchmarkIdle measures: a master
// and a backup of the 1 @ 1 s cell.
type idleSetup struct {
	name   string // as the samples and the table name it
	daemon string // "vipd" or "keepalived": its log markers
	gossip bool   // the pair gossips: wait until they joined
	// noVRRP: the pair runs no instance (gossip alone: what memberlist's
	// probes and gossip cost by themselves).
	noVRRP bool
	start  func(b *testing.B, n *lab.Node, router string, prio int, self, peer netip.Addr) *testbed.Daemon
}

// IdleSide is what one daemon of a pair did over the window.
type IdleSide struct {
	Pids []int `json:"pids"`
	// WakeupsPerS is the voluntary context switches per second summed
	// over the daemon's processes and threads: how often it blocked, so
	// how often it was woken up again.
	WakeupsPerS float64 `json:"wakeups_per_s"`
	// CPUSeconds is the CPU time its threads ran (schedstat, ns).
	CPUSeconds float64 `json:"cpu_s"`
}

// IdleSample is one setup in one run of BenchmarkIdle.
type IdleSample struct {
	Daemon      string   `json:"daemon"`
	Cell        string   `json:"cell"`
	WindowS     float64  `json:"window_s"`
	Master      IdleSide `json:"master"`
	Backup      IdleSide `json:"backup"`
	MachineBusy float64  `json:"machine_busy_pct"`
	Load        float64  `json:"load1"`
	// Settled: no state change over the window, the VIP on the master.
	Settled bool `json:"settled"`
}

// BenchmarkIdle measures what an idle daemon costs: one instance at 1 s
// adverts, a master and a backup, for keepalived, for vipd on the same
// keepalived.conf, and for vipd with a gossip section (lan profile) between
// the two nodes; and, for comparison, two vipd that gossip (lan) and run no
// instance: what memberlist's own probes and gossip cost. The pairs run at
// the same time, each on its own bridge, so that they share the machine's
// noise; each run measures the wake-ups (voluntary context switches) and
// CPU time of every daemon over the window.
func BenchmarkIdle(b *testing.B) {
	window, settle := setup(b, envIdleWindow, 60*time.Second)
	c := cells[0] // 1 @ 1 s
	setups := []idleSetup{
		{name: "keepalived", daemon: "keepalived", start: func(b *testing.B, n *lab.Node, router string, prio int, self, peer netip.Addr) *testbed.Daemon {
			return testbed.StartKeepalived(b, n, keepalivedConf(c, router, prio, self, peer))
		}},
		{name: "vipd", daemon: "vipd", start: func(b *testing.B, n *lab.Node, router string, prio int, self, peer netip.Addr) *testbed.Daemon {
			return startVipdConf(b, n, keepalivedConf(c, router, prio, self, peer), "keepalived.conf")
		}},
		{name: "vipd + gossip", daemon: "vipd", gossip: true, start: func(b *testing.B, n *lab.Node, router string, prio int, self, peer netip.Addr) *testbed.Daemon {
			return startVipdConf(b, n, yamlConf(c, router, prio, self, peer)+gossipYAML(self, peer, b.TempDir()), "vipd.yaml")
		}},
		{name: "gossip alone", daemon: "vipd", gossip: true, noVRRP: true, start: func(b *testing.B, n *lab.Node, router string, _ int, self, peer netip.Addr) *testbed.Daemon {
			return startVipdConf(b, n, fmt.Sprintf("node: { name: %s }\n", router)+gossipYAML(self, peer, b.TempDir()), "vipd.yaml")
		}},
	}
	l := lab.New(b)
	pairs := make([]pair, len(setups))
	for i := range setups {
		sw := l.Switch(fmt.Sprintf("s%d", i))
		pairs[i] = pair{l: l, m: l.Node(fmt.Sprintf("m%d", i)), k: l.Node(fmt.Sprintf("k%d", i))}
		l.Connect(pairs[i].m, sw, iface, masterAddr.String()+"/24")
		l.Connect(pairs[i].k, sw, iface, backupAddr.String()+"/24")
	}
	var out []IdleSample
	for b.Loop() {
		out = append(out, idleRun(b, setups, pairs, window, settle)...)
	}
	for _, s := range setups {
		var w []float64
		for _, x := range out {
			if x.Daemon == s.name {
				w = append(w, x.Master.WakeupsPerS)
			}
		}
		b.ReportMetric(benchstat.Median(w), strings.ReplaceAll(s.name, " ", "")+"-master-wakeups/s")
	}
	benchio.Append(b, out...)
}

// idleRun starts every pair, waits until each has settled, measures them
// all over the same window, and stops them.
func idleRun(b *testing.B, setups []idleSetup, pairs []pair, window, settle time.Duration) []IdleSample {
	b.Helper()
	type running struct{ m, k *testbed.Daemon }
	run := make([]running, len(setups))
	for i, s := range setups {
		p := pairs[i]
		for _, n := range []*lab.Node{p.m, p.k} {
			n.Run(b, "ip", "addr", "flush", "dev", iface, "to", vipNet.String())
		}
		run[i].m = s.start(b, p.m, "m", masterPrio, masterAddr, backupAddr)
		defer run[i].m.Kill()
	}
	for i, s := range setups {
		if !s.noVRRP {
			waitVIPs(b, pairs[i].m, 1, 30*time.Second)
		}
		run[i].k = s.start(b, pairs[i].k, "k", backupPrio, backupAddr, masterAddr)
		defer run[i].k.Kill()
	}
	for i, s := range setups {
		if !s.noVRRP {
			waitCount(b, run[i].k, 1, 30*time.Second, markers[s.daemon].backup)
		}
		if s.gossip {
			waitCount(b, run[i].m, 1, 30*time.Second, "gossip: member joined")
			waitCount(b, run[i].k, 1, 30*time.Second, "gossip: member joined")
		}
	}
	time.Sleep(settle)

	type counts struct {
		pids    [2][]int
		w, cpu  [2]int64
		changes int
	}
	read := func(i int, pids [2][]int) counts {
		c := counts{pids: pids, changes: run[i].m.CountLog(markers[setups[i].daemon].change) + run[i].k.CountLog(markers[setups[i].daemon].change)}
		for side := range 2 {
			for _, pid := range pids[side] {
				w, ns, err := procWakeups(pid)
				if err != nil {
					b.Fatal(err)
				}
				c.w[side] += w
				c.cpu[side] += ns
			}
		}
		return c
	}
	before := make([]counts, len(setups))
	for i := range setups {
		before[i] = read(i, [2][]int{pids(b, pairs[i].l, pairs[i].m), pids(b, pairs[i].l, pairs[i].k)})
	}
	busy0, total0, err := machineCPU()
	if err != nil {
		b.Fatal(err)
	}
	load := load1(b)
	t0 := time.Now()
	time.Sleep(window)
	elapsed := time.Since(t0).Seconds()
	after := make([]counts, len(setups))
	for i := range setups {
		after[i] = read(i, before[i].pids)
	}
	busy1, total1, err := machineCPU()
	if err != nil {
		b.Fatal(err)
	}

	var out []IdleSample
	for i, s := range setups {
		p := pairs[i]
		side := func(k int) IdleSide {
			return IdleSide{Pids: before[i].pids[k],
				WakeupsPerS: float64(after[i].w[k]-before[i].w[k]) / elapsed,
				CPUSeconds:  float64(after[i].cpu[k]-before[i].cpu[k]) / 1e9}
		}
		for k, n := range []*lab.Node{p.m, p.k} {
			if now := pids(b, p.l, n); !slices.Equal(now, before[i].pids[k]) {
				b.Fatalf("%s: the processes of %s changed over the window: %v, then %v", s.name, n.Name(), before[i].pids[k], now)
			}
		}
		x := IdleSample{
			Daemon: s.name, Cell: "1x1s-idle", WindowS: elapsed,
			Master: side(0), Backup: side(1),
			MachineBusy: 100 * float64(busy1-busy0) / float64(total1-total0), Load: load,
			Settled: after[i].changes == before[i].changes && (s.noVRRP || heldVIPs(b, p.m) == 1 && heldVIPs(b, p.k) == 0),
		}
		b.Logf("%s: master %.2f wake-ups/s, %.3f s CPU; backup %.2f wake-ups/s, %.3f s CPU; settled %t; machine busy %.0f%%",
			s.name, x.Master.WakeupsPerS, x.Master.CPUSeconds, x.Backup.WakeupsPerS, x.Backup.CPUSeconds, x.Settled, x.MachineBusy)
		out = append(out, x)
	}
	return out
}

// startVipdConf runs the vipd binary on n with configuration cfg, written
// to a file named name (its extension says the format), logging at info
// level as keepalived logs, with VIPD_FOOTPRINT_VIPD_ENV's variables.
func startVipdConf(b *testing.B, n *lab.Node, cfg, name string) *testbed.Daemon {
	b.Helper()
	dir := b.TempDir()
	path := dir + "/" + name
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"agent", "--config", path, "--log-level", "info", "--api-socket", dir + "/vipd.sock"}
	if env := strings.Fields(os.Getenv(envVipdGC)); len(env) != 0 {
		// env(1) runs vipd with them: testbed.Start takes no environment.
		return testbed.Start(b, n, "vipd", "/usr/bin/env", append(env, append([]string{testbed.VipdBinary(b)}, args...)...)...)
	}
	return testbed.Start(b, n, "vipd", testbed.VipdBinary(b), args...)
}

// gossipYAML is the gossip section of the gossip pair: the two nodes join
// each other, lan profile, encrypted.
func gossipYAML(self, peer netip.Addr, dir string) string {
	// yamlConf ends in the instance list; gossip is a top-level key.
	return fmt.Sprintf(`gossip:
  cluster_name: idle
  bind: {address: %s, port: 7946}
  join: [%s]
  keys: [%q]
  profile: lan
  state_file: %s/state.json
`, self, peer, idleKey, dir)
}
