package fsm

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file drives several Machines against each other over an in-memory
// wire with a simulated clock: a small discrete-event loop, no real time.

type simTransition struct {
	at       time.Time
	from, to State
}

type simNode struct {
	name    string
	p       Params
	m       *Machine
	startAt time.Time
	started bool
	up      bool // false once crashed or shut down

	firstRecv   time.Time // first advert delivered after start
	lastRecv    time.Time // last advert of any priority delivered
	zeroRecv    time.Time // last priority-0 advert delivered
	zeroSkew    time.Duration
	transitions []simTransition
	reasserts   int
}

// masterSince returns when the node last became MASTER, if it is MASTER.
func (n *simNode) masterSince() (time.Time, bool) {
	if n.m.State() != Master || len(n.transitions) == 0 {
		return time.Time{}, false
	}
	return n.transitions[len(n.transitions)-1].at, true
}

func (n *simNode) everMasterBetween(from, to time.Time) bool {
	for _, tr := range n.transitions {
		if tr.to == Master && !tr.at.Before(from) && !tr.at.After(to) {
			return true
		}
	}
	return false
}

type simPacket struct {
	at   time.Time
	seq  int
	to   int
	from int
	adv  Advert
}

type sim struct {
	t      *testing.T
	rng    *rand.Rand
	now    time.Time
	nodes  []*simNode
	queue  []simPacket
	seq    int
	events int
	trace  []string
	cut    bool // partition: every advert is lost
}

const (
	minLatency = 10 * time.Microsecond
	maxLatency = 20 * time.Microsecond
	maxEvents  = 2_000_000
)

func newSim(t *testing.T, seed uint64) *sim {
	return &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: t0}
}

func (s *sim) add(name string, p Params, startAfter time.Duration) *simNode {
	s.t.Helper()
	m, err := New(p)
	if err != nil {
		s.t.Fatalf("node %s: %v", name, err)
	}
	n := &simNode{name: name, p: p, m: m, startAt: s.now.Add(startAfter), up: true}
	s.nodes = append(s.nodes, n)
	return n
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%12v ", s.now.Sub(t0))+fmt.Sprintf(format, args...))
}

// dump is appended to failure messages: the tail of the event trace.
func (s *sim) dump() string {
	tail := s.trace
	if len(tail) > 40 {
		tail = tail[len(tail)-40:]
	}
	return "\n" + strings.Join(tail, "\n")
}

// handle performs the actions node i returned.
func (s *sim) handle(i int, acts []Action) {
	n := s.nodes[i]
	for _, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			s.logf("%s sends prio %d", n.name, a.Priority)
			if s.cut {
				continue
			}
			for j, peer := range s.nodes {
				if j == i || !peer.up {
					continue
				}
				lat := minLatency + time.Duration(s.rng.Int64N(int64(maxLatency-minLatency)+1))
				s.seq++
				s.queue = append(s.queue, simPacket{
					at: s.now.Add(lat), seq: s.seq, to: j, from: i,
					adv: Advert{Priority: a.Priority, Interval: n.p.AdvertInterval, Src: n.p.Self},
				})
			}
		case Transition:
			s.logf("%s %v -> %v (%s)", n.name, a.From, a.To, a.Reason)
			n.transitions = append(n.transitions, simTransition{at: s.now, from: a.From, to: a.To})
		case Reassert:
			s.logf("%s reasserts against %v prio %d", n.name, a.From, a.Priority)
			n.reasserts++
		default:
			s.t.Fatalf("unknown action %T", a)
		}
	}
}

// step runs the single earliest event at or before end and reports whether
// there was one. Ties go to starts, then packets, then timers, each in node
// order, so runs are reproducible.
func (s *sim) step(end time.Time) bool {
	s.events++
	if s.events > maxEvents {
		s.t.Fatalf("event storm: more than %d events%s", maxEvents, s.dump())
	}
	const (
		kindStart = iota
		kindPacket
		kindTimer
	)
	best, kind, idx := time.Time{}, -1, -1
	consider := func(at time.Time, k, i int) {
		if at.After(end) {
			return
		}
		if kind == -1 || at.Before(best) || (at.Equal(best) && k < kind) {
			best, kind, idx = at, k, i
		}
	}
	for i, n := range s.nodes {
		if n.up && !n.started {
			consider(n.startAt, kindStart, i)
		}
	}
	for i, p := range s.queue {
		consider(p.at, kindPacket, i)
	}
	for i, n := range s.nodes {
		if dl, ok := n.m.Deadline(); ok && n.up && n.started {
			consider(dl, kindTimer, i)
		}
	}
	if kind == -1 {
		s.now = end
		return false
	}
	s.now = best
	switch kind {
	case kindStart:
		n := s.nodes[idx]
		n.started = true
		s.handle(idx, n.m.Start(s.now))
	case kindPacket:
		p := s.queue[idx]
		s.queue = slices.Delete(s.queue, idx, idx+1)
		n := s.nodes[p.to]
		if !n.up {
			return true
		}
		if n.started {
			if n.firstRecv.IsZero() {
				n.firstRecv = s.now
			}
			n.lastRecv = s.now
			if p.adv.Priority == 0 {
				n.zeroRecv = s.now
				n.zeroSkew = n.m.SkewTime()
			}
		}
		s.handle(p.to, n.m.Receive(p.adv, s.now))
	case kindTimer:
		s.handle(idx, s.nodes[idx].m.Tick(s.now))
	}
	return true
}

// runUntil runs events up to end. step scans the whole queue each time,
// which is fine for the handful of packets ever in flight.
func (s *sim) runUntil(end time.Time) {
	for s.step(end) {
	}
}

func (s *sim) runFor(d time.Duration) { s.runUntil(s.now.Add(d)) }

// crash stops a node dead: no more sending, receiving or timers.
func (s *sim) crash(n *simNode) {
	s.logf("%s crashes", n.name)
	n.up = false
}

// shutdown stops a node gracefully.
func (s *sim) shutdown(n *simNode) {
	for i, x := range s.nodes {
		if x == n {
			s.handle(i, n.m.Shutdown(s.now))
		}
	}
	n.up = false
}

// setPriority changes a node's priority as a tracked check would.
func (s *sim) setPriority(n *simNode, prio uint8) {
	s.logf("%s priority -> %d", n.name, prio)
	s.handle(s.index(n), n.m.SetPriority(prio, s.now))
}

func (s *sim) index(n *simNode) int {
	s.t.Helper()
	i := slices.Index(s.nodes, n)
	if i < 0 {
		s.t.Fatalf("node %s is not in the simulation", n.name)
	}
	return i
}

// reconfigure changes a node's Params before it starts.
func (s *sim) reconfigure(n *simNode, f func(p *Params)) {
	s.t.Helper()
	if n.started {
		s.t.Fatalf("reconfigure %s after its start", n.name)
	}
	f(&n.p)
	m, err := New(n.p)
	if err != nil {
		s.t.Fatalf("node %s: %v", n.name, err)
	}
	n.m = m
}

// quiesce delivers every advert in flight (running whatever else falls due
// meanwhile), so that a test acts on a network with nothing in transit.
func (s *sim) quiesce() {
	for len(s.queue) > 0 {
		s.step(s.queue[0].at.Add(maxLatency))
	}
}

func (s *sim) masters() []*simNode {
	var out []*simNode
	for _, n := range s.nodes {
		if n.up && n.m.State() == Master {
			out = append(out, n)
		}
	}
	return out
}

// best returns the live node with the highest (priority, address).
func (s *sim) best() *simNode {
	var b *simNode
	for _, n := range s.nodes {
		if !n.up {
			continue
		}
		if b == nil || n.m.Priority() > b.m.Priority() ||
			(n.m.Priority() == b.m.Priority() && compareAddr(n.p.Self, b.p.Self) > 0) {
			b = n
		}
	}
	return b
}

// assertConverged checks exactly one live MASTER, the best one, and every
// other live node in BACKUP.
func (s *sim) assertConverged(what string) *simNode {
	s.t.Helper()
	ms := s.masters()
	if len(ms) != 1 {
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.name
		}
		s.t.Fatalf("%s: %d masters %v, want exactly 1%s", what, len(ms), names, s.dump())
	}
	if b := s.best(); ms[0] != b {
		s.t.Fatalf("%s: master is %s (prio %d %v), want %s (prio %d %v)%s", what,
			ms[0].name, ms[0].m.Priority(), ms[0].p.Self, b.name, b.m.Priority(), b.p.Self, s.dump())
	}
	for _, n := range s.nodes {
		if n.up && n != ms[0] && n.m.State() != Backup {
			s.t.Fatalf("%s: %s is %v, want BACKUP%s", what, n.name, n.m.State(), s.dump())
		}
	}
	return ms[0]
}

// randomCluster builds 2 or 3 nodes with distinct priorities (one may be the
// owner), distinct addresses, random intervals and start times.
func randomCluster(s *sim) {
	n := 2 + s.rng.IntN(2)
	version := uint8(2 + s.rng.IntN(2))
	ipv6 := version == 3 && s.rng.IntN(2) == 0
	v2Interval := time.Duration(1+s.rng.IntN(2)) * time.Second
	v3Intervals := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, time.Second, 3 * time.Second}
	prios := map[uint8]bool{}
	hosts := map[int]bool{}
	for i := range n {
		var prio uint8
		for prio == 0 || prios[prio] {
			prio = uint8(1 + s.rng.IntN(254))
			if i == 0 && s.rng.IntN(5) == 0 {
				prio = PriorityOwner
			}
		}
		prios[prio] = true
		host := 0
		for host == 0 || hosts[host] {
			host = 1 + s.rng.IntN(250)
		}
		hosts[host] = true
		addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(host)})
		if ipv6 {
			addr = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", host))
		}
		interval := v2Interval
		if version == 3 {
			interval = v3Intervals[s.rng.IntN(len(v3Intervals))]
		}
		p := Params{Version: version, Priority: prio, AdvertInterval: interval, Preempt: true, Self: addr}
		start := time.Duration(s.rng.Int64N(int64(5 * time.Second)))
		s.add(fmt.Sprintf("n%d(p%d,%v,%v)", i, prio, addr, interval), p, start)
	}
}

// settle is long enough for any random cluster to converge: every node has
// started and several of the longest master-down intervals have passed.
const settle = 5*time.Second + 10*(3*3*time.Second+3*time.Second)

func TestSimRandomConvergenceAndCrash(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newSim(t, seed)
			randomCluster(s)
			s.runFor(settle)
			old := s.assertConverged("after start")

			// Crash the master: it simply stops sending.
			s.crash(old)
			next := s.best()
			down := next.m.MasterDownInterval() // with the interval learned from old
			crashAt := s.now
			s.runFor(settle)
			since, ok := next.masterSince()
			if !ok {
				t.Fatalf("%s not master after crash%s", next.name, s.dump())
			}
			if since.Before(crashAt) {
				t.Fatalf("%s became master at %v, before the crash at %v%s", next.name, since.Sub(t0), crashAt.Sub(t0), s.dump())
			}
			// Only masters send and the other live nodes rank below next,
			// so next's last advert is the one that armed its final timer.
			if next.lastRecv.After(since) {
				t.Fatalf("%s heard an advert at %v after taking over at %v%s", next.name, next.lastRecv.Sub(t0), since.Sub(t0), s.dump())
			}
			if limit := next.lastRecv.Add(down); since.After(limit) {
				t.Fatalf("%s became master at %v, more than Master_Down %v after the last advert at %v%s",
					next.name, since.Sub(t0), down, next.lastRecv.Sub(t0), s.dump())
			}
			s.assertConverged("after crash")
		})
	}
}

func TestSimRandomGracefulShutdown(t *testing.T) {
	for seed := uint64(1001); seed <= 1300; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newSim(t, seed)
			randomCluster(s)
			s.runFor(settle)
			old := s.assertConverged("after start")

			next := s.best2(old)
			stopAt := s.now
			s.shutdown(old)
			s.runFor(settle)
			since, ok := next.masterSince()
			if !ok {
				t.Fatalf("%s not master after shutdown%s", next.name, s.dump())
			}
			if next.zeroRecv.Before(stopAt) {
				t.Fatalf("%s never received the priority 0 advert%s", next.name, s.dump())
			}
			if want := next.zeroRecv.Add(next.zeroSkew); !since.Equal(want) {
				t.Fatalf("%s became master at %v, want priority-0 receipt %v + skew %v = %v%s",
					next.name, since.Sub(t0), next.zeroRecv.Sub(t0), next.zeroSkew, want.Sub(t0), s.dump())
			}
			s.assertConverged("after shutdown")
		})
	}
}

// best2 returns the best live node other than x.
func (s *sim) best2(x *simNode) *simNode {
	x.up = false
	defer func() { x.up = true }()
	return s.best()
}

func TestSimRandomNopreemptJoinerNeverTakesOver(t *testing.T) {
	for seed := uint64(2001); seed <= 2200; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newSim(t, seed)
			randomCluster(s)
			for _, n := range s.nodes {
				if n.p.Priority != PriorityOwner {
					n.p.Preempt = false
					n.m, _ = New(n.p)
				}
			}
			s.runFor(settle)
			ms := s.masters()
			if len(ms) != 1 {
				t.Fatalf("%d masters after start, want 1%s", len(ms), s.dump())
			}
			holder := ms[0]
			since, _ := holder.masterSince()
			// Only judge from here on: with mixed v3 intervals a node that
			// started late may time out on its own short interval before
			// it first hears a slow master. That is the protocol, not a
			// preemption.
			settled := s.now

			// A higher-priority nopreempt node joins; nobody takes over.
			// randomCluster uses hosts 1..250, so .251 / ::fb is free.
			joinAddr := netip.AddrFrom4([4]byte{198, 51, 100, 251})
			if s.nodes[0].p.Self.Is6() {
				joinAddr = netip.MustParseAddr("2001:db8::fb")
			}
			join := s.add("joiner(p254)", Params{
				Version: s.nodes[0].p.Version, Priority: 254, AdvertInterval: holder.p.AdvertInterval,
				Preempt: false, Self: joinAddr,
			}, time.Second)
			if holder.p.Priority == PriorityOwner {
				join.p.Priority = 253 // stay below an owner, which is always preemptive
				join.m, _ = New(join.p)
			}
			s.runFor(settle)
			if got, _ := holder.masterSince(); holder.m.State() != Master || !got.Equal(since) {
				t.Fatalf("%s lost or re-took mastership after a nopreempt node joined%s", holder.name, s.dump())
			}
			for _, n := range s.nodes {
				if n != holder && n.everMasterBetween(settled, s.now) {
					t.Fatalf("%s became master although %s was alive%s", n.name, holder.name, s.dump())
				}
			}
		})
	}
}

func TestSimScenarios(t *testing.T) {
	addr := func(h byte) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, h}) }
	p := func(prio uint8, h byte) Params {
		return Params{Version: 3, Priority: prio, AdvertInterval: time.Second, Preempt: true, Self: addr(h)}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s *sim)
	}{
		{"equal priority simultaneous start elects the higher address", func(t *testing.T, s *sim) {
			a := s.add("a", p(100, 1), 0)
			b := s.add("b", p(100, 2), 0)
			s.runFor(30 * time.Second)
			if b.m.State() != Master || a.m.State() != Backup {
				t.Fatalf("a=%v b=%v, want a BACKUP b MASTER%s", a.m.State(), b.m.State(), s.dump())
			}
		}},
		{"preempt takes over after one master-down interval", func(t *testing.T, s *sim) {
			low := s.add("low", p(50, 1), 0)
			s.runFor(10 * time.Second)
			high := s.add("high", p(150, 2), 0)
			joinAt := s.now
			s.runFor(30 * time.Second)
			since, ok := high.masterSince()
			if !ok || low.m.State() != Backup {
				t.Fatalf("high=%v low=%v%s", high.m.State(), low.m.State(), s.dump())
			}
			if want := joinAt.Add(high.m.MasterDownInterval()); !since.Equal(want) {
				t.Fatalf("high became master at %v, want start + master-down = %v%s", since.Sub(t0), want.Sub(t0), s.dump())
			}
		}},
		{"nopreempt higher node stays backup until the master dies", func(t *testing.T, s *sim) {
			low := s.add("low", p(50, 1), 0)
			s.runFor(10 * time.Second)
			hp := p(150, 2)
			hp.Preempt = false
			high := s.add("high", hp, 0)
			s.runFor(60 * time.Second)
			if low.m.State() != Master || high.m.State() != Backup {
				t.Fatalf("low=%v high=%v, want low MASTER high BACKUP%s", low.m.State(), high.m.State(), s.dump())
			}
			s.crash(low)
			s.runFor(10 * time.Second)
			if high.m.State() != Master {
				t.Fatalf("high=%v after the master crashed%s", high.m.State(), s.dump())
			}
		}},
		{"preempt_delay holds off the takeover", func(t *testing.T, s *sim) {
			low := s.add("low", p(50, 1), 0)
			s.runFor(10 * time.Second)
			hp := p(150, 2)
			hp.PreemptDelay = 20 * time.Second
			high := s.add("high", hp, 0)
			s.runFor(2 * time.Second)
			firstHeard := high.firstRecv
			if firstHeard.IsZero() {
				t.Fatalf("high heard nothing from low%s", s.dump())
			}
			s.runFor(60 * time.Second)
			since, ok := high.masterSince()
			if !ok || low.m.State() != Backup {
				t.Fatalf("high=%v low=%v%s", high.m.State(), low.m.State(), s.dump())
			}
			earliest := firstHeard.Add(hp.PreemptDelay)
			latest := earliest.Add(high.m.MasterDownInterval())
			if since.Before(earliest) || since.After(latest) {
				t.Fatalf("high became master at %v, want within [%v, %v]%s", since.Sub(t0), earliest.Sub(t0), latest.Sub(t0), s.dump())
			}
		}},
		{"owner takes over at once from a running master", func(t *testing.T, s *sim) {
			low := s.add("low", p(100, 9), 0)
			s.runFor(10 * time.Second)
			owner := s.add("owner", p(255, 1), 0)
			joinAt := s.now
			s.runFor(time.Second)
			if since, ok := owner.masterSince(); !ok || !since.Equal(joinAt) {
				t.Fatalf("owner=%v since %v, want MASTER from %v%s", owner.m.State(), since.Sub(t0), joinAt.Sub(t0), s.dump())
			}
			if low.m.State() != Backup {
				t.Fatalf("low=%v, want BACKUP%s", low.m.State(), s.dump())
			}
		}},
		{"lower priority split-brain master is told to step down", func(t *testing.T, s *sim) {
			high := s.add("high", p(150, 2), 0)
			lp := p(50, 1)
			lp.AdvertInterval = 100 * time.Millisecond // so low speaks first after the heal
			low := s.add("low", lp, 0)
			s.runFor(10 * time.Second)
			s.assertConverged("before the partition")
			s.cut = true
			s.runFor(10 * time.Second)
			if high.m.State() != Master || low.m.State() != Master {
				t.Fatalf("high=%v low=%v, want both MASTER during the partition%s", high.m.State(), low.m.State(), s.dump())
			}
			s.cut = false
			s.runFor(5 * time.Second)
			if high.reasserts == 0 {
				t.Fatalf("high never reported a Reassert%s", s.dump())
			}
			s.assertConverged("after the partition heals")
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newSim(t, uint64(5000+i)))
		})
	}
}
