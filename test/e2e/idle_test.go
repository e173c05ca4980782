package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

// maxIdleWakeups bounds how often an idle vipd (one instance, 1 s
// adverts, no gossip; master or backup) may wake up, per second, counted
// as the voluntary context switches of all its threads: issue 18's goal.
// It measured 1.0-1.5 (master, which also tracks eth1) and 1.0 (backup)
// on a shared 2-core machine loaded to 2-3, once 2.7 (master); 45-52 did
// when an interface check polled every 250 ms, and
// each wake-up of a Go timer costs two or more (the thread that runs it
// and the runtime's monitor), so one 500 ms poller more exceeds it.
const maxIdleWakeups = 5

// idleWindow is how long the wake-ups are counted.
const idleWindow = 10 * time.Second

// idleConf is the keepalived.conf of the idle node: one VRRPv3 instance,
// master, 1 s adverts unicast to the peer, tracking eth1 as well as its
// own eth0.
const idleConf = `global_defs {
  router_id a
  vrrp_version 3
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 61
  priority 150
  advert_int 1
  unicast_src_ip 198.51.100.1
  unicast_peer {
    198.51.100.2
  }
  track_interface {
    eth1
  }
  virtual_ipaddress {
    203.0.113.61/32 dev eth0
  }
}
`

// idleBackupConf is idleConf for the backup on the other node: priority
// 100, adverts from 198.51.100.2 to 198.51.100.1.
var idleBackupConf = strings.NewReplacer(
	"router_id a", "router_id b",
	"state MASTER", "state BACKUP",
	"priority 150", "priority 100",
	"unicast_src_ip 198.51.100.1", "unicast_src_ip 198.51.100.2",
	"    198.51.100.2\n", "    198.51.100.1\n",
).Replace(idleConf)

// TestIdleWakeups proves that an idle agent costs next to nothing: vipd
// on keepalived.conf (one instance, 1 s adverts, no gossip) may not wake
// up more than maxIdleWakeups times a second, as the master and as the
// backup that hears it, counted from /proc (voluntary context switches of
// every thread), not from wall time. Then, in the same lab, its interface
// checks, which no longer poll, still put the instance in FAULT within
// fall × interval when a link goes down: track_interface (keepalived's 1 s
// interval, fall 1), the instance's own interface (250 ms, fall 1), and a
// check with fall 3 that must wait for its three failures an interval
// apart.
func TestIdleWakeups(t *testing.T) {
	p := newPair(t, true)
	a := p.a
	d := testbed.StartVipd(t, a, idleConf, ".conf")
	d.WaitLog(t, "to=MASTER", masterDown(time.Second, 150)+5*time.Second)
	backup := testbed.StartVipd(t, p.b, idleBackupConf, ".conf")
	backup.WaitLog(t, "to=BACKUP", 5*time.Second)
	// The gratuitous ARPs of a new master end after garp_master_delay (5 s).
	time.Sleep(6 * time.Second)

	sides := []struct {
		name string
		pid  int
	}{{"master", d.Pid()}, {"backup", backup.Pid()}}
	var sw0 []map[string]int64
	var cpu0 []int64
	for _, side := range sides {
		sw0, cpu0 = append(sw0, wakeups(t, side.pid)), append(cpu0, cpuTicks(t, side.pid))
	}
	time.Sleep(idleWindow)
	for k, side := range sides {
		sw1, cpu1 := wakeups(t, side.pid), cpuTicks(t, side.pid)
		var total int64
		var per []string
		for tid, n := range sw1 {
			total += n - sw0[k][tid] // a thread started in the window counts from 0
			per = append(per, fmt.Sprintf("%s:%d", tid, n-sw0[k][tid]))
		}
		slices.Sort(per)
		rate := float64(total) / idleWindow.Seconds()
		t.Logf("idle %s: %.1f wake-ups/s over %v (per thread %s), CPU %.2f s", side.name, rate, idleWindow,
			strings.Join(per, " "), float64(cpu1-cpu0[k])/100)
		if rate > maxIdleWakeups {
			t.Errorf("idle vipd (%s) woke up %.1f times a second, want at most %d", side.name, rate, maxIdleWakeups)
		}
	}
	if n := backup.CountLog("to=MASTER"); n != 0 {
		t.Errorf("the backup became master %d times while the master advertised", n)
	}
	backup.Kill()

	// track_interface eth1: keepalived's interval (1 s) × fall (1).
	faultWithin(t, d, func() { a.SetLink(t, "eth1", false) }, 0, time.Second+slack)
	a.SetLink(t, "eth1", true)
	masters := d.CountLog("to=MASTER")
	waitCount(t, d, masters+1, masterDown(time.Second, 150)+5*time.Second, "to=MASTER")
	// The instance's own interface: the implicit check's 250 ms × 1.
	faultWithin(t, d, func() { a.SetLink(t, "eth0", false) }, 0, 250*time.Millisecond+slack)
	a.SetLink(t, "eth0", true)
	d.Kill()

	// A check with fall 3 at 500 ms reacts to the link's notification
	// with its first run, then needs two more failures an interval apart:
	// FAULT after 1 s, not before, and within fall × interval.
	y := testbed.StartVipd(t, a, `node: {name: a}
checks:
  - name: uplink
    interval: 500ms
    fall: 3
    interface: {name: eth1}
instances:
  - name: web
    interface: eth0
    vrid: 62
    priority: 150
    version: 3
    advert_interval: 1s
    unicast: {source: 198.51.100.1, peers: [198.51.100.2]}
    track: [uplink]
    vips: [203.0.113.62/32]
`, ".yaml")
	y.WaitLog(t, "to=MASTER", masterDown(time.Second, 150)+5*time.Second)
	faultWithin(t, y, func() { a.SetLink(t, "eth1", false) }, 900*time.Millisecond, 3*500*time.Millisecond+slack)
}

// faultWithin runs cut and checks that d logs its instance's move to FAULT
// at least least and at most most after it.
func faultWithin(t *testing.T, d *testbed.Daemon, cut func(), least, most time.Duration) {
	t.Helper()
	n := len(d.LogTimes("to=FAULT"))
	start := time.Now()
	cut()
	deadline := start.Add(most + 5*time.Second)
	for len(d.LogTimes("to=FAULT")) == n {
		if time.Now().After(deadline) {
			t.Fatalf("no FAULT within %v of the link going down", most+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := d.LogTimes("to=FAULT")[n].Sub(start)
	t.Logf("FAULT %v after the link went down (want %v to %v)", took, least, most)
	// The log's time stamps have millisecond resolution.
	if took < least-time.Millisecond || took > most {
		t.Errorf("FAULT %v after the link went down, want %v to %v", took, least, most)
	}
}

// waitCount waits until d has logged s n times.
func waitCount(t *testing.T, d *testbed.Daemon, n int, timeout time.Duration, s string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for d.CountLog(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q logged %d times after %v, want %d", s, d.CountLog(s), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wakeups reads the voluntary context switches of each thread of pid: a
// thread blocks (and so later wakes up) once for each.
func wakeups(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		for line := range strings.SplitSeq(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				out[e.Name()] = n
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no thread of %d shows its context switches", pid)
	}
	return out
}

// cpuTicks is the user and system time of process pid, in clock ticks
// (USER_HZ, 100 a second on Linux).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command may hold spaces: the fields start after its ')'.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return ut + st
}
