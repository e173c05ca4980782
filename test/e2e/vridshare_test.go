package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/testbed"
)

// TestSharedVRIDUnicast: keepalived accepts two unicast instances with the
// same VRID on one interface when they have no common peer (two virtual
// routers told apart by their peers), so vipd runs such a keepalived.conf
// too. Node a runs VI_B (VRID 51, peer b) and VI_C (VRID 51, peer c); b and
// c each run one instance with peer a. a must win against b and lose to c:
// an advert from c routed to VI_B, or b's to VI_C, would be refused as "not
// a peer", and a would then hold both VIPs.
func TestSharedVRIDUnicast(t *testing.T) {
	nodes, members := threeNodes(t)
	a, b, c := nodes[0], nodes[1], nodes[2]
	vipB := netip.MustParsePrefix("198.51.100.101/24")
	vipC := netip.MustParsePrefix("198.51.100.102/24")
	inst := func(name string, prio int, src, peer string, vip netip.Prefix) string {
		return fmt.Sprintf(`vrrp_instance %s {
  state BACKUP
  interface eth0
  virtual_router_id 51
  version 3
  priority %d
  advert_int 1
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    %s
  }
}
`, name, prio, src, peer, vip)
	}
	const interval = time.Second
	start := time.Now()
	da := testbed.StartVipd(t, a, inst("VI_B", 200, "198.51.100.1", "198.51.100.2", vipB)+
		inst("VI_C", 100, "198.51.100.1", "198.51.100.3", vipC), ".conf")
	testbed.StartVipd(t, b, inst("VI_B", 100, "198.51.100.2", "198.51.100.1", vipB), ".conf")
	dc := testbed.StartVipd(t, c, inst("VI_C", 200, "198.51.100.3", "198.51.100.1", vipC), ".conf")
	da.WaitLog(t, "BACKUP", 5*time.Second)

	testbed.WaitSoleHolder(t, members, vipB, "n1", start, masterDown(interval, 100)+2*time.Second)
	testbed.WaitSoleHolder(t, members, vipC, "n3", start, masterDown(interval, 100)+2*time.Second)
	// Each pair keeps its master for longer than a master-down interval:
	// each side hears its own peer's adverts.
	testbed.StaySoleHolder(t, members, vipC, "n3", masterDown(interval, 100)+interval)
	testbed.StaySoleHolder(t, members, vipB, "n1", interval)

	// And a's VI_C really listens to c: when c dies, a takes over.
	killed := time.Now()
	dc.Kill()
	took := testbed.WaitSoleHolder(t, members[:2], vipC, "n1", killed, masterDown(interval, 100)+slack)
	t.Logf("c killed: a took VI_C's VIP after %v", took)
	testbed.StaySoleHolder(t, members, vipB, "n1", interval)
}
