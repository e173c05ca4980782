package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/metrics"
	"github.com/vipd/vipd/priority"
)

// clusterLink ties the agent to its gossip cluster. On every wake of the
// agent's loop (and a steady tick) it publishes this node's instance and
// check states, gives instances with `peers: gossip` the members running
// the same instance as unicast peers, runs the split-brain guard and the
// re-assert, and carries N-way orders cluster-wide. It only runs on the
// agent's goroutine; the Cluster calls back through poke.
type clusterLink struct {
	c    *gossip.Cluster
	name string
	log  *slog.Logger

	poke    func() // wakes the agent's loop
	metrics *metrics.Metrics

	peers      map[string][]netip.Addr // last peers given to each instance
	guardSince map[string]time.Time    // when a better remote master was first seen
	guardCheck map[string]time.Time    // held: when its master must next answer a ping
	guardMiss  map[string]int          // held: consecutive pings its master missed
	reasserted map[string]string       // instance → remote master (node@since) re-asserted against
	orders     map[string]orderKey     // instance → order version applied
	reads      *orderReads             // what this node last read of its local orders
	join       joinWait                // require_join (joinwait.go)
	wake       linkWake                // due times gathered in a round (wake.go)

	// SplitBrainYields counts how often the guard started holding an
	// instance (a master yielding, or a backup kept from taking over).
	SplitBrainYields atomic.Uint64

	// Direct pings to other masters, run off the agent's goroutine (a ping
	// waits up to the probe timeout); owned by ctx, waited for in stop.
	ctx     context.Context
	wg      sync.WaitGroup
	probeMu sync.Mutex
	probes  map[string]*probe // member name → latest ping
	// pinger, when set (a unit test), replaces gossip's direct ping.
	pinger func(node string) error
}

// probe is one direct ping of a member: when it was started (agent clock)
// and, once done, whether the member answered.
type probe struct {
	started  time.Time
	done, ok bool
}

// liveness is what a ping says about a member.
type liveness int

const (
	pending liveness = iota
	alive
	unreachable
)

// syncInterval is the shortest time between two rounds of the link that
// no event asked for (nextWake, in wake.go): due times closer together
// than that are taken in one round.
const syncInterval = 250 * time.Millisecond

func newClusterLink(cfg *config.Config, version string, log *slog.Logger, onChange func(), events *hub, onCommand func(gossip.Command)) (*clusterLink, error) {
	az, err := zoneOf(cfg.Gossip)
	if err != nil {
		return nil, err
	}
	ev := newClusterEvents(events, cfg.Node.Name)
	c, err := gossip.New(cfg.Gossip, cfg.Node.Name, gossip.Options{
		Log:  log.With("component", "gossip"),
		Meta: gossip.NodeMeta{Name: cfg.Node.Name, AZ: az, Version: version, APIAddr: cfg.API.AdvertiseAddr()},
		OnChange: func(e gossip.Event) {
			onChange()
			ev.handle(e)
		},
		OnCommand: onCommand,
	})
	if err != nil {
		return nil, err
	}
	ev.c = c
	return &clusterLink{
		c: c, name: cfg.Gossip.ClusterName, log: log.With("component", "cluster"), poke: onChange,
		ctx:        context.Background(),
		join:       newJoinWait(cfg.Gossip),
		peers:      map[string][]netip.Addr{},
		guardSince: map[string]time.Time{},
		guardCheck: map[string]time.Time{},
		guardMiss:  map[string]int{},
		probes:     map[string]*probe{},
		reasserted: map[string]string{},
		orders:     map[string]orderKey{},
		reads:      loadOrderReads(orderReadsPath(cfg.Gossip), log.With("component", "cluster")),
	}, nil
}

// imdsTimeout bounds the instance metadata lookup of `az: imds` at start.
const imdsTimeout = 10 * time.Second

// zoneOf is the availability zone the node advertises: the configured one,
// or with `az: imds` the zone EC2's instance metadata (IMDSv2) names.
func zoneOf(g *config.Gossip) (string, error) {
	if g.AZ != config.GossipAZFromIMDS {
		return g.AZ, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), imdsTimeout)
	defer cancel()
	id, err := cloudmove.DiscoverIdentity(ctx, os.Getenv(imdsEndpointEnv))
	if err != nil {
		return "", fmt.Errorf("gossip.az: %s: %w", config.GossipAZFromIMDS, err)
	}
	return id.AZ, nil
}

// sync runs one round; now comes from the agent's clock.
func (l *clusterLink) sync(now time.Time, t *tracking, running map[string]*running) {
	l.wake = linkWake{} // due times of this round only
	l.join.observe(running)
	l.syncJoinWait(now, t)
	l.publish(t, running)
	l.syncOrders(t)
	states := l.c.States()
	for name, r := range running {
		ic := r.cfg
		if ic.PeersFromGossip {
			want := slices.Clone(ic.UnicastPeers)
			for _, p := range l.c.Peers(l.name, ic.VRID, ic.Family) {
				if !slices.Contains(want, p) {
					want = append(want, p)
				}
			}
			slices.SortFunc(want, func(a, b netip.Addr) int { return a.Compare(b) })
			if !slices.Equal(want, l.peers[name]) {
				l.peers[name] = want
				l.log.Info("unicast peers from gossip", "instance", name, "peers", fmt.Sprint(want))
				r.inst.SetPeers(want)
			}
		}
		l.guard(now, t, name, r, states)
	}
}

// publish sends this node's view of its instances and checks.
func (l *clusterLink) publish(t *tracking, running map[string]*running) {
	s := gossip.NodeState{Node: l.c.Name()}
	s.Maintenance = t.maintenance()
	for name, r := range running {
		v := t.view(name)
		s.Instances = append(s.Instances, gossip.InstanceState{
			Name: name, VRID: r.cfg.VRID, Family: r.cfg.Family, Cluster: l.name,
			Src: r.inst.Source(), State: r.inst.State(), Priority: r.inst.Priority(),
			Reason: v.reason, Master: r.inst.Master(), Since: v.since,
		})
	}
	for _, cr := range t.runners {
		st := cr.runner.Status()
		s.Checks = append(s.Checks, gossip.CheckState{
			Name: st.Name, Healthy: st.Healthy, State: st.State, Since: st.Since, Output: st.LastResult.Output,
		})
	}
	sort.Slice(s.Instances, func(i, j int) bool { return s.Instances[i].Name < s.Instances[j].Name })
	sort.Slice(s.Checks, func(i, j int) bool { return s.Checks[i].Name < s.Checks[j].Name })
	if err := l.c.SetLocal(s); err != nil {
		l.log.Warn("cannot publish local state", "err", err)
	}
}

// syncOrders publishes the local orders that were edited (see
// publishOrders and orderReads: a re-read is not an edit), and makes the
// cluster's orders (newest writer wins) the ones priorities come from.
func (l *clusterLink) syncOrders(t *tracking) {
	local, configured := t.localOrders() // configured: instances with a local order
	if configured != nil {
		l.reads.forgetExcept(func(inst string) bool { return configured[inst] })
	}
	orders := publishOrders(l.c, l.reads, local, l.log)
	for inst, e := range orders {
		// Two writers can pick the same version; the origin tells them apart.
		if k := (orderKey{e.Version, e.Origin}); l.orders[inst] == k && t.hasShared(inst) {
			continue
		}
		l.orders[inst] = orderKey{e.Version, e.Origin}
		list := &priority.Order{Instance: inst, Version: e.Version, Origin: e.Origin,
			Source: fmt.Sprintf("cluster order (version %d from %s)", e.Version, e.Origin)}
		for i, n := range e.Nodes {
			list.Nodes = append(list.Nodes, priority.OrderNode{Name: n.Name, Disabled: n.Disabled, Line: i + 1})
		}
		t.setShared(inst, list)
		l.log.Info("cluster order in effect", "instance", inst, "version", e.Version, "origin", e.Origin)
		// This round applied the priorities before the order arrived:
		// wake the agent for another, or nothing would until the next
		// event (no round runs on a fixed tick any more).
		t.poke()
	}
}

// orderKey identifies one written version of an order.
type orderKey struct {
	version uint64
	origin  string
}

// guard is the split-brain guard and the gossip half of re-assert, for one
// instance, whatever its state. If another live node says it is MASTER of
// this instance with a better priority (or an equal one and a higher
// address) than ours, and its adverts have not reached us for a
// master-down's worth of adverts, a VRRP fault (a filter that drops
// protocol 112, say) keeps us from following it: as a MASTER we are a
// second one, and as a BACKUP we would become one as soon as our own
// side's master steps down. After the guard interval, and once that node
// has answered a direct ping, the instance is held in BACKUP: a MASTER
// steps down without a priority-0 advert (HoldQuietly), a BACKUP never
// takes over, so the whole cut-off side stands still at once rather than
// node after node. The hold ends when that master's adverts are heard
// again (VRRP decides), when it is gone from the view, or when it stops
// answering pings. A better master that a master we hear outranks is not
// ours to act on: that master decides. If a worse node claims MASTER while
// we are, it acted as master without hearing us: re-announce our VIPs now.
//
// The ping is what makes the guard safe against a master that has just
// crashed: its last published state says MASTER until gossip declares it
// dead, which takes longer than VRRP's failover. A crashed node does not
// answer, so nobody is held by it; and a node held by the guard is
// released when the master it yielded to stops answering.
func (l *clusterLink) guard(now time.Time, t *tracking, name string, r *running, states map[string]gossip.NodeState) {
	ic := r.cfg
	v := guardView(l.c.Name(), l.name, ic, rank{r.inst.Priority(), r.inst.Source()}, states,
		func(src netip.Addr) bool { return l.hears(now, r, src) })
	threat, threatNode, heard, worse, worseNode := v.threat, v.threatNode, v.heard, v.worse, v.worseNode
	held := t.guarded(name) != ""
	// The guard waits longer than VRRP itself would take to settle, so it
	// only acts when adverts really are not getting through.
	interval := guardInterval(ic)
	switch {
	case threat != nil:
		if l.guardSince[name].IsZero() {
			l.guardSince[name] = now
		}
		if held {
			l.recheck(now, t, name, threatNode, interval)
			break
		}
		due := l.guardSince[name].Add(interval)
		if now.Before(due) {
			break
		}
		switch l.ping(threatNode, now, due) {
		case alive:
			l.SplitBrainYields.Add(1)
			if l.metrics != nil {
				l.metrics.ObserveSplitBrain(name)
			}
			if r.inst.State() == fsm.Master {
				l.log.Warn("split-brain guard: another node is master with a better priority but its adverts do not reach us; yielding",
					"instance", name, "other", threat.Src, "other_node", threatNode, "other_priority", threat.Priority)
			} else {
				l.log.Warn("split-brain guard: another node is master with a better priority but its adverts do not reach us; holding in BACKUP",
					"instance", name, "state", r.inst.State().String(), "other", threat.Src, "other_node", threatNode, "other_priority", threat.Priority)
			}
			l.guardCheck[name] = now.Add(interval)
			l.guardMiss[name] = 0
			t.setGuard(name, guardReason(threatNode, threat))
			t.poke()
		case unreachable:
			// Probably dead, its state not yet dropped: hold nobody, and
			// look again after another interval.
			l.log.Info("split-brain guard: the better master in the cluster view does not answer a ping; not holding",
				"instance", name, "other_node", threatNode, "state", r.inst.State().String())
			l.guardSince[name] = now
		}
	default:
		delete(l.guardSince, name)
		if held {
			why := "split-brain guard released: no better master unheard in the cluster view"
			if heard != nil {
				why = "split-brain guard released: the better master's adverts arrive; VRRP decides"
			}
			l.release(t, name, why)
		}
	}
	if worse != nil && r.inst.State() == fsm.Master {
		key := worseNode + "@" + worse.Since.String()
		if l.reasserted[name] != key {
			l.reasserted[name] = key
			r.inst.Reannounce(worse.Src)
			if t.cloud != nil {
				t.cloud.reassert(name)
			}
		}
	} else {
		delete(l.reasserted, name)
	}
}

// guardSeen is what the guard makes of the cluster view for one instance.
type guardSeen struct {
	threat     *gossip.InstanceState // the best better master not heard here, unless a heard one outranks it
	threatNode string
	heard      *gossip.InstanceState // the best better master heard here
	worse      *gossip.InstanceState // a master that we outrank
	worseNode  string
}

// guardView sorts the other nodes' masters of ic (same cluster, VRID and
// family) by how they rank against self and whether hears says their
// adverts arrive. It is the guard's whole decision of whom to act on,
// kept apart from the pings and holds.
func guardView(me, cluster string, ic *config.Instance, self rank, states map[string]gossip.NodeState, hears func(netip.Addr) bool) guardSeen {
	var v guardSeen
	for node, ns := range states {
		if node == me {
			continue
		}
		for i := range ns.Instances {
			is := &ns.Instances[i]
			if is.Cluster != cluster || is.VRID != ic.VRID || is.Family != ic.Family || is.State != fsm.Master {
				continue
			}
			switch {
			case !rankOf(is).outranks(self):
				v.worse, v.worseNode = is, node
			case hears(is.Src):
				if v.heard == nil || rankOf(is).outranks(rankOf(v.heard)) {
					v.heard = is
				}
			case v.threat == nil || rankOf(is).outranks(rankOf(v.threat)):
				v.threat, v.threatNode = is, node
			}
		}
	}
	if v.threat != nil && v.heard != nil && rankOf(v.heard).outranks(rankOf(v.threat)) {
		v.threat, v.threatNode = nil, ""
	}
	return v
}

// guardReason is the hold's reason, shown by `vipd status` and carried in
// the transition of a master that steps down.
func guardReason(node string, is *gossip.InstanceState) string {
	return fmt.Sprintf("split-brain guard: %s (%s, priority %d) is master and its adverts do not arrive", node, is.Src, is.Priority)
}

// rank is what VRRP elects by: the priority, then the address.
type rank struct {
	prio uint8
	addr netip.Addr
}

func rankOf(is *gossip.InstanceState) rank { return rank{is.Priority, is.Src} }

// outranks reports whether a master with rank a wins over one with rank b.
func (a rank) outranks(b rank) bool {
	return a.prio > b.prio || a.prio == b.prio && a.addr.Unmap().Compare(b.addr.Unmap()) > 0
}

// hears reports whether an advert from src reached r within the last
// master-down's worth of adverts (three, as VRRP counts before it takes a
// master for dead).
func (l *clusterLink) hears(now time.Time, r *running, src netip.Addr) bool {
	at := r.inst.LastHeard(src)
	heard := !at.IsZero() && now.Sub(at) < heardWithin(r.cfg)
	if heard {
		// It stops counting then, unless heard again: look within the
		// advert before (a master-down deadline wakes the scheduler then).
		end := at.Add(heardWithin(r.cfg))
		l.wake.at(end.Add(-r.cfg.AdvertInterval), end)
	}
	return heard
}

// heardWithin is how recent the last advert of a master must be for the
// guard to count it as heard.
func heardWithin(ic *config.Instance) time.Duration { return 3 * ic.AdvertInterval }

// guardInterval is how long a better master must stay unheard before the
// guard acts: three adverts and a second, so that VRRP settles any real
// election first.
func guardInterval(ic *config.Instance) time.Duration {
	return 3*ic.AdvertInterval + time.Second
}

// guardMisses is how many pings in a row the master a held instance
// yielded to must miss before the hold is released: one lost UDP packet
// must not bring back a second master.
const guardMisses = 2

// recheck pings, once per interval, the master a held instance yielded to,
// and releases the hold once it stops answering.
func (l *clusterLink) recheck(now time.Time, t *tracking, name, node string, interval time.Duration) {
	due := l.guardCheck[name]
	if now.Before(due) {
		return
	}
	switch l.ping(node, now, due) {
	case alive:
		l.guardMiss[name] = 0
		l.guardCheck[name] = now.Add(interval)
	case unreachable:
		l.guardMiss[name]++
		l.guardCheck[name] = now
		if l.guardMiss[name] >= guardMisses {
			delete(l.guardSince, name)
			l.release(t, name, "split-brain guard released: the master yielded to does not answer pings")
		}
	}
}

// release ends an instance's guard hold.
func (l *clusterLink) release(t *tracking, name, msg string) {
	l.log.Info(msg, "instance", name)
	delete(l.guardCheck, name)
	delete(l.guardMiss, name)
	t.setGuard(name, "")
	t.poke()
}

// ping reports whether node answered a direct ping started at or after
// notBefore; if there is none yet, it starts one and reports pending. The
// ping runs on its own goroutine and wakes the agent when done.
func (l *clusterLink) ping(node string, now, notBefore time.Time) liveness {
	l.probeMu.Lock()
	defer l.probeMu.Unlock()
	p := l.probes[node]
	switch {
	case p != nil && !p.done:
		return pending
	case p != nil && !p.started.Before(notBefore):
		if p.ok {
			return alive
		}
		return unreachable
	case l.ctx.Err() != nil:
		return pending
	}
	p = &probe{started: now}
	l.probes[node] = p
	l.wg.Go(func() {
		err := l.pingMember(node)
		if err != nil {
			l.log.Debug("ping failed", "node", node, "err", err)
		}
		l.probeMu.Lock()
		p.done, p.ok = true, err == nil
		l.probeMu.Unlock()
		if l.ctx.Err() == nil {
			l.poke()
		}
	})
	return pending
}

// pingMember pings node directly over gossip (or asks l.pinger).
func (l *clusterLink) pingMember(node string) error {
	if l.pinger != nil {
		return l.pinger(node)
	}
	_, err := l.c.Ping(node)
	return err
}

// reload applies what a new configuration changes in a running cluster:
// the encryption keys (rotation without downtime: install the new key
// everywhere, make it first, then drop the old one, one reload each).
// Other gossip settings take effect at the next start.
func (l *clusterLink) reload(cfg *config.Config) {
	if cfg.Gossip == nil {
		l.log.Warn("gossip section removed: takes effect at the next start")
		return
	}
	if g := cfg.Gossip; g.RequireJoin != l.join.require || g.RequireJoinTimeout != l.join.timeout {
		// The escape of require_join: turning it off (or shortening its
		// timeout) takes effect at the next sync.
		l.join.require, l.join.timeout = g.RequireJoin, g.RequireJoinTimeout
		l.log.Info("require_join reloaded", "require_join", g.RequireJoin, "timeout", g.RequireJoinTimeout)
	}
	keys, err := gossip.LoadKeys(cfg.Gossip)
	if err != nil {
		l.log.Error("gossip keys not reloaded", "err", err)
		return
	}
	if len(keys) == 0 {
		return
	}
	if err := l.c.UpdateKeys(keys); err != nil {
		l.log.Error("gossip keys not reloaded", "err", err)
		return
	}
	l.log.Info("gossip keys reloaded", "keys", len(keys))
}

// start joins the cluster; stop leaves it gracefully.
func (l *clusterLink) start(ctx context.Context) error {
	l.ctx = ctx
	return l.c.Start(ctx)
}

func (l *clusterLink) stop() {
	// Pings in flight end within the probe timeout.
	l.wg.Wait()
	if err := l.c.Leave(2 * time.Second); err != nil {
		l.log.Warn("leaving the gossip cluster", "err", err)
	}
}
