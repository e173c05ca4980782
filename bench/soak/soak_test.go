package soak

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// advert is both instances' advert interval.
const advert = time.Second

// vips are the two VIPs, one per instance, /32s on eth0 that are only
// looked at, never routed to.
var vips = [nVIPs]netip.Prefix{
	netip.MustParsePrefix("203.0.113.201/32"),
	netip.MustParsePrefix("203.0.113.202/32"),
}

// instanceNames name the instances of vips; vrids are their VRIDs.
var (
	instanceNames = []string{"a", "b"}
	vrids         = [nVIPs]int{71, 72}
)

// nodeNames and zones: n1 and n5, the preferred masters of a and b, are in
// az1, their first backups n2 and n4 in az2, so every first failover
// crosses the router.
var (
	nodeNames = []string{"n1", "n2", "n3", "n4", "n5"}
	zones     = []int{1, 2, 1, 2, 1}
)

// witness is never killed or restarted (every other disturbance may hit
// it), so at least one daemon lives through the whole run for the growth
// check.
const witness = 2

// priority is node's priority for vip from its place in the instance's
// order (vipd's default priorities 250, 200, 150, 100, 50): a's order is
// n1..n5, b's the reverse.
func priority(node, vip int) int {
	place := node
	if vip == 1 {
		place = len(nodeNames) - 1 - node
	}
	return 250 - 50*place
}

// masterDown is RFC 5798's master-down interval for a backup of priority
// prio: 3 advert intervals and its skew time.
func masterDown(node, vip int) time.Duration {
	return 3*advert + time.Duration(256-priority(node, vip))*advert/256
}

// guardBound is how long the split-brain guard may take to make a second
// master yield (agent/cluster.go, as test/e2e's guardInterval): 3 advert
// intervals + 1 s, the direct ping and two sync ticks of 250 ms; plus the
// e2e tests' slack of 300 ms.
const guardBound = 3*advert + time.Second + 500*time.Millisecond + 300*time.Millisecond

// soakLimits are the invariants' bounds.
var soakLimits = limits{
	masterDown: masterDown,
	gapMargin:  500 * time.Millisecond,
	handover:   250 * time.Millisecond,
	guard:      guardBound,
}

// leakLimits bound the growth of a daemon that lives through the run (see
// growth): well above what a healthy daemon's floor moves, well below what
// one goroutine or descriptor lost per disturbance would add.
var leakLimits = growthLimits{Goroutines: 8, FDs: 4, RSSKiB: 16 << 10}

// profile is how long and how hard to soak.
type profile struct {
	Name  string        `json:"name"`
	Chaos time.Duration `json:"chaos_ns"` // the disturbance phase
	// Window is the number of readings at each end whose floors the
	// growth check compares.
	Window int `json:"window"`
}

// Long partitions: the long profile runs one per run, held for longer
// than every 10-minute expiry gossip has had or has (the peer expiry vipd
// once had; the age up to which a push/pull still carries a departed
// member's last state), and ends it early enough in the disturbance phase
// for the cluster to settle before the end (longPartitionMargin).
const (
	longPartitionMin    = 11 * time.Minute
	longPartitionMax    = 12 * time.Minute
	longPartitionMargin = 2 * time.Minute
)

// schedule deals the disturbances: the usual kinds from a deck shuffled
// anew each time it runs out, so that every kind comes up as often as
// the others; and, in the long profile, the one long partition when its
// moment (longAt, drawn at random over the run) has come. A long
// partition in the deck would come up three times in 30 minutes and
// leave little time for the rest.
type schedule struct {
	rng    *rand.Rand
	deck   []string
	longAt time.Time // zero: no long partition (left) to deal
	long   bool      // the profile has one
}

// newSchedule draws, for the long profile, when its long partition is
// due: at a random moment from start on that leaves it the time to end
// before the disturbance phase does. Other profiles draw nothing from
// rng here, so a seed replays them as before.
func newSchedule(rng *rand.Rand, p profile, start time.Time) *schedule {
	s := &schedule{rng: rng}
	if latest := p.Chaos - longPartitionMax - longPartitionMargin; p.Name == "long" && latest > 0 {
		s.long = true
		s.longAt = start.Add(time.Duration(rng.Int64N(int64(latest))))
	}
	return s
}

// next is the kind of the disturbance to apply at now.
func (s *schedule) next(now time.Time) string {
	if !s.longAt.IsZero() && !now.Before(s.longAt) {
		s.longAt = time.Time{}
		return kindLongPartition
	}
	if len(s.deck) == 0 {
		s.deck = slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return slices.Contains(longKinds, k) })
		s.rng.Shuffle(len(s.deck), func(i, j int) { s.deck[i], s.deck[j] = s.deck[j], s.deck[i] })
	}
	kind := s.deck[0]
	s.deck = s.deck[1:]
	return kind
}

// longPartitions is how many long partitions the run must have had.
func (s *schedule) longPartitions() int {
	if s.long {
		return 1
	}
	return 0
}

// soakProfile reads VIPD_SOAK: "short" (what CI runs: about 3 minutes in
// all), "long" (30 minutes of disturbances) or a Go duration.
func soakProfile(tb testing.TB) profile {
	v := os.Getenv("VIPD_SOAK")
	switch v {
	case "":
		tb.Skip("the chaos soak runs only when VIPD_SOAK is set (short, long or a duration)")
	case "short":
		return profile{Name: "short", Chaos: 140 * time.Second, Window: 3}
	case "long":
		return profile{Name: "long", Chaos: 30 * time.Minute, Window: 10}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 30*time.Second {
		tb.Fatalf("VIPD_SOAK=%q: want short, long or a duration of at least 30s", v)
	}
	return profile{Name: v, Chaos: d, Window: max(3, int(d/(3*time.Minute)))}
}

// node is one lab node and its current daemon.
type node struct {
	idx  int
	name string
	az   int
	ns   *lab.Node
	addr netip.Addr
	gw   string
	dir  string // state file, across restarts

	d     *testbed.Daemon
	pid   int
	res   []resourceSample // this daemon's readings
	since time.Time        // this daemon's start
}

// incarnation is one daemon's life, for the report.
type incarnation struct {
	Node     string           `json:"node"`
	Start    time.Time        `json:"start"`
	End      time.Time        `json:"end"`
	Readings int              `json:"readings"`
	First    *resourceSample  `json:"first,omitempty"` // floors compared (see growth)
	Last     *resourceSample  `json:"last,omitempty"`
	All      []resourceSample `json:"-"`
	log      string
}

// report is what the run writes to $VIPD_SOAK_OUT for run.sh.
type report struct {
	Profile       profile        `json:"profile"`
	Seed          uint64         `json:"seed"`
	Start         time.Time      `json:"start"`
	End           time.Time      `json:"end"`
	LossMethod    string         `json:"loss_method"`
	Counts        map[string]int `json:"counts"`
	Disturbances  []disturbance  `json:"disturbances"`
	Samples       int            `json:"samples"`
	SampleMaxMS   float64        `json:"sample_max_interval_ms"`
	SampleP99MS   float64        `json:"sample_p99_interval_ms"`
	SettleWorstMS float64        `json:"settle_worst_ms"`
	checked
	Incarnations []incarnation `json:"incarnations"`
	LeakLimits   growthLimits  `json:"leak_limits"`
	Bounds       struct {
		GuardMS    float64 `json:"guard_ms"`
		HandoverMS float64 `json:"handover_ms"`
		GapMargin  float64 `json:"gap_margin_ms"`
	} `json:"bounds"`
}

// soak is one run.
type soak struct {
	t      *testing.T
	rng    *rand.Rand
	nodes  []*node
	seeds  []string
	router *lab.Node     // between the zones: where a partition cuts
	alive  atomic.Uint32 // bit i: node i's daemon has not been killed
	smp    *sampler

	loss         string // "netem" or "nftables numgen"
	dist         []disturbance
	violations   []violation
	incarnations []incarnation
	settleWorst  time.Duration
}

// TestSoak is the chaos soak (see the package comment).
func TestSoak(t *testing.T) {
	p := soakProfile(t)
	lab.Require(t)
	testbed.VipdBinary(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("VIPD_SOAK_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("VIPD_SOAK_SEED=%q: %v", v, err)
		}
	}
	t.Logf("profile %s (%v of disturbances), seed %d (VIPD_SOAK_SEED replays the choices)", p.Name, p.Chaos, seed)
	s := &soak{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}

	z := testbed.NewTwoAZ(t)
	s.router = z.Router
	for i, name := range nodeNames {
		n := &node{idx: i, name: name, az: zones[i], dir: t.TempDir()}
		n.ns, n.addr = z.AddNode(t, name, n.az)
		n.gw = fmt.Sprintf("%s.254", strings.Join(strings.Split(n.addr.String(), ".")[:3], "."))
		s.nodes = append(s.nodes, n)
	}
	// Everyone joins through the first node of each zone.
	s.seeds = []string{s.nodes[0].addr.String(), s.nodes[1].addr.String()}
	s.loss = s.lossMethod()
	t.Logf("packet loss by %s", s.loss)

	start := time.Now()
	for _, n := range s.nodes {
		s.startDaemon(n)
	}
	s.smp = startSampler(t, s.nodes, &s.alive)
	took, ok := s.settle(60 * time.Second)
	if !ok {
		t.Fatalf("the cluster did not settle within 60 s of starting (holders %s)", s.holdersNow())
	}
	t.Logf("settled %v after start", took.Round(time.Millisecond))
	s.readResources()

	chaosStart := time.Now()
	chaosEnd := chaosStart.Add(p.Chaos)
	plan := newSchedule(s.rng, p, chaosStart)
	if !plan.longAt.IsZero() {
		t.Logf("the long partition is due %v into the disturbances", plan.longAt.Sub(chaosStart).Round(time.Second))
	}
	for time.Until(chaosEnd) > 12*time.Second {
		d := s.disturb(plan.next(time.Now()))
		s.dist = append(s.dist, d)
		took, ok := s.settle(30 * time.Second)
		if !ok {
			s.violate(d.End, fmt.Sprintf("after %s on %s, the VIPs were not back with their preferred nodes within 30 s (holders %s)",
				d.Kind, strings.Join(d.Nodes, ","), s.holdersNow()))
		}
		s.settleWorst = max(s.settleWorst, took)
		// The next disturbance starts from a cluster whose gossip sees
		// every daemon alive again: the guard's bound counts from when
		// gossip sees both holders, which the check takes to be the start
		// of a drop. VIPs come back well before gossip takes back a member
		// it declared dead (a link down), so without this wait a drop
		// right after one would be measured from too early.
		if gw, ok := s.gossipConverged(45 * time.Second); !ok {
			t.Logf("gossip had not seen every daemon alive 45 s after %s on %s; going on", d.Kind, strings.Join(d.Nodes, ","))
		} else if gw > time.Second {
			t.Logf("gossip saw every daemon alive %v after the VIPs settled", gw.Round(time.Millisecond))
		}
		t.Logf("%s %s %s: %v, settled %v after", d.Start.Format("15:04:05.000"), d.Kind, strings.Join(d.Nodes, ","),
			d.End.Sub(d.Start).Round(time.Millisecond), took.Round(time.Millisecond))
		s.readResources()
		time.Sleep(time.Duration(500+s.rng.IntN(1000)) * time.Millisecond)
	}
	// Quiet time at the end: the last readings of the growth check.
	for range p.Window {
		time.Sleep(2 * time.Second)
		s.readResources()
	}
	samples := s.smp.stop()
	end := time.Now()

	r := report{Profile: p, Seed: seed, Start: start, End: end, LossMethod: s.loss, Counts: map[string]int{},
		Disturbances: s.dist, Samples: len(samples), SettleWorstMS: benchstat.MS(s.settleWorst), LeakLimits: leakLimits}
	r.Bounds.GuardMS, r.Bounds.HandoverMS, r.Bounds.GapMargin = benchstat.MS(guardBound), benchstat.MS(soakLimits.handover), benchstat.MS(soakLimits.gapMargin)
	r.SampleMaxMS, r.SampleP99MS = intervals(samples)
	if s.smp.err != nil {
		t.Errorf("sampler: %d failed reads, last: %v", s.smp.errs, s.smp.err)
	}
	for _, d := range s.dist {
		r.Counts[d.Kind]++
	}
	if want := plan.longPartitions(); r.Counts[kindLongPartition] != want {
		t.Errorf("the %s profile ran %d long partitions, want %d", p.Name, r.Counts[kindLongPartition], want)
	}
	for i := range s.dist {
		s.dist[i].mask = maskOf(s.dist[i].Nodes)
	}
	r.checked = check(samples, s.dist, soakLimits, nodeNames, instanceNames)
	r.Violations = append(r.Violations, s.violations...)

	// Resources: every daemon alive now; those with enough readings are
	// checked for growth.
	checkedGrowth := 0
	for _, n := range s.nodes {
		s.endIncarnation(n, end)
	}
	for i := range s.incarnations {
		inc := &s.incarnations[i]
		first, last, ok := growth(inc.All, p.Window)
		if !ok {
			continue
		}
		inc.First, inc.Last = &first, &last
		checkedGrowth++
		for _, g := range grew(first, last, leakLimits) {
			r.Violations = append(r.Violations, violation{At: inc.End, What: fmt.Sprintf("%s (up %v): %s",
				inc.Node, inc.End.Sub(inc.Start).Round(time.Second), g)})
		}
	}
	if checkedGrowth == 0 {
		r.Violations = append(r.Violations, violation{At: end, What: "no daemon lived long enough for the growth check"})
	}
	slices.SortFunc(r.Violations, func(a, b violation) int { return a.At.Compare(b.At) })
	r.Incarnations = s.incarnations

	s.summarise(r)
	if path := os.Getenv("VIPD_SOAK_OUT"); path != "" {
		b, err := json.MarshalIndent(r, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if dir := os.Getenv("VIPD_SOAK_LOGS"); dir != "" {
		s.keepLogs(dir)
	}
	for _, v := range r.Violations {
		t.Errorf("invariant violated at %s: %s", v.At.Format("15:04:05.000"), v.What)
	}
}

func (s *soak) violate(at time.Time, what string) {
	s.t.Logf("VIOLATION: %s", what)
	s.violations = append(s.violations, violation{At: at, What: what})
}

// summarise logs the report's main lines.
func (s *soak) summarise(r report) {
	t := s.t
	var counts []string
	for _, k := range kinds {
		counts = append(counts, fmt.Sprintf("%s %d", k, r.Counts[k]))
	}
	t.Logf("%d disturbances: %s", len(r.Disturbances), strings.Join(counts, ", "))
	t.Logf("%d samples, interval p99 %.1f ms, max %.1f ms; worst settle %.0f ms", r.Samples, r.SampleP99MS, r.SampleMaxMS, r.SettleWorstMS)
	for _, v := range r.VIPs {
		t.Logf("VIP %s: %d gaps, worst %.0f ms (bound %.0f ms); %d duals", v.VIP, v.Gaps, v.WorstGapMS, v.WorstGapBound, v.Duals)
	}
	for cause, d := range r.Duals {
		t.Logf("duals by %s: %d, worst %.0f ms (bound %.0f ms)", cause, d.Count, d.WorstMS, d.BoundMS)
	}
	for _, inc := range r.Incarnations {
		if inc.First != nil {
			t.Logf("%s up %v: goroutines %d→%d, fds %d→%d, VmRSS %d→%d KiB", inc.Node, inc.End.Sub(inc.Start).Round(time.Second),
				inc.First.Goroutines, inc.Last.Goroutines, inc.First.FDs, inc.Last.FDs, inc.First.RSSKiB, inc.Last.RSSKiB)
		}
	}
	t.Logf("%d invariant violations", len(r.Violations))
}

// keepLogs copies every daemon's log (those of killed and restarted ones
// too) into dir, for a look after a failed run.
func (s *soak) keepLogs(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Error(err)
		return
	}
	for i, inc := range s.incarnations {
		b, err := os.ReadFile(inc.log)
		if err != nil {
			s.t.Error(err)
			continue
		}
		name := fmt.Sprintf("%s-%02d-%s.log", inc.Node, i, inc.Start.Format("150405"))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			s.t.Error(err)
		}
	}
	s.t.Logf("daemon logs kept in %s", dir)
}

func maskOf(names []string) uint8 {
	var m uint8
	for _, n := range names {
		if i := slices.Index(nodeNames, n); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}

// intervals are the sampler's p99 and largest step, in ms.
func intervals(samples []sample) (maxMS, p99MS float64) {
	if len(samples) < 2 {
		return 0, 0
	}
	var steps []float64
	for i := 1; i < len(samples); i++ {
		steps = append(steps, benchstat.MS(samples[i].at.Sub(samples[i-1].at)))
	}
	slices.Sort(steps)
	return steps[len(steps)-1], steps[len(steps)*99/100]
}

// config is a node's vipd.yaml: gossip with the e2e tests' steady timings
// (the local profile, 500 ms probes, retransmit mult 4), and the two
// instances with peers from gossip and reversed orders.
func (s *soak) config(n *node) string {
	key := base64.StdEncoding.EncodeToString([]byte("vipd-chaos-soak-gossip-key-32by!"))
	var b strings.Builder
	fmt.Fprintf(&b, "node: {name: %s}\n", n.name)
	fmt.Fprintf(&b, "gossip:\n  cluster_name: soak\n  bind: {address: %s, port: 7946}\n", n.addr)
	fmt.Fprintf(&b, "  join: [%s]\n  keys: [%q]\n  profile: local\n", strings.Join(s.seeds, ", "), key)
	fmt.Fprintf(&b, "  timings: {probe_interval: 500ms, retransmit_mult: 4}\n")
	fmt.Fprintf(&b, "  az: az%d\n  state_file: %s\n", n.az, filepath.Join(n.dir, "state.json"))
	b.WriteString("instances:\n")
	for v := range nVIPs {
		b.WriteString(testbed.GossipInstanceYAML(instanceNames[v], vrids[v], advert, n.addr, vips[v]))
		fmt.Fprintf(&b, "    order: {nodes: [%s], reverse: %t}\n", strings.Join(nodeNames, ", "), v == 1)
	}
	return b.String()
}

func (s *soak) startDaemon(n *node) {
	n.d = testbed.StartVipd(s.t, n.ns, s.config(n), ".yaml")
	n.pid, n.res, n.since = 0, nil, time.Now()
	s.alive.Or(1 << n.idx)
}

// endIncarnation files the current daemon's readings away.
func (s *soak) endIncarnation(n *node, at time.Time) {
	s.incarnations = append(s.incarnations, incarnation{Node: n.name, Start: n.since, End: at,
		Readings: len(n.res), All: n.res, log: n.d.Log})
}

// lossMethod finds out whether the kernel has netem; without it, loss is
// made by nftables (numgen random) rules.
func (s *soak) lossMethod() string {
	n := s.nodes[0]
	out, err := n.ns.Command(context.Background(), "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "loss", "1%").CombinedOutput()
	if err != nil {
		s.t.Logf("no netem (%s): packet loss by nftables", strings.TrimSpace(string(out)))
		return "nftables numgen"
	}
	n.ns.Run(s.t, "tc", "qdisc", "del", "dev", "eth0", "root")
	return "netem"
}

// holdersNow describes the latest sample, for messages.
func (s *soak) holdersNow() string {
	last, ok := s.smp.latest()
	if !ok {
		return "unknown"
	}
	var out []string
	for v := range nVIPs {
		h := nodeList(last.held[v], nodeNames)
		if h == "" {
			h = "none"
		}
		out = append(out, instanceNames[v]+": "+h)
	}
	return strings.Join(out, ", ")
}

// preferred is the live node with the best priority for vip.
func (s *soak) preferred(vip int) int {
	best, bestPrio := -1, -1
	alive := s.alive.Load()
	for i := range nodeNames {
		if alive&(1<<i) != 0 && priority(i, vip) > bestPrio {
			best, bestPrio = i, priority(i, vip)
		}
	}
	return best
}

// settle waits until every VIP has been held by its preferred node alone
// for a second, and returns how long that took (from the call) to begin.
func (s *soak) settle(timeout time.Duration) (time.Duration, bool) {
	begin := time.Now()
	var good time.Time
	for {
		last, ok := s.smp.latest()
		now := time.Now()
		all := ok && last.at.After(begin)
		for v := range nVIPs {
			all = all && last.held[v] == 1<<s.preferred(v)
		}
		switch {
		case !all:
			good = time.Time{}
		case good.IsZero():
			good = last.at
		case now.Sub(good) >= time.Second:
			return good.Sub(begin), true
		}
		if now.Sub(begin) > timeout {
			return now.Sub(begin), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gossipConverged waits until every running daemon counts all running
// daemons as alive gossip members (vipd_gossip_members{state="alive"}),
// and returns how long that took.
func (s *soak) gossipConverged(timeout time.Duration) (time.Duration, bool) {
	begin := time.Now()
	for {
		alive := s.alive.Load()
		want := bits.OnesCount32(alive)
		all := true
		for _, n := range s.nodes {
			if alive&(1<<n.idx) == 0 {
				continue
			}
			got, err := aliveMembers(n.d.Socket)
			all = all && err == nil && got == want
		}
		if all {
			return time.Since(begin), true
		}
		if time.Since(begin) > timeout {
			return time.Since(begin), false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// aliveMembers reads vipd_gossip_members{state="alive"} from a daemon.
func aliveMembers(socket string) (int, error) {
	body, err := metricsText(socket)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, `vipd_gossip_members{state="alive"} `); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no vipd_gossip_members{state=\"alive\"} in /metrics")
}

// master returns the node holding vip now, or -1.
func (s *soak) master(vip int) int {
	last, ok := s.smp.latest()
	if !ok {
		return -1
	}
	for i := range nodeNames {
		if last.held[vip] == 1<<i {
			return i
		}
	}
	return -1
}

// target picks a node to disturb: most often the master of one of the
// VIPs (where disturbances matter), else any node; process kinds (kill,
// restart) never pick the witness.
func (s *soak) target(process bool) int {
	ok := func(i int) bool { return i >= 0 && !(process && i == witness) }
	if s.rng.IntN(10) < 7 {
		if m := s.master(s.rng.IntN(nVIPs)); ok(m) {
			return m
		}
	}
	for {
		if i := s.rng.IntN(len(nodeNames)); ok(i) {
			return i
		}
	}
}

// other picks a node other than i.
func (s *soak) other(i int) int {
	j := s.rng.IntN(len(nodeNames) - 1)
	if j >= i {
		j++
	}
	return j
}

// between returns a random duration in [lo, hi).
func (s *soak) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

// disturb applies one disturbance of kind, holds it, reverts it, and
// returns it with its times.
func (s *soak) disturb(kind string) disturbance {
	t := s.t
	d := disturbance{Kind: kind}
	var n *node
	switch kind {
	case kindKill:
		n = s.nodes[s.target(true)]
		hold := s.between(2*time.Second, 6*time.Second)
		d.Detail = fmt.Sprintf("restarted after %v", hold.Round(time.Millisecond))
		d.Start = time.Now()
		// Not alive from now: the address a killed daemon leaves behind
		// is a dead host's, until its successor starts.
		s.alive.And(^uint32(1 << n.idx))
		n.d.Kill()
		s.endIncarnation(n, time.Now())
		time.Sleep(hold)
		s.startDaemon(n)
	case kindRestart:
		n = s.nodes[s.target(true)]
		d.Start = time.Now()
		n.d.Term()
		if !n.d.Wait(15 * time.Second) {
			s.violate(time.Now(), fmt.Sprintf("%s did not exit within 15 s of SIGTERM", n.name))
			n.d.Kill()
		}
		s.endIncarnation(n, time.Now())
		s.startDaemon(n)
	case kindStop:
		n = s.nodes[s.target(false)]
		hold := s.between(1500*time.Millisecond, 6*time.Second)
		d.Detail = fmt.Sprintf("SIGCONT after %v", hold.Round(time.Millisecond))
		d.Start = time.Now()
		n.d.Signal(syscall.SIGSTOP)
		time.Sleep(hold)
		n.d.Signal(syscall.SIGCONT)
	case kindLink:
		n = s.nodes[s.target(false)]
		hold := s.between(2*time.Second, 6*time.Second)
		d.Detail = fmt.Sprintf("up after %v", hold.Round(time.Millisecond))
		d.Start = time.Now()
		n.ns.SetLink(t, "eth0", false)
		time.Sleep(hold)
		n.ns.SetLink(t, "eth0", true)
		// Taking the link down removed the default route.
		n.ns.Run(t, "ip", "route", "replace", "default", "via", n.gw)
	case kindLoss:
		n = s.nodes[s.target(false)]
		pct := 20 + s.rng.IntN(21)
		hold := s.between(4*time.Second, 10*time.Second)
		d.Detail = fmt.Sprintf("%d%% for %v by %s", pct, hold.Round(time.Millisecond), s.loss)
		d.Start = time.Now()
		s.setLoss(n, pct)
		time.Sleep(hold)
		s.clearLoss(n)
	case kindPartition, kindLongPartition:
		// Failure detection with these timings (local profile, 500 ms
		// probes, 5 nodes) takes at most 13.4 s (gossip.DetectionTime);
		// the long one outlasts gossip's 10-minute expiries.
		hold := s.between(16*time.Second, 22*time.Second)
		if kind == kindLongPartition {
			hold = s.between(longPartitionMin, longPartitionMax)
		}
		d.Detail = fmt.Sprintf("az1 | az2 for %v", hold.Round(time.Millisecond))
		for _, o := range s.nodes[1:] {
			d.Nodes = append(d.Nodes, o.name)
		}
		n = s.nodes[0]
		d.Start = time.Now()
		s.router.Run(t, "nft", "add", "table", "inet", "soakcut")
		s.router.Run(t, "nft", "add", "chain", "inet", "soakcut", "xzone", "{ type filter hook forward priority 0; policy drop; }")
		time.Sleep(hold)
		s.router.Run(t, "nft", "delete", "table", "inet", "soakcut")
	case kindVRRPDrop, kindGossipDrop:
		n = s.nodes[s.target(false)]
		peer := s.nodes[s.other(n.idx)]
		d.Nodes = []string{peer.name}
		hold := s.between(8*time.Second, 12*time.Second)
		if kind == kindGossipDrop {
			hold = s.between(4*time.Second, 10*time.Second)
		}
		d.Detail = fmt.Sprintf("for %v", hold.Round(time.Millisecond))
		d.Start = time.Now()
		s.dropBetween(n, peer, kind == kindVRRPDrop)
		time.Sleep(hold)
		n.ns.Run(t, "nft", "delete", "table", "inet", "soakdrop")
	default:
		t.Fatalf("unknown disturbance %q", kind)
	}
	d.End = time.Now()
	d.Nodes = append([]string{n.name}, d.Nodes...)
	return d
}

// setLoss drops pct % of the frames in and out of n's eth0 at random.
func (s *soak) setLoss(n *node, pct int) {
	t := s.t
	if s.loss == "netem" {
		// netem shapes egress only; ingress would need an ifb device.
		n.ns.Run(t, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "loss", fmt.Sprintf("%d%%", pct))
		return
	}
	n.ns.Run(t, "nft", "add", "table", "netdev", "soakloss")
	for _, c := range []struct{ name, hook string }{{"in", "ingress"}, {"out", "egress"}} {
		n.ns.Run(t, "nft", "add", "chain", "netdev", "soakloss", c.name,
			fmt.Sprintf(`{ type filter hook %s device "eth0" priority 0; }`, c.hook))
		n.ns.Run(t, "nft", "add", "rule", "netdev", "soakloss", c.name, "numgen", "random", "mod", "100", "<", strconv.Itoa(pct), "drop")
	}
}

func (s *soak) clearLoss(n *node) {
	if s.loss == "netem" {
		n.ns.Run(s.t, "tc", "qdisc", "del", "dev", "eth0", "root")
		return
	}
	n.ns.Run(s.t, "nft", "delete", "table", "netdev", "soakloss")
}

// dropBetween drops, in n's firewall, VRRP (vrrp true) or gossip (UDP and
// TCP port 7946, either end) between n and peer, both ways.
func (s *soak) dropBetween(n, peer *node, vrrp bool) {
	t := s.t
	n.ns.Run(t, "nft", "add", "table", "inet", "soakdrop")
	n.ns.Run(t, "nft", "add", "chain", "inet", "soakdrop", "in", "{ type filter hook input priority 0; }")
	n.ns.Run(t, "nft", "add", "chain", "inet", "soakdrop", "out", "{ type filter hook output priority 0; }")
	match := [][]string{{"meta", "l4proto", "112"}}
	if !vrrp {
		match = [][]string{
			{"meta", "l4proto", "{", "tcp,", "udp", "}", "th", "dport", "7946"},
			{"meta", "l4proto", "{", "tcp,", "udp", "}", "th", "sport", "7946"},
		}
	}
	for _, m := range match {
		n.ns.Run(t, append(append([]string{"nft", "add", "rule", "inet", "soakdrop", "in", "ip", "saddr", peer.addr.String()}, m...), "drop")...)
		n.ns.Run(t, append(append([]string{"nft", "add", "rule", "inet", "soakdrop", "out", "ip", "daddr", peer.addr.String()}, m...), "drop")...)
	}
}

// readResources reads every running, not stopped, daemon's resources.
func (s *soak) readResources() {
	for _, n := range s.nodes {
		r, err := readResources(n)
		if err != nil {
			s.violate(time.Now(), fmt.Sprintf("reading %s's resources: %v", n.name, err))
			continue
		}
		n.res = append(n.res, r)
	}
}

func readResources(n *node) (resourceSample, error) {
	r := resourceSample{At: time.Now()}
	if n.pid == 0 {
		pid, err := findPid(n.d.Config)
		if err != nil {
			return r, err
		}
		n.pid = pid
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.pid))
	if err != nil {
		return r, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				r.RSSKiB, _ = strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", n.pid))
	if err != nil {
		return r, err
	}
	r.FDs = len(fds)
	m, err := scrape(n.d.Socket)
	if err != nil {
		return r, err
	}
	r.Goroutines, r.MetricFDs = int(m["go_goroutines"]), int(m["process_open_fds"])
	if r.RSSKiB == 0 || r.Goroutines == 0 || r.MetricFDs == 0 {
		return r, fmt.Errorf("incomplete reading %+v", r)
	}
	return r, nil
}

// findPid finds the vipd whose command line names config (each daemon has
// a config file of its own).
func findPid(config string) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if slices.Contains(args, config) && slices.Contains(args, "agent") && !slices.Contains(args, "netns") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process runs with %s", config)
}

// scrape reads the agent's Prometheus metrics over its API socket (as
// `curl --unix-socket SOCKET http://vipd/metrics`) and returns the
// unlabelled samples.
func scrape(socket string) (map[string]float64, error) {
	body, err := metricsText(socket)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || l[0] == '#' || strings.Contains(l, "{") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out, nil
}

// metricsText fetches a daemon's /metrics over its API socket.
func metricsText(socket string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://vipd/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(body), nil
}
