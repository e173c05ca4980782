// Package failover measures how long a VIP is gone when the master dies:
// kill -9 of the master → the VIP bound on the backup, for vipd and for
// keepalived in the same run with the same keepalived.conf, at several advert
// intervals. bench/failover/run.sh runs it and writes docs/benchmarks.md.
package failover

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

var vip = netip.MustParsePrefix("198.51.100.100/24")

// conf is the one keepalived.conf both daemons run (VRRPv3, unicast).
func conf(router string, prio int, self, peer, advert string) string {
	return fmt.Sprintf(`global_defs {
  router_id %s
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int %s
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    %s dev eth0
  }
}
`, router, prio, advert, self, peer, vip)
}

// Result is one cell of the benchmark table, written as JSON lines to the
// file named by $VIPD_BENCH_OUT for run.sh.
type Result struct {
	Daemon   string    `json:"daemon"`
	Advert   string    `json:"advert"`
	SamplesM []float64 `json:"samples_ms"`
	MedianMS float64   `json:"median_ms"`
}

func BenchmarkFailover(b *testing.B) {
	lab.Require(b)
	testbed.RequireKeepalived(b)
	testbed.VipdBinary(b)
	for _, advert := range []string{"1", "0.1", "0.01"} {
		for _, daemon := range []string{"vipd", "keepalived"} {
			b.Run(fmt.Sprintf("advert=%ss/%s", advert, daemon), func(b *testing.B) {
				failover(b, daemon, advert)
			})
		}
	}
}

func failover(b *testing.B, daemon, advert string) {
	l := lab.New(b)
	sw := l.Switch("sw")
	m, k := l.Node("m"), l.Node("k")
	l.Connect(m, sw, "eth0", "198.51.100.1/24")
	l.Connect(k, sw, "eth0", "198.51.100.2/24")
	members := []testbed.Member{{Name: "master", Node: m, Iface: "eth0"}, {Name: "backup", Node: k, Iface: "eth0"}}
	start := func(n *lab.Node, cfg string) *testbed.Daemon {
		if daemon == "vipd" {
			return testbed.StartVipd(b, n, cfg, ".conf")
		}
		return testbed.StartKeepalived(b, n, cfg)
	}
	masterCfg := conf("m", 150, "198.51.100.1", "198.51.100.2", advert)
	backupCfg := conf("k", 100, "198.51.100.2", "198.51.100.1", advert)

	var samples []float64
	// b.Loop runs this function once per -count, so every sample of a cell
	// lands in one Result.
	for b.Loop() {
		b.StopTimer()
		// Start from a clean segment: the previous master was killed and
		// left its VIP behind.
		for _, n := range []*lab.Node{m, k} {
			n.Run(b, "ip", "addr", "flush", "dev", "eth0", "to", vip.String())
		}
		dm := start(m, masterCfg)
		dk := start(k, backupCfg)
		testbed.WaitSoleHolder(b, members, vip, "master", time.Now(), 15*time.Second)
		// Let the backup hear a few adverts so it is settled in BACKUP.
		time.Sleep(3 * advertDuration(advert))

		b.StartTimer()
		killed := time.Now()
		dm.Kill()
		took := testbed.WaitSoleHolder(b, members[1:], vip, "backup", killed, 15*time.Second)
		b.StopTimer()
		samples = append(samples, float64(took.Microseconds())/1000)
		dk.Kill()
	}
	med := median(samples)
	b.ReportMetric(med, "ms/failover")
	if out := os.Getenv("VIPD_BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		_ = json.NewEncoder(f).Encode(Result{Daemon: daemon, Advert: advert, SamplesM: samples, MedianMS: med})
	}
}

func advertDuration(s string) time.Duration {
	d, err := time.ParseDuration(s + "s")
	if err != nil {
		panic(err) // only called with the literals above
	}
	return d
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
