package footprint

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// Environment knobs for run.sh and for quick trials.
const (
	envWindow = "VIPD_FOOTPRINT_WINDOW"     // steady window, a Go duration; default 30s
	envSettle = "VIPD_FOOTPRINT_SETTLE"     // wait after both settled, before the window; default 8s
	envCells  = "VIPD_FOOTPRINT_CELLS"      // comma-separated cell names to run; default all
	envPerf   = "VIPD_FOOTPRINT_PERF"       // a directory: perf-record vipd over each window into it
	envVipdGC = "VIPD_FOOTPRINT_VIPD_ENV"   // extra environment for vipd (e.g. GOGC=50), space-separated
	envLabel  = "VIPD_FOOTPRINT_VIPD_LABEL" // names that vipd variant in the output
)

// markers are the log texts of each daemon's state changes.
var markers = map[string]struct{ change, backup, master string }{
	"vipd":       {"state change", "to=BACKUP", "to=MASTER"},
	"keepalived": {"Entering ", "Entering BACKUP STATE", "Entering MASTER STATE"},
}

// Side is what one daemon (the master's or the backup's) cost over the
// window.
type Side struct {
	Pids       []int   `json:"pids"`
	CPUSeconds float64 `json:"cpu_s"`   // utime+stime over the window, summed over the processes
	CPUPercent float64 `json:"cpu_pct"` // of one core
	Mem        memory  `json:"mem"`     // summed over the processes, at the window's end
}

// Failover is the backup's takeover of every instance after the master's
// SIGKILL, per instance from the arrival of the master's last advert for
// that VRID to its VIP bound.
type Failover struct {
	FloorMS     float64 `json:"floor_ms"`  // the backup's master-down interval
	MedianMS    float64 `json:"median_ms"` // the median instance
	MaxMS       float64 `json:"max_ms"`    // the last instance
	KillToAllMS float64 `json:"kill_to_all_ms"`
	// Invalid marks a failover not measured: the backup bound a VIP in
	// the moments before the kill (it did not hear the master).
	Invalid bool `json:"invalid,omitempty"`
}

// Sample is one run of one daemon in one cell.
type Sample struct {
	Daemon  string  `json:"daemon"`
	Cell    string  `json:"cell"`
	WindowS float64 `json:"window_s"`
	Master  Side    `json:"master"`
	Backup  Side    `json:"backup"`
	// AdvertsPerS is the rate at which the backup's interface received
	// the master's adverts over the window: proof that the master kept
	// the configured cadence (the CPU figures mean nothing otherwise).
	AdvertsPerS float64 `json:"adverts_per_s"`
	WantPerS    float64 `json:"want_per_s"`
	// MachineBusy is the busy share of all cores over the window, the
	// daemons included; Load is /proc/loadavg's 1-minute figure at its start.
	MachineBusy float64  `json:"machine_busy_pct"`
	Load        float64  `json:"load1"`
	Failover    Failover `json:"failover"`
	// StartupFlaps counts the backup's instances that entered MASTER
	// while it started (before the window), for not hearing the master
	// within the master-down interval.
	StartupFlaps int `json:"startup_flaps"`
	// RawDrops counts the VRRP packets the kernel dropped over the window
	// for a full socket receive buffer, in the master's and the backup's
	// namespace: adverts the daemon was too slow to read.
	RawDrops [2]int64 `json:"raw_drops"`
	// WindowChanges counts the state changes both daemons logged over the
	// window; Settled says that there were none and that, at its end,
	// every VIP was on the master and none on the backup.
	WindowChanges int  `json:"window_changes"`
	Settled       bool `json:"settled"`
}

// BenchmarkFootprint runs each cell b.N times per daemon, alternating which
// daemon goes first, and records CPU, memory and failover of both sides.
func BenchmarkFootprint(b *testing.B) {
	window, settle := setup(b, envWindow, 30*time.Second)
	var only []string
	if s := os.Getenv(envCells); s != "" {
		only = strings.Split(s, ",")
	}
	for _, c := range cells {
		if only != nil && !slices.Contains(only, c.name) {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			benchCell(b, c, window, settle)
		})
	}
}

// setup requires what both benchmarks run (namespaces, keepalived, the
// vipd binary: skipped on a laptop, failed under CI) and reads the steady
// window (from windowEnv, default def) and the wait before it.
func setup(b *testing.B, windowEnv string, def time.Duration) (window, settle time.Duration) {
	b.Helper()
	lab.Require(b)
	testbed.RequireKeepalived(b)
	testbed.VipdBinary(b)
	return benchio.Duration(b, windowEnv, def), benchio.Duration(b, envSettle, 8*time.Second)
}

// pair is the two-node lab of one cell.
type pair struct {
	l    *lab.Lab
	m, k *lab.Node
}

func benchCell(b *testing.B, c cell, window, settle time.Duration) {
	l := lab.New(b)
	sw := l.Switch("sw")
	p := pair{l: l, m: l.Node("m"), k: l.Node("k")}
	l.Connect(p.m, sw, iface, masterAddr.String()+"/24")
	l.Connect(p.k, sw, iface, backupAddr.String()+"/24")

	daemons := []string{"vipd", "keepalived"}
	var out []Sample
	round := 0
	for b.Loop() {
		order := daemons
		if round%2 == 1 {
			order = []string{daemons[1], daemons[0]}
		}
		round++
		for _, d := range order {
			s := run(b, p, c, d, window, settle)
			b.Logf("%s %s: master %.3f s CPU (%.2f%%) RSS %d kB; backup %.3f s CPU (%.2f%%) RSS %d kB; adverts %.0f/s of %.0f; failover median %.2f max %.2f ms over floor %.3f; machine busy %.0f%%",
				c.name, d, s.Master.CPUSeconds, s.Master.CPUPercent, s.Master.Mem.RSS, s.Backup.CPUSeconds, s.Backup.CPUPercent, s.Backup.Mem.RSS,
				s.AdvertsPerS, s.WantPerS, s.Failover.MedianMS, s.Failover.MaxMS, s.Failover.FloorMS, s.MachineBusy)
			out = append(out, s)
		}
	}
	for _, d := range daemons {
		var cpu []float64
		for _, s := range out {
			if s.Daemon == d {
				cpu = append(cpu, s.Master.CPUSeconds+s.Backup.CPUSeconds)
			}
		}
		b.ReportMetric(benchstat.Median(cpu), d+"-cpu-s")
	}
	benchio.Append(b, out...)
}

// run measures one daemon in one cell: both nodes start clean, the master
// takes every VIP, the backup settles in BACKUP for every instance, then
// the window is measured; at its end every VIP must still be on the
// master and no instance may have changed state. Then the master is killed
// and the backup's takeover of every instance is timed.
func run(b *testing.B, p pair, c cell, daemon string, window, settle time.Duration) Sample {
	b.Helper()
	for _, n := range []*lab.Node{p.m, p.k} {
		n.Run(b, "ip", "addr", "flush", "dev", iface, "to", vipNet.String())
		if pids, err := nsPids(n.Name()); err != nil || len(pids) != 0 {
			b.Fatalf("%s still runs %v before a new sample (%v)", n.Name(), pids, err)
		}
	}
	launch := func(n *lab.Node, router string, prio int, self, peer netip.Addr) *testbed.Daemon {
		if daemon == "keepalived" {
			return testbed.StartKeepalived(b, n, keepalivedConf(c, router, prio, self, peer))
		}
		return startVipd(b, n, yamlConf(c, router, prio, self, peer))
	}
	mk := markers[daemon]
	dm := launch(p.m, "m", masterPrio, masterAddr, backupAddr)
	defer dm.Kill()
	waitVIPs(b, p.m, c.instances, 3*c.interval+30*time.Second)
	dk := launch(p.k, "k", backupPrio, backupAddr, masterAddr)
	defer dk.Kill()
	waitCount(b, dk, c.instances, 30*time.Second, mk.backup)
	time.Sleep(settle)

	// Start of the window: everything should have settled.
	if m, k := heldVIPs(b, p.m), heldVIPs(b, p.k); m != c.instances || k != 0 {
		b.Logf("%s at the window's start: the master holds %d VIPs and the backup %d", daemon, m, k)
	}
	changes := [2]int{dm.CountLog(mk.change), dk.CountLog(mk.change)}
	if n := dm.CountLog(mk.master); n != c.instances {
		b.Logf("%s master logged %d entries into MASTER, want %d", daemon, n, c.instances)
	}
	// A backup that starts slower than the master-down interval takes the
	// VIPs until it hears the master: counted, not fatal; the window
	// below must be free of any state change.
	startupFlaps := dk.CountLog(mk.master)
	mPids := pids(b, p.l, p.m)
	kPids := pids(b, p.l, p.k)
	mCPU, kCPU := cpu(b, mPids), cpu(b, kPids)
	rx0, _, err := ifPackets(kPids[0], iface)
	if err != nil {
		b.Fatal(err)
	}
	drops0 := [2]int64{drops(b, mPids[0]), drops(b, kPids[0])}
	busy0, total0, err := machineCPU()
	if err != nil {
		b.Fatal(err)
	}
	load := load1(b)
	perfDone := perfRecord(b, daemon, c, mPids, kPids, window)
	t0 := time.Now()
	time.Sleep(window)
	mCPU1, kCPU1 := cpu(b, mPids), cpu(b, kPids)
	elapsed := time.Since(t0).Seconds()
	rx1, _, err := ifPackets(kPids[0], iface)
	if err != nil {
		b.Fatal(err)
	}
	drops1 := [2]int64{drops(b, mPids[0]), drops(b, kPids[0])}
	busy1, total1, err := machineCPU()
	if err != nil {
		b.Fatal(err)
	}
	perfDone()

	// End of the window: same processes, same holders, no state change.
	if now := pids(b, p.l, p.m); !slices.Equal(now, mPids) {
		b.Fatalf("%s master's processes changed over the window: %v, then %v", daemon, mPids, now)
	}
	if now := pids(b, p.l, p.k); !slices.Equal(now, kPids) {
		b.Fatalf("%s backup's processes changed over the window: %v, then %v", daemon, kPids, now)
	}
	// A daemon that cannot keep up flaps: that is a result, recorded, not
	// a failure of the benchmark.
	heldM, heldK := heldVIPs(b, p.m), heldVIPs(b, p.k)
	now := [2]int{dm.CountLog(mk.change), dk.CountLog(mk.change)}
	windowChanges := now[0] - changes[0] + now[1] - changes[1]
	if windowChanges != 0 || heldM != c.instances || heldK != 0 {
		b.Logf("%s did not stay settled over the window: %d state changes; the master holds %d VIPs and the backup %d", daemon, windowChanges, heldM, heldK)
	}
	s := Sample{
		Daemon:        daemon,
		Cell:          c.name,
		WindowS:       elapsed,
		Master:        side(b, mPids, mCPU1-mCPU, elapsed),
		Backup:        side(b, kPids, kCPU1-kCPU, elapsed),
		AdvertsPerS:   float64(rx1-rx0) / elapsed,
		WantPerS:      float64(c.instances) / c.interval.Seconds(),
		MachineBusy:   100 * float64(busy1-busy0) / float64(total1-total0),
		Load:          load,
		StartupFlaps:  startupFlaps,
		RawDrops:      [2]int64{drops1[0] - drops0[0], drops1[1] - drops0[1]},
		WindowChanges: windowChanges,
		Settled:       windowChanges == 0 && heldM == c.instances && heldK == 0,
	}
	if label := os.Getenv(envLabel); label != "" && daemon == "vipd" {
		s.Daemon = label
	}
	if s.Settled {
		s.Failover = failover(b, p, c, dm)
	} else {
		b.Logf("%s: no failover measured: the election had not settled", daemon)
	}
	return s
}

// startVipd runs the vipd binary on n with a native YAML configuration,
// logging at info level (state changes only, as keepalived logs).
func startVipd(b *testing.B, n *lab.Node, cfg string) *testbed.Daemon {
	b.Helper()
	dir := b.TempDir()
	path := filepath.Join(dir, "vipd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"agent", "--config", path, "--log-level", "info", "--api-socket", filepath.Join(dir, "vipd.sock")}
	if env := strings.Fields(os.Getenv(envVipdGC)); len(env) != 0 {
		// env(1) runs vipd with them: testbed.Start takes no environment.
		return testbed.Start(b, n, "vipd", "/usr/bin/env", append(env, append([]string{testbed.VipdBinary(b)}, args...)...)...)
	}
	return testbed.Start(b, n, "vipd", testbed.VipdBinary(b), args...)
}

// drops reads rawDrops for VRRP in the namespace of process pid.
func drops(b *testing.B, pid int) int64 {
	b.Helper()
	n, err := rawDrops(pid, vrrpProto)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// pids lists the daemon's processes in a node, failing if there are none.
func pids(b *testing.B, l *lab.Lab, n *lab.Node) []int {
	b.Helper()
	ps, err := nsPids(n.Name())
	if err != nil {
		b.Fatal(err)
	}
	if len(ps) == 0 {
		b.Fatalf("no process runs in %s", n.Name())
	}
	slices.Sort(ps)
	return ps
}

// cpu sums the CPU ticks of processes.
func cpu(b *testing.B, ps []int) int64 {
	b.Helper()
	var sum int64
	for _, pid := range ps {
		t, err := procCPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		sum += t
	}
	return sum
}

func side(b *testing.B, ps []int, ticks int64, elapsed float64) Side {
	b.Helper()
	s := Side{Pids: ps, CPUSeconds: float64(ticks) / userHZ}
	s.CPUPercent = 100 * s.CPUSeconds / elapsed
	for _, pid := range ps {
		m, err := procMemory(pid)
		if err != nil {
			b.Fatal(err)
		}
		s.Mem.add(m)
	}
	return s
}

func load1(b *testing.B) float64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw))
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// waitCount waits until d has logged subs at least n times.
func waitCount(b *testing.B, d *testbed.Daemon, n int, timeout time.Duration, subs ...string) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for d.CountLog(subs...) < n {
		if time.Now().After(deadline) || d.Exited() {
			b.Fatalf("%s on %s logged %q %d times, want %d:\n%s", d.Kind, d.Node.Name(), subs, d.CountLog(subs...), n, tail(d.Output()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "...\n" + s[len(s)-4000:]
	}
	return s
}
