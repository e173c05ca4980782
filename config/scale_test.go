package config

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// manyKeepalived returns a keepalived.conf of n instances with one VIP
// each. Spread, each has a VRID and interface pair of its own (eth0 to
// ethN, VRIDs 1-255 on each) and the file loads cleanly. Shared, all are
// unicast on eth0 with VRIDs 1-255 in turn and a peer each, so that every
// VRID is shared by about n/255 instances: the shape that made the old
// VRID-sharing report pairwise (a warning for every pair).
func manyKeepalived(n int, shared bool) []byte {
	var b strings.Builder
	b.Grow(n * 150)
	b.WriteString("global_defs {\n  router_id h1\n}\n")
	for i := range n {
		ifname, extra := fmt.Sprintf("eth%d", i/255), ""
		if shared {
			ifname = "eth0"
			extra = fmt.Sprintf("  unicast_peer {\n    192.0.%d.%d\n  }\n", i>>8&255, i&255)
		}
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n  interface %s\n  virtual_router_id %d\n  priority 100\n  advert_int 1\n%s  virtual_ipaddress {\n    10.%d.%d.%d/32\n  }\n}\n",
			i, ifname, i%255+1, extra, i>>16&255, i>>8&255, i&255)
	}
	return []byte(b.String())
}

// manyYAML is manyKeepalived in the native format, each instance with its
// own VRID/interface pair (interfaces eth0..ethN) so that it validates.
func manyYAML(n int) []byte {
	var b strings.Builder
	b.Grow(n * 120)
	b.WriteString("node: {name: h1}\ninstances:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: vi%d\n    interface: eth%d\n    vrid: %d\n    vips: [10.%d.%d.%d/32]\n",
			i, i/255, i%255+1, i>>16&255, i>>8&255, i&255)
	}
	return []byte(b.String())
}

// loadCost parses data and returns how long it took and how many bytes
// were allocated on the way.
func loadCost(t testing.TB, parse func() (*Config, error)) (time.Duration, uint64, *Config, error) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	cfg, err := parse()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return took, after.TotalAlloc - before.TotalAlloc, cfg, err
}
