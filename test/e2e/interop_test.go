package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// An interop variant is one protocol combination keepalived and vipd must
// agree on.
type variant struct {
	name    string
	version int
	v6      bool
	unicast bool
	auth    bool
}

var variants = []variant{
	{name: "v2-pass-unicast", version: 2, unicast: true, auth: true},
	{name: "v2-pass-multicast", version: 2, auth: true},
	{name: "v3-ipv4-unicast", version: 3, unicast: true},
	{name: "v3-ipv4-multicast", version: 3},
	{name: "v3-ipv6-unicast", version: 3, v6: true, unicast: true},
	{name: "v3-ipv6-multicast", version: 3, v6: true},
}

func (v variant) addr(i int) string {
	if v.v6 {
		return fmt.Sprintf("2001:db8::%d", i)
	}
	return fmt.Sprintf("198.51.100.%d", i)
}

func (v variant) cidr(i int) string {
	if v.v6 {
		return v.addr(i) + "/64"
	}
	return v.addr(i) + "/24"
}

func (v variant) vip() netip.Prefix {
	if v.v6 {
		return netip.MustParsePrefix("2001:db8::100/64")
	}
	return netip.MustParsePrefix("198.51.100.100/24")
}

// keepalivedConf is one keepalived.conf, fed unchanged to keepalived and to
// vipd: the migration story is "same file, other daemon".
func (v variant) keepalivedConf(router string, prio, self, peer int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n  vrrp_version %d\n}\n", router, v.version)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n")
	fmt.Fprintf(&b, "  priority %d\n  advert_int 1\n", prio)
	if v.unicast {
		fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", v.addr(self), v.addr(peer))
	}
	if v.auth {
		b.WriteString("  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }\n")
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s dev eth0\n  }\n}\n", v.vip())
	return b.String()
}

// TestKeepalivedInterop puts one vipd and one keepalived node in a cluster,
// for every protocol variant and with either daemon as the higher priority.
// The higher priority wins whichever daemon it is and is the only holder;
// a graceful stop hands over within the skew time + 300 ms; a kill -9 within
// the master-down interval + 300 ms.
func TestKeepalivedInterop(t *testing.T) {
	lab.Require(t)
	testbed.RequireKeepalived(t)
	testbed.VipdBinary(t)
	for _, v := range variants {
		for _, higher := range []string{"vipd", "keepalived"} {
			t.Run(v.name+"/"+higher+"-higher", func(t *testing.T) {
				t.Parallel()
				interop(t, v, higher)
			})
		}
	}
}

func interop(t *testing.T, v variant, higher string) {
	l := lab.New(t)
	sw := l.Switch("sw")
	nv, nk := l.Node("vipd"), l.Node("ka")
	l.Connect(nv, sw, "eth0", v.cidr(1))
	l.Connect(nk, sw, "eth0", v.cidr(2))
	members := []testbed.Member{{Name: "vipd", Node: nv, Iface: "eth0"}, {Name: "keepalived", Node: nk, Iface: "eth0"}}

	const interval = time.Second
	const hi, lo = 150, 100
	pv, pk := lo, hi
	if higher == "vipd" {
		pv, pk = hi, lo
	}
	lower := "keepalived"
	if higher == "keepalived" {
		lower = "vipd"
	}
	vip := v.vip()
	vipdConf := v.keepalivedConf("vipd", pv, 1, 2)
	kaConf := v.keepalivedConf("ka", pk, 2, 1)
	run := func(who string) *testbed.Daemon {
		if who == "vipd" {
			return testbed.StartVipd(t, nv, vipdConf, ".conf")
		}
		return testbed.StartKeepalived(t, nk, kaConf)
	}

	start := time.Now()
	d := map[string]*testbed.Daemon{"vipd": run("vipd"), "keepalived": run("keepalived")}
	testbed.WaitSoleHolder(t, members, vip, higher, start, masterDown(interval, hi)+3*time.Second)
	testbed.StaySoleHolder(t, members, vip, higher, 2*interval)

	// Graceful stop of the master: its priority-0 advert lets the other
	// take over after its skew time.
	stopped := time.Now()
	d[higher].Term()
	took := testbed.WaitSoleHolder(t, members, vip, lower, stopped, skew(interval, lo)+slack)
	t.Logf("graceful stop of %s: %s took over after %v (bound %v)", higher, lower, took, skew(interval, lo)+slack)
	if !d[higher].Wait(5 * time.Second) {
		t.Fatalf("%s did not exit after SIGTERM", higher)
	}

	// It comes back with the higher priority and preempts.
	back := time.Now()
	d[higher] = run(higher)
	testbed.WaitSoleHolder(t, members, vip, higher, back, masterDown(interval, hi)+3*time.Second)
	testbed.StaySoleHolder(t, members, vip, higher, interval)

	// Crash of the master.
	var live []testbed.Member
	for _, m := range members {
		if m.Name == lower {
			live = append(live, m)
		}
	}
	killed := time.Now()
	d[higher].Kill()
	took = testbed.WaitSoleHolder(t, live, vip, lower, killed, masterDown(interval, lo)+slack)
	t.Logf("kill -9 of %s: %s took over after %v (bound %v)", higher, lower, took, masterDown(interval, lo)+slack)

	// The crashed master comes back (finding its own VIP still bound from
	// the crash) and preempts again, leaving a single holder.
	back = time.Now()
	d[higher] = run(higher)
	testbed.WaitRestartedSoleHolder(t, d[higher], members, vip, higher, back, masterDown(interval, hi)+3*time.Second)
}
