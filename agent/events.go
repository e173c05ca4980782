package agent

import (
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/inet"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// watchBuffer is how many events a watcher may fall behind before it is
// cut off: a stuck client must not hold memory or slow the agent.
const watchBuffer = 256

// hub fans events out to the API's watchers. Publishing never blocks: a
// watcher whose buffer is full is dropped and told so.
type hub struct {
	mu   sync.Mutex
	subs map[*watcher]struct{}
	tap  atomic.Pointer[func(*vipdv1.WatchResponse)] // sees every event first (history.go)
}

// watcher is one Watch stream's subscription.
type watcher struct {
	ch     chan *vipdv1.WatchResponse
	behind chan struct{} // closed when the watcher fell behind
}

func newHub() *hub { return &hub{subs: map[*watcher]struct{}{}} }

// subscribe adds a watcher; cancel removes it.
func (h *hub) subscribe() (w *watcher, cancel func()) {
	w = &watcher{ch: make(chan *vipdv1.WatchResponse, watchBuffer), behind: make(chan struct{})}
	h.mu.Lock()
	h.subs[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(h.subs, w)
		h.mu.Unlock()
	}
}

func (h *hub) publish(ev *vipdv1.WatchResponse) {
	if tap := h.tap.Load(); tap != nil {
		(*tap)(ev)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.subs {
		select {
		case w.ch <- ev:
		default:
			delete(h.subs, w)
			close(w.behind)
		}
	}
}

func (h *hub) instance(node string, at time.Time, ie *vipdv1.InstanceEvent) {
	h.publish(&vipdv1.WatchResponse{Time: timestamppb.New(at), Node: node, Event: &vipdv1.WatchResponse_Instance{Instance: ie}})
}

func (h *hub) check(node string, at time.Time, ce *vipdv1.CheckEvent) {
	h.publish(&vipdv1.WatchResponse{Time: timestamppb.New(at), Node: node, Event: &vipdv1.WatchResponse_Check{Check: ce}})
}

// clusterEvents turns gossip's changes into watch events: membership and
// orders directly, other nodes' instance and check changes by comparing
// each new state with the one before. It runs on memberlist's goroutines.
type clusterEvents struct {
	hub  *hub
	self string
	c    *gossip.Cluster // set once the cluster exists

	mu      sync.Mutex
	members map[string]gossip.Member
	states  map[string]gossip.NodeState
}

func newClusterEvents(h *hub, self string) *clusterEvents {
	return &clusterEvents{hub: h, self: self, members: map[string]gossip.Member{}, states: map[string]gossip.NodeState{}}
}

func (e *clusterEvents) handle(ev gossip.Event) {
	if e.c == nil {
		return
	}
	now := time.Now()
	switch ev.Kind {
	case gossip.MemberJoin, gossip.MemberLeave, gossip.MemberUpdate:
		for _, m := range e.c.Members() {
			if m.Name != ev.Node {
				continue
			}
			e.mu.Lock()
			prev, known := e.members[m.Name]
			e.members[m.Name] = m
			e.mu.Unlock()
			me := &vipdv1.MemberEvent{Member: memberProto(m)}
			if known {
				me.PreviousStatus = memberStatus(prev.Status)
			}
			e.hub.publish(&vipdv1.WatchResponse{Time: timestamppb.New(now), Node: m.Name, Event: &vipdv1.WatchResponse_Member{Member: me}})
		}
	case gossip.OrderUpdate:
		if o, ok := e.c.Orders()[ev.Instance]; ok {
			e.hub.publish(&vipdv1.WatchResponse{Time: timestamppb.New(now), Node: o.Origin,
				Event: &vipdv1.WatchResponse_Order{Order: &vipdv1.OrderEvent{Order: orderProto(o)}}})
		}
	case gossip.StateUpdate:
		if ev.Node == e.self {
			return // this node's own events come from the instances themselves
		}
		s, ok := e.c.States()[ev.Node]
		if !ok {
			return
		}
		e.mu.Lock()
		prev := e.states[ev.Node]
		e.states[ev.Node] = s
		e.mu.Unlock()
		e.diff(now, prev, s)
	}
}

// diff publishes what changed between two states of another node.
func (e *clusterEvents) diff(now time.Time, prev, cur gossip.NodeState) {
	old := map[string]gossip.InstanceState{}
	for _, in := range prev.Instances {
		old[in.Name] = in
	}
	for _, in := range cur.Instances {
		was, ok := old[in.Name]
		if ok && was.State == in.State {
			continue
		}
		ie := &vipdv1.InstanceEvent{
			Name: in.Name, Vrid: uint32(in.VRID), Family: familyProto(in.Family),
			To: stateProto(in.State), Reason: in.Reason, Priority: uint32(in.Priority), MasterAddress: addrString(in.Master),
		}
		if ok {
			ie.From = stateProto(was.State)
		}
		e.hub.instance(cur.Node, now, ie)
	}
	oldChecks := map[string]gossip.CheckState{}
	for _, c := range prev.Checks {
		oldChecks[c.Name] = c
	}
	for _, c := range cur.Checks {
		was, ok := oldChecks[c.Name]
		if ok && was.State == c.State {
			continue
		}
		ce := &vipdv1.CheckEvent{Name: c.Name, To: checkStateProto(c.State), Output: c.Output}
		if ok {
			ce.From = checkStateProto(was.State)
		}
		e.hub.check(cur.Node, now, ce)
	}
}

// stateProto maps an instance state (fsm's, or gossip's UnknownState) to
// the API's enum.
func stateProto(s fsm.State) vipdv1.InstanceState {
	switch s {
	case fsm.Init:
		return vipdv1.InstanceState_INSTANCE_STATE_INIT
	case fsm.Backup:
		return vipdv1.InstanceState_INSTANCE_STATE_BACKUP
	case fsm.Master:
		return vipdv1.InstanceState_INSTANCE_STATE_MASTER
	case fsm.Fault:
		return vipdv1.InstanceState_INSTANCE_STATE_FAULT
	case fsm.Stopped:
		return vipdv1.InstanceState_INSTANCE_STATE_STOP
	}
	return vipdv1.InstanceState_INSTANCE_STATE_UNSPECIFIED
}

// wordState reads fsm's word for a state as a history reply carries it,
// gossip.UnknownState for any other word.
func wordState(w string) fsm.State {
	if s, ok := fsm.ParseState(w); ok {
		return s
	}
	return gossip.UnknownState
}

// checkStateProto maps a check state (checks', or gossip's
// UnknownCheckState) to the API's enum.
func checkStateProto(s checks.State) vipdv1.CheckState {
	switch s {
	case checks.StateInit:
		return vipdv1.CheckState_CHECK_STATE_INIT
	case checks.StateHealthy:
		return vipdv1.CheckState_CHECK_STATE_HEALTHY
	case checks.StateFailed:
		return vipdv1.CheckState_CHECK_STATE_FAILED
	}
	return vipdv1.CheckState_CHECK_STATE_UNSPECIFIED
}

func familyProto(f inet.Family) vipdv1.AddressFamily {
	if f == inet.IPv6 {
		return vipdv1.AddressFamily_ADDRESS_FAMILY_IPV6
	}
	return vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4
}

func memberStatus(s string) vipdv1.MemberStatus {
	switch s {
	case gossip.StatusAlive:
		return vipdv1.MemberStatus_MEMBER_STATUS_ALIVE
	case gossip.StatusSuspect:
		return vipdv1.MemberStatus_MEMBER_STATUS_SUSPECT
	case gossip.StatusDead:
		return vipdv1.MemberStatus_MEMBER_STATUS_DEAD
	case gossip.StatusLeft:
		return vipdv1.MemberStatus_MEMBER_STATUS_LEFT
	}
	return vipdv1.MemberStatus_MEMBER_STATUS_UNSPECIFIED
}

func memberProto(m gossip.Member) *vipdv1.Member {
	return &vipdv1.Member{
		Name: m.Name, Address: m.Addr.String(), AvailabilityZone: m.Meta.AZ, Version: m.Meta.Version,
		ApiAddress: m.Meta.APIAddr, Status: memberStatus(m.Status), Since: timestamppb.New(m.Since),
	}
}

func orderProto(o gossip.OrderEntry) *vipdv1.Order {
	out := &vipdv1.Order{Instance: o.Instance, Version: o.Version, Origin: o.Origin}
	for _, n := range o.Nodes {
		out.Nodes = append(out.Nodes, &vipdv1.OrderNode{Name: n.Name, Disabled: n.Disabled})
	}
	return out
}
