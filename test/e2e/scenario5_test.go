package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// Scenario 5 of the design: N-way recursive DNS. Four nodes, two VIPs; all
// start BACKUP with no fixed master; each VIP has an order of nodes
// (testdns0 forward, testdns1 reversed); the first healthy node in the
// order holds it. Health is a DNS query for cam.ac.uk TXT. Disabling a node
// in the order file, or breaking its DNS answer, moves its VIP to the next
// node without a restart, and notify scripts report every change.

var scenario5Nodes = []string{"cnh", "sby", "wcdc", "ucs"}

func scenario5Conf(node, orderFile, notifyLog string) string {
	notify := fmt.Sprintf(`["/bin/sh", "-c", "echo \"$* failed=$VIPD_FAILED_CHECKS\" >> %s", "notify"]`, notifyLog)
	inst := func(name string, vrid int, vip string, reverse bool) string {
		return fmt.Sprintf(`  - name: %s
    interface: eth0
    vrid: %d
    version: 3
    advert_interval: 1s
    order: {file: %s, reverse: %t, unhealthy: lowest}
    track: [dns]
    notify: {any: %s}
    vips: [%s]
`, name, vrid, orderFile, reverse, notify, vip)
	}
	return fmt.Sprintf(`node: {name: %s}
checks:
  - name: dns
    interval: 500ms
    timeout: 1s
    fall: 2
    rise: 2
    dns: {server: "127.0.0.1:53", name: cam.ac.uk, type: TXT, expect_answer: "v=spf1"}
instances:
`, node) + inst("testdns0", 10, "198.51.100.100/24", false) + inst("testdns1", 11, "198.51.100.101/24", true)
}

func TestScenario5NWayDNS(t *testing.T) {
	lab.Require(t)
	testbed.VipdBinary(t)
	l := lab.New(t)
	sw := l.Switch("sw")
	dir := t.TempDir()
	var members []testbed.Member
	daemons := map[string]*testbed.Daemon{}
	nodes := map[string]*lab.Node{}
	orderFiles := map[string]string{}
	writeOrder := func(text string) {
		for _, name := range scenario5Nodes {
			// Replace atomically, as an editor or config management would.
			tmp := orderFiles[name] + ".new"
			if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, orderFiles[name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, name := range scenario5Nodes {
		n := l.Node(name)
		l.Connect(n, sw, "eth0", fmt.Sprintf("198.51.100.%d/24", i+1))
		nodes[name] = n
		members = append(members, testbed.Member{Name: name, Node: n, Iface: "eth0"})
		orderFiles[name] = filepath.Join(dir, name+".order")
	}
	writeOrder("# testdns order: first healthy node wins\ncnh\nsby\nwcdc\nucs\n")
	pid := func(name string) string { return filepath.Join(dir, name+".pid") }
	dns := map[string]*testbed.Daemon{}
	for _, name := range scenario5Nodes {
		dns[name] = testbed.StartDnsmasq(t, nodes[name], pid(name), `--txt-record=cam.ac.uk,v=spf1 -all`)
	}
	start := time.Now()
	for _, name := range scenario5Nodes {
		daemons[name] = testbed.StartVipd(t, nodes[name], scenario5Conf(name, orderFiles[name], filepath.Join(dir, name+".notify")), ".yaml")
	}
	vip0 := netip.MustParsePrefix("198.51.100.100/24")
	vip1 := netip.MustParsePrefix("198.51.100.101/24")
	testbed.WaitSoleHolder(t, members, vip0, "cnh", start, 10*time.Second)
	testbed.WaitSoleHolder(t, members, vip1, "ucs", start, 10*time.Second)

	// Disable cnh in the order file: testdns0 moves to sby within the
	// file-watch period (1 s) plus one advert interval.
	edited := time.Now()
	writeOrder("# testdns order: first healthy node wins\n#cnh\nsby\nwcdc\nucs\n")
	took := testbed.WaitSoleHolder(t, members, vip0, "sby", edited, 2*time.Second+slack)
	t.Logf("cnh disabled in the order: testdns0 moved to sby after %v", took)
	testbed.StaySoleHolder(t, members, vip1, "ucs", time.Second)

	// Break the DNS answer on ucs: testdns1 moves to the next node in the
	// reversed order, wcdc, within fall × interval + one advert interval.
	broken := time.Now()
	dns["ucs"].Kill()
	dns["ucs"] = testbed.StartDnsmasq(t, nodes["ucs"], pid("ucs"), `--txt-record=cam.ac.uk,broken`)
	took = testbed.WaitSoleHolder(t, members, vip1, "wcdc", broken, 2*500*time.Millisecond+time.Second+time.Second+slack)
	t.Logf("DNS broken on ucs: testdns1 moved to wcdc after %v", took)
	testbed.StaySoleHolder(t, members, vip0, "sby", time.Second)

	// ucs's notify log tells the story in order, with the failed check on
	// the BACKUP line (the "BACKUP because the service is dead" report).
	b, err := os.ReadFile(filepath.Join(dir, "ucs.notify"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(l, "testdns1") {
			lines = append(lines, l)
		}
	}
	want := []string{
		"INSTANCE testdns1 BACKUP ",
		"INSTANCE testdns1 MASTER 250 failed=",
		"INSTANCE testdns1 BACKUP 1 failed=dns",
	}
	if len(lines) < len(want) {
		t.Fatalf("ucs notify log for testdns1:\n%s\nwant lines starting %q", strings.Join(lines, "\n"), want)
	}
	got := lines[len(lines)-len(want):]
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Fatalf("ucs notify log for testdns1:\n%s\nline %d should start %q", strings.Join(lines, "\n"), i, w)
		}
	}
}
