package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

// TestSyncGroup is scenario 3's shape: a public VIP on eth0 and a private
// one on eth1 must always sit on the same node. When the master loses eth1,
// its private instance goes to FAULT (implicit tracking of its own
// interface) and the sync group takes the public one with it, so both move.
func TestSyncGroup(t *testing.T) {
	p := newPair(t, true)
	a, b, pubMembers, privMembers := p.a, p.b, p.members, p.private
	vipPub := netip.MustParsePrefix("198.51.100.100/24")
	vipPriv := netip.MustParsePrefix("203.0.113.100/24")

	dir := t.TempDir()
	cfg := func(name string, prio int) string {
		log := filepath.Join(dir, name+".notify")
		return fmt.Sprintf(`node: {name: %[1]s}
instances:
  - name: public
    interface: eth0
    vrid: 61
    priority: %[2]d
    version: 3
    advert_interval: 1s
    vips: [%[3]s]
  - name: private
    interface: eth1
    vrid: 62
    priority: %[2]d
    version: 3
    advert_interval: 1s
    vips: [%[4]s]
sync_groups:
  - name: nat
    instances: [public, private]
    notify: {any: ["/bin/sh", "-c", "echo \"$*\" >> %[5]s", "notify"]}
`, name, prio, vipPub, vipPriv, log)
	}
	start := time.Now()
	testbed.StartVipd(t, a, cfg("a", 150), ".yaml")
	testbed.StartVipd(t, b, cfg("b", 100), ".yaml")
	testbed.WaitSoleHolder(t, pubMembers, vipPub, "a", start, masterDown(time.Second, 150)+2*time.Second)
	testbed.WaitSoleHolder(t, privMembers, vipPriv, "a", start, masterDown(time.Second, 150)+2*time.Second)

	// a loses its private link: both VIPs move to b. a's whole group goes
	// to FAULT at once (link check), but b's group moves as one: its
	// private instance still yields to a until its master-down interval
	// passes (a's resignation on eth1 cannot get through), and holds b's
	// public instance back until then; the public one then follows the
	// private one at once, so both move together.
	down := time.Now()
	a.SetLink(t, "eth1", false)
	bound := masterDown(time.Second, 100) + skew(time.Second, 100) + slack
	took := testbed.WaitSoleHolder(t, privMembers[1:], vipPriv, "b", down, bound)
	t.Logf("eth1 down on a: private VIP on b after %v", took)
	took = testbed.WaitSoleHolder(t, pubMembers, vipPub, "b", down, bound)
	t.Logf("eth1 down on a: public VIP on b after %v", took)
	if h := testbed.Holders(t, pubMembers[:1], vipPub); len(h) != 0 {
		t.Fatal("a kept the public VIP while its sync group is in FAULT")
	}

	// The link comes back: a leaves FAULT and, with the higher priority,
	// takes both back.
	up := time.Now()
	a.SetLink(t, "eth1", true)
	testbed.WaitSoleHolder(t, pubMembers, vipPub, "a", up, masterDown(time.Second, 150)+2*time.Second)
	testbed.WaitSoleHolder(t, privMembers, vipPriv, "a", up, masterDown(time.Second, 150)+2*time.Second)

	// The group's notify script saw MASTER, FAULT, then MASTER again
	// (keepalived passes priority 0 for groups).
	// Scripts run asynchronously: give the last one a moment.
	want := "MASTER FAULT BACKUP MASTER"
	var got string
	var logA []byte
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		logA, _ = os.ReadFile(filepath.Join(dir, "a.notify"))
		var seq []string
		for _, line := range strings.Split(strings.TrimSpace(string(logA)), "\n") {
			f := strings.Fields(line)
			if len(f) == 4 && f[0] == "GROUP" && f[1] == "nat" && f[3] == "0" {
				if len(seq) == 0 || seq[len(seq)-1] != f[2] {
					seq = append(seq, f[2])
				}
			}
		}
		if got = strings.Join(seq, " "); strings.HasSuffix(got, want) {
			return
		}
	}
	t.Fatalf("group notify sequence %q, want it to end with %q; log:\n%s", got, want, logA)
}

// TestSyncGroupMovesAsOne: with priorities that disagree between the two
// instances (a prefers public, b prefers private), the group still keeps
// both VIPs on one node: a yields private to b, which holds a's public
// instance back too, so b ends up with both.
func TestSyncGroupMovesAsOne(t *testing.T) {
	p := newPair(t, true)
	a, b, pubMembers, privMembers := p.a, p.b, p.members, p.private
	vipPub := netip.MustParsePrefix("198.51.100.100/24")
	vipPriv := netip.MustParsePrefix("203.0.113.100/24")
	cfg := func(name string, pubPrio, privPrio int) string {
		return fmt.Sprintf(`node: {name: %s}
instances:
  - {name: public, interface: eth0, vrid: 61, priority: %d, version: 3, advert_interval: 1s, vips: [%s]}
  - {name: private, interface: eth1, vrid: 62, priority: %d, version: 3, advert_interval: 1s, vips: [%s]}
sync_groups:
  - {name: nat, instances: [public, private]}
`, name, pubPrio, vipPub, privPrio, vipPriv)
	}
	start := time.Now()
	testbed.StartVipd(t, a, cfg("a", 150, 150), ".yaml")
	testbed.StartVipd(t, b, cfg("b", 100, 200), ".yaml")
	bound := masterDown(time.Second, 100) + 3*time.Second
	testbed.WaitSoleHolder(t, privMembers, vipPriv, "b", start, bound)
	testbed.WaitSoleHolder(t, pubMembers, vipPub, "b", start, bound)
	// And it stays that way: a's public instance is held, not flapping.
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if h := testbed.Holders(t, pubMembers, vipPub); len(h) != 1 || h[0] != "b" {
			t.Fatalf("public VIP holders %v, want only b", h)
		}
		if h := testbed.Holders(t, privMembers, vipPriv); len(h) != 1 || h[0] != "b" {
			t.Fatalf("private VIP holders %v, want only b", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
