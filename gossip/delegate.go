package gossip

import (
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate is vipd's memberlist.Delegate. memberlist calls it from its
// packet and stream goroutines, concurrently: every method is safe for
// that, copies what it keeps and never blocks on anything but c.mu.
type delegate struct{ c *Cluster }

var _ memberlist.Delegate = (*delegate)(nil)

// NodeMeta returns the meta New encoded and checked. It never returns
// more than limit (memberlist would panic): New guarantees that.
func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.c.meta) > limit {
		d.c.log.Error("gossip: node meta over memberlist's limit; advertising none", "bytes", len(d.c.meta), "limit", limit)
		return nil
	}
	return d.c.meta
}

// NotifyMsg handles one vipd message from a gossip packet or a TCP user
// message. b is only valid during the call: decoding copies it.
func (d *delegate) NotifyMsg(b []byte) {
	d.c.receive(b, true)
}

// GetBroadcasts hands memberlist the queued deltas that fit.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.c.queue.GetBroadcasts(overhead, limit)
}

// LocalState is the full view for a push/pull or a join.
func (d *delegate) LocalState(join bool) []byte {
	c := d.c
	c.mu.Lock()
	p := pushPull{Clock: c.clock, States: c.liveStatesLocked(), Orders: sortedOrders(c.orders), Departed: c.departedLocked(c.clk.Now())}
	c.mu.Unlock()
	return encodePushPull(p)
}

// MergeRemoteState merges a peer's full view.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	d.c.receive(buf, false)
}

// receive decodes and applies one message. Garbage is counted and logged,
// never fatal. Deltas are passed on (regossip); push/pull views are not,
// as every node exchanges them anyway.
func (c *Cluster) receive(b []byte, regossip bool) {
	if c.receiveQuery(b) {
		return
	}
	m, err := decodeMessage(b)
	if err != nil {
		c.stats.decodeErrors.Add(1)
		c.log.Warn("gossip: dropped undecodable message", "bytes", len(b), "err", err)
		return
	}
	switch m.Type {
	case msgState:
		c.handleState(*m.State, regossip)
	case msgHello:
		// A member that (re)joined sends its state; answer with ours, which
		// it may have dropped when it saw this node as dead.
		c.handleState(*m.State, false)
		c.sendMu.Lock()
		c.replyTo[m.State.Node] = true
		c.sendMu.Unlock()
		c.wakeSend()
	case msgOrder:
		c.handleOrders(regossip, *m.Order)
	case msgPushPull:
		c.mu.Lock()
		c.clock = max(c.clock, m.PushPull.Clock)
		c.mu.Unlock()
		for _, s := range m.PushPull.States {
			c.handleState(s, false)
		}
		c.handleOrders(false, m.PushPull.Orders...)
		c.mergeDeparted(m.PushPull.Departed, c.clk.Now())
	case msgLeave:
		c.handleLeaving(m.Leaving)
	case msgCommand:
		c.handleCommand(*m.Command)
	}
}

// leaveIntentTTL is how long a leave announcement waits for memberlist to
// report the departure.
const leaveIntentTTL = time.Minute

// handleLeaving records a peer's announcement that it is leaving, so that
// its departure shows as left rather than dead. The announcement may also
// arrive just after memberlist's dead message: then it corrects the status.
func (c *Cluster) handleLeaving(name string) {
	if name == c.name {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.members[name]; ok && m.Status == StatusDead && c.clk.Now().Sub(m.Since) < leaveIntentTTL {
		m.Status = StatusLeft
		c.members[name] = m
		delete(c.departed, name) // it left: no peer to keep
		return
	}
	c.leaving[name] = c.clk.Now()
}

// events is vipd's memberlist.EventDelegate. memberlist calls it with its
// node lock held, one call at a time: it only updates c's member table
// (under c.mu) and calls OnChange, never memberlist.
type events struct{ c *Cluster }

var _ memberlist.EventDelegate = (*events)(nil)

// NotifyJoin records a member that joined or came back.
func (e *events) NotifyJoin(n *memberlist.Node) {
	c := e.c
	m := c.memberFrom(n, StatusAlive)
	c.mu.Lock()
	old, known := c.members[n.Name]
	c.members[n.Name] = m
	delete(c.leaving, n.Name)
	c.countAliveLocked()
	c.mu.Unlock()
	if n.Name != c.name {
		c.joined.Store(true)
		if !known || old.Addr != m.Addr || old.Status == StatusLeft {
			// Remember where it is, for a restart (see rejoinLoop).
			c.persistSoon()
		}
		c.log.Info("gossip: member joined", "node", n.Name, "addr", m.Addr)
		c.sendMu.Lock()
		c.welcome[n.Name] = true
		c.sendMu.Unlock()
		c.wakeSend()
	}
	c.emit(Event{Kind: MemberJoin, Node: n.Name})
}

// NotifyLeave records a member that left or died, and drops its state.
func (e *events) NotifyLeave(n *memberlist.Node) {
	c := e.c
	// memberlist's Node.State is not updated before this call, so whether
	// the node left on purpose comes from its leave announcement (or, for
	// this node, from being here at all: memberlist only reports this
	// node's own departure on Leave).
	m := c.memberFrom(n, StatusDead)
	c.mu.Lock()
	if t, ok := c.leaving[n.Name]; (ok && c.clk.Now().Sub(t) < leaveIntentTTL) || n.Name == c.name {
		m.Status = StatusLeft
	}
	delete(c.leaving, n.Name)
	status := m.Status
	c.members[n.Name] = m
	// A member that failed (rather than left) stays a peer until the
	// reconnect timeout: see Peers.
	if st, ok := c.states[n.Name]; ok && status == StatusDead {
		c.departed[n.Name] = departed{state: st, at: m.Since}
	}
	delete(c.states, n.Name)
	c.countAliveLocked()
	c.mu.Unlock()
	switch {
	case n.Name == c.name:
	case status == StatusDead:
		c.log.Warn("gossip: member failed", "node", n.Name, "addr", m.Addr)
	default:
		c.log.Info("gossip: member left", "node", n.Name, "addr", m.Addr)
	}
	if n.Name != c.name {
		c.persistSoon()
	}
	c.emit(Event{Kind: MemberLeave, Node: n.Name})
}

// NotifyUpdate records a member whose meta changed.
func (e *events) NotifyUpdate(n *memberlist.Node) {
	c := e.c
	m := c.memberFrom(n, StatusAlive)
	c.mu.Lock()
	if old, ok := c.members[n.Name]; ok && old.Status == StatusAlive {
		m.Since = old.Since
	}
	c.members[n.Name] = m
	c.mu.Unlock()
	c.emit(Event{Kind: MemberUpdate, Node: n.Name})
}

// memberFrom copies what vipd needs out of memberlist's node (which must
// not be kept: memberlist changes it under its own lock).
func (c *Cluster) memberFrom(n *memberlist.Node, status string) Member {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		c.stats.decodeErrors.Add(1)
		c.log.Warn("gossip: member meta undecodable", "node", n.Name, "err", err)
	}
	addr, _ := netip.AddrFromSlice(n.Addr)
	return Member{
		Name:   n.Name,
		Addr:   netip.AddrPortFrom(addr.Unmap(), n.Port),
		Meta:   meta,
		Status: status,
		Since:  c.clk.Now(),
	}
}

// countAliveLocked refreshes the alive count the broadcast queue scales
// its retransmits by. Called with c.mu held.
func (c *Cluster) countAliveLocked() {
	n := 0
	for _, m := range c.members {
		if m.Status == StatusAlive || m.Status == StatusSuspect {
			n++
		}
	}
	c.numAlive.Store(int64(n))
}
