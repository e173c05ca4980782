package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/metrics"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// tracking turns check results and order lists into each instance's
// effective priority and fault state, keeps sync groups together, and tells
// the notify scripts. Check runners, order watchers and instances report
// into it from their own goroutines through the mutex-guarded state and the
// agent's waker; the agent's goroutine does the recomputing and applying,
// so nothing that reports ever blocks on an instance.
//
// Its mutex is private to this file: the agent's other files (and the
// tests) read and change tracking through the methods here, each taking
// the lock itself. Helpers in syncgroup.go and joinwait.go are called with
// it held.
type tracking struct {
	// Set by newTracking, never changed.
	log      *slog.Logger
	clock    clock.Clock
	notifier *notify.Notifier
	wake     waker
	// node is this node's name for the agent's whole life: a reload does
	// not rename a running node (see Agent.apply).
	node string
	// gossipMembers, when this node gossips, lists the cluster's members:
	// the names order lists are checked against.
	gossipMembers func() []gossip.Member
	cloud         *clouds
	events        *hub
	metrics       *metrics.Metrics
	// timers is the instances' Scheduler: check runners pace on it, so
	// an interface check's safety re-read rides an advert's wake-up.
	timers        *clock.Scheduler
	orderInterval time.Duration

	mu      sync.Mutex
	cfg     *config.Config
	checks  map[string]*config.Check
	states  map[string]priority.CheckState
	lists   map[string]*priority.Order // by instance name
	shared  map[string]*priority.Order // cluster-wide orders from gossip, by instance
	insts   map[string]*instanceTrack  // each running instance's record (begin, forget)
	groups  map[string]fsm.State       // sync group → last notified state
	maint   bool                       // maintenance: every instance held in BACKUP
	wait    string                     // why require_join holds the `peers: gossip` instances (joinwait.go)
	checkSt map[string]checks.State    // each check's last state, for watch events

	// Owned by the agent's goroutine.
	runners  map[string]*checkRun
	watchers map[string]*watchRun // by instance name
}

// trackingOptions are what tracking is built with; only Log, Clock and
// Notifier are required.
type trackingOptions struct {
	Log      *slog.Logger
	Clock    clock.Clock
	Notifier *notify.Notifier
	// Wake is the agent loop's waker, poked whenever something changed;
	// nil makes one of its own.
	Wake waker
	// Node is this node's name.
	Node string
	// Members lists the gossip cluster's members; nil when this node does
	// not gossip.
	Members func() []gossip.Member
	// Cloud, if set, puts an instance whose cloud actions failed with
	// on_failure: fault in FAULT, and hears of its transitions.
	Cloud *clouds
	// Events, if set, gets the instances' and checks' watch events.
	Events *hub
	// Metrics, if set, gets transitions and check runs.
	Metrics *metrics.Metrics
	// Timers is the instances' Scheduler, which check runners pace on;
	// nil gives each runner timers of its own.
	Timers *clock.Scheduler
	// Maintenance starts the node drained (its maintenance file).
	Maintenance bool
	// OrderInterval is the time between the order watchers' safety
	// re-reads; 0 means priority.DefaultRereadInterval.
	OrderInterval time.Duration
}

// watchRun is one running order watcher.
type watchRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// end stops the watcher and waits until it has returned, so that no update
// of an old order source lands after those of its replacement.
func (w *watchRun) end() {
	w.cancel()
	<-w.done
}

type checkRun struct {
	cfg    *config.Check
	runner *checks.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

// instanceTrack is what tracking knows of one instance while it runs:
// begin creates it when the instance starts, forget drops it whole when the
// instance stops, so that no part of an old run survives into the next.
// Reports about an instance without a record (none are expected) are
// dropped. The order lists (lists, shared, watchers) are not in it on
// purpose: an order belongs to the configuration and the cluster, and must
// outlive an instance's restart at a reload. Guarded by tracking.mu.
type instanceTrack struct {
	result   priority.Result // last computed (begin, apply)
	computed bool            // result holds a computation
	applied  applied         // what the instance was told
	state    fsm.State       // its state, as its last transition said (sync groups)
	yielding bool            // sync group member yielding to a better master
	held     bool            // what it was last told about holding
	follow   string          // sync group: why it must follow a member to MASTER (syncgroup.go); empty when not
	guard    string          // split-brain guard hold: why; empty when none
	since    time.Time       // when it entered its state
	reason   string          // why, as the last transition said
}

// peek returns a copy of name's record, the zero record when it has none.
// Called with t.mu held.
func (t *tracking) peek(name string) instanceTrack {
	if r := t.insts[name]; r != nil {
		return *r
	}
	return instanceTrack{}
}

type applied struct {
	prio   uint8
	fault  bool
	reason string
}

func newTracking(o trackingOptions) *tracking {
	if o.Wake == nil {
		o.Wake = newWaker()
	}
	return &tracking{
		log: o.Log, clock: o.Clock, notifier: o.Notifier, wake: o.Wake, node: o.Node,
		gossipMembers: o.Members, cloud: o.Cloud, events: o.Events, metrics: o.Metrics, timers: o.Timers,
		orderInterval: o.OrderInterval,
		maint:         o.Maintenance,
		states:        map[string]priority.CheckState{},
		lists:         map[string]*priority.Order{},
		shared:        map[string]*priority.Order{},
		insts:         map[string]*instanceTrack{},
		groups:        map[string]fsm.State{},
		checkSt:       map[string]checks.State{},
		runners:       map[string]*checkRun{},
		watchers:      map[string]*watchRun{},
	}
}

// poke wakes the agent's loop to recompute and apply.
func (t *tracking) poke() { t.wake.poke() }

// linkCheckInterval paces the implicit check of an instance's own
// interface only while a rise or fall is under way (none: both are 1). It
// sees a change through the kernel's link notifications at once, and
// otherwise re-reads the link every checks.RecheckInterval.
const linkCheckInterval = 250 * time.Millisecond

// withImplicitChecks returns cfg's checks plus, as keepalived does unless
// told otherwise, an interface check on each instance's own interface that
// puts the instance in FAULT while the link is down.
func withImplicitChecks(cfg *config.Config) map[string]*config.Check {
	out := map[string]*config.Check{}
	for _, c := range cfg.Checks {
		out[c.Name] = c
	}
	for _, ic := range cfg.Instances {
		name := "interface:" + ic.Interface
		if _, ok := out[name]; !ok {
			out[name] = &config.Check{Config: checks.Config{
				Name: name, Kind: checks.KindInterface,
				Interval: linkCheckInterval, Fall: 1, Rise: 1,
				Interface: &checks.InterfaceConfig{Name: ic.Interface},
			}}
		}
	}
	return out
}

// tracksOf lists what inst tracks, its own interface included.
func tracksOf(ic *config.Instance) []config.Track {
	tr := slices.Clone(ic.Track)
	own := "interface:" + ic.Interface
	for _, x := range tr {
		if x.Check == own {
			return tr
		}
	}
	return append(tr, config.Track{Track: priority.Track{Check: own}})
}

// configure (re)starts check runners and order watchers for cfg, keeping
// the runners of unchanged checks (and so their state) across a reload.
func (t *tracking) configure(ctx context.Context, cfg *config.Config) error {
	all := withImplicitChecks(cfg)
	for name, r := range t.runners {
		if c, ok := all[name]; !ok || !c.SameSettings(r.cfg) {
			r.cancel()
			<-r.done
			delete(t.runners, name)
			t.mu.Lock()
			delete(t.states, name)
			t.mu.Unlock()
		}
	}
	// A reload is not a first start: a file check's "init_file VALUE
	// overwrite" must not reset a value an operator wrote (to move a VIP
	// by hand, say) because the check was re-created.
	reload := t.setConfig(cfg, all)

	var errs []error
	for name, c := range all {
		if _, ok := t.runners[name]; ok {
			continue
		}
		p, err := checks.NewProber(&c.Config, checks.Options{User: cfg.Scripts.User, Group: cfg.Scripts.Group, Logger: t.log, Reload: reload})
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", name, err))
			continue
		}
		r, err := checks.NewRunner(&c.Config, p, checks.RunnerOptions{
			Clock: t.clock, Logger: t.log, OnChange: t.checkChanged, OnRun: t.checkRan, Timers: t.timers,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", name, err))
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		cr := &checkRun{cfg: c, runner: r, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(cr.done)
			_ = r.Run(rctx)
		}()
		t.runners[name] = cr
	}

	// Every watcher starts again and reads its order anew: that is not an
	// edit (publishOrders compares with what was last read).
	for name, w := range t.watchers {
		w.end()
		delete(t.watchers, name)
	}
	t.mu.Lock()
	for name := range t.lists {
		// An order removed from the configuration is no longer this
		// node's proposal; the cluster's order, if any, stays in force.
		if ic := t.instance(name); ic == nil || ic.Order == nil {
			delete(t.lists, name)
		}
	}
	t.mu.Unlock()
	for _, ic := range cfg.Instances {
		if ic.Order == nil {
			continue
		}
		name := ic.Name
		w, err := priority.NewWatcher(priority.WatcherConfig{
			Path: ic.Order.File, Nodes: ic.Order.Nodes, Node: t.node, Clock: t.clock, Interval: t.orderInterval,
			// The safety re-read rides an advert's wake-up, like the checks'.
			Timers: t.timers, Logger: t.log,
			Known:    t.knownNodes,
			OnUpdate: func(u priority.Update) { t.orderChanged(name, u) },
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("instance %s: order: %w", name, err))
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		wr := &watchRun{cancel: cancel, done: make(chan struct{})}
		t.watchers[name] = wr
		go func() {
			defer close(wr.done)
			_ = w.Run(wctx)
		}()
	}
	t.poke()
	return errors.Join(errs...)
}

// setConfig puts cfg in force, with all its checks (withImplicitChecks),
// and reports whether a configuration was in force before: a reload.
func (t *tracking) setConfig(cfg *config.Config, all map[string]*config.Check) (reload bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	reload = t.cfg != nil
	t.cfg, t.checks = cfg, all
	return reload
}

// awaitFirstResults waits until every check has finished its first run, or
// until the slowest check's timeout has passed, so instances start with
// their real priority instead of a FAULT that only says "not checked yet".
func (t *tracking) awaitFirstResults() {
	var wait time.Duration
	for _, r := range t.runners {
		d := r.cfg.Timeout
		if d <= 0 {
			d = r.cfg.Interval
		}
		if d <= 0 {
			d = checks.DefaultInterval
		}
		wait = max(wait, d)
	}
	timer := t.clock.NewTimer(wait + 100*time.Millisecond)
	defer timer.Stop()
	defer t.poke() // the agent's loop recomputes with what arrived
	for {
		pending := 0
		for _, r := range t.runners {
			if r.runner.Status().State == checks.StateInit {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		select {
		case <-t.wake:
		case <-timer.C():
			t.log.Warn("starting instances before every check has a first result", "pending", pending)
			return
		}
	}
}

func (t *tracking) stop() {
	for name, r := range t.runners {
		r.cancel()
		<-r.done
		delete(t.runners, name)
	}
	for name, w := range t.watchers {
		w.end()
		delete(t.watchers, name)
	}
}

// checkChanged runs on a check runner's goroutine: record and wake.
func (t *tracking) checkChanged(s checks.Status) {
	t.mu.Lock()
	if s.State == checks.StateInit {
		delete(t.states, s.Name)
	} else {
		t.states[s.Name] = priority.CheckState{Name: s.Name, Kind: s.Kind, Healthy: s.Healthy, Value: s.Value}
	}
	prev, known := t.checkSt[s.Name]
	t.checkSt[s.Name] = s.State
	t.mu.Unlock()
	t.poke()
	if t.events != nil && (!known || prev != s.State) {
		ce := CheckEvent{Name: s.Name, Kind: s.Kind, From: gossip.UnknownCheckState, To: s.State, Output: s.LastResult.Output}
		if known {
			ce.From = prev
		}
		t.events.check(t.node, t.clock.Now(), ce)
	}
}

// checkRan runs on a runner's goroutine after every run: metrics.
func (t *tracking) checkRan(s checks.Status) {
	if t.metrics != nil {
		t.metrics.ObserveCheck(s.Name, string(s.Kind), s.LastResult.Duration, s.LastResult.OK)
	}
}

// knownNodes is the set order lists are checked against: the gossip
// members when this node gossips, else the node names the configuration
// holds (this node's and those of inline orders); nil, for no check, when
// that is this node's alone, as there is then nothing to compare with (a
// node that has not joined its cluster yet would call every other name
// unknown). It runs on the watchers' goroutines.
func (t *tracking) knownNodes() []string {
	if t.gossipMembers != nil {
		var out []string
		for _, m := range t.gossipMembers() {
			out = append(out, m.Name)
		}
		if len(out) <= 1 {
			return nil
		}
		return out
	}
	t.mu.Lock()
	cfg := t.cfg
	t.mu.Unlock()
	if cfg == nil {
		return nil
	}
	out := []string{t.node}
	for _, ic := range cfg.Instances {
		if ic.Order == nil {
			continue
		}
		l, _ := priority.FromConfig(ic.Order.Nodes)
		for _, e := range l.Nodes {
			if !slices.ContainsFunc(out, func(n string) bool { return strings.EqualFold(n, e.Name) }) {
				out = append(out, e.Name)
			}
		}
	}
	if len(out) == 1 {
		return nil
	}
	return out
}

// orderChanged runs on a watcher's goroutine.
func (t *tracking) orderChanged(inst string, u priority.Update) {
	if u.Recheck {
		// The same list, but the known nodes changed: say so once.
		var unknown []string
		for _, p := range u.Problems {
			if p.Kind == priority.ProblemUnknownNode {
				unknown = append(unknown, p.Name)
			}
		}
		if len(unknown) > 0 {
			t.log.Warn("order lists nodes that are not known members", "instance", inst, "unknown", strings.Join(unknown, ","))
		} else {
			t.log.Info("every node the order lists is a known member now", "instance", inst)
		}
		return
	}
	for _, p := range u.Problems {
		t.log.Warn("order list", "instance", inst, "problem", p.Error())
	}
	if u.Err != nil {
		t.log.Warn("order file unreadable: keeping the last good order", "instance", inst, "err", u.Err)
	}
	if u.Order == nil {
		return
	}
	// Whether this is an edit, to publish cluster-wide, is for the
	// cluster link to judge (publishOrders): a re-read at start or at a
	// reload gives the same order again and must not undo a failover.
	t.mu.Lock()
	t.lists[inst] = u.Order
	t.mu.Unlock()
	t.log.Info("order loaded", "instance", inst, "source", u.Order.Source, "entries", len(u.Order.Nodes))
	t.poke()
}

// compute returns what inst should run with now, sync groups included.
// Called with t.mu held.
func (t *tracking) compute(ic *config.Instance) priority.Result {
	res := t.own(ic)
	if !res.Fault && t.cloud != nil && t.cloud.faulted(ic.Name) {
		// on_failure: fault — let another node try the cloud actions.
		res.Fault = true
		res.Reason = "cloud actions failed (on_failure: fault)"
	}
	if g := t.cfg.SyncGroupOf(ic.Name); g != nil && !res.Fault {
		// keepalived: one member in FAULT puts the whole group in FAULT,
		// so the VIPs that must stay together all move.
		for _, m := range g.Instances {
			if m == ic.Name {
				continue
			}
			if mc := t.instance(m); mc != nil && t.own(mc).Fault {
				res.Fault = true
				res.Reason = fmt.Sprintf("sync group %s: member %s in FAULT", g.Name, m)
				break
			}
		}
	}
	return res
}

func (t *tracking) own(ic *config.Instance) priority.Result {
	tracked := priority.Instance{Priority: ic.Priority, Order: ic.Order}
	for _, tr := range tracksOf(ic) {
		tracked.Track = append(tracked.Track, tr.Track)
	}
	list := t.lists[ic.Name]
	if l, ok := t.shared[ic.Name]; ok {
		list = l
		if tracked.Order == nil {
			// An order set through the API (a failover, say) for an
			// instance configured with plain priorities: the order's
			// defaults apply from then on, on every node alike.
			tracked.Order = &priority.OrderConfig{Priorities: priority.DefaultPriorities(), Unhealthy: priority.UnhealthyLowest}
		}
	}
	return priority.Compute(&tracked, t.checkSettings, t.states, t.node, list)
}

// checkSettings returns the settings of the check named name, nil if none
// is configured.
func (t *tracking) checkSettings(name string) *checks.Config {
	if c := t.checks[name]; c != nil {
		return &c.Config
	}
	return nil
}

func (t *tracking) instance(name string) *config.Instance {
	for _, ic := range t.cfg.Instances {
		if ic.Name == name {
			return ic
		}
	}
	return nil
}

// begin creates name's record as its instance starts, the one place a
// record is made, and returns what the instance starts with: its priority
// and fault state, and whether it starts held (the node is in maintenance,
// or require_join holds it).
func (t *tracking) begin(ic *config.Instance) (init priority.Result, held bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	res := t.compute(ic)
	held = t.maint || t.joinHeld(ic.Name)
	t.insts[ic.Name] = &instanceTrack{result: res, computed: true, applied: applied{res.Priority, res.Fault, res.Reason}, held: held}
	return res, held
}

// apply recomputes every running instance and tells those whose priority,
// fault state or sync-group hold changed. It runs on the agent's goroutine.
func (t *tracking) apply(running map[string]*running) {
	type change struct {
		inst *election.Instance
		a    applied
	}
	var changes []change
	holds := map[*election.Instance]bool{}
	reasons := map[*election.Instance]string{}
	quiet := map[*election.Instance]bool{} // the guard's hold alone: no priority-0 advert
	t.mu.Lock()
	for name, r := range running {
		rec := t.insts[name]
		if rec == nil {
			continue // not begun: nothing to tell it yet
		}
		res := t.compute(r.cfg)
		rec.result, rec.computed = res, true
		a := applied{res.Priority, res.Fault, res.Reason}
		if a != rec.applied {
			rec.applied = a
			changes = append(changes, change{r.inst, a})
		}
		jw := t.joinHeld(name)
		h := t.heldBack(name) || rec.guard != "" || t.maint || jw
		if h != rec.held {
			rec.held = h
			holds[r.inst] = h
			reasons[r.inst] = rec.guard
			if jw && reasons[r.inst] == "" {
				reasons[r.inst] = t.wait
			}
			quiet[r.inst] = rec.guard != "" && !t.maint && !t.heldBack(name)
			if t.maint {
				reasons[r.inst] = "maintenance"
			}
		}
	}
	follows := t.takeFollows(running)
	t.mu.Unlock()
	for _, c := range changes {
		t.log.Info("effective priority", "instance", c.inst.Name(), "priority", c.a.prio, "fault", c.a.fault, "reason", c.a.reason)
		c.inst.Apply(c.a.prio, c.a.fault, c.a.reason)
	}
	for inst, h := range holds {
		t.log.Info("hold", "instance", inst.Name(), "held", h, "reason", reasons[inst])
		if quiet[inst] {
			inst.HoldQuietly(h, reasons[inst])
		} else {
			inst.Hold(h, reasons[inst])
		}
	}
	for _, f := range follows { // after the holds: a member released now follows too
		f.inst.Follow(f.reason)
	}
}

// forget drops name's record when its instance has stopped, the one place
// a record goes.
func (t *tracking) forget(name string) {
	t.mu.Lock()
	delete(t.insts, name)
	t.mu.Unlock()
}

var _ election.Observer = (*tracking)(nil)

// newInstance builds the agent's instances; a variable so that a test can
// see the Deps (fast takeover) an agent hands them.
var newInstance = election.NewInstance

// Transitioned runs on the instance's goroutine: notify scripts, and the
// sync group's own state.
func (t *tracking) Transitioned(inst *election.Instance, from, to fsm.State, reason string) {
	ic := inst.Config()
	t.mu.Lock()
	res := t.peek(ic.Name).result
	var group *config.SyncGroup
	if t.cfg != nil {
		group = t.cfg.SyncGroupOf(ic.Name)
	}
	if rec := t.insts[ic.Name]; rec != nil {
		rec.state, rec.since, rec.reason = to, t.clock.Now(), reason
	}
	t.memberMoved(ic.Name, group, to)
	groupState, groupPrev, groupMaster := t.groupMoved(group)
	// Queued under t.mu (Notify never blocks), so that the order of the
	// events matches the order of the group states computed above: a
	// member's transition is queued before any group event that counts
	// it, and group events in the order of their states.
	t.notifyTransition(inst, from, to, reason, res, group, groupState, groupPrev)
	t.mu.Unlock()
	t.poke() // gossip publishes the new state at once
	if t.cloud != nil {
		t.cloud.transition(ic.Name, to, groupMaster)
	}
	if t.metrics != nil {
		t.metrics.ObserveTransition(ic.Name, from, to)
		if to == fsm.Master || from == fsm.Master {
			t.metrics.ObserveMasterChange(ic.Name)
		}
	}
	if t.events != nil {
		t.events.instance(t.node, t.clock.Now(), InstanceEvent{
			Name: ic.Name, VRID: ic.VRID, Family: ic.Family, From: from, To: to, Reason: reason,
			Priority: inst.Priority(), Master: inst.Master(),
		})
	}
}

// notifyTransition queues the scripts of an instance's transition and, when
// it changed its sync group's state (groupState not fsm.Init), the group's.
// Called with t.mu held.
func (t *tracking) notifyTransition(inst *election.Instance, from, to fsm.State, reason string, res priority.Result,
	group *config.SyncGroup, groupState, groupPrev fsm.State) {
	ic := inst.Config()
	ev := notify.Event{
		Type: notify.TypeInstance, Name: ic.Name, State: to, PrevState: from,
		Priority: inst.Priority(), Reason: reason, FailedChecks: res.FailedChecks, Node: t.node,
	}
	if to == fsm.Fault && res.Reason != "" {
		ev.Reason = res.Reason
	}
	t.notifier.Notify(ic.Notify, ev)
	if groupState == fsm.Init {
		return
	}
	gev := ev
	gev.Type, gev.Name, gev.State, gev.PrevState = notify.TypeGroup, group.Name, groupState, groupPrev // fsm.Init before the first
	// keepalived runs a group's notify after the instance notify of the
	// transition that changed the group (and at shutdown every instance's
	// STOP before the groups'): the group's scripts wait for the members'
	// events queued so far.
	members := make([]notify.Source, 0, len(group.Instances))
	for _, m := range group.Instances {
		members = append(members, notify.Source{Type: notify.TypeInstance, Name: m})
	}
	t.notifier.NotifyAfter(group.Notify, gev, members...)
}

// Reasserted runs notify_master_rx_lower_pri. The state does not change:
// the event's state and previous state are both MASTER.
func (t *tracking) Reasserted(inst *election.Instance, _ netip.Addr, prio uint8) {
	ic := inst.Config()
	if t.cloud != nil {
		t.cloud.reassert(ic.Name)
	}
	t.mu.Lock()
	failed := t.peek(ic.Name).result.FailedChecks
	t.mu.Unlock()
	reason := fmt.Sprintf("advert with lower priority %d", prio)
	if prio == 0 {
		// No advert carries 0 to a master that re-asserts: this is
		// Reannounce, gossip showing another node acting as master.
		reason = "another node acted as master (seen through gossip)"
	}
	t.notifier.Notify(ic.Notify, notify.Event{
		Type: notify.TypeInstance, Name: ic.Name, State: fsm.Master, PrevState: fsm.Master,
		Priority: inst.Priority(), RxLowerPri: true, Reason: reason,
		FailedChecks: failed, Node: t.node,
	})
}

// YieldingChanged runs on the instance's goroutine: record (a sync group
// holds its other members back while one yields) and wake.
func (t *tracking) YieldingChanged(inst *election.Instance, yielding bool) {
	t.mu.Lock()
	if rec := t.insts[inst.Name()]; rec != nil {
		rec.yielding = yielding
	}
	t.mu.Unlock()
	t.poke()
}

// The other files of the agent read and change tracking through the
// methods below, each taking t.mu itself, so that the lock stays private to
// this file.

// instanceView is a copy of what tracking holds for one instance, taken
// under one lock.
type instanceView struct {
	instanceTrack
	maint    bool            // the node is in maintenance
	joinHeld bool            // require_join holds it
	heldBack bool            // another member of its sync group yields
	wait     string          // why require_join holds (joinwait.go)
	order    *priority.Order // the order in force: the cluster's, else this node's
}

// view returns name's instanceView.
func (t *tracking) view(name string) instanceView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := instanceView{instanceTrack: t.peek(name), maint: t.maint, wait: t.wait}
	if t.cfg != nil {
		v.joinHeld, v.heldBack = t.joinHeld(name), t.heldBack(name)
	}
	v.order = t.lists[name]
	if l, ok := t.shared[name]; ok {
		v.order = l
	}
	return v
}

// maintenance reports whether the node is in maintenance.
func (t *tracking) maintenance() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maint
}

// setMaintenance records the maintenance flag and reports whether it
// changed.
func (t *tracking) setMaintenance(on bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := t.maint != on
	t.maint = on
	return changed
}

// setJoinWait records why require_join holds (empty: it does not) and
// returns the previous reason.
func (t *tracking) setJoinWait(why string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.wait
	t.wait = why
	return prev
}

// joinWaiting reports whether require_join holds anything.
func (t *tracking) joinWaiting() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wait != ""
}

// guarded returns why the split-brain guard holds name, empty if it does not.
func (t *tracking) guarded(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peek(name).guard
}

// setGuard records the split-brain guard's hold on name (why empty:
// released).
func (t *tracking) setGuard(name, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.insts[name]; r != nil {
		r.guard = why
	}
}

// guards returns every split-brain guard hold: instance → why.
func (t *tracking) guards() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]string{}
	for name, r := range t.insts {
		if r.guard != "" {
			out[name] = r.guard
		}
	}
	return out
}

// localOrders returns a copy of the orders this node read, and for each
// configured instance whether it has an order of its own (nil before the
// first configuration).
func (t *tracking) localOrders() (map[string]*priority.Order, map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	local := maps.Clone(t.lists)
	var configured map[string]bool
	if t.cfg != nil {
		configured = map[string]bool{}
		for _, ic := range t.cfg.Instances {
			configured[ic.Name] = ic.Order != nil
		}
	}
	return local, configured
}

// hasShared reports whether a cluster order is in force for inst.
func (t *tracking) hasShared(inst string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shared[inst] != nil
}

// setShared puts the cluster's order for inst in force.
func (t *tracking) setShared(inst string, l *priority.Order) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shared[inst] = l
}
