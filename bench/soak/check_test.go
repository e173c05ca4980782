package soak

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/bench/internal/benchstat"
)

// The invariants are checked after the run, on the sampler's record and the
// log of disturbances, by pure functions: check_unit_test.go feeds them
// made-up records to show that each invariant can fail.

// nVIPs is the number of VIPs (instances) in the cluster.
const nVIPs = 2

// sample is one look at every node: for each VIP, the bit set of nodes
// (bit i is node i) that hold it: the address is on an eth0 that is up, and
// the node's daemon has not been killed. A SIGSTOPped daemon's address still
// counts: its kernel answers ARP for it.
type sample struct {
	at   time.Time
	held [nVIPs]uint8
}

// Disturbance kinds.
const (
	kindKill       = "kill -9"
	kindStop       = "SIGSTOP"
	kindRestart    = "graceful restart"
	kindLink       = "link down"
	kindLoss       = "packet loss"
	kindVRRPDrop   = "protocol-112 drop"
	kindGossipDrop = "gossip port drop"
	// kindPartition cuts every packet between the two zones for longer
	// than failure detection: each side declares the other dead and
	// elects its own master; after the heal VRRP must settle at once and
	// gossip merge again (issue 13).
	kindPartition = "partition"
	// kindLongPartition is a partition longer than the 10-minute expiry
	// vipd once had for failed peers (long profile only).
	kindLongPartition = "long partition"
)

// kinds is every disturbance, in the report's order; longKinds are never
// dealt from the deck (the long profile's schedule deals one per run).
var (
	kinds     = []string{kindKill, kindStop, kindRestart, kindLink, kindLoss, kindVRRPDrop, kindGossipDrop, kindPartition, kindLongPartition}
	longKinds = []string{kindLongPartition}
)

// disturbance is one disturbance as applied: from Start until End (when it
// was reverted: the restart after a kill, SIGCONT, link up, rules removed).
type disturbance struct {
	Kind   string    `json:"kind"`
	Nodes  []string  `json:"nodes"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Detail string    `json:"detail,omitempty"`

	mask uint8 // the nodes as a bit set
}

// cutsAdverts says whether a disturbance really keeps adverts from arriving
// while a daemon's gossip still works: only then may two nodes hold a VIP.
// A SIGSTOPped master cannot advertise; packet loss drops some adverts; a
// protocol-112 drop drops them all between two nodes; and a link that has
// just come back loses its first packets while its neighbours resolve
// again (an ARP request sent before the carrier is back is lost with the
// advert queued behind it), so a hand-over right after it may overlap by
// an advert interval. A partition cuts everything, gossip too: each side
// has a master until it heals (a partition's disturbance names every
// node).
func cutsAdverts(kind string) bool {
	return kind == kindVRRPDrop || kind == kindStop || kind == kindLoss || kind == kindLink ||
		kind == kindPartition || kind == kindLongPartition
}

// episode is a run of samples in which a VIP had no holder (a gap) or more
// than one (a dual).
type episode struct {
	VIP     int
	Start   time.Time
	End     time.Time // the first sample after it, or the last sample if open
	Holders uint8     // every node that held it during the episode (duals)
	Next    uint8     // the holders of the first sample after a gap
	Open    bool      // still going at the last sample
	// MaxStep is the longest time between two samples that bound it: a
	// sampler that was not scheduled (a loaded machine) blurs the
	// episode's length by that much.
	MaxStep time.Duration
}

func (e episode) dur() time.Duration { return e.End.Sub(e.Start) }

// episodes finds the gaps and duals of one VIP in time order.
func episodes(samples []sample, vip int) (gaps, duals []episode) {
	var gap, dual *episode
	var prev time.Time
	for _, s := range samples {
		h := s.held[vip]
		n := bits.OnesCount8(h)
		if !prev.IsZero() {
			for _, e := range []*episode{gap, dual} {
				if e != nil {
					e.MaxStep = max(e.MaxStep, s.at.Sub(prev))
				}
			}
		}
		prev = s.at
		if gap != nil && n > 0 {
			gap.End, gap.Next = s.at, h
			gaps = append(gaps, *gap)
			gap = nil
		}
		if dual != nil && n < 2 {
			dual.End = s.at
			duals = append(duals, *dual)
			dual = nil
		}
		switch {
		case n == 0 && gap == nil:
			gap = &episode{VIP: vip, Start: s.at}
		case n >= 2 && dual == nil:
			dual = &episode{VIP: vip, Start: s.at, Holders: h}
		case n >= 2:
			dual.Holders |= h
		}
	}
	if len(samples) > 0 {
		last := samples[len(samples)-1].at
		if gap != nil {
			gap.End, gap.Open = last, true
			gaps = append(gaps, *gap)
		}
		if dual != nil {
			dual.End, dual.Open = last, true
			duals = append(duals, *dual)
		}
	}
	return gaps, duals
}

// limits are the invariants' bounds.
type limits struct {
	// masterDown is node's master-down interval for vip (3 advert
	// intervals + its skew time), from its priority in that VIP's order.
	masterDown func(node, vip int) time.Duration
	// gapMargin is what a gap may last beyond the next holder's
	// master-down interval (the 500 ms).
	gapMargin time.Duration
	// handover is the longest overlap allowed when no advert is cut: the
	// new master binds the VIP, advertises, and the old one releases it.
	handover time.Duration
	// guard is the split-brain guard's bound: its interval (3 advert
	// intervals + 1 s), the direct ping and two sync ticks, plus slack.
	guard time.Duration
}

// gapBound is how long a gap ended by next may last; an open gap (no next
// holder) gets the slowest node's bound.
func (l limits) gapBound(vip int, next uint8, nodes int) time.Duration {
	var b time.Duration
	for i := range nodes {
		if next == 0 || next&(1<<i) != 0 {
			b = max(b, l.masterDown(i, vip))
		}
	}
	return b + l.gapMargin
}

// noCut is the cause of a dual that no advert cut excuses: allowed as a
// hand-over only.
const noCut = "no advert cut"

// after names the last disturbance that began before at, for messages.
func after(dist []disturbance, at time.Time) string {
	for i := len(dist) - 1; i >= 0; i-- {
		if !dist[i].Start.After(at) {
			d := dist[i]
			return fmt.Sprintf("; after %s on %s at %s", d.Kind, strings.Join(d.Nodes, ","), d.Start.Format("15:04:05.000"))
		}
	}
	return ""
}

// dualVerdict classifies one dual: the cause that excuses it (noCut when
// none does), the longest it may last, and whether it stayed
// within that.
type dualVerdict struct {
	Cause string
	Bound time.Duration
	OK    bool
}

// judgeDual finds the disturbance that excuses e: one that cuts adverts,
// involves one of its holders, and was in force (or reverted less than a
// guard bound before) when the dual began. Such a dual may last until a
// guard bound after it began, or after the disturbance ended for a
// SIGSTOP or packet loss (gossip cannot see through those while they last:
// a stopped master does not answer the guard's ping). With no such
// disturbance the dual is a hand-over and may last l.handover.
func judgeDual(e episode, dist []disturbance, l limits) dualVerdict {
	best := dualVerdict{Cause: noCut, Bound: l.handover, OK: e.dur() <= l.handover}
	for _, d := range dist {
		if !cutsAdverts(d.Kind) || d.mask&e.Holders == 0 {
			continue
		}
		if d.Start.After(e.End) || d.End.Add(l.guard).Before(e.Start) {
			continue
		}
		from := e.Start
		if d.Kind != kindVRRPDrop && d.End.After(from) {
			from = d.End
		}
		bound := from.Add(l.guard).Sub(e.Start)
		v := dualVerdict{Cause: d.Kind, Bound: bound, OK: e.dur() <= bound}
		if !best.OK || v.OK && v.Bound > best.Bound {
			best = v
		}
	}
	return best
}

// violation is one broken invariant, for the report.
type violation struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// vipStats sums one VIP's gaps and duals up.
type vipStats struct {
	VIP           string  `json:"vip"`
	Gaps          int     `json:"gaps"`
	WorstGapMS    float64 `json:"worst_gap_ms"`
	WorstGapBound float64 `json:"worst_gap_bound_ms"` // the bound of that gap
	Duals         int     `json:"duals"`
}

// dualStats sums the duals of one cause up.
type dualStats struct {
	Count   int     `json:"count"`
	WorstMS float64 `json:"worst_ms"`
	BoundMS float64 `json:"bound_ms"` // the bound of the worst one
}

// checked is what the checker found.
type checked struct {
	VIPs       []vipStats            `json:"vips"`
	Episodes   []episodeReport       `json:"episodes"`
	Duals      map[string]*dualStats `json:"duals"` // by cause
	Violations []violation           `json:"violations"`
}

// episodeReport is one gap or dual, for the report.
type episodeReport struct {
	VIP       string    `json:"vip"`
	Kind      string    `json:"kind"` // "gap" or "dual"
	Start     time.Time `json:"start"`
	MS        float64   `json:"ms"`
	Holders   string    `json:"holders"` // a dual's holders; a gap's next holders
	Cause     string    `json:"cause,omitempty"`
	BoundMS   float64   `json:"bound_ms"`
	MaxStepMS float64   `json:"max_step_ms"`
	OK        bool      `json:"ok"`
}

// stalled notes a sampler stall of more than 100 ms in a message.
func stalled(e episode) string {
	if e.MaxStep <= 100*time.Millisecond {
		return ""
	}
	return fmt.Sprintf("; the sampler stalled for up to %v meanwhile", e.MaxStep.Round(time.Millisecond))
}

// check runs the gap and dual invariants over a whole record.
func check(samples []sample, dist []disturbance, l limits, names []string, vipNames []string) checked {
	c := checked{Duals: map[string]*dualStats{}}
	for v := range nVIPs {
		gaps, duals := episodes(samples, v)
		st := vipStats{VIP: vipNames[v], Gaps: len(gaps), Duals: len(duals)}
		for _, g := range gaps {
			bound := l.gapBound(v, g.Next, len(names))
			if benchstat.MS(g.dur()) > st.WorstGapMS {
				st.WorstGapMS, st.WorstGapBound = benchstat.MS(g.dur()), benchstat.MS(bound)
			}
			c.Episodes = append(c.Episodes, episodeReport{VIP: vipNames[v], Kind: "gap", Start: g.Start, MS: benchstat.MS(g.dur()),
				Holders: nodeList(g.Next, names), BoundMS: benchstat.MS(bound), MaxStepMS: benchstat.MS(g.MaxStep), OK: g.dur() <= bound})
			if g.dur() > bound {
				next := "nobody (still unowned at the end)"
				if !g.Open {
					next = nodeList(g.Next, names)
				}
				c.Violations = append(c.Violations, violation{At: g.Start, What: fmt.Sprintf(
					"%s unowned for %v, bound %v (master-down of %s + %v)%s", vipNames[v], g.dur().Round(time.Millisecond),
					bound, next, l.gapMargin, stalled(g)+after(dist, g.Start))})
			}
		}
		for _, d := range duals {
			verdict := judgeDual(d, dist, l)
			c.Episodes = append(c.Episodes, episodeReport{VIP: vipNames[v], Kind: "dual", Start: d.Start, MS: benchstat.MS(d.dur()),
				Holders: nodeList(d.Holders, names), Cause: verdict.Cause, BoundMS: benchstat.MS(verdict.Bound), MaxStepMS: benchstat.MS(d.MaxStep), OK: verdict.OK})
			ds := c.Duals[verdict.Cause]
			if ds == nil {
				ds = &dualStats{}
				c.Duals[verdict.Cause] = ds
			}
			ds.Count++
			if benchstat.MS(d.dur()) > ds.WorstMS {
				ds.WorstMS, ds.BoundMS = benchstat.MS(d.dur()), benchstat.MS(verdict.Bound)
			}
			if !verdict.OK {
				c.Violations = append(c.Violations, violation{At: d.Start, What: fmt.Sprintf(
					"%s held by %s at once for %v, bound %v (%s)%s", vipNames[v], nodeList(d.Holders, names),
					d.dur().Round(time.Millisecond), verdict.Bound.Round(time.Millisecond), verdict.Cause, stalled(d)+after(dist, d.Start))})
			}
		}
		c.VIPs = append(c.VIPs, st)
	}
	slices.SortFunc(c.Violations, func(a, b violation) int { return a.At.Compare(b.At) })
	slices.SortFunc(c.Episodes, func(a, b episodeReport) int { return a.Start.Compare(b.Start) })
	return c
}

// nodeList names the nodes of a bit set.
func nodeList(mask uint8, names []string) string {
	var out []string
	for i, n := range names {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, "+")
}

// resourceSample is one reading of a daemon's resources.
type resourceSample struct {
	At         time.Time `json:"at"`
	RSSKiB     int64     `json:"rss_kib"`    // /proc/PID/status VmRSS
	FDs        int       `json:"fds"`        // entries of /proc/PID/fd
	Goroutines int       `json:"goroutines"` // go_goroutines at /metrics
	MetricFDs  int       `json:"metric_fds"` // process_open_fds at /metrics
}

// growthLimits bound what a daemon may gain over a run: a leak of one
// goroutine or descriptor per disturbance, or of memory per failover,
// exceeds them within a short run.
type growthLimits struct {
	Goroutines int
	FDs        int
	RSSKiB     int64
}

// growth compares the floor (minimum) of a daemon's first readings with
// that of its last ones: transient work (a GARP schedule, a gossip stream,
// a garbage collector that has not returned memory yet) lifts single
// readings, a leak lifts the floor. It needs at least 2×window readings.
func growth(rs []resourceSample, window int) (first, last resourceSample, ok bool) {
	if len(rs) < 2*window {
		return first, last, false
	}
	floor := func(part []resourceSample) resourceSample {
		f := part[0]
		for _, r := range part[1:] {
			f.RSSKiB = min(f.RSSKiB, r.RSSKiB)
			f.FDs = min(f.FDs, r.FDs)
			f.Goroutines = min(f.Goroutines, r.Goroutines)
			f.MetricFDs = min(f.MetricFDs, r.MetricFDs)
		}
		return f
	}
	return floor(rs[:window]), floor(rs[len(rs)-window:]), true
}

// grew lists what exceeded the limits between first and last.
func grew(first, last resourceSample, g growthLimits) []string {
	var out []string
	if d := last.Goroutines - first.Goroutines; d > g.Goroutines {
		out = append(out, fmt.Sprintf("goroutines %d → %d (+%d, limit +%d)", first.Goroutines, last.Goroutines, d, g.Goroutines))
	}
	if d := last.FDs - first.FDs; d > g.FDs {
		out = append(out, fmt.Sprintf("fds %d → %d (+%d, limit +%d)", first.FDs, last.FDs, d, g.FDs))
	}
	if d := last.MetricFDs - first.MetricFDs; d > g.FDs {
		out = append(out, fmt.Sprintf("process_open_fds %d → %d (+%d, limit +%d)", first.MetricFDs, last.MetricFDs, d, g.FDs))
	}
	if d := last.RSSKiB - first.RSSKiB; d > g.RSSKiB {
		out = append(out, fmt.Sprintf("VmRSS %d → %d KiB (+%d, limit +%d)", first.RSSKiB, last.RSSKiB, d, g.RSSKiB))
	}
	return out
}
