package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// The round trip of `vipd convert`: every keepalived.conf of deploy/examples
// and of these tests runs the same election from the original file and from
// its conversion to native YAML. Each cluster runs twice at once, in two
// labs of the same shape: once with every node on its keepalived.conf, once
// with every node on the converted YAML. In both, the expected node must
// end up the sole holder of every VIP, and after a graceful stop of that
// master, the expected successor. The models loaded from the two files must
// also be equal.

// rtNode is one node of a round-trip cluster.
type rtNode struct {
	name string
	conf string   // keepalived.conf text
	eth0 []string // addresses on eth0 (segment layout)
	eth1 []string // addresses on eth1, if the cluster uses it
}

// rtCase is one cluster and the elections it must give.
type rtCase struct {
	name string
	// twoAZ puts the nodes in two routed subnets (node 1 in az1, node 2 in
	// az2, as testbed.TwoAZ numbers them) instead of one segment.
	twoAZ  bool
	nodes  []rtNode
	master string // expected sole holder of every VIP
	next   string // expected holder of every VIP after master stops gracefully
	// masters and nexts override master and next for single VIPs (keyed
	// by the VIP as written, "198.51.100.100/24").
	masters, nexts map[string]string
	settle         time.Duration // bound for the first election
	// refused, when set, is what convert must say when it refuses the
	// file: the native format is stricter there than keepalived.
	refused string
}

func (c rtCase) holder(v netip.Prefix, after bool) string {
	if after {
		if h, ok := c.nexts[v.String()]; ok {
			return h
		}
		return c.next
	}
	if h, ok := c.masters[v.String()]; ok {
		return h
	}
	return c.master
}

func TestConvertRoundTrip(t *testing.T) {
	lab.Require(t)
	bin := testbed.VipdBinary(t)
	var cases []rtCase
	for _, v := range variants {
		c := rtCase{
			name: "interop-" + v.name,
			nodes: []rtNode{
				{name: "n1", conf: v.keepalivedConf("n1", 150, 1, 2), eth0: []string{v.cidr(1)}},
				{name: "n2", conf: v.keepalivedConf("n2", 100, 2, 1), eth0: []string{v.cidr(2)}},
			},
			master: "n1", next: "n2", settle: masterDown(time.Second, 100) + 3*time.Second,
		}
		cases = append(cases, c)
	}
	cases = append(cases, scenario1Case(t), nwayCase(t))
	cases = append(cases, exampleCases(t)...)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, bin, c)
		})
	}
}

// scenario1Case is scenario 1's keepalived.conf with a's dnsmasq dead and
// b's alive: only a faithful conversion of the tracked script makes b
// (priority 100) win over a (101 - 5).
func scenario1Case(t *testing.T) rtCase {
	dir := t.TempDir()
	dead, live := filepath.Join(dir, "dead.pid"), filepath.Join(dir, "live.pid")
	// No process has a pid above pid_max; the test process itself is alive
	// (the lab's nodes share the PID namespace).
	writeFile(t, dead, "2147483646\n")
	writeFile(t, live, strconv.Itoa(os.Getpid())+"\n")
	return rtCase{
		name: "scenario1",
		nodes: []rtNode{
			{name: "a", conf: scenario1Conf("a", 101, 1, 2, dead), eth0: []string{"198.51.100.1/24"}},
			{name: "b", conf: scenario1Conf("b", 100, 2, 1, live), eth0: []string{"198.51.100.2/24"}},
		},
		master: "b", next: "a", settle: 2*time.Second + masterDown(time.Second, 100) + 3*time.Second,
	}
}

// nwayCase is the N-way keepalived form with one node's DNS check passing
// through a file flag: only it keeps its priority.
func nwayCase(t *testing.T) rtCase {
	dir := t.TempDir()
	conf := func(name string, prio int, healthy bool) string {
		flag := filepath.Join(dir, name+".ok")
		if healthy {
			writeFile(t, flag, "ok\n")
		}
		return fmt.Sprintf(`global_defs {
  router_id %s
  vrrp_version 3
  enable_script_security
  script_user root
}
vrrp_script chk {
  script "/usr/bin/test -f %s"
  interval 1
  weight -249
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 20
  priority %d
  advert_int 1
  track_script {
    chk
  }
  virtual_ipaddress {
    fe80::20/64
    2001:db8::20/64
  }
}
`, name, flag, prio)
	}
	// The order is x, y, z; x's check fails, so y must win.
	return rtCase{
		name: "nway-v6-multicast",
		nodes: []rtNode{
			{name: "x", conf: conf("x", 250, false), eth0: []string{"2001:db8::1/64"}},
			{name: "y", conf: conf("y", 200, true), eth0: []string{"2001:db8::2/64"}},
			{name: "z", conf: conf("z", 150, true), eth0: []string{"2001:db8::3/64"}},
		},
		master: "y", next: "z", settle: masterDown(time.Second, 150) + 3*time.Second,
	}
}

// exampleCases are the keepalived.conf files of deploy/examples, with the
// lab addresses their comments describe and the outcome their design
// implies in a lab without the services they check (every check fails on
// every node alike).
func exampleCases(t *testing.T) []rtCase {
	dir := filepath.Join("..", "..", "deploy", "examples")
	read := func(sub, node string) string {
		b, err := os.ReadFile(filepath.Join(dir, sub, "keepalived-"+node+".conf"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	seg := func(sub string, names []string, eth1 bool) []rtNode {
		var out []rtNode
		for i, n := range names {
			node := rtNode{name: n, conf: read(sub, n), eth0: []string{fmt.Sprintf("198.51.100.%d/24", i+1)}}
			if eth1 {
				node.eth1 = []string{fmt.Sprintf("203.0.113.%d/25", i+1)}
			}
			out = append(out, node)
		}
		return out
	}
	one := masterDown(time.Second, 100) + 3*time.Second
	cases := []rtCase{
		{name: "example-dns-failover", nodes: seg("dns-failover", []string{"a", "b"}, false), master: "a", next: "b", settle: one + 2*time.Second},
		{name: "example-haproxy-eip", twoAZ: true, nodes: []rtNode{{name: "a", conf: read("haproxy-eip", "a")}, {name: "b", conf: read("haproxy-eip", "b")}},
			master: "a", next: "b", settle: masterDown(3*time.Second, 101) + 4*time.Second},
		{name: "example-nat-gateway", nodes: seg("nat-gateway", []string{"a", "b"}, true), master: "a", next: "b", settle: one},
		{name: "example-single-writer", nodes: seg("single-writer", []string{"a", "b"}, false), master: "a", next: "b", settle: one},
		// Every DNS check fails in the lab: cnh, sby, wcdc drop to 110, 60
		// and 10 for testdns0 (the reverse for testdns1), ucs stays at 1.
		// Stopping cnh moves testdns0 to sby and leaves testdns1 on wcdc.
		{name: "example-nway-dns", nodes: seg("nway-dns", []string{"cnh", "sby", "wcdc", "ucs"}, false),
			master: "cnh", masters: map[string]string{"198.51.100.101/24": "wcdc"},
			next: "sby", nexts: map[string]string{"198.51.100.101/24": "wcdc"},
			settle: masterDown(time.Second, 10) + 3*time.Second},
	}
	// Every example directory with a keepalived.conf is covered.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		matches, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.conf"))
		if len(matches) > 0 && !slices.ContainsFunc(cases, func(c rtCase) bool { return c.name == "example-"+e.Name() }) {
			t.Errorf("deploy/examples/%s has keepalived.conf files but no round-trip case", e.Name())
		}
	}
	return cases
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rtVIP is a VIP and the interface it is bound to.
type rtVIP struct {
	prefix netip.Prefix
	iface  string
}

func roundTrip(t *testing.T, bin string, c rtCase) {
	// Convert every node's file with the real command, and compare the
	// models the two files load to.
	dir := t.TempDir()
	yamls := make([]string, len(c.nodes))
	var vips []rtVIP
	for i, n := range c.nodes {
		conf := filepath.Join(dir, n.name+".conf")
		writeFile(t, conf, n.conf)
		out := filepath.Join(dir, n.name+".yaml")
		cmd := exec.Command(bin, "convert", "--from-keepalived", conf, "-o", out)
		msg, err := cmd.CombinedOutput()
		if c.refused != "" {
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(msg), c.refused) || !strings.Contains(string(msg), "fix it by hand") {
				t.Fatalf("vipd convert %s: %v, want exit status 1 saying %q\n%s", n.name, err, c.refused, msg)
			}
			continue
		}
		if err != nil {
			t.Fatalf("vipd convert %s: %v\n%s", n.name, err, msg)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		yamls[i] = string(b)
		orig, err := load.File(conf, config.LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", conf, err)
		}
		conv, err := load.File(out, config.LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", out, err, b)
		}
		if d := orig.Differences(conv); len(d) > 0 {
			t.Fatalf("%s: the converted model differs:\n%s", n.name, strings.Join(d, "\n"))
		}
		for _, inst := range orig.Instances {
			for _, v := range inst.VIPs {
				if rv := (rtVIP{v.Prefix, v.Interface}); !slices.Contains(vips, rv) {
					vips = append(vips, rv)
				}
			}
		}
	}
	if c.refused != "" {
		return
	}
	if len(vips) == 0 {
		t.Fatal("the cluster has no VIP to watch")
	}

	// Both clusters run at once, in labs of the same shape.
	type run struct {
		what    string
		nodes   map[string]*lab.Node
		daemons map[string]*testbed.Daemon
	}
	runs := []*run{{what: "keepalived.conf"}, {what: "converted YAML"}}
	start := time.Now()
	for ri, r := range runs {
		r.nodes = buildCluster(t, c)
		r.daemons = map[string]*testbed.Daemon{}
		for i, n := range c.nodes {
			if ri == 0 {
				r.daemons[n.name] = testbed.StartVipd(t, r.nodes[n.name], n.conf, ".conf")
			} else {
				r.daemons[n.name] = testbed.StartVipd(t, r.nodes[n.name], yamls[i], ".yaml")
			}
		}
	}
	members := func(r *run, iface string, except string) []testbed.Member {
		var out []testbed.Member
		for _, n := range c.nodes {
			if n.name != except {
				out = append(out, testbed.Member{Name: n.name, Node: r.nodes[n.name], Iface: iface})
			}
		}
		return out
	}
	for _, r := range runs {
		for _, v := range vips {
			want := c.holder(v.prefix, false)
			took := testbed.WaitSoleHolder(t, members(r, v.iface, ""), v.prefix, want, start, c.settle)
			t.Logf("%s: %s holds %s after %v", r.what, want, v.prefix, took)
		}
	}

	// Graceful stop of the master in both: the same successors take over.
	stopped := time.Now()
	for _, r := range runs {
		r.daemons[c.master].Term()
	}
	for _, r := range runs {
		for _, v := range vips {
			want := c.holder(v.prefix, true)
			took := testbed.WaitSoleHolder(t, members(r, v.iface, c.master), v.prefix, want, stopped, c.settle)
			t.Logf("%s: after stopping %s, %s holds %s after %v", r.what, c.master, want, v.prefix, took)
		}
	}
}

// buildCluster makes one lab for c and returns its nodes by name.
func buildCluster(t *testing.T, c rtCase) map[string]*lab.Node {
	nodes := map[string]*lab.Node{}
	if c.twoAZ {
		z := testbed.NewTwoAZ(t)
		for i, n := range c.nodes {
			nodes[n.name], _ = z.AddNode(t, n.name, i%2+1)
		}
		return nodes
	}
	l := lab.New(t)
	sw0 := l.Switch("sw0")
	var sw1 *lab.Switch
	for _, n := range c.nodes {
		node := l.Node(n.name)
		l.Connect(node, sw0, "eth0", n.eth0...)
		if len(n.eth1) > 0 {
			if sw1 == nil {
				sw1 = l.Switch("sw1")
			}
			l.Connect(node, sw1, "eth1", n.eth1...)
		}
		nodes[n.name] = node
	}
	return nodes
}
