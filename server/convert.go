package server

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/priority"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// This file is the one place where the agent's types become the API's
// protobuf and back, and where the agent's errors become gRPC codes. The
// enums are tables, spelled out value by value: renaming a type or a
// constant of the agent cannot change an API string (convert_test.go
// checks that every value on either side is mapped).

// Enum tables. A value missing from a table (gossip.UnknownState, a kind
// this version does not know) maps to the API's UNSPECIFIED.
var (
	instanceStates = map[fsm.State]vipdv1.InstanceState{
		fsm.Init: vipdv1.InstanceState_INSTANCE_STATE_INIT, fsm.Backup: vipdv1.InstanceState_INSTANCE_STATE_BACKUP,
		fsm.Master: vipdv1.InstanceState_INSTANCE_STATE_MASTER, fsm.Fault: vipdv1.InstanceState_INSTANCE_STATE_FAULT,
		fsm.Stopped: vipdv1.InstanceState_INSTANCE_STATE_STOP,
	}
	checkStates = map[checks.State]vipdv1.CheckState{
		checks.StateInit: vipdv1.CheckState_CHECK_STATE_INIT, checks.StateHealthy: vipdv1.CheckState_CHECK_STATE_HEALTHY,
		checks.StateFailed: vipdv1.CheckState_CHECK_STATE_FAILED,
	}
	checkKinds = map[checks.Kind]vipdv1.CheckKind{
		checks.KindExec: vipdv1.CheckKind_CHECK_KIND_EXEC, checks.KindProcess: vipdv1.CheckKind_CHECK_KIND_PROCESS,
		checks.KindTCP: vipdv1.CheckKind_CHECK_KIND_TCP, checks.KindHTTP: vipdv1.CheckKind_CHECK_KIND_HTTP,
		checks.KindDNS: vipdv1.CheckKind_CHECK_KIND_DNS, checks.KindFile: vipdv1.CheckKind_CHECK_KIND_FILE,
		checks.KindInterface: vipdv1.CheckKind_CHECK_KIND_INTERFACE,
	}
	memberStatuses = map[string]vipdv1.MemberStatus{
		gossip.StatusAlive: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE, gossip.StatusSuspect: vipdv1.MemberStatus_MEMBER_STATUS_SUSPECT,
		gossip.StatusDead: vipdv1.MemberStatus_MEMBER_STATUS_DEAD, gossip.StatusLeft: vipdv1.MemberStatus_MEMBER_STATUS_LEFT,
	}
)

// familyOf is the API's family: IPv6, or IPv4 for anything else (the
// configuration allows no other).
func familyOf(f inet.Family) vipdv1.AddressFamily {
	if f == inet.IPv6 {
		return vipdv1.AddressFamily_ADDRESS_FAMILY_IPV6
	}
	return vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4
}

// errorCodes maps the agent's error kinds to gRPC codes; a kind missing
// here is Internal.
var errorCodes = map[agent.ErrorKind]codes.Code{
	agent.ErrorInvalid: codes.InvalidArgument, agent.ErrorNotFound: codes.NotFound,
	agent.ErrorPrecondition: codes.FailedPrecondition, agent.ErrorUnavailable: codes.Unavailable,
	agent.ErrorInternal: codes.Internal, agent.ErrorDeadline: codes.DeadlineExceeded,
	agent.ErrorExhausted: codes.ResourceExhausted, agent.ErrorUnimplemented: codes.Unimplemented,
}

// grpcError maps the agent's errors to gRPC status errors: an
// *agent.Error by its kind, a context's error as gRPC does. Any other
// error (a status already, or a stream's) passes unchanged.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	var ae *agent.Error
	if errors.As(err, &ae) {
		code, ok := errorCodes[ae.Kind]
		if !ok {
			code = codes.Internal
		}
		return status.Error(code, ae.Msg)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return err
}

// invalid is a request the server cannot read into the agent's types.
func invalid(msg string) error { return &agent.Error{Kind: agent.ErrorInvalid, Msg: msg} }

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// timeOrNil is t, or nil for the zero time (a field the API leaves out).
func timeOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func statusResponse(s agent.Status) *vipdv1.GetStatusResponse {
	resp := &vipdv1.GetStatusResponse{
		Node: s.Node, Version: s.Version, Maintenance: s.Maintenance,
		StartTime: timestamppb.New(s.Started), Uptime: durationpb.New(s.Now.Sub(s.Started)),
	}
	for _, is := range s.Instances {
		pi := &vipdv1.Instance{
			Name: is.Name, Vrid: uint32(is.VRID), Family: familyOf(is.Family), Interface: is.Interface,
			VrrpVersion: uint32(is.VRRPVersion), State: instanceStates[is.State],
			BasePriority: uint32(is.BasePriority), EffectivePriority: uint32(is.Priority),
			MasterAddress: addrString(is.Master), SourceAddress: addrString(is.Source),
			Reason: is.Reason, Held: is.Held, Guarded: is.Guarded, SyncGroup: is.SyncGroup,
			AdvertInterval: durationpb.New(is.AdvertInterval), AdvertsSent: is.Sent, AdvertsReceived: is.Received,
			Since: timeOrNil(is.Since),
		}
		for _, v := range is.VIPs {
			pi.Vips = append(pi.Vips, v.String())
		}
		for _, p := range is.Peers {
			pi.Peers = append(pi.Peers, p.String())
		}
		resp.Instances = append(resp.Instances, pi)
	}
	for _, st := range s.Checks {
		pc := &vipdv1.Check{
			Name: st.Name, Kind: checkKinds[st.Kind], State: checkStates[st.State], Healthy: st.Healthy,
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
	for reason, n := range s.Drops {
		resp.Drops = append(resp.Drops, &vipdv1.DropCount{Reason: reason.String(), Count: n})
	}
	slices.SortFunc(resp.Drops, func(x, y *vipdv1.DropCount) int { return cmp.Compare(x.Reason, y.Reason) })
	for _, st := range s.Cloud {
		ca := &vipdv1.CloudAction{
			Owner: st.Owner, Name: st.Name, Kind: string(st.Kind), State: st.State, Detail: st.Detail,
			Error: st.Error, Warnings: st.Warnings, Attempts: uint32(st.Attempts),
			Since:   timeOrNil(st.Since),
			ErrorAt: timeOrNil(st.ErrorAt),
		}
		if st.Took > 0 {
			ca.Took = durationpb.New(st.Took)
		}
		resp.CloudActions = append(resp.CloudActions, ca)
	}
	return resp
}

// member is a gossip member as the API shows it; this node without
// gossip has no address.
func member(m gossip.Member) *vipdv1.Member {
	out := &vipdv1.Member{
		Name: m.Name, AvailabilityZone: m.Meta.AZ, Version: m.Meta.Version,
		ApiAddress: m.Meta.APIAddr, Status: memberStatuses[m.Status], Since: timestamppb.New(m.Since),
	}
	if m.Addr.IsValid() {
		out.Address = m.Addr.String()
	}
	return out
}

func membersResponse(ms []gossip.Member) *vipdv1.ListMembersResponse {
	resp := &vipdv1.ListMembersResponse{}
	for _, m := range ms {
		resp.Members = append(resp.Members, member(m))
	}
	return resp
}

func clusterResponse(c agent.Cluster) *vipdv1.GetClusterResponse {
	resp := &vipdv1.GetClusterResponse{Cluster: c.Name, Node: c.Node}
	for _, n := range c.Nodes {
		cn := &vipdv1.ClusterNode{Member: member(n.Member)}
		if ns := n.State; ns != nil {
			cn.Incarnation = ns.Incarnation
			cn.Maintenance = ns.Maintenance
			for _, in := range ns.Instances {
				cn.Instances = append(cn.Instances, &vipdv1.InstanceSummary{
					Name: in.Name, Vrid: uint32(in.VRID), Family: familyOf(in.Family), SourceAddress: addrString(in.Src),
					State: instanceStates[in.State], Priority: uint32(in.Priority), Reason: in.Reason, MasterAddress: addrString(in.Master),
					Since: timeOrNil(in.Since),
				})
			}
			for _, c := range ns.Checks {
				cn.Checks = append(cn.Checks, &vipdv1.CheckSummary{
					Name: c.Name, State: checkStates[c.State], Healthy: c.Healthy, Since: timestamppb.New(c.Since), Output: c.Output,
				})
			}
		}
		resp.Nodes = append(resp.Nodes, cn)
	}
	for _, o := range c.Orders {
		resp.Orders = append(resp.Orders, order(o))
	}
	return resp
}

func order(o priority.Order) *vipdv1.Order {
	out := &vipdv1.Order{Instance: o.Instance, Version: o.Version, Origin: o.Origin}
	for _, n := range o.Nodes {
		out.Nodes = append(out.Nodes, &vipdv1.OrderNode{Name: n.Name, Disabled: n.Disabled})
	}
	return out
}

// eventTypes reads a WatchRequest's types; an unknown value reads as the
// zero agent.EventType, which matches no event.
var eventTypes = map[vipdv1.EventType]agent.EventType{
	vipdv1.EventType_EVENT_TYPE_INSTANCE: agent.EventInstance, vipdv1.EventType_EVENT_TYPE_CHECK: agent.EventCheck,
	vipdv1.EventType_EVENT_TYPE_MEMBER: agent.EventMember, vipdv1.EventType_EVENT_TYPE_ORDER: agent.EventOrder,
	vipdv1.EventType_EVENT_TYPE_HISTORY: agent.EventHistory,
}

// watchFilter reads a WatchRequest.
func watchFilter(req *vipdv1.WatchRequest) (agent.WatchFilter, error) {
	f := agent.WatchFilter{Instance: req.GetInstance(), Cluster: req.GetCluster()}
	for _, t := range req.GetTypes() {
		if t == vipdv1.EventType_EVENT_TYPE_UNSPECIFIED {
			return agent.WatchFilter{}, invalid("types: EVENT_TYPE_UNSPECIFIED is not an event type")
		}
		f.Types = append(f.Types, eventTypes[t])
	}
	return f, nil
}

// watchResponse is one watch event as the API streams it.
func watchResponse(ev agent.Event) *vipdv1.WatchResponse {
	out := &vipdv1.WatchResponse{Time: timestamppb.New(ev.Time), Node: ev.Node}
	switch {
	case ev.Instance != nil:
		ie := ev.Instance
		out.Event = &vipdv1.WatchResponse_Instance{Instance: &vipdv1.InstanceEvent{
			Name: ie.Name, Vrid: uint32(ie.VRID), Family: familyOf(ie.Family),
			From: instanceStates[ie.From], To: instanceStates[ie.To], Reason: ie.Reason,
			Priority: uint32(ie.Priority), MasterAddress: addrString(ie.Master),
		}}
	case ev.Check != nil:
		ce := ev.Check
		out.Event = &vipdv1.WatchResponse_Check{Check: &vipdv1.CheckEvent{
			Name: ce.Name, Kind: checkKinds[ce.Kind], From: checkStates[ce.From], To: checkStates[ce.To], Output: ce.Output,
		}}
	case ev.Member != nil:
		out.Event = &vipdv1.WatchResponse_Member{Member: &vipdv1.MemberEvent{
			Member: member(ev.Member.Member), PreviousStatus: memberStatuses[ev.Member.Previous],
		}}
	case ev.Order != nil:
		out.Event = &vipdv1.WatchResponse_Order{Order: &vipdv1.OrderEvent{Order: order(*ev.Order)}}
	case ev.History != nil:
		out.Event = &vipdv1.WatchResponse_History{History: historyEvent(*ev.History)}
	}
	return out
}

// historyEvent is a history event as the API shows it.
func historyEvent(e history.Event) *vipdv1.HistoryEvent {
	out := &vipdv1.HistoryEvent{
		Node: e.Node, Seq: e.Seq, Time: timestamppb.New(e.Time), Kind: string(e.Kind), Instance: e.Instance,
		Reason: e.Reason, From: e.From, To: e.To, Priority: uint32(max(e.Priority, 0)), PreviousPriority: uint32(max(e.PrevPriority, 0)),
		Master: e.Master, Check: e.Check, Output: e.Output, Origin: e.Origin, Version: e.Version, Via: e.Via, Caller: e.Caller,
		Error: e.Error, Detail: e.Detail,
	}
	if e.Kind == history.KindTransition {
		out.Cause = history.Cause(e.Reason)
	}
	if e.Duration != 0 {
		out.Duration = durationpb.New(e.Duration)
	}
	return out
}

func historyEvents(evs []history.Event) []*vipdv1.HistoryEvent {
	out := make([]*vipdv1.HistoryEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, historyEvent(e))
	}
	return out
}

func eventSources(nodes []history.NodeReport) []*vipdv1.EventSource {
	var out []*vipdv1.EventSource
	for _, n := range nodes {
		out = append(out, &vipdv1.EventSource{Node: n.Node, Answered: n.Answered, Error: n.Error, Events: uint32(n.Events),
			ClockOffset: durationpb.New(n.Offset), Skew: n.Skew})
	}
	return out
}

// eventQuery reads a ListEventsRequest; an unknown kind is refused here.
func eventQuery(req *vipdv1.ListEventsRequest) (agent.EventQuery, error) {
	q := agent.EventQuery{Query: history.Query{Instance: req.GetInstance(), Node: req.GetNode(), Limit: int(req.GetLimit())},
		Local: req.GetLocal()}
	if req.Since != nil {
		q.Since = req.Since.AsTime()
	}
	if req.Until != nil {
		q.Until = req.Until.AsTime()
	}
	for _, k := range req.GetKind() {
		kind, err := history.ParseKind(k)
		if err != nil {
			return agent.EventQuery{}, invalid("kind: " + err.Error())
		}
		q.Kinds = append(q.Kinds, kind)
	}
	return q, nil
}

func whyResponse(w agent.WhyResult) *vipdv1.WhyResponse {
	resp := &vipdv1.WhyResponse{Instance: w.Instance, Holders: w.Holders, Explanation: w.Explanation,
		Chain: historyEvents(w.Chain), Sources: eventSources(w.Sources)}
	if w.Order != nil {
		resp.Order = order(*w.Order)
	}
	for _, n := range w.Nodes {
		resp.Nodes = append(resp.Nodes, &vipdv1.WhyNode{
			Node: n.Node, Answered: n.Answered, State: instanceStates[n.State], Priority: uint32(max(n.Priority, 0)),
			BasePriority: uint32(max(n.BasePriority, 0)), OrderPlace: uint32(max(n.OrderPlace, 0)), FailedChecks: n.FailedChecks,
			PriorityNote: n.PriorityNote, Fault: n.Fault, Maintenance: n.Maintenance, Held: n.Held, Reason: n.Reason,
			Since: timeOrNil(n.Since),
		})
	}
	return resp
}

// orderRequest reads a SetOrderRequest.
func orderRequest(req *vipdv1.SetOrderRequest) agent.OrderRequest {
	out := agent.OrderRequest{Instance: req.GetInstance(), ExpectedVersion: req.GetExpectedVersion()}
	for _, n := range req.GetNodes() {
		out.Nodes = append(out.Nodes, priority.OrderNode{Name: n.GetName(), Disabled: n.GetDisabled()})
	}
	return out
}
