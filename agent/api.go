package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/priority"
)

// Service is the agent's side of vipd's API, in the agent's own types:
// reads come from the agent's own state and its gossip view; commands are
// carried out here or, for another node, sent to it through gossip (an
// encrypted, authenticated channel every node already has), so no node
// needs credentials for another's API. The server (package server) turns
// requests and answers into the API's protobuf and the errors (*Error)
// into its status codes; nothing here knows the wire.
type Service struct {
	a *Agent
}

// Service returns the API service of the agent.
func (a *Agent) Service() *Service { return &Service{a: a} }

// Caller says how a command arrived and who sent it, as far as the
// connection tells; the history records it with the command.
type Caller struct {
	// Via is how: "grpc", "http" or "unix".
	Via string
	// Name is who: a client certificate's name, an address, "local user
	// (unix socket)".
	Name string
}

// confirmTimeout bounds how long a command forwarded to another node waits
// for that node's gossip state to show it done.
const confirmTimeout = 3 * time.Second

// onLoop runs f on the agent's goroutine, which owns the instances, and
// waits for it. Its errors are the context's, or an *Error when the agent
// is stopping.
func (a *Agent) onLoop(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case a.calls <- func() { defer close(done); f() }:
	case <-ctx.Done():
		return ctx.Err()
	case <-a.stopped:
		return reqErrorf(ErrorUnavailable, "the agent is stopping")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Members returns the gossip members; without gossip, this node alone
// (with no gossip address).
func (s *Service) Members() []gossip.Member {
	l := s.a.link.Load()
	if l == nil {
		return []gossip.Member{s.a.selfMember()}
	}
	return l.c.Members()
}

func (a *Agent) selfMember() gossip.Member {
	return gossip.Member{Name: a.nodeName, Meta: gossip.NodeMeta{Version: a.version}, Status: gossip.StatusAlive, Since: a.started}
}

// Cluster is the cluster as this node's gossip shows it.
type Cluster struct {
	// Name is the gossip cluster's name, empty without gossip.
	Name string
	// Node is this node's name.
	Node string
	// Nodes are the members, each with its published state.
	Nodes []ClusterNode
	// Orders are the cluster's orders, by instance.
	Orders []priority.Order
}

// ClusterNode is one member and the state it published.
type ClusterNode struct {
	Member gossip.Member
	// State is nil when the member published none (yet).
	State *gossip.NodeState
}

// Cluster returns every member with its published state, and the orders.
func (s *Service) Cluster() Cluster {
	l := s.a.link.Load()
	if l == nil {
		return Cluster{Node: s.a.nodeName, Nodes: []ClusterNode{{Member: s.a.selfMember()}}}
	}
	out := Cluster{Name: l.name, Node: l.c.Name()}
	states := l.c.States()
	for _, m := range l.c.Members() {
		cn := ClusterNode{Member: m}
		if ns, ok := states[m.Name]; ok {
			cn.State = &ns
		}
		out.Nodes = append(out.Nodes, cn)
	}
	orders := l.c.Orders()
	for _, name := range slices.Sorted(maps.Keys(orders)) {
		out.Orders = append(out.Orders, orders[name])
	}
	return out
}

// WatchFilter says which events a watch wants.
type WatchFilter struct {
	// Types are the event types wanted; none means all but EventHistory,
	// which repeats the others and comes only when asked for.
	Types []EventType
	// Instance keeps, of the events that name an instance, that
	// instance's.
	Instance string
	// Cluster adds the other nodes' instance and check events.
	Cluster bool
}

// Watch hands send the events f keeps until ctx ends (nil), the agent
// stops or the watcher falls behind (an *Error), or send fails (its
// error).
func (s *Service) Watch(ctx context.Context, f WatchFilter, send func(Event) error) error {
	w, cancel := s.a.events.subscribe()
	defer cancel()
	want := map[EventType]bool{}
	for _, t := range f.Types {
		want[t] = true
	}
	self := s.a.nodeName
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.a.stopped:
			return reqErrorf(ErrorUnavailable, "the agent is stopping")
		case <-w.behind:
			return reqErrorf(ErrorExhausted, "watcher fell more than %d events behind; call Watch again", watchBuffer)
		case ev := <-w.ch:
			if keep(ev, f, want, self) {
				if err := send(ev); err != nil {
					return err
				}
			}
		}
	}
}

// keep applies a watch's filter to one event; want holds f.Types.
func keep(ev Event, f WatchFilter, want map[EventType]bool, self string) bool {
	kind := ev.Type()
	var instance string
	local := true
	switch {
	case ev.Instance != nil:
		instance, local = ev.Instance.Name, ev.Node == self
	case ev.Check != nil:
		local = ev.Node == self
	case ev.Order != nil:
		instance = ev.Order.Instance
	case ev.History != nil:
		instance = ev.History.Instance
	}
	switch {
	case kind == EventHistory && !want[kind]:
		return false // history repeats the other events: only on request
	case len(want) > 0 && !want[kind]:
		return false
	case !local && !f.Cluster:
		return false
	case f.Instance != "" && instance != "" && instance != f.Instance:
		return false
	}
	return true
}

// FailoverRequest asks to move an instance's master role.
type FailoverRequest struct {
	// Instance is the instance to move (required).
	Instance string
	// Target is the node to make master; empty for the best node other
	// than the current master.
	Target string
	// Caller is who asked (recorded in the history).
	Caller Caller
}

// FailoverResult is what a failover did.
type FailoverResult struct {
	// Node is the new master.
	Node string
	// PreviousMaster is the master before, empty if there was none.
	PreviousMaster string
	// Forwarded is true when the resignation was sent to another node.
	Forwarded bool
}

// Failover makes target_node (or, if empty, the best node other than the
// current master) the instance's master: it writes a cluster-wide order
// with that node first, so the move sticks, and has the current master
// resign (a priority-0 advert), so the new master takes over after its
// skew time instead of a master-down interval, preempt or not.
// It is recorded in the history with its caller.
func (s *Service) Failover(ctx context.Context, req FailoverRequest) (FailoverResult, error) {
	asked := s.a.clock.Now() // the request comes before its effects
	var res FailoverResult
	p, forwarded, err := s.a.failover(ctx, req.Instance, req.Target)
	if err == nil {
		res = FailoverResult{Node: p.target, PreviousMaster: p.master, Forwarded: forwarded}
	}
	s.a.noteFailover(asked, req, res, err)
	return res, err
}

// failover plans a failover (planFailover) and carries it out: it writes
// the order and has the master resign, here or, forwarded, on its node.
func (a *Agent) failover(ctx context.Context, instance, target string) (failoverPlan, bool, error) {
	if instance == "" {
		return failoverPlan{}, false, reqErrorf(ErrorInvalid, "instance: required")
	}
	l := a.link.Load()
	if l == nil {
		return failoverPlan{}, false, reqErrorf(ErrorPrecondition, "failover needs the gossip cluster (a gossip section in the configuration)")
	}
	p, err := planFailover(instance, target, failoverView{states: l.c.States(), members: l.c.Members(), orders: l.c.Orders()})
	if err != nil || p.order == nil {
		return p, false, err
	}
	entry, err := l.c.SetOrder(instance, p.order)
	switch {
	case errors.Is(err, gossip.ErrPersist):
		a.log.Warn("failover: order in effect but not saved", "instance", instance, "err", err)
	case err != nil:
		return failoverPlan{}, false, reqErrorf(ErrorInternal, "failover: %v", err)
	}
	a.log.Info("failover requested", "instance", instance, "to", p.target, "from", p.master, "order_version", entry.Version)
	if p.master == "" {
		return p, false, nil
	}
	reason := fmt.Sprintf("failover to %s requested on %s", p.target, a.nodeName)
	if p.master == a.nodeName {
		err = a.onLoop(ctx, func() { a.resign(instance, reason) })
		return p, false, err
	}
	if err := l.c.Send(gossip.Command{To: p.master, Kind: gossip.CommandResign, Instance: instance, Order: &entry}); err != nil {
		return failoverPlan{}, false, reqErrorf(ErrorUnavailable, "order written, but the master %s was not reached: %v", p.master, err)
	}
	return p, true, nil
}

// resign hands over a master role at once (runs on the agent's
// goroutine): the cluster's orders are applied first, so the priority it
// competes with afterwards is already the new one, then a priority-0
// advert makes the backups take over after their skew time.
func (a *Agent) resign(instance, reason string) {
	if l := a.link.Load(); l != nil {
		l.syncOrders(a.track)
	}
	a.track.apply(a.running)
	r := a.running[instance]
	if r == nil || r.inst.State() != fsm.Master {
		return
	}
	held := a.track.view(instance).held
	a.log.Info("resigning", "instance", instance, "reason", reason)
	r.inst.Hold(true, reason)
	if !held {
		r.inst.Hold(false, reason)
	}
}

// MaintenanceRequest asks to drain or release a node.
type MaintenanceRequest struct {
	// Node is the node (required): this one or another member.
	Node string
	// Enabled drains the node; false releases it.
	Enabled bool
	// Caller is who asked (recorded in the history).
	Caller Caller
}

// MaintenanceResult is what a maintenance request did.
type MaintenanceResult struct {
	Node    string
	Enabled bool
	// Forwarded is true when the command went to another node.
	Forwarded bool
	// HandedOver are the instances the node was master of and hands over
	// (for another node, as gossip showed them before).
	HandedOver []string
}

// SetMaintenance drains or releases a node: here, or by a command to it.
// It is recorded in the history with its caller.
func (s *Service) SetMaintenance(ctx context.Context, req MaintenanceRequest) (MaintenanceResult, error) {
	asked := s.a.maintenanceAsked(req)
	res, err := s.setMaintenance(ctx, req)
	s.a.noteMaintenance(asked, req, err)
	return res, err
}

// setMaintenance is SetMaintenance without the history.
func (s *Service) setMaintenance(ctx context.Context, req MaintenanceRequest) (MaintenanceResult, error) {
	a := s.a
	node := req.Node
	if node == "" {
		return MaintenanceResult{}, reqErrorf(ErrorInvalid, "node: required")
	}
	if node == a.nodeName {
		var handed []string
		err := a.onLoop(ctx, func() { handed = a.setMaintenance(req.Enabled, "API on "+a.nodeName) })
		if err != nil {
			return MaintenanceResult{}, err
		}
		return MaintenanceResult{Node: node, Enabled: req.Enabled, HandedOver: handed}, nil
	}
	l := a.link.Load()
	if l == nil {
		return MaintenanceResult{}, reqErrorf(ErrorNotFound, "node %q: this node runs without gossip and knows no other node", node)
	}
	before, ok := l.c.States()[node]
	if !ok {
		return MaintenanceResult{}, reqErrorf(ErrorNotFound, "node %q: no such alive member", node)
	}
	if err := l.c.Send(gossip.Command{To: node, Kind: gossip.CommandMaintenance, Enabled: req.Enabled}); err != nil {
		if errors.Is(err, gossip.ErrUnencrypted) {
			return MaintenanceResult{}, reqErrorf(ErrorPrecondition, "%s", err.Error())
		}
		return MaintenanceResult{}, reqErrorf(ErrorUnavailable, "%v", err)
	}
	res := MaintenanceResult{Node: node, Enabled: req.Enabled, Forwarded: true}
	if req.Enabled {
		for _, in := range before.Instances {
			if in.State == fsm.Master {
				res.HandedOver = append(res.HandedOver, in.Name)
			}
		}
	}
	// Wait until the node's own state says it is done.
	deadline := a.clock.Now().Add(confirmTimeout)
	for {
		if ns, ok := l.c.States()[node]; ok && ns.Maintenance == req.Enabled {
			return res, nil
		}
		if a.clock.Now().After(deadline) {
			return MaintenanceResult{}, reqErrorf(ErrorDeadline, "node %s did not confirm maintenance %v within %v", node, req.Enabled, confirmTimeout)
		}
		if !clock.Sleep(ctx, a.clock, 50*time.Millisecond) {
			return MaintenanceResult{}, ctx.Err()
		}
	}
}

// setMaintenance runs on the agent's goroutine: it holds (or releases)
// every instance, masters resigning at once, and publishes the flag. It
// returns the instances this node was master of and hands over.
func (a *Agent) setMaintenance(on bool, by string) []string {
	var handed []string
	if on {
		for name, r := range a.running {
			if r.inst.State() == fsm.Master {
				handed = append(handed, name)
			}
		}
		slices.Sort(handed)
	}
	changed := a.track.setMaintenance(on)
	if changed {
		a.log.Warn("maintenance", "enabled", on, "by", by, "handing_over", handed)
		if err := saveMaintenance(maintenanceFile(a.cfg), on, by, a.clock.Now()); err != nil {
			a.log.Error("maintenance state not saved: a restart would forget it", "err", err)
		}
	}
	a.track.apply(a.running)
	if l := a.link.Load(); l != nil {
		l.publish(a.track, a.running)
	}
	return handed
}

// OrderRequest asks to write an instance's order cluster-wide.
type OrderRequest struct {
	// Instance is the instance (required).
	Instance string
	// Nodes are the order's nodes, at least one, names unique.
	Nodes []priority.OrderNode
	// ExpectedVersion, when not 0, is the version the current order must
	// be at (a compare-and-set).
	ExpectedVersion uint64
}

// SetOrder writes an instance's order cluster-wide and returns it as
// written.
func (s *Service) SetOrder(req OrderRequest) (priority.Order, error) {
	a := s.a
	if req.Instance == "" {
		return priority.Order{}, reqErrorf(ErrorInvalid, "instance: required")
	}
	if len(req.Nodes) == 0 {
		return priority.Order{}, reqErrorf(ErrorInvalid, "nodes: at least one node")
	}
	seen := map[string]int{}
	for i, n := range req.Nodes {
		if n.Name == "" {
			return priority.Order{}, reqErrorf(ErrorInvalid, "nodes[%d].name: required", i)
		}
		if j, dup := seen[n.Name]; dup {
			return priority.Order{}, reqErrorf(ErrorInvalid, "nodes[%d].name: %q is already nodes[%d]", i, n.Name, j)
		}
		seen[n.Name] = i
	}
	l := a.link.Load()
	if l == nil {
		return priority.Order{}, reqErrorf(ErrorPrecondition, "orders are cluster-wide: they need the gossip cluster (a gossip section in the configuration)")
	}
	if len(candidates(l.c.States(), req.Instance)) == 0 {
		return priority.Order{}, reqErrorf(ErrorNotFound, "instance %q: no node of the cluster runs it", req.Instance)
	}
	if req.ExpectedVersion != 0 {
		if cur := l.c.Orders()[req.Instance]; cur.Version != req.ExpectedVersion {
			return priority.Order{}, reqErrorf(ErrorPrecondition, "order of %s is at version %d, not %d", req.Instance, cur.Version, req.ExpectedVersion)
		}
	}
	entry, err := l.c.SetOrder(req.Instance, slices.Clone(req.Nodes))
	switch {
	case errors.Is(err, gossip.ErrPersist):
		a.log.Warn("order in effect but not saved", "instance", req.Instance, "err", err)
	case errors.Is(err, gossip.ErrInvalid):
		return priority.Order{}, reqErrorf(ErrorInvalid, "%s", err.Error())
	case err != nil:
		return priority.Order{}, reqErrorf(ErrorInternal, "%s", err.Error())
	}
	a.log.Info("order set through the API", "instance", req.Instance, "version", entry.Version)
	return entry, nil
}

// ReloadFile re-reads the configuration through Options.LoadConfig and
// applies it as SIGHUP does; the history records who asked.
// Its Warnings are the configuration's own, then the settings the
// running node could not take.
func (s *Service) ReloadFile(ctx context.Context, by Caller) (ReloadResult, error) {
	s.a.reloadAsked(by)
	a := s.a
	if a.loadConfig == nil {
		return ReloadResult{}, reqErrorf(ErrorUnimplemented, "this agent was started without a configuration file to reload")
	}
	// Logged as SIGHUP's reloads are: who changed the running
	// configuration, and why it was refused, belongs in the node's log.
	a.log.Info("reloading configuration (API request)")
	cfg, err := a.loadConfig()
	if err != nil {
		a.log.Error("configuration not reloaded (API request): keeping the running one", "err", err)
		return ReloadResult{}, reqErrorf(ErrorInvalid, "configuration not reloaded: %v", err)
	}
	for _, w := range cfg.Warnings {
		a.log.Warn(w.String())
	}
	res, err := a.ReloadDiff(ctx, cfg)
	if err != nil {
		a.log.Error("reload incomplete (API request)", "err", err)
		return ReloadResult{}, reqErrorf(ErrorPrecondition, "reload: %v", err)
	}
	a.log.Info("configuration reloaded (API request)", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
	warnings := make([]string, 0, len(cfg.Warnings)+len(res.Warnings))
	for _, w := range cfg.Warnings {
		warnings = append(warnings, w.String())
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, nil
}
