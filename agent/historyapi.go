package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/priority"
)

// This file answers ListEvents and Why for the whole cluster: it asks
// every other member for its part over gossip's query channel
// (gossip/query.go), each member reading its own history, and merges the
// answers (history.Merge). Events are never gossiped.

// queryTimeout bounds how long a cluster-wide read waits for a member.
const queryTimeout = 3 * time.Second

// historyRequest is a query between members (JSON, so that fields can be
// added): the events wanted, and the instance whose side to explain.
type historyRequest struct {
	Events  *history.Query `json:"events,omitempty"`
	Explain string         `json:"explain,omitempty"`
}

// historyReply is a member's answer.
type historyReply struct {
	Events  []history.Event `json:"events,omitempty"`
	Explain *sideOf         `json:"explain,omitempty"`
}

// sideOf is one node's side of an instance, for Why.
type sideOf struct {
	Node         string    `json:"node"`
	Running      bool      `json:"running"`
	State        string    `json:"state,omitempty"`
	Priority     int       `json:"priority,omitempty"`
	Base         int       `json:"base,omitempty"`
	OrderPlace   int       `json:"order_place,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	FailedChecks []string  `json:"failed_checks,omitempty"`
	Tracked      []string  `json:"tracked,omitempty"`
	Note         string    `json:"note,omitempty"`
	Fault        bool      `json:"fault,omitempty"`
	Maintenance  bool      `json:"maintenance,omitempty"`
	Held         string    `json:"held,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Since        time.Time `json:"since,omitzero"`
	Source       string    `json:"source,omitempty"`
	answered     bool
}

// answerQuery answers another member's history query (gossip's query
// goroutine).
func (a *Agent) answerQuery(from string, req []byte) ([]byte, error) {
	var q historyRequest
	if err := json.Unmarshal(req, &q); err != nil {
		return nil, fmt.Errorf("bad history query: %v", err)
	}
	var r historyReply
	if q.Events != nil {
		h := a.hist.Load()
		if h == nil {
			return nil, errors.New("no history yet")
		}
		evs, err := h.rec.Query(*q.Events)
		if err != nil {
			a.log.Warn("history: reading the log", "err", err)
		}
		r.Events = evs
	}
	if q.Explain != "" {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout/2)
		side, err := a.side(ctx, q.Explain)
		cancel()
		if err != nil {
			return nil, err
		}
		r.Explain = side
	}
	for {
		b, err := json.Marshal(r)
		if err != nil || len(b) <= gossip.MaxQueryReply || len(r.Events) == 0 {
			return b, err
		}
		// Too much for one reply: the newest half.
		r.Events = r.Events[len(r.Events)/2+1:]
	}
}

// side reads this node's side of an instance on the agent's goroutine.
func (a *Agent) side(ctx context.Context, name string) (*sideOf, error) {
	s := &sideOf{Node: a.nodeName, answered: true}
	err := a.onLoop(ctx, func() {
		r := a.running[name]
		t := a.track
		if r == nil || t == nil {
			return
		}
		s.Running = true
		s.State = r.inst.State().String()
		s.Priority = int(r.inst.Priority())
		s.Base = int(r.cfg.Priority)
		s.Source = addrString(r.inst.Source())
		for _, tr := range tracksOf(r.cfg) {
			s.Tracked = append(s.Tracked, tr.Check)
		}
		v := t.view(name)
		res := v.result
		s.FailedChecks, s.Note, s.Fault = res.FailedChecks, res.Reason, res.Fault
		s.Maintenance = v.maint
		switch {
		case v.guard != "":
			s.Held = v.guard
		case v.joinHeld:
			s.Held = v.wait
		case v.heldBack:
			s.Held = "sync group member yields to another node"
		}
		s.Reason, s.Since = v.reason, v.since
		if i, e, ok := v.order.Find(a.nodeName); ok {
			s.OrderPlace, s.Disabled = i+1, e.Disabled
		}
	})
	return s, err
}

// gather asks this node and every other member for q, concurrently.
// Members that are not alive are reported as not answering, with their
// status.
func (a *Agent) gather(ctx context.Context, q historyRequest, local bool) ([]history.Answer, []*sideOf) {
	h := a.hist.Load()
	var answers []history.Answer
	var sides []*sideOf
	self := history.Answer{Node: a.nodeName}
	if h == nil {
		self.Err = "no history yet (starting)"
	} else if q.Events != nil {
		evs, err := h.rec.Query(*q.Events)
		if err != nil {
			a.log.Warn("history: reading the log", "err", err)
		}
		self.Events = evs
	}
	answers = append(answers, self)
	if q.Explain != "" {
		if s, err := a.side(ctx, q.Explain); err == nil {
			sides = append(sides, s)
		}
	}
	l := a.link.Load()
	if local || l == nil {
		return answers, sides
	}
	payload, err := json.Marshal(q)
	if err != nil {
		return answers, sides
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range l.c.Members() {
		if m.Name == a.nodeName {
			continue
		}
		if m.Status != gossip.StatusAlive {
			answers = append(answers, history.Answer{Node: m.Name, Err: "member is " + m.Status})
			continue
		}
		wg.Go(func() {
			qctx, cancel := context.WithTimeout(ctx, queryTimeout)
			defer cancel()
			ans := history.Answer{Node: m.Name}
			var r historyReply
			rep, err := l.c.Query(qctx, m.Name, payload)
			if err == nil {
				err = json.Unmarshal(rep.Payload, &r)
			}
			if err != nil {
				ans.Err = err.Error()
			} else {
				ans.Events, ans.Offset, ans.RTT = r.Events, rep.Offset(), rep.RTT()
			}
			mu.Lock()
			defer mu.Unlock()
			answers = append(answers, ans)
			if r.Explain != nil {
				r.Explain.answered = true
				r.Explain.Node = m.Name
				sides = append(sides, r.Explain)
			}
		})
	}
	wg.Wait()
	return answers, sides
}

// EventQuery asks for the cluster's (or one node's) history.
type EventQuery struct {
	history.Query
	// Local asks this node's history only (so does Query.Node naming
	// this node).
	Local bool
}

// EventList is the merged history and, per node, how its part came.
type EventList struct {
	Events  []history.Event
	Sources []history.NodeReport
}

// ListEvents returns the cluster's (or, with Local, this node's) history.
func (s *Service) ListEvents(ctx context.Context, req EventQuery) (EventList, error) {
	q := req.Query
	if q.Limit > history.MaxLimit {
		return EventList{}, reqErrorf(ErrorInvalid, "limit: at most %d", history.MaxLimit)
	}
	local := req.Local || (q.Node == s.a.nodeName)
	answers, _ := s.a.gather(ctx, historyRequest{Events: &q}, local)
	if q.Node != "" {
		// Only that node's answer matters; the others return nothing.
		answers = slices.DeleteFunc(answers, func(a history.Answer) bool { return a.Node != q.Node })
		if len(answers) == 0 {
			return EventList{}, reqErrorf(ErrorNotFound, "node %q: not a member", q.Node)
		}
	}
	tl := history.Merge(answers, history.DefaultSkew)
	return EventList{Events: tl.Events, Sources: tl.Nodes}, nil
}

// chainLength is how many events Why shows.
const chainLength = 25

// WhyResult explains who holds an instance and why.
type WhyResult struct {
	Instance string
	// Holders are the nodes that are MASTER (more than one: split brain).
	Holders []string
	// Explanation is the answer in sentences.
	Explanation []string
	// Nodes are the nodes running the instance, ranked as VRRP elects.
	Nodes []WhyNode
	// Order is the instance's cluster-wide order, nil if none.
	Order *priority.Order
	// Chain are the events that led here, oldest first.
	Chain []history.Event
	// Sources say, per node, how its history came.
	Sources []history.NodeReport
}

// WhyNode is one node's side of an instance.
type WhyNode struct {
	Node string
	// Answered is false when the side is as gossip last showed it.
	Answered bool
	// State is gossip.UnknownState for a state word this version does
	// not know.
	State fsm.State
	// Priority is the effective priority, BasePriority the configured
	// one, OrderPlace the node's place in the order (1 first, 0 none).
	Priority, BasePriority, OrderPlace int
	FailedChecks                       []string
	// PriorityNote says what moved the priority.
	PriorityNote string
	Fault        bool
	Maintenance  bool
	// Held says what holds the node in BACKUP, if anything.
	Held string
	// Reason says why the node is in its state, since Since.
	Reason string
	Since  time.Time
}

// Why explains who holds an instance and why.
func (s *Service) Why(ctx context.Context, name string) (WhyResult, error) {
	a := s.a
	if name == "" {
		return WhyResult{}, reqErrorf(ErrorInvalid, "instance: required")
	}
	q := history.Query{Instance: name, Limit: 200, Since: a.clock.Now().Add(-7 * 24 * time.Hour),
		Kinds: []history.Kind{history.KindTransition, history.KindPriority, history.KindFailover, history.KindOrder, history.KindGuard,
			history.KindMaintenance, history.KindCheck, history.KindCloud, history.KindMember}}
	answers, sides := a.gather(ctx, historyRequest{Events: &q, Explain: name}, false)
	var order *priority.Order
	var states map[string]gossip.NodeState
	if l := a.link.Load(); l != nil {
		states = l.c.States()
		if o, ok := l.c.Orders()[name]; ok {
			order = &o
		}
	}
	sides = withGossipSides(sides, states, name)
	sides = slices.DeleteFunc(sides, func(s *sideOf) bool { return !s.Running })
	if len(sides) == 0 {
		return WhyResult{}, reqErrorf(ErrorNotFound, "instance %q: no node runs it", name)
	}
	rankSides(sides)
	tl := history.Merge(answers, history.DefaultSkew)
	res := WhyResult{Instance: name, Sources: tl.Nodes, Order: order}
	for _, sd := range sides {
		if sd.State == fsm.Master.String() {
			res.Holders = append(res.Holders, sd.Node)
		}
		res.Nodes = append(res.Nodes, sd.whyNode())
	}
	res.Explanation = explain(name, sides, order)
	res.Chain = chain(tl.Events, sides)
	return res, nil
}

// withGossipSides adds, for the nodes that did not answer, their side as
// gossip last showed it.
func withGossipSides(sides []*sideOf, states map[string]gossip.NodeState, name string) []*sideOf {
	have := map[string]bool{}
	for _, s := range sides {
		have[s.Node] = true
	}
	nodes := make([]string, 0, len(states))
	for n := range states {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		if have[n] {
			continue
		}
		ns := states[n]
		for _, in := range ns.Instances {
			if in.Name != name {
				continue
			}
			sides = append(sides, &sideOf{Node: n, Running: true, State: in.StateWord(), Priority: int(in.Priority),
				Maintenance: ns.Maintenance, Reason: in.Reason, Since: in.Since, Source: addrString(in.Src)})
		}
	}
	return sides
}

// eligible: the node could be master now.
func (s *sideOf) eligible() bool {
	return !s.Fault && !s.Maintenance && s.Held == "" && s.State != fsm.Fault.String() && s.State != fsm.Stopped.String()
}

// rankSides sorts the nodes as VRRP elects: the master first, then those
// that could take over by priority and then address (the higher wins a
// tie), then the rest.
func rankSides(sides []*sideOf) {
	slices.SortStableFunc(sides, func(x, y *sideOf) int {
		if c := cmpBool(x.State == fsm.Master.String(), y.State == fsm.Master.String()); c != 0 {
			return c
		}
		if c := cmpBool(x.eligible(), y.eligible()); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Priority, x.Priority); c != 0 {
			return c
		}
		xa, _ := netip.ParseAddr(x.Source)
		ya, _ := netip.ParseAddr(y.Source)
		if c := ya.Compare(xa); c != 0 {
			return c
		}
		return strings.Compare(x.Node, y.Node)
	})
}

// cmpBool puts true first.
func cmpBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return -1
	}
	return 1
}

// explain says, in sentences, who holds the instance and why that node
// and not the next one. sides are ranked (rankSides).
func explain(name string, sides []*sideOf, order *priority.Order) []string {
	var out []string
	var masters []*sideOf
	for _, s := range sides {
		if s.State == fsm.Master.String() {
			masters = append(masters, s)
		}
	}
	switch len(masters) {
	case 0:
		out = append(out, fmt.Sprintf("nobody holds %s: no node is MASTER.", name))
	case 1:
		m := masters[0]
		line := fmt.Sprintf("%s holds %s: MASTER", m.Node, name)
		if !m.Since.IsZero() {
			line += " since " + m.Since.UTC().Format(time.RFC3339)
		}
		if m.Reason != "" {
			line += " (" + m.Reason + ")"
		}
		out = append(out, line+".")
	default:
		var names []string
		for _, m := range masters {
			names = append(names, m.Node)
		}
		out = append(out, fmt.Sprintf("split brain: %s are all MASTER of %s.", strings.Join(names, ", "), name))
	}
	var holder *sideOf
	if len(masters) > 0 {
		holder = masters[0]
	}
	var next *sideOf
	for _, s := range sides {
		if s != holder && s.State != fsm.Master.String() {
			next = s
			break
		}
	}
	if order != nil {
		var names []string
		for _, n := range order.Nodes {
			w := n.Name
			if n.Disabled {
				w += " (disabled)"
			}
			names = append(names, w)
		}
		out = append(out, fmt.Sprintf("order v%d, written by %s: %s.", order.Version, order.Origin, strings.Join(names, ", ")))
	}
	if holder != nil && next != nil {
		out = append(out, compare(holder, next)...)
	} else if holder == nil && next != nil {
		out = append(out, fmt.Sprintf("the best candidate is %s: %s.", next.Node, describe(next)))
	}
	for _, s := range sides {
		if s == holder || s == next {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s.", s.Node, describe(s)))
	}
	return out
}

// compare says why holder is master and next is not.
func compare(holder, next *sideOf) []string {
	out := []string{fmt.Sprintf("%s: %s.", holder.Node, describe(holder)), fmt.Sprintf("next is %s: %s.", next.Node, describe(next))}
	var why string
	switch {
	case next.Maintenance:
		why = next.Node + " is in maintenance: it never takes over"
	case next.Fault || next.State == fsm.Fault.String():
		why = next.Node + " is in FAULT"
		if next.Note != "" {
			why += " (" + next.Note + ")"
		}
	case next.Held != "":
		why = next.Node + " is held in BACKUP: " + next.Held
	case holder.Priority > next.Priority:
		why = fmt.Sprintf("%s's priority %d is higher than %s's %d", holder.Node, holder.Priority, next.Node, next.Priority)
		if holder.OrderPlace > 0 && next.OrderPlace > 0 {
			why += fmt.Sprintf(" (places %d and %d in the order)", holder.OrderPlace, next.OrderPlace)
		}
	case holder.Priority == next.Priority:
		why = fmt.Sprintf("equal priority %d: the higher address wins (%s's %s against %s's %s)", holder.Priority, holder.Node, holder.Source, next.Node, next.Source)
	default:
		why = fmt.Sprintf("%s has the higher priority (%d > %d) but has not taken over: it does not preempt, or the change is under way", next.Node, next.Priority, holder.Priority)
	}
	return append(out, "why "+holder.Node+" and not "+next.Node+": "+why+".")
}

// describe is one node's side in words: state, priority arithmetic,
// checks, order place, holds.
func describe(s *sideOf) string {
	parts := []string{s.State}
	if s.OrderPlace > 0 && strings.HasPrefix(s.Note, "node "+s.Node+" is number ") {
		s.Note = "" // the place in the order, said below
	}
	if s.answered {
		p := fmt.Sprintf("priority %d", s.Priority)
		if s.Base != 0 && s.Base != s.Priority && s.OrderPlace == 0 {
			p += fmt.Sprintf(" (configured %d", s.Base)
			if s.Note != "" {
				p += "; " + s.Note
			}
			p += ")"
		} else if s.Note != "" {
			p += " (" + s.Note + ")"
		}
		parts = append(parts, p)
		if s.OrderPlace > 0 {
			pl := fmt.Sprintf("place %d in the order", s.OrderPlace)
			if s.Disabled {
				pl += " (disabled)"
			}
			parts = append(parts, pl)
		}
		if len(s.FailedChecks) > 0 {
			parts = append(parts, "failed checks: "+strings.Join(s.FailedChecks, ", "))
		}
	} else {
		parts = append(parts, fmt.Sprintf("priority %d (as gossip last showed it: the node did not answer)", s.Priority))
	}
	if s.Maintenance {
		parts = append(parts, "in maintenance")
	}
	if s.Held != "" {
		parts = append(parts, "held: "+s.Held)
	}
	return strings.Join(parts, ", ")
}

// chain keeps the events that explain the instance's present state: its
// transitions, failovers, orders, guard and cloud events, maintenance
// changes, member changes and the verdicts of checks some node tracks
// for it; the last chainLength of them.
func chain(evs []history.Event, sides []*sideOf) []history.Event {
	tracked := map[string]bool{}
	for _, s := range sides {
		for _, c := range s.Tracked {
			tracked[s.Node+"\x00"+c] = true
		}
	}
	var out []history.Event
	for _, e := range evs {
		if e.Kind == history.KindCheck && !tracked[e.Node+"\x00"+e.Check] {
			continue
		}
		if e.Kind == history.KindMember && e.To == gossip.StatusAlive && e.From == "" {
			continue // a first sighting says nothing
		}
		out = append(out, e)
	}
	if len(out) > chainLength {
		out = out[len(out)-chainLength:]
	}
	return out
}

// whyNode is the side as Why answers it; taken before explain, whose
// describe clears a Note that the order place says again.
func (s *sideOf) whyNode() WhyNode {
	return WhyNode{
		Node: s.Node, Answered: s.answered, State: wordState(s.State), Priority: s.Priority,
		BasePriority: s.Base, OrderPlace: s.OrderPlace, FailedChecks: s.FailedChecks,
		PriorityNote: s.Note, Fault: s.Fault, Maintenance: s.Maintenance, Held: s.Held, Reason: s.Reason, Since: s.Since,
	}
}
