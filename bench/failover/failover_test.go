package failover

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

const (
	vrid       = 51
	masterPrio = 150
	backupPrio = 100
	iface      = "eth0"
)

var (
	vip        = netip.MustParsePrefix("198.51.100.100/24")
	masterAddr = netip.MustParseAddr("198.51.100.1")
	backupAddr = netip.MustParseAddr("198.51.100.2")
)

// intervals are the advert_int values measured, as written in the config.
var intervals = []struct {
	conf string
	d    time.Duration
}{
	{"1", time.Second},
	{"0.1", 100 * time.Millisecond},
	{"0.01", 10 * time.Millisecond},
}

// backupMarker is the log text each daemon prints on entering BACKUP.
var backupMarker = map[string]string{
	"vipd":       "to=BACKUP",
	"keepalived": "Entering BACKUP STATE",
}

// conf is the one keepalived.conf both daemons run (VRRPv3, unicast).
func conf(router string, prio int, self, peer netip.Addr, advert string) string {
	return fmt.Sprintf(`global_defs {
  router_id %s
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface %s
  virtual_router_id %d
  priority %d
  advert_int %s
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    %s dev %s
  }
}
`, router, iface, vrid, prio, advert, self, peer, vip, iface)
}

// masterDown is the backup's Master_Down_Interval as keepalived 2.2.7
// computes it for VRRPv3 (3 intervals plus the skew, in whole microseconds):
// the protocol's floor under every sample.
func masterDown(interval time.Duration, prio int) time.Duration {
	cs := int64(interval / (10 * time.Millisecond))
	skew := time.Duration(int64(256-prio)*cs*625/16) * time.Microsecond
	return 3*interval + skew
}

// Sample is one failover.
type Sample struct {
	// FromAdvertMS is the headline: milliseconds from the arrival on the
	// backup's interface of the master's last advert to the VIP being
	// bound on the backup.
	FromAdvertMS float64 `json:"from_advert_ms"`
	// FromKillMS is from the SIGKILL to the VIP bound.
	FromKillMS float64 `json:"from_kill_ms"`
	// KillLagUS is from the triggering advert's arrival to the SIGKILL.
	KillLagUS float64 `json:"kill_lag_us"`
	// TakeoverMS is from the master's last advert to the arrival of the
	// backup's first advert as master: the backup's timer, before the bind.
	TakeoverMS float64 `json:"takeover_ms"`
	// PeriodMS is the mean spacing of the master's adverts before the
	// kill, as they arrived: proof that it ran the interval configured.
	PeriodMS float64 `json:"period_ms"`
	// LateAdverts counts adverts from the master after the triggering one
	// (the kill took longer than an interval to land); 0 normally.
	LateAdverts int `json:"late_adverts"`
}

// Result is one cell of the benchmark table, written as a JSON line to the
// file named by $VIPD_BENCH_OUT for run.sh.
type Result struct {
	Daemon  string   `json:"daemon"`
	Advert  string   `json:"advert"`
	FloorMS float64  `json:"floor_ms"` // masterDown for the backup
	Samples []Sample `json:"samples"`
	// Discarded counts attempts thrown away because the backup had not
	// settled (errUnsettled).
	Discarded int `json:"discarded"`
	// Medians of the samples' fields.
	MedianFromAdvertMS float64 `json:"median_from_advert_ms"`
	MedianFromKillMS   float64 `json:"median_from_kill_ms"`
}

// BenchmarkFailover runs, for each advert interval, b.N failovers of each
// daemon, alternating which goes first, and reports the median time from the
// master's last advert to the VIP bound on the backup.
func BenchmarkFailover(b *testing.B) {
	lab.Require(b)
	testbed.RequireKeepalived(b)
	testbed.VipdBinary(b)
	for _, iv := range intervals {
		b.Run("advert="+iv.conf+"s", func(b *testing.B) {
			benchInterval(b, iv.conf, iv.d)
		})
	}
}

// cluster is the two-node lab all samples of one interval share.
type cluster struct {
	m, k    *lab.Node
	members []testbed.Member // master first
}

func benchInterval(b *testing.B, advert string, interval time.Duration) {
	l := lab.New(b)
	sw := l.Switch("sw")
	c := cluster{m: l.Node("m"), k: l.Node("k")}
	l.Connect(c.m, sw, iface, masterAddr.String()+"/24")
	l.Connect(c.k, sw, iface, backupAddr.String()+"/24")
	c.members = []testbed.Member{{Name: "master", Node: c.m, Iface: iface}, {Name: "backup", Node: c.k, Iface: iface}}

	daemons := []string{"vipd", "keepalived"}
	samples := map[string][]Sample{}
	discarded := map[string]int{}
	round := 0
	for b.Loop() {
		// Alternate which daemon goes first so that neither always runs
		// on a machine warmed (or loaded) by the other.
		order := daemons
		if round%2 == 1 {
			order = []string{daemons[1], daemons[0]}
		}
		round++
		for _, d := range order {
			for attempt := 1; ; attempt++ {
				s, err := failover(b, c, d, advert, interval)
				if err == nil {
					samples[d] = append(samples[d], s)
					break
				}
				// A loaded machine can make a backup miss adverts while it
				// settles; such a sample would measure something else.
				discarded[d]++
				b.Logf("%s: sample discarded: %v", d, err)
				if attempt == maxAttempts {
					b.Fatalf("%s: %d attempts in a row did not settle", d, attempt)
				}
			}
		}
	}

	floor := masterDown(interval, backupPrio)
	var out []Result
	for _, d := range daemons {
		r := Result{Daemon: d, Advert: advert, FloorMS: benchstat.MS(floor), Samples: samples[d], Discarded: discarded[d]}
		r.MedianFromAdvertMS = median(samples[d], func(s Sample) float64 { return s.FromAdvertMS })
		r.MedianFromKillMS = median(samples[d], func(s Sample) float64 { return s.FromKillMS })
		b.ReportMetric(r.MedianFromAdvertMS, d+"-ms")
		out = append(out, r)
	}
	if out[1].MedianFromAdvertMS > 0 {
		b.ReportMetric(out[0].MedianFromAdvertMS/out[1].MedianFromAdvertMS, "ratio")
	}
	benchio.Append(b, out...)
}

// maxAttempts bounds the attempts at one sample.
const maxAttempts = 3

// errUnsettled means the backup had not settled in BACKUP, hearing the
// master, when the kill was due: the attempt is discarded, not measured.
var errUnsettled = errors.New("backup not settled")

// failover measures one failover of daemon: both nodes start clean, the
// master takes the VIP, the backup settles, the master is killed right after
// an advert and the backup's VIP add is timed. It returns errUnsettled
// (wrapped) for an attempt to discard, and fails b on anything else.
func failover(b *testing.B, c cluster, daemon, advert string, interval time.Duration) (Sample, error) {
	b.Helper()
	start := func(n *lab.Node, cfg string) *testbed.Daemon {
		if daemon == "vipd" {
			return testbed.StartVipd(b, n, cfg, ".conf")
		}
		return testbed.StartKeepalived(b, n, cfg)
	}

	// A killed master leaves its VIP bound: remove it everywhere, and make
	// sure nothing of the previous sample still runs.
	for _, n := range []*lab.Node{c.m, c.k} {
		// "to" matches every address inside the prefix given: /32, or the
		// node's own address in the VIP's subnet would go too.
		n.Run(b, "ip", "addr", "flush", "dev", iface, "to", netip.PrefixFrom(vip.Addr(), 32).String())
		pids, err := nodePids(n)
		if err != nil || len(pids) != 0 {
			b.Fatalf("%s still runs %v before a new sample (%v)", n.Name(), pids, err)
		}
	}
	if h := testbed.Holders(b, c.members, vip); len(h) != 0 {
		b.Fatalf("%s still bound on %v after the flush", vip, h)
	}

	adverts, err := watchAdverts(c.k, iface, masterAddr, vrid, masterPrio)
	if err != nil {
		b.Fatal(err)
	}
	defer adverts.close()
	// The backup's first advert as master, as it reaches the master's node:
	// it leaves just before the backup binds the VIP (both daemons send it
	// first), so it splits the failover into timer and bind.
	takeover, err := watchAdverts(c.m, iface, backupAddr, vrid, backupPrio)
	if err != nil {
		b.Fatal(err)
	}
	defer takeover.close()
	bound, err := watchAddr(c.k, iface, vip.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer bound.close()

	dm := start(c.m, conf("m", masterPrio, masterAddr, backupAddr, advert))
	defer dm.Kill()
	testbed.WaitSoleHolder(b, c.members, vip, "master", time.Now(), 30*time.Second)
	dk := start(c.k, conf("k", backupPrio, backupAddr, masterAddr, advert))
	defer dk.Kill()
	waitLog(b, dk, backupMarker[daemon], 15*time.Second)
	// Four adverts span more than the backup's master-down interval, so a
	// backup still master (or deaf) after five would show as a second holder.
	waitAdverts(b, adverts, 5, 10*interval+5*time.Second)
	if h := testbed.Holders(b, c.members, vip); len(h) != 1 || h[0] != "master" {
		return Sample{}, fmt.Errorf("%w: %s holders are %v", errUnsettled, vip, h)
	}
	// The backup has not bound the VIP since the watch began.
	select {
	case at := <-bound.added:
		return Sample{}, fmt.Errorf("%w: it bound %s at %v, before the kill", errUnsettled, vip, at.Format(time.StampMicro))
	default:
	}

	if n := takeover.seen.Load(); n != 0 {
		return Sample{}, fmt.Errorf("%w: it sent %d adverts before the kill", errUnsettled, n)
	}
	pgid, err := processGroup(c.m)
	if err != nil {
		b.Fatal(err)
	}
	adverts.arm(pgid)
	select {
	case <-adverts.fired:
	case <-time.After(2*interval + 5*time.Second):
		b.Fatalf("%s: no advert from the master after arming the kill", daemon)
	}
	if adverts.killErr != nil {
		b.Fatalf("kill -9 process group %d: %v", pgid, adverts.killErr)
	}
	var boundAt time.Time
	select {
	case boundAt = <-bound.added:
	case <-time.After(10*interval + 15*time.Second):
		b.Fatalf("%s: backup did not bind %s after the master was killed", daemon, vip)
	}
	testbed.WaitSoleHolder(b, c.members[1:], vip, "backup", boundAt, 5*time.Second)
	if !dm.Wait(5 * time.Second) {
		b.Fatalf("%s master still running after SIGKILL", daemon)
	}

	adverts.close()
	takeover.close()
	bound.close()
	if adverts.err != nil || takeover.err != nil || bound.err != nil {
		b.Fatalf("watchers: %v, %v, %v", adverts.err, takeover.err, bound.err)
	}
	if takeover.first.IsZero() {
		b.Fatalf("%s: the backup bound the VIP without advertising", daemon)
	}
	if adverts.resigned {
		b.Fatalf("%s master sent a priority-0 advert after SIGKILL: its kill was not a crash", daemon)
	}
	period, field := adverts.period()
	if field != interval {
		b.Fatalf("%s master advertised an interval of %v, configured %v", daemon, field, interval)
	}
	// Late adverts are measured from anyway (the backup heard them), and
	// counted in the sample.
	return Sample{
		FromAdvertMS: benchstat.MS(boundAt.Sub(adverts.last)),
		FromKillMS:   benchstat.MS(boundAt.Sub(adverts.killAt)),
		KillLagUS:    float64(adverts.killAt.Sub(adverts.trigger).Nanoseconds()) / 1e3,
		TakeoverMS:   benchstat.MS(takeover.first.Sub(adverts.last)),
		PeriodMS:     benchstat.MS(period),
		LateAdverts:  adverts.after,
	}, nil
}

func waitLog(b *testing.B, d *testbed.Daemon, marker string, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !d.LogContains(marker) {
		if time.Now().After(deadline) || d.Exited() {
			b.Fatalf("%s did not log %q:\n%s", d.Kind, marker, d.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitAdverts waits for n more normal adverts from the master.
func waitAdverts(b *testing.B, w *advertWatch, n int64, timeout time.Duration) {
	b.Helper()
	want := w.seen.Load() + n
	deadline := time.Now().Add(timeout)
	for w.seen.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("heard %d of %d adverts from the master within %v", n-(want-w.seen.Load()), n, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

func median(xs []Sample, field func(Sample) float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := make([]float64, len(xs))
	for i, x := range xs {
		s[i] = field(x)
	}
	return benchstat.Median(s)
}
