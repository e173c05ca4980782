package agent

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/priority"
)

// watchBuffer is how many events a watcher may fall behind before it is
// cut off: a stuck client must not hold memory or slow the agent.
const watchBuffer = 256

// Event is one watch event: at Time, on Node, exactly one of Instance,
// Check, Member, Order and History is set. The server turns it into the
// API's WatchResponse.
type Event struct {
	Time time.Time
	// Node is the node the event happened on: the instance's or check's
	// node, the member that changed, an order's writer, the node that
	// recorded a history event.
	Node     string
	Instance *InstanceEvent
	Check    *CheckEvent
	Member   *MemberEvent
	Order    *priority.Order
	History  *history.Event
}

// InstanceEvent is an instance's transition, this node's or, through
// gossip, another's.
type InstanceEvent struct {
	Name   string
	VRID   uint8
	Family inet.Family
	// From is gossip.UnknownState when the state before is not known (the
	// first state seen of another node's instance); To is that too when
	// another node sent a state word this version does not know.
	From, To fsm.State
	// Reason says why the transition happened.
	Reason string
	// Priority is the priority after the transition.
	Priority uint8
	// Master is the master as believed after the transition (the zero
	// Addr when none is known).
	Master netip.Addr
}

// CheckEvent is a check's change of verdict, this node's or another's.
type CheckEvent struct {
	Name string
	// Kind is empty for another node's check (gossip does not carry it).
	Kind checks.Kind
	// From is gossip.UnknownCheckState when the state before is not known
	// (the check's first verdict seen); To is that too for a word another
	// node sent that this version does not know.
	From, To checks.State
	// Output is the check's last output.
	Output string
}

// MemberEvent is a gossip member's change (status or metadata).
type MemberEvent struct {
	Member gossip.Member
	// Previous is the status before, empty when the member is new.
	Previous string
}

// EventType is the type of a watch event, as a watch filters them.
type EventType uint8

// The event types; the zero EventType is no type and matches no event.
const (
	EventInstance EventType = iota + 1
	EventCheck
	EventMember
	EventOrder
	EventHistory
)

// EventTypes lists every EventType, so that a mapping of them (the
// server's) can be tested to cover each.
var EventTypes = []EventType{EventInstance, EventCheck, EventMember, EventOrder, EventHistory}

// Type is the event's type, 0 for an empty event.
func (e Event) Type() EventType {
	switch {
	case e.Instance != nil:
		return EventInstance
	case e.Check != nil:
		return EventCheck
	case e.Member != nil:
		return EventMember
	case e.Order != nil:
		return EventOrder
	case e.History != nil:
		return EventHistory
	}
	return 0
}

// hub fans events out to the API's watchers. Publishing never blocks: a
// watcher whose buffer is full is dropped and told so.
type hub struct {
	mu   sync.Mutex
	subs map[*watcher]struct{}
	tap  atomic.Pointer[func(Event)] // sees every event first (history.go)
}

// watcher is one Watch stream's subscription.
type watcher struct {
	ch     chan Event
	behind chan struct{} // closed when the watcher fell behind
}

func newHub() *hub { return &hub{subs: map[*watcher]struct{}{}} }

// subscribe adds a watcher; cancel removes it.
func (h *hub) subscribe() (w *watcher, cancel func()) {
	w = &watcher{ch: make(chan Event, watchBuffer), behind: make(chan struct{})}
	h.mu.Lock()
	h.subs[w] = struct{}{}
	h.mu.Unlock()
	return w, func() {
		h.mu.Lock()
		delete(h.subs, w)
		h.mu.Unlock()
	}
}

func (h *hub) publish(ev Event) {
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

// setTap sets (or, with nil, clears) the function that sees every event
// the hub publishes, before the watchers.
func (h *hub) setTap(f func(Event)) {
	if f == nil {
		h.tap.Store(nil)
		return
	}
	h.tap.Store(&f)
}

func (h *hub) instance(node string, at time.Time, ie InstanceEvent) {
	h.publish(Event{Time: at, Node: node, Instance: &ie})
}

func (h *hub) check(node string, at time.Time, ce CheckEvent) {
	h.publish(Event{Time: at, Node: node, Check: &ce})
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
			me := &MemberEvent{Member: m}
			if known {
				me.Previous = prev.Status
			}
			e.hub.publish(Event{Time: now, Node: m.Name, Member: me})
		}
	case gossip.OrderUpdate:
		if o, ok := e.c.Orders()[ev.Instance]; ok {
			e.hub.publish(Event{Time: now, Node: o.Origin, Order: &o})
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

// diff publishes what changed between two states of another node: the
// instances and checks that are new or changed state.
func (e *clusterEvents) diff(now time.Time, prev, cur gossip.NodeState) {
	changes(prev.Instances, cur.Instances, func(in gossip.InstanceState) (string, fsm.State) { return in.Name, in.State }, gossip.UnknownState,
		func(in gossip.InstanceState, from fsm.State) {
			e.hub.instance(cur.Node, now, InstanceEvent{Name: in.Name, VRID: in.VRID, Family: in.Family, From: from, To: in.State,
				Reason: in.Reason, Priority: in.Priority, Master: in.Master})
		})
	changes(prev.Checks, cur.Checks, func(c gossip.CheckState) (string, checks.State) { return c.Name, c.State }, gossip.UnknownCheckState,
		func(c gossip.CheckState, from checks.State) {
			e.hub.check(cur.Node, now, CheckEvent{Name: c.Name, From: from, To: c.State, Output: c.Output})
		})
}

// changes calls changed for each item of cur that is new in it (with
// unknown as the state before) or whose state differs from the item of
// the same name in prev (with that item's state).
func changes[T any, S comparable](prev, cur []T, key func(T) (string, S), unknown S, changed func(T, S)) {
	before := make(map[string]S, len(prev))
	for _, x := range prev {
		name, st := key(x)
		before[name] = st
	}
	for _, x := range cur {
		name, st := key(x)
		was, ok := before[name]
		switch {
		case !ok:
			changed(x, unknown)
		case was != st:
			changed(x, was)
		}
	}
}

// wordState reads fsm's word for a state as a history reply carries it,
// gossip.UnknownState for any other word.
func wordState(w string) fsm.State {
	if s, ok := fsm.ParseState(w); ok {
		return s
	}
	return gossip.UnknownState
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
