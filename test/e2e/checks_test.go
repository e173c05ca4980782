package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

// TestCheckFlapAndHang drives a real exec check through vipd: failures
// shorter than fall do not move the VIP; a script that hangs is killed at
// its timeout (with everything it started) and counts as a failure, which
// then moves the VIP.
func TestCheckFlapAndHang(t *testing.T) {
	p := newPair(t, false)
	a, b, members := p.a, p.b, p.members

	dir := t.TempDir()
	fail, hang := filepath.Join(dir, "fail"), filepath.Join(dir, "hang")
	// An unusual sleep length, so the test can tell its own sleeps apart.
	script := fmt.Sprintf(`if [ -e %s ]; then sleep 4711; fi; test ! -e %s`, hang, fail)
	instance := func(name string, prio int, track string) string {
		return fmt.Sprintf(`node: {name: %s}
instances:
  - name: web
    interface: eth0
    vrid: 70
    priority: %d
    version: 3
    advert_interval: 500ms
%s    vips: [%s]
`, name, prio, track, vip4)
	}
	// Only a tracks the check: the flag files live in this test's
	// directory, which every node would see.
	checked := fmt.Sprintf(`checks:
  - name: svc
    interval: 200ms
    timeout: 300ms
    fall: 4
    rise: 2
    weight: -100
    exec: {command: ["/bin/sh", "-c", %q]}
`, script) + instance("a", 150, "    track: [svc]\n")
	start := time.Now()
	testbed.StartVipd(t, a, checked, ".yaml")
	testbed.StartVipd(t, b, instance("b", 120, ""), ".yaml")
	testbed.WaitSoleHolder(t, members, vip4, "a", start, masterDown(500*time.Millisecond, 150)+2*time.Second)

	// Three flaps of one or two failed runs each (fall is 4, leaving room
	// for a slow machine): the VIP stays.
	for i := 0; i < 3; i++ {
		touch(t, fail)
		time.Sleep(250 * time.Millisecond) // one or two runs at 200 ms
		if err := os.Remove(fail); err != nil {
			t.Fatal(err)
		}
		testbed.StaySoleHolder(t, members, vip4, "a", 600*time.Millisecond)
	}

	// The script hangs: each run is killed at 300 ms and fails; after
	// four, a's priority drops by 100 and b takes over.
	hung := time.Now()
	touch(t, hang)
	// fall × (timeout + the gap to the next run) + one advert interval.
	took := testbed.WaitSoleHolder(t, members, vip4, "b", hung, 4*(300+200)*time.Millisecond+500*time.Millisecond+slack)
	t.Logf("hung check: VIP moved to b after %v", took)
	if err := os.Remove(hang); err != nil {
		t.Fatal(err)
	}
	// The killed scripts' sleeps died with their process groups (a sleep
	// of 4711 s ends no other way; the wait only lets the kernel reap).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("pgrep", "-f", "sleep 4711").Output()
		if len(strings.TrimSpace(string(out))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hung scripts' children still running 5 s after their runs were killed: pids %s", out)
		}
	}
	// Healthy again (rise 2): a, with the higher priority, takes it back.
	testbed.WaitSoleHolder(t, members, vip4, "a", time.Now(), 3*time.Second)
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
