package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
	"golang.org/x/sys/unix"
)

// TestBusyMachineSettings: node.scheduling and node.lock_memory really
// apply to the running agent. a runs SCHED_RR 10 with its memory locked:
// every thread is under the policy (new ones join at the next sweep), the
// executable is wholly resident and locked (the first takeover never waits
// on the disk), so start-up pages are not released; its check scripts run
// under the normal policy (SCHED_RESET_ON_FORK). b runs SCHED_OTHER at
// nice -5 (keepalived's vrrp_priority), read from keepalived.conf.
func TestBusyMachineSettings(t *testing.T) {
	p := newPair(t, false)
	a, b, members := p.a, p.b, p.members

	dir := t.TempDir()
	out := filepath.Join(dir, "child-sched")
	// The check writes its own policy, priority and nice value.
	script := fmt.Sprintf(`{ chrt -p $$; cut -d" " -f19 /proc/$$/stat; } > %[1]s.tmp && mv %[1]s.tmp %[1]s`, out)
	cfgA := fmt.Sprintf(`node:
  name: a
  scheduling: {policy: rr, priority: 10}
  lock_memory: true
checks:
  - name: probe
    interval: 200ms
    weight: 10
    exec: {command: ["/bin/sh", "-c", %q]}
instances:
  - name: web
    interface: eth0
    vrid: 71
    priority: 150
    version: 3
    advert_interval: 100ms
    track: [probe]
    vips: [%s]
`, script, vip4)
	cfgB := fmt.Sprintf(`global_defs {
  router_id b
  vrrp_priority -5
}
vrrp_instance web {
  interface eth0
  virtual_router_id 71
  priority 100
  version 3
  advert_int 0.1
  virtual_ipaddress {
    %s
  }
}
`, vip4)
	start := time.Now()
	da := testbed.StartVipd(t, a, cfgA, ".yaml")
	db := testbed.StartVipd(t, b, cfgB, ".conf")
	testbed.WaitSoleHolder(t, members, vip4, "a", start, masterDown(100*time.Millisecond, 160)+3*time.Second)
	da.WaitLog(t, "memory locked (node.lock_memory)", time.Second)
	da.WaitLog(t, "start-up pages kept mapped", 2*time.Second)
	db.WaitLog(t, `scheduling applied to every thread (node.scheduling)" scheduling="other nice -5"`, time.Second)

	// Every thread, those started after the first pass included, within a
	// few sweeps (one a second).
	waitThreads(t, da.Pid(), "SCHED_RR 10", func(at *unix.SchedAttr) bool {
		return at.Policy == unix.SCHED_RR && at.Priority == 10 && at.Flags&unix.SCHED_FLAG_RESET_ON_FORK != 0
	})
	waitThreads(t, db.Pid(), "SCHED_OTHER nice -5", func(at *unix.SchedAttr) bool {
		return at.Policy == unix.SCHED_NORMAL && at.Nice == -5 && at.Flags&unix.SCHED_FLAG_RESET_ON_FORK != 0
	})

	// Locked memory: VmLck, and each mapping of the executable locked and
	// wholly resident.
	if lck := statusKB(t, da.Pid(), "VmLck"); lck == 0 {
		t.Error("a: VmLck is 0 with lock_memory")
	}
	if lck := statusKB(t, db.Pid(), "VmLck"); lck != 0 {
		t.Errorf("b: VmLck is %d kB without lock_memory", lck)
	}
	exeMappingsLocked(t, da.Pid())

	// The check script (a child) runs under the normal policy at nice 0.
	var got string
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(out); err == nil {
			got = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(got, "policy: SCHED_OTHER") || !strings.Contains(got, "priority: 0") || !strings.HasSuffix(strings.TrimSpace(got), "\n0") {
		t.Errorf("check script ran under %q, want SCHED_OTHER, priority 0, nice 0", got)
	}

	// A reload that changes the settings says they apply at the next
	// start, and the running agent keeps its own.
	rewrite(t, da.Config, strings.Replace(cfgA, "priority: 10}", "priority: 20}", 1))
	da.Signal(syscall.SIGHUP)
	da.WaitLog(t, "take effect at the next start", 3*time.Second)
	da.WaitLog(t, "configuration reloaded", 3*time.Second)
	waitThreads(t, da.Pid(), "SCHED_RR 10", func(at *unix.SchedAttr) bool {
		return at.Policy == unix.SCHED_RR && at.Priority == 10
	})
}

// waitThreads waits until every thread of pid satisfies ok.
func waitThreads(t *testing.T, pid int, want string, ok func(*unix.SchedAttr) bool) {
	t.Helper()
	var bad []string
	deadline := time.Now().Add(4 * time.Second)
	for {
		bad = bad[:0]
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			at, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				continue // exited
			}
			if !ok(at) {
				bad = append(bad, fmt.Sprintf("%d: policy %d priority %d nice %d flags %#x", tid, at.Policy, at.Priority, at.Nice, at.Flags))
			}
		}
		if len(bad) == 0 && len(ents) > 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: threads not under %s:\n%s", pid, want, strings.Join(bad, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusKB reads a "Key: N kB" line of /proc/PID/status.
func statusKB(t *testing.T, pid int, key string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			f := strings.Fields(v)
			n, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("%s: %q", key, l)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// exeMappingsLocked checks that every mapping of pid's executable is
// locked ("lo" in VmFlags) and resident in full (Rss == Size).
func exeMappingsLocked(t *testing.T, pid int) {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type m struct {
		header    string
		size, rss string
		flags     string
	}
	var maps []*m
	var cur *m
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		fs := strings.Fields(l)
		switch {
		case len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":"):
			cur = nil
			if len(fs) >= 6 && strings.Join(fs[5:], " ") == exe {
				cur = &m{header: l}
				maps = append(maps, cur)
			}
		case cur == nil:
		case fs[0] == "Size:":
			cur.size = fs[1]
		case fs[0] == "Rss:":
			cur.rss = fs[1]
		case fs[0] == "VmFlags:":
			cur.flags = " " + strings.Join(fs[1:], " ") + " "
		}
	}
	if len(maps) == 0 {
		t.Fatalf("no mapping of %s in /proc/%d/smaps", exe, pid)
	}
	for _, x := range maps {
		if !strings.Contains(x.flags, " lo ") || x.rss != x.size {
			t.Errorf("%s: Size %s kB, Rss %s kB, VmFlags%s: want locked and wholly resident", x.header, x.size, x.rss, x.flags)
		}
	}
}
