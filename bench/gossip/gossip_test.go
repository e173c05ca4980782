package gossip

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// size is the number of agents, half in each zone.
const size = 50

// profiles are the timing profiles measured, as written in the config.
var profiles = []string{config.GossipProfileLAN, config.GossipProfileLocal}

// Sample is one round: a cold start of all agents, then a crash, a restart
// and a graceful stop of one member each. Times are in milliseconds.
type Sample struct {
	// LaunchSpreadMS is from the first agent's launch to the last's.
	LaunchSpreadMS float64 `json:"launch_spread_ms"`
	// FullViewMS is from the last agent's launch until every agent has
	// logged the join of every other agent; FullViewMedianMS is the median
	// over agents of the same.
	FullViewMS       float64 `json:"full_view_ms"`
	FullViewMedianMS float64 `json:"full_view_median_ms"`
	// CrashMedianMS and CrashAllMS are from the SIGKILL of one member to
	// an agent declaring it dead ("gossip: member failed"): the median
	// over the other agents, and the last of them.
	CrashMedianMS float64 `json:"crash_median_ms"`
	CrashAllMS    float64 `json:"crash_all_ms"`
	// RejoinAllMS is from the crashed member's restart until it knows
	// every agent again and every agent knows it.
	RejoinAllMS float64 `json:"rejoin_all_ms"`
	// LeaveAllMS is from the SIGTERM of another member until every agent
	// has logged it leaving or failing; LeaveAsLeft counts the agents that
	// saw it leave (the rest saw it fail).
	LeaveAllMS  float64 `json:"leave_all_ms"`
	LeaveAsLeft int     `json:"leave_as_left"`
}

// Result is one profile's samples, written as a JSON line to the file named
// by $VIPD_BENCH_OUT for run.sh.
type Result struct {
	Profile string `json:"profile"`
	Agents  int    `json:"agents"`
	// DetectionBoundMS is gossip.Cluster.DetectionTime for the profile at
	// this size: every agent must have declared a crashed member dead
	// within it.
	DetectionBoundMS float64 `json:"detection_bound_ms"`
	// SpreadBoundMS is its last term, the spread of one broadcast (a
	// graceful leave is seen within it).
	SpreadBoundMS float64  `json:"spread_bound_ms"`
	Samples       []Sample `json:"samples"`
}

// agent is one lab node and the agent running on it.
type agent struct {
	name string
	node *lab.Node
	addr netip.Addr
	dir  string
	d    *testbed.Daemon
}

// BenchmarkGossip runs, for each profile, b.N rounds on one lab of 50
// nodes and reports the medians of the rounds.
func BenchmarkGossip(b *testing.B) {
	lab.Require(b)
	testbed.VipdBinary(b)
	z := testbed.NewTwoAZ(b)
	var agents []*agent
	for i := range size {
		zone := 1 + i*2/size
		a := &agent{name: fmt.Sprintf("g%02d", i+1), dir: b.TempDir()}
		a.node, a.addr = z.AddNode(b, a.name, zone)
		agents = append(agents, a)
	}
	for _, p := range profiles {
		b.Run("profile="+p, func(b *testing.B) { benchProfile(b, p, agents) })
	}
}

func benchProfile(b *testing.B, profile string, agents []*agent) {
	t, ok := config.GossipProfileTimings(profile)
	if !ok {
		b.Fatalf("unknown profile %q", profile)
	}
	res := Result{Profile: profile, Agents: len(agents),
		DetectionBoundMS: benchstat.MS(detectionBound(t, len(agents))), SpreadBoundMS: benchstat.MS(spreadBound(t, len(agents)))}
	round := 0
	for b.Loop() {
		s := runRound(b, profile, t, agents, round)
		res.Samples = append(res.Samples, s)
		b.Logf("%s round %d: %+v", profile, round, s)
		round++
	}
	med := func(f func(Sample) float64) float64 {
		var xs []float64
		for _, s := range res.Samples {
			xs = append(xs, f(s))
		}
		return benchstat.Median(xs)
	}
	b.ReportMetric(med(func(s Sample) float64 { return s.FullViewMS }), "full-view-ms")
	b.ReportMetric(med(func(s Sample) float64 { return s.CrashAllMS }), "crash-all-ms")
	b.ReportMetric(med(func(s Sample) float64 { return s.LeaveAllMS }), "leave-all-ms")
	benchio.Append(b, res)
}

// seeds are the agents every agent joins through: the first of each zone.
func seeds(agents []*agent) []string {
	return []string{agents[0].addr.String(), agents[len(agents)/2].addr.String()}
}

// config is an agent's vipd.yaml: gossip only, no instance.
func (a *agent) config(profile string, seeds []string) string {
	key := base64.StdEncoding.EncodeToString([]byte("vipd-bench-gossip-key-32-bytes!!"))
	return fmt.Sprintf(`node: {name: %s}
gossip:
  cluster_name: bench
  bind: {address: %s, port: 7946}
  join: [%s]
  keys: [%q]
  profile: %s
  state_file: %s
`, a.name, a.addr, strings.Join(seeds, ", "), key, profile, filepath.Join(a.dir, "state.json"))
}

func (a *agent) start(b *testing.B, profile string, seeds []string) {
	a.d = testbed.StartVipd(b, a.node, a.config(profile, seeds), ".yaml")
}

// runRound measures one cold start, crash, rejoin and graceful stop.
func runRound(b *testing.B, profile string, t config.GossipTimings, agents []*agent, round int) Sample {
	var s Sample
	sd := seeds(agents)
	for _, a := range agents {
		if err := os.RemoveAll(filepath.Join(a.dir, "state.json")); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		for _, a := range agents {
			a.d.Kill()
		}
	}()
	// A missed announcement waits for a push/pull: memberlist runs them
	// every push/pull interval, doubled above 32 members, and the first
	// up to one interval late.
	ppi := 2 * t.PushPullInterval
	timeout := 2*ppi + 30*time.Second

	// Cold start, seeds first.
	first := time.Now()
	order := append([]*agent{agents[0], agents[len(agents)/2]}, agents[1:len(agents)/2]...)
	order = append(order, agents[len(agents)/2+1:]...)
	for _, a := range order {
		a.start(b, profile, sd)
	}
	last := time.Now()
	s.LaunchSpreadMS = benchstat.MS(last.Sub(first))
	done := waitFullView(b, agents, first, timeout)
	var per []float64
	for _, ts := range done {
		per = append(per, benchstat.MS(ts.Sub(last)))
	}
	s.FullViewMS, s.FullViewMedianMS = slices.Max(per), benchstat.Median(per)

	// Crash of a non-seed member, a different one each round.
	victim := agents[1+round%(len(agents)/2-1)]
	others := without(agents, victim)
	killed := time.Now()
	victim.d.Kill()
	dead := waitLogged(b, others, killed, timeout, "gossip: member failed", "node="+victim.name+" ")
	per = per[:0]
	for _, ts := range dead {
		per = append(per, benchstat.MS(ts.Sub(killed)))
	}
	s.CrashMedianMS, s.CrashAllMS = benchstat.Median(per), slices.Max(per)

	// The crashed member comes back.
	restarted := time.Now()
	victim.start(b, profile, sd)
	back := waitLogged(b, others, restarted, timeout, "gossip: member joined", "node="+victim.name+" ")
	sees := waitFullView(b, []*agent{victim}, restarted, timeout)
	rejoin := sees[victim.name]
	for _, ts := range back {
		rejoin = later(rejoin, ts)
	}
	s.RejoinAllMS = benchstat.MS(rejoin.Sub(restarted))

	// Graceful stop of another member (from the other zone).
	leaver := agents[len(agents)/2+1+round%(len(agents)/2-1)]
	others = without(agents, leaver)
	stopped := time.Now()
	leaver.d.Term()
	gone := waitLogged(b, others, stopped, timeout, "gossip: member ", "node="+leaver.name+" ")
	var end time.Time
	for name, ts := range gone {
		end = later(end, ts)
		for _, a := range others {
			if a.name == name && a.d.CountLog("gossip: member left", "node="+leaver.name+" ") > 0 {
				s.LeaveAsLeft++
			}
		}
	}
	s.LeaveAllMS = benchstat.MS(end.Sub(stopped))
	if !leaver.d.Wait(10 * time.Second) {
		b.Fatalf("%s did not exit within 10 s of SIGTERM", leaver.name)
	}
	return s
}

func without(agents []*agent, x *agent) []*agent {
	return slices.DeleteFunc(slices.Clone(agents), func(a *agent) bool { return a == x })
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// joins returns, for one agent's log, the time of the first "member
// joined" line for each other node at or after since.
func joins(d *testbed.Daemon, since time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	floor := since.Truncate(time.Millisecond)
	for _, l := range strings.Split(d.Output(), "\n") {
		if !strings.Contains(l, "gossip: member joined") {
			continue
		}
		ts, ok := stamp(l)
		if !ok || ts.Before(floor) {
			continue
		}
		_, rest, _ := strings.Cut(l, " node=")
		name, _, _ := strings.Cut(rest, " ")
		if _, seen := out[name]; !seen && name != "" {
			out[name] = ts
		}
	}
	return out
}

// stamp reads slog's time= field.
func stamp(line string) (time.Time, bool) {
	f, ok := strings.CutPrefix(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	f, _, _ = strings.Cut(f, " ")
	t, err := time.Parse("2006-01-02T15:04:05.000Z07:00", f)
	return t, err == nil
}

// waitFullView waits until each of the given agents has logged, since
// since, the join of every other agent of the lab, and returns when each
// completed its view.
func waitFullView(b *testing.B, agents []*agent, since time.Time, timeout time.Duration) map[string]time.Time {
	b.Helper()
	deadline := time.Now().Add(timeout)
	done := map[string]time.Time{}
	var slowest string // the join that completed the last view, for the log
	var slowestAt time.Time
	for {
		for _, a := range agents {
			if _, ok := done[a.name]; ok {
				continue
			}
			j := joins(a.d, since)
			if len(j) >= size-1 {
				var end time.Time
				for name, ts := range j {
					end = later(end, ts)
					if ts.After(slowestAt) {
						slowest, slowestAt = a.name+" learnt of "+name, ts
					}
				}
				done[a.name] = end
			}
		}
		if len(done) == len(agents) {
			b.Logf("full view: slowest join: %s, %v after %v", slowest, slowestAt.Sub(since).Round(time.Millisecond), since.Format("15:04:05.000"))
			return done
		}
		if time.Now().After(deadline) {
			var short []string
			for _, a := range agents {
				if _, ok := done[a.name]; !ok {
					short = append(short, fmt.Sprintf("%s (%d)", a.name, len(joins(a.d, since))))
				}
			}
			b.Fatalf("no full view within %v: %v", timeout, short)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLogged waits until every agent has logged a line with all of subs at
// or after since, and returns each one's first such time stamp.
func waitLogged(b *testing.B, agents []*agent, since time.Time, timeout time.Duration, subs ...string) map[string]time.Time {
	b.Helper()
	deadline := time.Now().Add(timeout)
	floor := since.Truncate(time.Millisecond)
	got := map[string]time.Time{}
	for {
		for _, a := range agents {
			if _, ok := got[a.name]; ok {
				continue
			}
			for _, ts := range a.d.LogTimes(subs...) {
				if !ts.Before(floor) {
					got[a.name] = ts
					break
				}
			}
		}
		if len(got) == len(agents) {
			return got
		}
		if time.Now().After(deadline) {
			b.Fatalf("within %v only %d of %d agents logged %q", timeout, len(got), len(agents), subs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// detectionBound is gossip.Cluster.DetectionTime (gossip/cluster.go) for
// timings t and n members.
func detectionBound(t config.GossipTimings, n int) time.Duration {
	scale := math.Max(1, math.Log10(float64(n)))
	suspicion := time.Duration(float64(t.SuspicionMult) * scale * float64(t.ProbeInterval))
	// memberlist's SuspicionMaxTimeoutMult (6), when confirmations from
	// suspicion mult − 2 other members are possible but missing.
	if k := t.SuspicionMult - 2; k >= 1 && n-2 >= k {
		suspicion *= 6
	}
	return 2*t.ProbeInterval + suspicion + spreadBound(t, n)
}

// spreadBound is DetectionTime's last term: retransmit mult ×
// ceil(log10(n+1)) gossip intervals for a broadcast to reach all.
func spreadBound(t config.GossipTimings, n int) time.Duration {
	return time.Duration(t.RetransmitMult) * time.Duration(math.Ceil(math.Log10(float64(n+1)))) * t.GossipInterval
}
