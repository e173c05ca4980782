package pressure

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// Settings, from the environment (run.sh documents them).
const (
	envDuration = "VIPD_PRESSURE_DURATION"        // measured time per cell (5m)
	envStress   = "VIPD_PRESSURE_STRESS"          // "cpu,memory"
	envDaemons  = "VIPD_PRESSURE_DAEMONS"         // "vipd,vipd+opts,keepalived,keepalived+opts"
	envCPUs     = "VIPD_PRESSURE_CPUS"            // the master's CPUs (the last one)
	envHogs     = "VIPD_PRESSURE_HOGS"            // busy loops per master CPU (1)
	envMemMB    = "VIPD_PRESSURE_MEM_MB"          // the memory cgroup's limit (256)
	envReadMBs  = "VIPD_PRESSURE_READ_MBS"        // the memory hog's file reading rate (100)
	envAnonPct  = "VIPD_PRESSURE_ANON_PCT"        // the hog's anonymous memory, % of the limit (70)
	envLogs     = "VIPD_PRESSURE_LOGS"            // a directory: keep both daemons' logs of each cell there
	envKaRTTime = "VIPD_PRESSURE_KA_RLIMIT_RTIME" // µs: keepalived.conf's vrrp_rlimit_rttime with the protections (keepalived's default if unset)
)

// interval is the advert interval of every cell.
const interval = 100 * time.Millisecond

// The pair: a is the master (priority 150), b the backup (100).
var (
	addrA, addrB = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
)

const (
	vrid       = 51
	prioMaster = 150
	prioBackup = 100
	rtPriority = 50
)

// conf is the keepalived.conf both daemons run: VRRPv3 unicast, 100 ms
// adverts; with opts, keepalived's protections, which vipd reads as
// node.scheduling rr 50 and node.lock_memory.
func conf(router string, prio int, self, peer netip.Addr, opts bool) string {
	extra := ""
	if opts {
		extra = fmt.Sprintf("  vrrp_rt_priority %d\n  vrrp_no_swap\n", rtPriority)
		// keepalived bounds a real-time process's CPU time between
		// blocking calls (RLIMIT_RTTIME, 10 ms by default) and SIGKILLs its
		// VRRP child beyond it, which it did here on entering MASTER; an
		// operator who sees "has rlimit_rttime been exceeded?" raises it.
		if us := os.Getenv(envKaRTTime); us != "" {
			extra += "  vrrp_rlimit_rttime " + us + "\n"
		}
	}
	return fmt.Sprintf(`global_defs {
  router_id %s
  vrrp_version 3
%s}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id %d
  priority %d
  advert_int 0.1
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    198.51.100.100/24
  }
}
`, router, extra, vrid, prio, self, peer)
}

// record is one cell's result, a line of VIPD_BENCH_OUT.
type record struct {
	Stress    string  `json:"stress"`
	Daemon    string  `json:"daemon"` // vipd, vipd+opts, keepalived, keepalived+opts
	Seconds   float64 `json:"seconds"`
	MajFaults int64   `json:"master_major_faults"` // the master's page faults that read the disk
	Hogs      int     `json:"hogs,omitempty"`
	LimitMB   int     `json:"limit_mb,omitempty"`
	Load      string  `json:"load"` // the host's load average at the end
	// Exited says the master (or a process of it) exited during the cell.
	Exited bool `json:"master_exited,omitempty"`
	cellStats
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(hogEnv); spec != "" {
		if err := runMemHog(spec); err != nil {
			fmt.Fprintln(os.Stderr, "memory hog:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkPressure runs every cell once per iteration (run.sh: -benchtime 1x).
func BenchmarkPressure(b *testing.B) {
	lab.Require(b)
	testbed.VipdBinary(b)
	testbed.RequireKeepalived(b)
	dur := benchio.Duration(b, envDuration, 5*time.Minute)
	stresses := envList(envStress, "cpu,memory")
	daemons := envList(envDaemons, "vipd,vipd+opts,keepalived,keepalived+opts")
	cpus, others := masterCPUs(b)
	hogs := benchio.Int(b, envHogs, 1)
	limit := int64(benchio.Int(b, envMemMB, 256)) << 20

	l := lab.New(b)
	sw := l.Switch("sw")
	na, nb := l.Node("a"), l.Node("b")
	l.Connect(na, sw, "eth0", addrA.String()+"/24")
	l.Connect(nb, sw, "eth0", addrB.String()+"/24")

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range stresses {
			for _, d := range daemons {
				c := cell{b: b, na: na, nb: nb, stress: s, daemon: d, dur: dur, cpus: cpus, others: others, hogs: hogs, limit: limit}
				r, err := c.run()
				if err != nil {
					b.Fatalf("%s / %s: %v", s, d, err)
				}
				line, _ := json.Marshal(r)
				b.Logf("%s", line)
				benchio.Append(b, r)
			}
		}
	}
}

// cell is one stress against one daemon kind.
type cell struct {
	b            *testing.B
	na, nb       *lab.Node
	stress       string
	daemon       string
	dur          time.Duration
	cpus, others []int
	hogs         int
	limit        int64
}

func (c *cell) run() (record, error) {
	b := c.b
	kind, opts := strings.CutSuffix(c.daemon, "+opts")
	r := record{Stress: c.stress, Daemon: c.daemon}
	w, err := watchAdverts(c.nb, "eth0", vrid)
	if err != nil {
		return r, err
	}
	defer w.close()

	dir := b.TempDir()
	var cg *memCgroup
	masterBin := daemonBinary(b, kind)
	if c.stress == "memory" {
		if cg, err = newMemCgroup(fmt.Sprintf("vipd-pressure-%d-%s", os.Getpid(), strings.ReplaceAll(c.daemon, "+", "-")), c.limit); err != nil {
			return r, err
		}
		defer cg.remove()
		// The master runs a copy read in inside the cgroup (see copyInto).
		copyPath := filepath.Join(dir, kind)
		if err := cg.copyInto(masterBin, copyPath); err != nil {
			return r, err
		}
		masterBin = copyPath
		r.LimitMB = int(c.limit >> 20)
	}

	start := time.Now()
	master := startDaemon(b, c.na, kind, masterBin, dir, "a", conf("a", prioMaster, addrA, addrB, opts))
	defer master.Kill()
	if err := waitAdverts(w, addrA, prioMaster, start, 5, 15*time.Second); err != nil {
		return r, fmt.Errorf("master: %w\n%s", err, master.Output())
	}
	pids, err := nodePids(c.na)
	if err != nil {
		return r, err
	}
	for _, pid := range pids {
		if err := pin(pid, c.cpus); err != nil {
			return r, err
		}
		if cg != nil {
			if err := cg.add(pid); err != nil {
				return r, err
			}
		}
	}
	backup := startDaemon(b, c.nb, kind, daemonBinary(b, kind), b.TempDir(), "b", conf("b", prioBackup, addrB, addrA, opts))
	defer backup.Kill()
	if len(c.others) > 0 {
		time.Sleep(500 * time.Millisecond) // keepalived's VRRP child
		bp, err := nodePids(c.nb)
		if err != nil {
			return r, err
		}
		for _, pid := range bp {
			_ = pin(pid, c.others)
		}
	}
	time.Sleep(2 * time.Second) // the backup settles as backup
	if n := w.count(addrB, prioBackup, start); n != 0 {
		return r, fmt.Errorf("the backup sent %d adverts as master before the stress", n)
	}

	var st stress
	switch c.stress {
	case "cpu":
		h, err := startCPUHogs(c.cpus, c.hogs)
		if err != nil {
			return r, err
		}
		st, r.Hogs = h, len(h.cmds)
	case "memory":
		anonPct := benchio.Int(b, envAnonPct, 70)
		h, err := startMemHog(cg, dir, c.limit*int64(anonPct)/100, c.limit/2, benchio.Int(b, envReadMBs, 100))
		if err != nil {
			return r, err
		}
		st = h
	default:
		return r, fmt.Errorf("unknown stress %q (cpu, memory)", c.stress)
	}
	faults0 := majorFaults(pids)
	t0 := time.Now()
	time.Sleep(c.dur)
	t1 := time.Now()
	r.MajFaults = majorFaults(pids) - faults0
	if h, ok := st.(*memHog); ok && !h.alive() {
		return r, fmt.Errorf("the memory hog died during the cell (out of memory in the cgroup? lower %s)", envAnonPct)
	}
	st.stop()
	r.Exited = master.Exited()
	if now, err := nodePids(c.na); err != nil || len(now) < len(pids) {
		r.Exited = true
	}
	r.Seconds = t1.Sub(t0).Seconds()
	as, err := w.since(t0)
	if err != nil {
		return r, err
	}
	var in []arrival
	for _, a := range as {
		if a.at.Before(t1) {
			in = append(in, a)
		}
	}
	r.cellStats = analyse(in, addrA, addrB, prioMaster, interval)
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.Load = strings.Join(strings.Fields(string(load))[:3], " ")
	}
	if d := os.Getenv(envLogs); d != "" {
		base := filepath.Join(d, c.stress+"-"+c.daemon)
		err := os.MkdirAll(d, 0o755)
		if err == nil {
			err = os.WriteFile(base+"-master.log", []byte(master.Output()), 0o644)
		}
		if err == nil {
			err = os.WriteFile(base+"-backup.log", []byte(backup.Output()), 0o644)
		}
		if err != nil {
			return r, fmt.Errorf("keeping the logs (%s): %w", envLogs, err)
		}
	}
	if r.Adverts == 0 {
		return r, fmt.Errorf("no advert from the master during the stress\n%s", master.Output())
	}
	return r, nil
}

// daemonBinary is the binary of a daemon kind.
func daemonBinary(b *testing.B, kind string) string {
	if kind == "keepalived" {
		return testbed.RequireKeepalived(b)
	}
	return testbed.VipdBinary(b)
}

// vipdLogLevel is vipd's --log-level: info, so that logging costs the
// daemons alike; the takeover benchmark reads debug lines.
var vipdLogLevel = "info"

// startDaemon runs a daemon from bin with cfg, its files in dir.
func startDaemon(b *testing.B, n *lab.Node, kind, bin, dir, name, cfg string) *testbed.Daemon {
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	if kind == "keepalived" {
		return testbed.Start(b, n, kind, bin, "--dont-fork", "--log-console", "--log-detail", "--vrrp",
			"--use-file", path, "--pid", filepath.Join(dir, name+"-keepalived.pid"),
			"--vrrp_pid", filepath.Join(dir, name+"-vrrp.pid"), "--checkers_pid", filepath.Join(dir, name+"-checkers.pid"))
	}
	return testbed.Start(b, n, kind, bin, "agent", "--config", path, "--log-level", vipdLogLevel,
		"--api-socket", filepath.Join(dir, name+".sock"))
}

// waitAdverts waits for n adverts from src at prio since t.
func waitAdverts(w *advertWatch, src netip.Addr, prio uint8, t time.Time, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for w.count(src, prio, t) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("fewer than %d adverts from %v at priority %d in %v", n, src, prio, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// nodePids lists the processes in a node's namespace, this one aside.
func nodePids(n *lab.Node) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", n.Name()).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %w", n.Name(), err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no process in %s", n.Name())
	}
	return pids, nil
}

// pin sets the CPU affinity of every thread of pid.
func pin(pid int, cpus []int) error {
	list := make([]string, len(cpus))
	for i, c := range cpus {
		list[i] = strconv.Itoa(c)
	}
	if out, err := exec.Command("taskset", "-a", "-p", "-c", strings.Join(list, ","), strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("taskset %d: %v: %s", pid, err, out)
	}
	return nil
}

// majorFaults sums the major page faults (reads from the disk) of pids.
func majorFaults(pids []int) int64 {
	var n int64
	for _, pid := range pids {
		maj, _ := faults(pid)
		n += maj
	}
	return n
}

// masterCPUs returns the master's CPUs (envCPUs, else the last CPU) and
// the others (the backup's).
func masterCPUs(b *testing.B) (master, others []int) {
	n := runtime.NumCPU()
	if s := os.Getenv(envCPUs); s != "" {
		for _, f := range strings.Split(s, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || c < 0 || c >= n {
				b.Fatalf("%s: %q is not a CPU of 0-%d", envCPUs, f, n-1)
			}
			master = append(master, c)
		}
	} else {
		master = []int{n - 1}
	}
	for c := range n {
		if !contains(master, c) {
			others = append(others, c)
		}
	}
	return master, others
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func envList(name, def string) []string {
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	return strings.Split(s, ",")
}
