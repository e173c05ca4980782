package cloudmove

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/cloudmove/faultproxy"
	"github.com/vipd/vipd/cloudmove/mototest"
	"github.com/vipd/vipd/config"
)

// ebsForce is the bench's force_detach_after: short, since what is
// measured is what comes on top of it.
const ebsForce = 5 * time.Second

// benchMounter records when the volume was mounted; its block device is
// there as soon as the volume is attached (moto attaches at once).
type benchMounter struct {
	mu      sync.Mutex
	mounted bool
	at      time.Time
}

func (m *benchMounter) Mounted(string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mounted, nil
}
func (m *benchMounter) Device(_, dev string) (string, bool) { return dev, true }
func (m *benchMounter) Mount(context.Context, string, string, string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounted, m.at = true, time.Now()
	return nil
}
func (m *benchMounter) Unmount(context.Context, string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounted = false
	return nil
}
func (m *benchMounter) when() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.at
}

// BenchmarkEBS measures the single-writer volume (scenario 4) against
// moto with 50 ms added to every EC2 call: after a crash, from "became
// master" to the forced detachment and to mounted (the goal: mounted
// within force_detach_after + 2 s); after a graceful handover (the old
// master steps down as the new one becomes master), from the old holder's
// DetachVolume answer to mounted on the new one (goal: 1 s). It logs each
// round and reports the medians.
func BenchmarkEBS(b *testing.B) {
	defer mototest.StopShared()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	moto := mototest.Require(b)
	w, err := mototest.NewWorld(ctx, moto.URL)
	if err != nil {
		b.Fatal(err)
	}
	sub, err := w.Subnet(ctx, "198.51.100.0/26", "eu-west-1a", nil)
	if err != nil {
		b.Fatal(err)
	}
	vol, err := w.Volume(ctx, "eu-west-1a")
	if err != nil {
		b.Fatal(err)
	}
	na, err := w.Instance(ctx, sub)
	if err != nil {
		b.Fatal(err)
	}
	defer na.Close()
	nb, err := w.Instance(ctx, sub)
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	proxy, err := faultproxy.New(moto.URL, faultproxy.Config{Latency: latency})
	if err != nil {
		b.Fatal(err)
	}
	defer proxy.Close()
	doc := `instances:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips: [198.51.100.50/26]
    cloud:
      endpoint: ` + proxy.URL() + `
      skip_dry_run: true
      actions:
        - ebs: {volume_id: ` + vol + `, device: /dev/xvdf, mount: /srv/data, force_detach_after: ` + ebsForce.String() + `}
`
	cfg, err := config.ParseYAML("bench.yaml", []byte(doc), config.LoadOptions{Hostname: "n"})
	if err != nil {
		b.Fatal(err)
	}
	o := cfg.CloudOwners()[0]
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(n *mototest.Node, m cloudmove.Mounter) (*cloudmove.Set, context.CancelFunc) {
		sctx, scancel := context.WithCancel(ctx)
		s, err := cloudmove.New(sctx, o, cloudmove.Options{IMDSEndpoint: n.IMDS.URL, InterfaceMAC: n.MAC, Mounter: m, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		return s, scancel
	}
	wait := func(s *cloudmove.Set) {
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		defer wcancel()
		if err := s.Wait(wctx); err != nil {
			b.Fatal(err)
		}
	}
	var forced, crashMounted, crashCalls, handover, handoverTotal []float64
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }

	// A holds the volume at the start of each round.
	holder, holderCancel := start(na, &benchMounter{})
	holder.Master()
	wait(holder)
	holderNode := na
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		other := nb
		if holderNode == nb {
			other = na
		}
		// Crash: the holder dies with the volume attached and mounted.
		holderCancel()
		holder.Close()
		m := &benchMounter{}
		s, sc := start(other, m)
		proxy.ClearCalls()
		b.StartTimer()
		became := time.Now()
		s.Master()
		wait(s)
		b.StopTimer()
		var forcedAt time.Time
		n := 0
		for _, c := range proxy.Calls() {
			if c.Start.Before(became) {
				continue
			}
			n++
			if c.Action == "DetachVolume" && c.Params.Get("Force") == "true" {
				forcedAt = c.Start
			}
		}
		forced = append(forced, ms(forcedAt.Sub(became)))
		crashMounted = append(crashMounted, ms(m.when().Sub(became)))
		crashCalls = append(crashCalls, float64(n))

		// Graceful handover back: s steps down while a new Set on the
		// first node becomes master.
		m2 := &benchMounter{}
		s2, sc2 := start(holderNode, m2)
		proxy.ClearCalls()
		b.StartTimer()
		t0 := time.Now()
		s.Backup()
		s2.Master()
		wait(s2)
		b.StopTimer()
		wait(s)
		var detached time.Time
		for _, c := range proxy.Calls() {
			if c.Action == "DetachVolume" {
				detached = c.End
			}
		}
		handover = append(handover, ms(m2.when().Sub(detached)))
		handoverTotal = append(handoverTotal, ms(m2.when().Sub(t0)))
		b.Logf("round %d: crash: forced at +%.0f ms, mounted at +%.0f ms (%d calls); handover: mounted %.0f ms after the old holder's detach, %.0f ms after it stepped down",
			i, forced[i], crashMounted[i], n, handover[i], handoverTotal[i])
		sc()
		s.Close()
		holder, holderCancel = s2, sc2
		b.StartTimer()
	}
	b.StopTimer()
	holderCancel()
	holder.Close()
	med := func(xs []float64) float64 {
		ys := slices.Clone(xs)
		slices.Sort(ys)
		return ys[len(ys)/2]
	}
	b.ReportMetric(med(forced), "forced_ms")
	b.ReportMetric(med(crashMounted), "crash_mounted_ms")
	b.ReportMetric(med(crashCalls), "crash_calls")
	b.ReportMetric(med(handover), "handover_after_detach_ms")
	b.ReportMetric(med(handoverTotal), "handover_total_ms")
	b.Logf("force_detach_after %v, %v added per call; medians of %d: forced at +%.0f ms, mounted at +%.0f ms (min %.0f, max %.0f), %.0f calls; handover mounted %.0f ms after the detach (min %.0f, max %.0f), %.0f ms after stepping down",
		ebsForce, latency, len(forced), med(forced), med(crashMounted), slices.Min(crashMounted), slices.Max(crashMounted), med(crashCalls),
		med(handover), slices.Min(handover), slices.Max(handover), med(handoverTotal))
}
