package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/notify"
)

// masterState is node's published state: MASTER of instance web (VRID 51,
// IPv4, cluster t) from src with prio.
func masterState(node string, src netip.Addr, prio uint8) gossip.NodeState {
	return gossip.NodeState{Node: node, Instances: []gossip.InstanceState{{
		Name: "web", VRID: 51, Family: 4, Cluster: "t", Src: src, State: fsm.Master, Priority: prio,
	}}}
}

// guardView decides whom the guard acts on: the best better master not
// heard here, unless a heard master outranks it; never a worse one.
func TestGuardView(t *testing.T) {
	ic := testInstance("web", 51, 100, notify.Config{})
	self := rank{100, netip.MustParseAddr("203.0.113.2")}
	a1 := netip.MustParseAddr("198.51.100.1")
	a2 := netip.MustParseAddr("198.51.100.2")
	a3 := netip.MustParseAddr("203.0.113.3")
	for _, tc := range []struct {
		name       string
		states     []gossip.NodeState
		heard      []netip.Addr
		threat     string
		worse      string
		heardMastr bool
	}{
		{name: "a better master heard", states: []gossip.NodeState{masterState("n1", a1, 200)}, heard: []netip.Addr{a1}, heardMastr: true},
		{name: "a better master not heard", states: []gossip.NodeState{masterState("n1", a1, 200)}, threat: "n1"},
		{name: "a worse master", states: []gossip.NodeState{masterState("n5", a2, 50)}, worse: "n5"},
		{name: "equal priority, higher address", states: []gossip.NodeState{masterState("n3", a3, 100)}, threat: "n3"},
		{name: "equal priority, lower address", states: []gossip.NodeState{masterState("n1", a1, 100)}, worse: "n1"},
		// A backup of the cut-off side: it follows its own side's master
		// (heard) while the better one is not heard.
		{name: "own side's master heard, a better one not", states: []gossip.NodeState{masterState("n1", a1, 200), masterState("n3", a3, 150)},
			heard: []netip.Addr{a3}, threat: "n1", heardMastr: true},
		// A backup of the healthy side: the master it hears outranks the
		// cut-off one, which is that master's business.
		{name: "a heard master outranks the unheard one", states: []gossip.NodeState{masterState("n1", a1, 200), masterState("n3", a3, 150)},
			heard: []netip.Addr{a1}, heardMastr: true},
		{name: "two unheard: the best", states: []gossip.NodeState{masterState("n2", a2, 180), masterState("n1", a1, 200)}, threat: "n1"},
		{name: "another VRID", states: []gossip.NodeState{func() gossip.NodeState {
			s := masterState("n1", a1, 200)
			s.Instances[0].VRID = 52
			return s
		}()}},
		{name: "a backup", states: []gossip.NodeState{func() gossip.NodeState {
			s := masterState("n1", a1, 200)
			s.Instances[0].State = fsm.Backup
			return s
		}()}},
		{name: "this node's own state", states: []gossip.NodeState{masterState("me", a1, 200)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			states := map[string]gossip.NodeState{}
			for _, s := range tc.states {
				states[s.Node] = s
			}
			hears := func(a netip.Addr) bool {
				for _, h := range tc.heard {
					if h == a {
						return true
					}
				}
				return false
			}
			v := guardView("me", "t", ic, self, states, hears)
			if v.threatNode != tc.threat || (v.threat != nil) != (tc.threat != "") {
				t.Errorf("threat %q (%v), want %q", v.threatNode, v.threat, tc.threat)
			}
			if v.worseNode != tc.worse {
				t.Errorf("worse %q, want %q", v.worseNode, tc.worse)
			}
			if (v.heard != nil) != tc.heardMastr {
				t.Errorf("heard %v, want one: %v", v.heard, tc.heardMastr)
			}
		})
	}
}

// guardRig is one instance under the guard of a cluster link whose
// gossip view and pings the test sets, run inside a synctest bubble: time
// is virtual, and synctest.Wait says when the instance, the ping and the
// notifier have done all they can.
type guardRig struct {
	t     *testing.T
	tr    *tracking
	l     *clusterLink
	r     *running
	run_  map[string]*running
	pings atomic.Int32
	dead  atomic.Bool // the better master does not answer pings
	poked chan struct{}
	view  map[string]gossip.NodeState
}

var guardMaster = netip.MustParseAddr("198.51.100.9")

// newGuardRig starts instance web (priority 100, alone on a null network)
// and a link that sees n1 as MASTER with priority 200. It must run in a
// synctest bubble; everything stops at the end of the bubble's function.
func newGuardRig(t *testing.T) (*guardRig, func()) {
	t.Helper()
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	ic := testInstance("web", 51, 100, notify.Config{})
	cfg := baseConfig(ic)
	n := notify.New(notify.Options{Log: quietLog})
	ctx, cancel := context.WithCancel(context.Background())
	go n.Run(ctx)
	tr := testTracking(cfg, n)
	g := &guardRig{t: t, tr: tr, poked: make(chan struct{}, 1)}
	gc := config.DefaultGossip()
	gc.ClusterName, gc.StateFile = "t", filepath.Join(t.TempDir(), "state.json")
	c, err := gossip.New(gc, "me", gossip.Options{Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	g.l = &clusterLink{c: c, name: "t", log: quietLog, ctx: ctx,
		poke: func() {
			select {
			case g.poked <- struct{}{}:
			default:
			}
		},
		guardSince: map[string]time.Time{}, guardCheck: map[string]time.Time{}, guardMiss: map[string]int{},
		probes: map[string]*probe{}, reasserted: map[string]string{},
		pinger: func(string) error {
			g.pings.Add(1)
			if g.dead.Load() {
				return errors.New("no answer")
			}
			return nil
		}}
	inst, err := election.NewInstance(ic, testSelf, nullNet{}, election.Deps{
		Clock: clock.Real(), Log: quietLog, Addrs: nullNet{}, Announcer: nullNet{}, Drops: &election.DropCounter{}, Observer: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	init, _ := tr.begin(ic)
	inst.Prime(init.Priority, init.Fault, init.Reason, time.Now())
	g.r = &running{cfg: ic, inst: inst, done: make(chan struct{})}
	g.run_ = map[string]*running{"web": g.r}
	go func() { defer close(g.r.done); _ = inst.Run(ctx) }()
	g.view = map[string]gossip.NodeState{"n1": masterState("n1", guardMaster, 200)}
	synctest.Wait()
	return g, func() {
		cancel()
		<-g.r.done
		g.l.wg.Wait()
	}
}

// speaker is a router whose adverts reach the instance.
type speaker struct {
	src  netip.Addr
	prio uint8
}

// n1 is the better master of every guard test; ownSide a master of the
// instance's own side, better than it and worse than n1.
var (
	n1      = speaker{guardMaster, 200}
	ownSide = speaker{netip.MustParseAddr("198.51.100.3"), 150}
)

// sync runs the guard as the agent's loop does, a ping's answer included
// (it arrives on the ping's goroutine, which wakes the loop), then applies
// tracking and lets the instance act.
func (g *guardRig) sync() {
	g.l.guard(time.Now(), g.tr, "web", g.r, g.view)
	synctest.Wait()
	select {
	case <-g.poked: // a ping answered
		g.l.guard(time.Now(), g.tr, "web", g.r, g.view)
	default:
	}
	g.tr.apply(g.run_)
	synctest.Wait()
}

// run lets d of virtual time pass in sync ticks, running the guard at
// each, with an advert of every one of heard each second.
func (g *guardRig) run(d time.Duration, heard ...speaker) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(syncInterval)
		if time.Since(time.Now().Truncate(time.Second)) < syncInterval {
			for _, s := range heard {
				g.r.inst.Deliver(vrrp.Advert{Version: 3, VRID: 51, Priority: s.prio, Interval: time.Second}, s.src, vrrp.MulticastIPv4, 255)
			}
			synctest.Wait()
		}
		g.sync()
	}
}

func (g *guardRig) guarded() string {
	return g.tr.guarded("web")
}

func (g *guardRig) held() bool {
	return g.tr.view("web").held
}

// A BACKUP that sees, through gossip, a better live master it does not
// hear is held while it follows a master of its own side, so that when
// that one steps down it does not take over in turn; the hold ends when
// the better master's adverts arrive again.
func TestGuardHoldsBackup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, stop := newGuardRig(t)
		defer stop()
		g.run(10*time.Second, n1) // hears the master: nothing to do
		if g.guarded() != "" || g.pings.Load() != 0 || g.r.inst.State() != fsm.Backup {
			t.Fatalf("hearing the master: guard %q, %d pings, %v; want no hold, no ping, BACKUP", g.guarded(), g.pings.Load(), g.r.inst.State())
		}
		// VRRP from n1 is cut; a master of this side takes over (as far
		// as this backup can tell: it is heard and gossip says MASTER).
		g.view["n3"] = masterState("n3", ownSide.src, ownSide.prio)
		g.run(heardWithin(g.r.cfg)+guardInterval(g.r.cfg)+syncInterval, ownSide)
		if why := g.guarded(); why == "" || !g.held() {
			t.Fatalf("n1 unheard for %v: not held", heardWithin(g.r.cfg)+guardInterval(g.r.cfg))
		} else if want := guardReason("n1", &g.view["n1"].Instances[0]); why != want {
			t.Errorf("reason %q, want %q", why, want)
		}
		if s := g.r.inst.State(); s != fsm.Backup {
			t.Fatalf("following this side's master: %v, want BACKUP", s)
		}
		// This side's master is held in turn and falls silent: this
		// backup must not take over after its master-down interval.
		g.view["n3"] = gossip.NodeState{Node: "n3"}
		g.run(20 * time.Second)
		if s := g.r.inst.State(); s != fsm.Backup || g.guarded() == "" {
			t.Fatalf("held backup, its side's master silent for 20 s: %v, guard %q; want BACKUP and held", s, g.guarded())
		}
		// VRRP heals: n1's next advert releases the hold at the next tick.
		g.run(time.Second, n1)
		if g.guarded() != "" || g.held() {
			t.Fatalf("n1 heard again: guard %q, held %v", g.guarded(), g.held())
		}
		if s := g.r.inst.State(); s != fsm.Backup {
			t.Fatalf("released while hearing the better master: %v, want BACKUP", s)
		}
	})
}

// A master whose last gossip state says MASTER but that does not answer
// (crashed, not yet declared dead) holds nobody: the backup takes over
// after its master-down interval and stays MASTER.
func TestGuardDeadMasterHoldsNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, stop := newGuardRig(t)
		defer stop()
		g.run(5*time.Second, n1)
		g.dead.Store(true)
		g.run(3 * guardInterval(g.r.cfg))
		if g.pings.Load() == 0 {
			t.Fatal("the guard never pinged the stale master: the case did not arise")
		}
		if s := g.r.inst.State(); s != fsm.Master || g.guarded() != "" {
			t.Fatalf("after the master's crash: %v, guard %q; want MASTER, no hold", s, g.guarded())
		}
	})
}

// A held backup is released once the master it is held by misses two
// pings in a row, and then takes over.
func TestGuardReleasedWhenMasterStopsAnswering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, stop := newGuardRig(t)
		defer stop()
		g.run(5*time.Second, n1)
		g.run(heardWithin(g.r.cfg) + guardInterval(g.r.cfg) + syncInterval)
		if g.guarded() == "" {
			t.Fatal("not held")
		}
		g.dead.Store(true)
		g.run(guardInterval(g.r.cfg) + syncInterval)
		if g.guarded() != "" {
			t.Fatalf("still held %v after the master stopped answering", guardInterval(g.r.cfg)+syncInterval)
		}
		g.run(time.Second)
		if s := g.r.inst.State(); s != fsm.Master {
			t.Fatalf("released, no master heard: %v a second later, want MASTER", s)
		}
	})
}

// A MASTER that does not hear a better live master steps down and is
// held.
func TestGuardMasterYields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, stop := newGuardRig(t)
		defer stop()
		n1 := g.view["n1"]
		g.view = map[string]gossip.NodeState{} // n1 not seen yet
		g.run(5 * time.Second)
		if s := g.r.inst.State(); s != fsm.Master {
			t.Fatalf("alone for 5 s: %v, want MASTER", s)
		}
		// Gossip now shows n1 as MASTER (the two masters of a VRRP cut):
		// nothing for a guard interval, then a ping, and the yield.
		g.view["n1"] = n1
		g.run(guardInterval(g.r.cfg) - syncInterval)
		if s := g.r.inst.State(); s != fsm.Master || g.guarded() != "" || g.pings.Load() != 0 {
			t.Fatalf("within the guard interval: %v, guard %q, %d pings; want MASTER, no hold, no ping", s, g.guarded(), g.pings.Load())
		}
		g.run(2 * syncInterval)
		if s := g.r.inst.State(); s != fsm.Backup || g.guarded() == "" {
			t.Fatalf("master with a better unheard master: %v, guard %q; want BACKUP, held", s, g.guarded())
		}
		if n := g.l.SplitBrainYields.Load(); n != 1 {
			t.Errorf("%d yields counted, want 1", n)
		}
	})
}
