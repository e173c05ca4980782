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
// node without a restart, and notify scripts report every change. A third
// VIP (testdns2) follows the forward order with `unhealthy: fault`: a
// disabled or unhealthy node's instance goes to FAULT instead of priority 1.

var scenario5Nodes = []string{"cnh", "sby", "wcdc", "ucs"}

func scenario5Conf(node, orderFile, notifyLog string) string {
	notify := fmt.Sprintf(`["/bin/sh", "-c", "echo \"$* failed=$VIPD_FAILED_CHECKS node=$VIPD_NODE prev=$VIPD_PREV_STATE reason=$VIPD_REASON\" >> %s", "notify"]`, notifyLog)
	inst := func(name string, vrid int, vip string, reverse bool, unhealthy string) string {
		return fmt.Sprintf(`  - name: %s
    interface: eth0
    vrid: %d
    version: 3
    advert_interval: 1s
    order: {file: %s, reverse: %t, unhealthy: %s}
    track: [dns]
    notify: {any: %s}
    vips: [%s]
`, name, vrid, orderFile, reverse, unhealthy, notify, vip)
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
`, node) + inst("testdns0", 10, "198.51.100.100/24", false, "lowest") +
		inst("testdns1", 11, "198.51.100.101/24", true, "lowest") +
		inst("testdns2", 12, "198.51.100.102/24", false, "fault")
}

// vipAt is a VIP and the node that should hold it alone.
type vipAt struct {
	vip  netip.Prefix
	node string
}

// moveKeeping samples every millisecond from start: each VIP of moves must
// come to its node within timeout and then stay there for hold, and every
// VIP of keeps must stay with its node throughout, every sample; a single
// sample where a kept VIP has another or no holder fails the test (no
// mastership dropped elsewhere while one VIP moves). It returns how long
// the moves took.
func moveKeeping(t *testing.T, members []testbed.Member, start time.Time, timeout, hold time.Duration, moves, keeps []vipAt) time.Duration {
	t.Helper()
	sole := func(v vipAt) (bool, []string) {
		h := testbed.Holders(t, members, v.vip)
		return len(h) == 1 && h[0] == v.node, h
	}
	var took time.Duration
	samples := 0
	for {
		now := time.Now()
		for _, k := range keeps {
			if ok, h := sole(k); !ok {
				t.Fatalf("at +%v (sample %d): %s holders %v, want only %s throughout", now.Sub(start), samples, k.vip, h, k.node)
			}
		}
		moved := true
		for _, m := range moves {
			ok, h := sole(m)
			if !ok && took > 0 {
				t.Fatalf("at +%v: %s holders %v after it had moved to %s", now.Sub(start), m.vip, h, m.node)
			}
			if !ok && now.Sub(start) > timeout {
				t.Fatalf("after %v: %s holders %v, want only %s", timeout, m.vip, h, m.node)
			}
			moved = moved && ok
		}
		samples++
		if moved && took == 0 {
			took = now.Sub(start)
		}
		if took > 0 && now.Sub(start) > took+hold {
			t.Logf("%d samples over %v", samples, now.Sub(start))
			return took
		}
		time.Sleep(time.Millisecond)
	}
}

// notifyLines returns the lines of node's notify log about inst.
func notifyLines(t *testing.T, dir, node, inst string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, node+".notify"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(l, " "+inst+" ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// wantLastLines checks that the last lines of node's log about inst start
// with want, in order, and contain the matching has (when not empty).
func wantLastLines(t *testing.T, dir, node, inst string, want, has []string) {
	t.Helper()
	lines := notifyLines(t, dir, node, inst)
	if len(lines) < len(want) {
		t.Fatalf("%s notify log for %s:\n%s\nwant last lines starting %q", node, inst, strings.Join(lines, "\n"), want)
	}
	got := lines[len(lines)-len(want):]
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) || (has != nil && has[i] != "" && !strings.Contains(got[i], has[i])) {
			t.Fatalf("%s notify log for %s:\n%s\nline %d should start %q and contain %q", node, inst,
				strings.Join(lines, "\n"), len(lines)-len(want)+i, w, has[i])
		}
	}
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
	vip2 := netip.MustParsePrefix("198.51.100.102/24")
	testbed.WaitSoleHolder(t, members, vip0, "cnh", start, 10*time.Second)
	testbed.WaitSoleHolder(t, members, vip1, "ucs", start, 10*time.Second)
	testbed.WaitSoleHolder(t, members, vip2, "cnh", start, 10*time.Second)

	// Disable cnh in the order file: testdns0 moves to sby within the
	// file-watch period (1 s) plus one advert interval, and so does
	// testdns2, cnh's instance going to FAULT (unhealthy: fault). testdns1
	// stays with ucs at every sample of the edit.
	edited := time.Now()
	writeOrder("# testdns order: first healthy node wins\n#cnh\nsby\nwcdc\nucs\n")
	took := moveKeeping(t, members, edited, 2*time.Second+slack, time.Second,
		[]vipAt{{vip0, "sby"}, {vip2, "sby"}}, []vipAt{{vip1, "ucs"}})
	t.Logf("cnh disabled in the order: testdns0 and testdns2 moved to sby after %v", took)
	// sby became master at position 2 (the disabled cnh keeps its slot);
	// cnh went BACKUP at priority 1 for testdns0, FAULT for testdns2, and
	// says why.
	wantLastLines(t, dir, "sby", "testdns0", []string{"INSTANCE testdns0 MASTER 200 failed= node=sby prev=BACKUP"}, nil)
	wantLastLines(t, dir, "sby", "testdns2", []string{"INSTANCE testdns2 MASTER 200 failed= node=sby prev=BACKUP"}, nil)
	wantLastLines(t, dir, "cnh", "testdns0", []string{"INSTANCE testdns0 BACKUP 1 failed= node=cnh prev=MASTER"}, nil)
	wantLastLines(t, dir, "cnh", "testdns2", []string{"INSTANCE testdns2 FAULT 1 failed= node=cnh prev=MASTER reason=node cnh disabled in order file"},
		[]string{"cnh.order:2"})

	// Break the DNS answer on ucs: testdns1 moves to the next node in the
	// reversed order, wcdc, within fall × interval + one advert interval;
	// testdns0 and testdns2 stay with sby at every sample.
	broken := time.Now()
	dns["ucs"].Kill()
	dns["ucs"] = testbed.StartDnsmasq(t, nodes["ucs"], pid("ucs"), `--txt-record=cam.ac.uk,broken`)
	took = moveKeeping(t, members, broken, 2*500*time.Millisecond+time.Second+time.Second+slack, time.Second,
		[]vipAt{{vip1, "wcdc"}}, []vipAt{{vip0, "sby"}, {vip2, "sby"}})
	t.Logf("DNS broken on ucs: testdns1 moved to wcdc after %v", took)
	wantLastLines(t, dir, "wcdc", "testdns1", []string{"INSTANCE testdns1 MASTER 200 failed= node=wcdc prev=BACKUP"}, nil)

	// ucs's notify log tells the story in order, with the failed check on
	// the BACKUP line (the "BACKUP because the service is dead" report),
	// and its testdns2 (not master) goes to FAULT for the check.
	wantLastLines(t, dir, "ucs", "testdns1", []string{
		"INSTANCE testdns1 BACKUP ",
		"INSTANCE testdns1 MASTER 250 failed=",
		"INSTANCE testdns1 BACKUP 1 failed=dns node=ucs prev=MASTER",
	}, nil)
	wantLastLines(t, dir, "ucs", "testdns2", []string{"INSTANCE testdns2 FAULT 1 failed=dns node=ucs prev=BACKUP reason="},
		[]string{"dns"})
}
