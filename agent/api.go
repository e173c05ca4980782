package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/internal/clock"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// Service is the agent's side of vipd's API (vipdv1.VipdServiceServer):
// reads come from the agent's own state and its gossip view; commands are
// carried out here or, for another node, sent to it through gossip (an
// encrypted, authenticated channel every node already has), so no node
// needs credentials for another's API.
type Service struct {
	vipdv1.UnimplementedVipdServiceServer
	a *Agent
}

// Service returns the API service of the agent.
func (a *Agent) Service() *Service { return &Service{a: a} }

// confirmTimeout bounds how long a command forwarded to another node waits
// for that node's gossip state to show it done.
const confirmTimeout = 3 * time.Second

// onLoop runs f on the agent's goroutine, which owns the instances, and
// waits for it.
func (a *Agent) onLoop(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case a.calls <- func() { defer close(done); f() }:
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-a.stopped:
		return status.Error(codes.Unavailable, "the agent is stopping")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// GetStatus returns this node's instances, checks and drop counters.
func (s *Service) GetStatus(ctx context.Context, _ *vipdv1.GetStatusRequest) (*vipdv1.GetStatusResponse, error) {
	a := s.a
	var resp *vipdv1.GetStatusResponse
	err := a.onLoop(ctx, func() { resp = a.status() })
	return resp, err
}

// status runs on the agent's goroutine.
func (a *Agent) status() *vipdv1.GetStatusResponse { return statusProto(a.nodeStatus()) }

// statusProto converts the agent's status to the API's.
func statusProto(s nodeStatus) *vipdv1.GetStatusResponse {
	resp := &vipdv1.GetStatusResponse{
		Node: s.node, Version: s.version, Maintenance: s.maintenance,
		StartTime: timestamppb.New(s.started), Uptime: durationpb.New(s.now.Sub(s.started)),
	}
	for _, is := range s.instances {
		ic := is.cfg
		pi := &vipdv1.Instance{
			Name: ic.Name, Vrid: uint32(ic.VRID), Family: familyProto(ic.Family), Interface: ic.Interface,
			VrrpVersion: uint32(ic.Version), State: stateProto(is.state),
			BasePriority: uint32(ic.Priority), EffectivePriority: uint32(is.priority),
			MasterAddress: addrString(is.master), SourceAddress: addrString(is.source),
			Reason: is.reason, Held: is.held, Guarded: is.guarded, SyncGroup: is.syncGroup,
			AdvertInterval: durationpb.New(ic.AdvertInterval), AdvertsSent: is.sent, AdvertsReceived: is.received,
		}
		if !is.since.IsZero() {
			pi.Since = timestamppb.New(is.since)
		}
		for _, v := range ic.VIPs {
			pi.Vips = append(pi.Vips, v.Prefix.String())
		}
		for _, p := range is.peers {
			pi.Peers = append(pi.Peers, p.String())
		}
		resp.Instances = append(resp.Instances, pi)
	}
	for _, st := range s.checks {
		pc := &vipdv1.Check{
			Name: st.Name, Kind: checkKindProto(st.Kind), State: checkStateProto(st.State), Healthy: st.Healthy,
			Since: timestamppb.New(st.Since), LastOutput: st.LastResult.Output,
			Runs: st.Runs, Failures: st.Failures, Value: int64(st.Value),
		}
		if !st.LastRun.IsZero() {
			pc.LastRun = timestamppb.New(st.LastRun)
			pc.LastDuration = durationpb.New(st.LastResult.Duration)
		}
		if st.LastResult.Err != nil {
			pc.LastError = st.LastResult.Err.Error()
		}
		resp.Checks = append(resp.Checks, pc)
	}
	for reason, n := range s.drops {
		resp.Drops = append(resp.Drops, &vipdv1.DropCount{Reason: reason.String(), Count: n})
	}
	slices.SortFunc(resp.Drops, func(x, y *vipdv1.DropCount) int { return cmp.Compare(x.Reason, y.Reason) })
	for _, st := range s.cloud {
		ca := &vipdv1.CloudAction{
			Owner: st.owner, Name: st.Name, Kind: string(st.Kind), State: st.State, Detail: st.Detail,
			Error: st.Error, Warnings: st.Warnings, Attempts: uint32(st.Attempts),
		}
		if st.Took > 0 {
			ca.Took = durationpb.New(st.Took)
		}
		if !st.Since.IsZero() {
			ca.Since = timestamppb.New(st.Since)
		}
		if !st.ErrorAt.IsZero() {
			ca.ErrorAt = timestamppb.New(st.ErrorAt)
		}
		resp.CloudActions = append(resp.CloudActions, ca)
	}
	return resp
}

func checkKindProto(k config.CheckKind) vipdv1.CheckKind {
	switch k {
	case config.CheckExec:
		return vipdv1.CheckKind_CHECK_KIND_EXEC
	case config.CheckProcess:
		return vipdv1.CheckKind_CHECK_KIND_PROCESS
	case config.CheckTCP:
		return vipdv1.CheckKind_CHECK_KIND_TCP
	case config.CheckHTTP:
		return vipdv1.CheckKind_CHECK_KIND_HTTP
	case config.CheckDNS:
		return vipdv1.CheckKind_CHECK_KIND_DNS
	case config.CheckFile:
		return vipdv1.CheckKind_CHECK_KIND_FILE
	case config.CheckInterface:
		return vipdv1.CheckKind_CHECK_KIND_INTERFACE
	}
	return vipdv1.CheckKind_CHECK_KIND_UNSPECIFIED
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// ListMembers returns the gossip members; without gossip, this node alone.
func (s *Service) ListMembers(context.Context, *vipdv1.ListMembersRequest) (*vipdv1.ListMembersResponse, error) {
	l := s.a.link.Load()
	if l == nil {
		return &vipdv1.ListMembersResponse{Members: []*vipdv1.Member{s.a.selfMember()}}, nil
	}
	resp := &vipdv1.ListMembersResponse{}
	for _, m := range l.c.Members() {
		resp.Members = append(resp.Members, memberProto(m))
	}
	return resp, nil
}

func (a *Agent) selfMember() *vipdv1.Member {
	return &vipdv1.Member{Name: a.nodeName, Version: a.version, Status: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE, Since: timestamppb.New(a.started)}
}

// GetCluster returns every member with its published state, and the orders.
func (s *Service) GetCluster(context.Context, *vipdv1.GetClusterRequest) (*vipdv1.GetClusterResponse, error) {
	l := s.a.link.Load()
	if l == nil {
		return &vipdv1.GetClusterResponse{Node: s.a.nodeName, Nodes: []*vipdv1.ClusterNode{{Member: s.a.selfMember()}}}, nil
	}
	resp := &vipdv1.GetClusterResponse{Cluster: l.name, Node: l.c.Name()}
	states := l.c.States()
	for _, m := range l.c.Members() {
		cn := &vipdv1.ClusterNode{Member: memberProto(m)}
		if ns, ok := states[m.Name]; ok {
			cn.Incarnation = ns.Incarnation
			cn.Maintenance = ns.Maintenance
			for _, in := range ns.Instances {
				is := &vipdv1.InstanceSummary{
					Name: in.Name, Vrid: uint32(in.VRID), Family: familyProto(in.Family), SourceAddress: addrString(in.Src),
					State: stateProto(in.State), Priority: uint32(in.Priority), Reason: in.Reason, MasterAddress: addrString(in.Master),
				}
				if !in.Since.IsZero() {
					is.Since = timestamppb.New(in.Since)
				}
				cn.Instances = append(cn.Instances, is)
			}
			for _, c := range ns.Checks {
				cn.Checks = append(cn.Checks, &vipdv1.CheckSummary{
					Name: c.Name, State: checkStateProto(c.State), Healthy: c.Healthy, Since: timestamppb.New(c.Since), Output: c.Output,
				})
			}
		}
		resp.Nodes = append(resp.Nodes, cn)
	}
	orders := l.c.Orders()
	for _, name := range slices.Sorted(mapsKeys(orders)) {
		resp.Orders = append(resp.Orders, orderProto(orders[name]))
	}
	return resp, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Watch streams events until the client goes away or the agent stops.
func (s *Service) Watch(req *vipdv1.WatchRequest, stream vipdv1.VipdService_WatchServer) error {
	return grpcStatus(s.watch(req, stream))
}

// watch is Watch, its errors the agent's.
func (s *Service) watch(req *vipdv1.WatchRequest, stream vipdv1.VipdService_WatchServer) error {
	w, cancel := s.a.events.subscribe()
	defer cancel()
	want := map[vipdv1.EventType]bool{}
	for _, t := range req.GetTypes() {
		if t == vipdv1.EventType_EVENT_TYPE_UNSPECIFIED {
			return reqErrorf(errInvalid, "types: EVENT_TYPE_UNSPECIFIED is not an event type")
		}
		want[t] = true
	}
	self := s.a.nodeName
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-s.a.stopped:
			return reqErrorf(errUnavailable, "the agent is stopping")
		case <-w.behind:
			return reqErrorf(errExhausted, "watcher fell more than %d events behind; call Watch again", watchBuffer)
		case ev := <-w.ch:
			if keep(ev, req, want, self) {
				if err := stream.Send(ev); err != nil {
					return err
				}
			}
		}
	}
}

// keep applies a WatchRequest's filters to one event.
func keep(ev *vipdv1.WatchResponse, req *vipdv1.WatchRequest, want map[vipdv1.EventType]bool, self string) bool {
	var kind vipdv1.EventType
	var instance string
	local := true
	switch e := ev.Event.(type) {
	case *vipdv1.WatchResponse_Instance:
		kind, instance, local = vipdv1.EventType_EVENT_TYPE_INSTANCE, e.Instance.GetName(), ev.Node == self
	case *vipdv1.WatchResponse_Check:
		kind, local = vipdv1.EventType_EVENT_TYPE_CHECK, ev.Node == self
	case *vipdv1.WatchResponse_Member:
		kind = vipdv1.EventType_EVENT_TYPE_MEMBER
	case *vipdv1.WatchResponse_Order:
		kind, instance = vipdv1.EventType_EVENT_TYPE_ORDER, e.Order.GetOrder().GetInstance()
	case *vipdv1.WatchResponse_History:
		kind, instance = vipdv1.EventType_EVENT_TYPE_HISTORY, e.History.GetInstance()
	}
	switch {
	case kind == vipdv1.EventType_EVENT_TYPE_HISTORY && !want[kind]:
		return false // history repeats the other events: only on request
	case len(want) > 0 && !want[kind]:
		return false
	case !local && !req.GetCluster():
		return false
	case req.GetInstance() != "" && instance != "" && instance != req.GetInstance():
		return false
	}
	return true
}

// Failover makes target_node (or, if empty, the best node other than the
// current master) the instance's master: it writes a cluster-wide order
// with that node first, so the move sticks, and has the current master
// resign (a priority-0 advert), so the new master takes over after its
// skew time instead of a master-down interval, preempt or not.
func (s *Service) Failover(ctx context.Context, req *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	p, forwarded, err := s.a.failover(ctx, req.GetInstance(), req.GetTargetNode())
	if err != nil {
		return nil, grpcStatus(err)
	}
	return &vipdv1.FailoverResponse{Node: p.target, PreviousMaster: p.master, Forwarded: forwarded}, nil
}

// failover plans a failover (planFailover) and carries it out: it writes
// the order and has the master resign, here or, forwarded, on its node.
func (a *Agent) failover(ctx context.Context, instance, target string) (failoverPlan, bool, error) {
	if instance == "" {
		return failoverPlan{}, false, reqErrorf(errInvalid, "instance: required")
	}
	l := a.link.Load()
	if l == nil {
		return failoverPlan{}, false, reqErrorf(errPrecondition, "failover needs the gossip cluster (a gossip section in the configuration)")
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
		return failoverPlan{}, false, reqErrorf(errInternal, "failover: %v", err)
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
		return failoverPlan{}, false, reqErrorf(errUnavailable, "order written, but the master %s was not reached: %v", p.master, err)
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

// SetMaintenance drains or releases a node: here, or by a command to it.
func (s *Service) SetMaintenance(ctx context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	resp, err := s.setMaintenance(ctx, req)
	return resp, grpcStatus(err)
}

// setMaintenance is SetMaintenance, its errors the agent's.
func (s *Service) setMaintenance(ctx context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	a := s.a
	node := req.GetNode()
	if node == "" {
		return nil, reqErrorf(errInvalid, "node: required")
	}
	if node == a.nodeName {
		var handed []string
		err := a.onLoop(ctx, func() { handed = a.setMaintenance(req.Enabled, "API on "+a.nodeName) })
		if err != nil {
			return nil, err
		}
		return &vipdv1.SetMaintenanceResponse{Node: node, Enabled: req.Enabled, HandedOver: handed}, nil
	}
	l := a.link.Load()
	if l == nil {
		return nil, reqErrorf(errNotFound, "node %q: this node runs without gossip and knows no other node", node)
	}
	before, ok := l.c.States()[node]
	if !ok {
		return nil, reqErrorf(errNotFound, "node %q: no such alive member", node)
	}
	if err := l.c.Send(gossip.Command{To: node, Kind: gossip.CommandMaintenance, Enabled: req.Enabled}); err != nil {
		if errors.Is(err, gossip.ErrUnencrypted) {
			return nil, reqErrorf(errPrecondition, "%s", err.Error())
		}
		return nil, reqErrorf(errUnavailable, "%v", err)
	}
	resp := &vipdv1.SetMaintenanceResponse{Node: node, Enabled: req.Enabled, Forwarded: true}
	if req.Enabled {
		for _, in := range before.Instances {
			if in.State == fsm.Master {
				resp.HandedOver = append(resp.HandedOver, in.Name)
			}
		}
	}
	// Wait until the node's own state says it is done.
	deadline := a.clock.Now().Add(confirmTimeout)
	for {
		if ns, ok := l.c.States()[node]; ok && ns.Maintenance == req.Enabled {
			return resp, nil
		}
		if a.clock.Now().After(deadline) {
			return nil, reqErrorf(errDeadline, "node %s did not confirm maintenance %v within %v", node, req.Enabled, confirmTimeout)
		}
		if !clock.Sleep(ctx, a.clock, 50*time.Millisecond) {
			return nil, status.FromContextError(ctx.Err()).Err()
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

// SetOrder writes an instance's order cluster-wide.
func (s *Service) SetOrder(_ context.Context, req *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	resp, err := s.setOrder(req)
	return resp, grpcStatus(err)
}

// setOrder is SetOrder, its errors the agent's.
func (s *Service) setOrder(req *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	a := s.a
	if req.GetInstance() == "" {
		return nil, reqErrorf(errInvalid, "instance: required")
	}
	if len(req.GetNodes()) == 0 {
		return nil, reqErrorf(errInvalid, "nodes: at least one node")
	}
	seen := map[string]int{}
	var nodes []gossip.OrderNode
	for i, n := range req.Nodes {
		if n.GetName() == "" {
			return nil, reqErrorf(errInvalid, "nodes[%d].name: required", i)
		}
		if j, dup := seen[n.Name]; dup {
			return nil, reqErrorf(errInvalid, "nodes[%d].name: %q is already nodes[%d]", i, n.Name, j)
		}
		seen[n.Name] = i
		nodes = append(nodes, gossip.OrderNode{Name: n.Name, Disabled: n.Disabled})
	}
	l := a.link.Load()
	if l == nil {
		return nil, reqErrorf(errPrecondition, "orders are cluster-wide: they need the gossip cluster (a gossip section in the configuration)")
	}
	if len(candidates(l.c.States(), req.Instance)) == 0 {
		return nil, reqErrorf(errNotFound, "instance %q: no node of the cluster runs it", req.Instance)
	}
	if req.ExpectedVersion != 0 {
		if cur := l.c.Orders()[req.Instance]; cur.Version != req.ExpectedVersion {
			return nil, reqErrorf(errPrecondition, "order of %s is at version %d, not %d", req.Instance, cur.Version, req.ExpectedVersion)
		}
	}
	entry, err := l.c.SetOrder(req.Instance, nodes)
	switch {
	case errors.Is(err, gossip.ErrPersist):
		a.log.Warn("order in effect but not saved", "instance", req.Instance, "err", err)
	case errors.Is(err, gossip.ErrInvalid):
		return nil, reqErrorf(errInvalid, "%s", err.Error())
	case err != nil:
		return nil, reqErrorf(errInternal, "%s", err.Error())
	}
	a.log.Info("order set through the API", "instance", req.Instance, "version", entry.Version)
	return &vipdv1.SetOrderResponse{Order: orderProto(entry)}, nil
}

// Reload re-reads the configuration through Options.LoadConfig and
// applies it as SIGHUP does.
func (s *Service) Reload(ctx context.Context, _ *vipdv1.ReloadRequest) (*vipdv1.ReloadResponse, error) {
	resp, err := s.reload(ctx)
	return resp, grpcStatus(err)
}

// reload is Reload, its errors the agent's.
func (s *Service) reload(ctx context.Context) (*vipdv1.ReloadResponse, error) {
	a := s.a
	if a.loadConfig == nil {
		return nil, reqErrorf(errUnimplemented, "this agent was started without a configuration file to reload")
	}
	// Logged as SIGHUP's reloads are: who changed the running
	// configuration, and why it was refused, belongs in the node's log.
	a.log.Info("reloading configuration (API request)")
	cfg, err := a.loadConfig()
	if err != nil {
		a.log.Error("configuration not reloaded (API request): keeping the running one", "err", err)
		return nil, reqErrorf(errInvalid, "configuration not reloaded: %v", err)
	}
	for _, w := range cfg.Warnings {
		a.log.Warn(w.String())
	}
	res, err := a.ReloadDiff(ctx, cfg)
	if err != nil {
		a.log.Error("reload incomplete (API request)", "err", err)
		return nil, reqErrorf(errPrecondition, "reload: %v", err)
	}
	a.log.Info("configuration reloaded (API request)", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
	resp := &vipdv1.ReloadResponse{Added: res.Added, Removed: res.Removed, Changed: res.Changed}
	for _, w := range cfg.Warnings {
		resp.Warnings = append(resp.Warnings, w.String())
	}
	return resp, nil
}
