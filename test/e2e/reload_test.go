package e2e

import (
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

func rewrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReload: SIGHUP keeps an unchanged instance (and its mastership)
// untouched while adding a new one; a broken file is not applied; a changed
// instance is restarted.
func TestReload(t *testing.T) {
	p := newPair(t, false)
	a, b, members := p.a, p.b, p.members

	web := func(prio string) string {
		return `
  - name: web
    interface: eth0
    vrid: 51
    priority: ` + prio + `
    advert_interval: 1s
    version: 3
    vips: [198.51.100.100/24]
`
	}
	api := `
  - name: api
    interface: eth0
    vrid: 52
    priority: 150
    advert_interval: 1s
    version: 3
    vips: [198.51.100.101/24]
`
	start := time.Now()
	da := testbed.StartVipd(t, a, "node: {name: a}\ninstances:"+web("150"), ".yaml")
	testbed.StartVipd(t, b, "node: {name: b}\ninstances:"+web("100"), ".yaml")
	testbed.WaitSoleHolder(t, members, vip4, "a", start, masterDown(time.Second, 150)+2*time.Second)
	transitions := da.CountLog("state change", "instance=web")

	// Add an instance: web keeps running untouched.
	rewrite(t, da.Config, "node: {name: a}\ninstances:"+web("150")+api)
	da.Signal(syscall.SIGHUP)
	da.WaitLog(t, "configuration reloaded", 2*time.Second)
	testbed.StaySoleHolder(t, members, vip4, "a", 2*time.Second)
	if n := da.CountLog("state change", "instance=web"); n != transitions {
		t.Fatalf("web changed state during a reload that did not touch it (%d transitions, had %d)", n, transitions)
	}
	vipAPI := netip.MustParsePrefix("198.51.100.101/24")
	testbed.WaitSoleHolder(t, members, vipAPI, "a", time.Now(), masterDown(time.Second, 150)+time.Second)

	// A broken file is reported and not applied.
	rewrite(t, da.Config, "node: {name: a}\ninstances:\n  - name: web\n    vrid: 999\n")
	da.Signal(syscall.SIGHUP)
	da.WaitLog(t, "configuration not reloaded", 2*time.Second)
	testbed.StaySoleHolder(t, members, vip4, "a", 1500*time.Millisecond)
	if da.Exited() {
		t.Fatal("vipd exited on a broken reload")
	}

	// A changed instance restarts: web drops to priority 90, resigns with a
	// priority-0 advert, and b (100) takes over within its skew time.
	rewrite(t, da.Config, "node: {name: a}\ninstances:"+web("90")+api)
	hup := time.Now()
	da.Signal(syscall.SIGHUP)
	testbed.WaitSoleHolder(t, members, vip4, "b", hup, skew(time.Second, 100)+slack)
	testbed.StaySoleHolder(t, members, vipAPI, "a", time.Second)
}

// TestDualFamilyVIPs: an IPv4 instance may also hold an IPv6 VIP; it
// follows the instance's state (adverts carry only the IPv4 one).
func TestDualFamilyVIPs(t *testing.T) {
	nodes, members := segment(t, true, "a", "b")
	a, b := nodes[0], nodes[1]
	vip6 := netip.MustParsePrefix("2001:db8::100/64")
	cfg := func(name, prio string) string {
		return "node: {name: " + name + "}\ninstances:\n  - name: dns\n    interface: eth0\n    vrid: 53\n    priority: " + prio +
			"\n    version: 3\n    advert_interval: 1s\n    vips: [198.51.100.100/24, 2001:db8::100/64]\n"
	}
	start := time.Now()
	da := testbed.StartVipd(t, a, cfg("a", "150"), ".yaml")
	testbed.StartVipd(t, b, cfg("b", "100"), ".yaml")
	testbed.WaitSoleHolder(t, members, vip4, "a", start, masterDown(time.Second, 150)+2*time.Second)
	testbed.WaitSoleHolder(t, members, vip6, "a", start, masterDown(time.Second, 150)+2*time.Second)

	stopped := time.Now()
	da.Term()
	testbed.WaitSoleHolder(t, members, vip4, "b", stopped, skew(time.Second, 100)+slack)
	testbed.WaitSoleHolder(t, members, vip6, "b", stopped, skew(time.Second, 100)+slack)
}
