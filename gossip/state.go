package gossip

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vipd/vipd/inet"
)

// SetLocal replaces this node's state. s.Node and s.Incarnation are
// ignored (the node is this one; the incarnation is this package's to
// bump). Instances and checks are sorted by name and check output is cut
// to its last MaxCheckOutput bytes, so that only a real change counts: then the
// incarnation is bumped and the state broadcast as a delta. Peers also get
// it by push/pull. It returns an error wrapping ErrInvalid for a state the
// wire format cannot carry (empty or over-long names, a family other than
// 4 or 6, invalid UTF-8).
func (c *Cluster) SetLocal(s NodeState) error {
	s = normalize(s, c.name)
	if err := validateState(s); err != nil {
		return err
	}
	c.mu.Lock()
	s.Incarnation = c.local.Incarnation
	if c.localSet && bytes.Equal(encodeState(s), encodeState(c.local)) {
		c.mu.Unlock()
		return nil
	}
	s.Incarnation++
	first := !c.localSet
	c.local = s
	c.localSet = true
	msg := encodeState(s)
	c.mu.Unlock()
	if first {
		// Members that joined before there was a state to exchange (the
		// agent joins before its instances start) get it directly.
		c.publishDirect("state/"+c.name, msg)
		return nil
	}
	c.publish("state/"+c.name, msg)
	return nil
}

// normalize returns a private, canonical copy of s owned by node.
func normalize(s NodeState, node string) NodeState {
	out := NodeState{Node: node, Maintenance: s.Maintenance}
	out.Instances = slices.Clone(s.Instances)
	out.Checks = slices.Clone(s.Checks)
	slices.SortStableFunc(out.Instances, func(a, b InstanceState) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Family, b.Family), cmp.Compare(a.VRID, b.VRID))
	})
	slices.SortStableFunc(out.Checks, func(a, b CheckState) int { return strings.Compare(a.Name, b.Name) })
	for i := range out.Checks {
		// Output is whatever a script printed: make it valid UTF-8 first.
		out.Checks[i].Output = tailUTF8(strings.ToValidUTF8(out.Checks[i].Output, "\uFFFD"), MaxCheckOutput)
	}
	return out
}

// tailUTF8 keeps the last n bytes of s at most, without splitting a
// character: a check's verdict comes at the end of its output.
func tailUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	// Drop the continuation bytes of a rune cut at the start.
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}

// handleState takes a NodeState learned from a peer. It reports whether
// the state was new (and, for a live member, raises StateUpdate).
func (c *Cluster) handleState(s NodeState, regossip bool) bool {
	if s.Node == c.name {
		c.refuteState(s)
		return false
	}
	c.mu.Lock()
	if m, ok := c.members[s.Node]; ok && (m.Status == StatusDead || m.Status == StatusLeft) {
		// A peer that has not yet seen the death is echoing an old state.
		c.mu.Unlock()
		return false
	}
	if cur, ok := c.states[s.Node]; ok && s.Incarnation <= cur.Incarnation {
		c.mu.Unlock()
		return false
	}
	c.states[s.Node] = s
	m, known := c.members[s.Node]
	live := known && m.Status == StatusAlive
	c.mu.Unlock()
	if regossip {
		c.regossip("state/"+s.Node, encodeState(s))
	}
	if live {
		c.emit(Event{Kind: StateUpdate, Node: s.Node})
	}
	return true
}

// refuteState handles a peer's copy of this node's own state. After a
// restart this node counts incarnations from zero while peers hold a
// higher one and would ignore it, so, as memberlist does for its alive
// messages, the node jumps past the peer's incarnation and re-broadcasts.
// An echo of the current state is ignored.
func (c *Cluster) refuteState(s NodeState) {
	c.mu.Lock()
	cur := c.local
	if s.Incarnation < cur.Incarnation {
		c.mu.Unlock()
		return
	}
	if s.Incarnation == cur.Incarnation && bytes.Equal(encodeState(s), encodeState(cur)) {
		c.mu.Unlock()
		return
	}
	c.local.Incarnation = s.Incarnation + 1
	msg := encodeState(c.local)
	c.mu.Unlock()
	c.log.Info("gossip: peers held an older state of this node; re-announcing", "incarnation", s.Incarnation+1)
	c.publish("state/"+c.name, msg)
}

// States returns every live node's state by node name, this node's
// included. States of members that died or left are dropped. The result is
// a copy.
func (c *Cluster) States() map[string]NodeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]NodeState, len(c.states)+1)
	for name, s := range c.states {
		if m, ok := c.members[name]; ok && (m.Status == StatusAlive || m.Status == StatusSuspect) {
			out[name] = cloneState(s)
		}
	}
	out[c.name] = cloneState(c.local)
	return out
}

func cloneState(s NodeState) NodeState {
	s.Instances = slices.Clone(s.Instances)
	s.Checks = slices.Clone(s.Checks)
	return s
}

// Peers returns the advert sources (InstanceState.Src) of the members
// other than this node that run the VRRP instance identified by cluster,
// vrid and family, sorted and without duplicates: the unicast peer list
// for "peers: gossip". Alive members count, and so do members that failed
// (rather than left) within the reconnect timeout: a node cut off by a
// partition or a link down must hear and be heard the moment the cut
// heals, not after gossip has taken it back, and adverts to an address
// where nobody listens are harmless. Past the timeout a failed member
// still counts when no other peer is left, so that no timer ever empties
// an instance's peer list while the member may still be running (its
// adverts would then be refused as "not a peer", and both would be
// master).
func (c *Cluster) Peers(cluster string, vrid uint8, family inet.Family) []netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clk.Now()
	var out, stale []netip.Addr
	add := func(to *[]netip.Addr, s NodeState) {
		for _, in := range s.Instances {
			if in.Cluster == cluster && in.VRID == vrid && in.Family == family && in.Src.IsValid() {
				*to = append(*to, in.Src)
			}
		}
	}
	for name, s := range c.states {
		if name == c.name {
			continue
		}
		if m, ok := c.members[name]; !ok || m.Status != StatusAlive {
			continue
		}
		add(&out, s)
	}
	for name, d := range c.departed {
		if _, back := c.states[name]; back {
			continue
		}
		if now.Sub(d.at) <= c.reconnectTimeout {
			add(&out, d.state)
		} else {
			add(&stale, d.state)
		}
	}
	if len(out) == 0 {
		out = stale
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// departedWireAge is the oldest departure a push/pull carries (and
// accepts): vipd versions before the reconnect timeout refuse older ones.
// Each node keeps its own departures as long as its reconnect timeout
// says.
const departedWireAge = 10 * time.Minute

// departed is the last state of a member that died or left.
type departed struct {
	state NodeState
	at    time.Time
}

// departedLocked lists the members that died within departedWireAge and
// have not come back, with their last states, for a push/pull. Called with
// c.mu held.
func (c *Cluster) departedLocked(now time.Time) []departedState {
	var out []departedState
	for name, d := range c.departed {
		age := now.Sub(d.at)
		if _, back := c.states[name]; back || age > departedWireAge {
			continue
		}
		out = append(out, departedState{State: d.state, Age: max(age, 0).Truncate(time.Millisecond)})
	}
	slices.SortFunc(out, func(a, b departedState) int { return strings.Compare(a.State.Node, b.State.Node) })
	return out
}

// reapLocked forgets what the timers allow: members that left more than
// leftRetention ago, and members that failed more than the reconnect
// timeout ago (no longer tried, listed or counted as peers), except the
// departures that are the last peers of one of their instances (see
// Peers). Called with c.mu held.
func (c *Cluster) reapLocked(now time.Time) {
	for name, m := range c.members {
		switch {
		case name == c.name:
		case m.Status == StatusLeft && now.Sub(m.Since) > leftRetention:
			delete(c.members, name)
		case m.Status == StatusDead && now.Sub(m.Since) > c.reconnectTimeout:
			if _, kept := c.departed[name]; !kept || !c.lastPeerLocked(name, now) {
				delete(c.members, name)
			}
		}
	}
	for name, d := range c.departed {
		if _, back := c.states[name]; back {
			delete(c.departed, name)
			continue
		}
		if now.Sub(d.at) > c.reconnectTimeout && !c.lastPeerLocked(name, now) {
			delete(c.departed, name)
		}
	}
}

// lastPeerLocked reports whether the departed member name runs an
// instance that no alive member and no departure within the reconnect
// timeout runs: forgetting it would leave that instance without peers.
// Called with c.mu held.
func (c *Cluster) lastPeerLocked(name string, now time.Time) bool {
	type key struct {
		cluster string
		vrid    uint8
		family  inet.Family
	}
	covered := map[key]bool{}
	mark := func(s NodeState) {
		for _, in := range s.Instances {
			covered[key{in.Cluster, in.VRID, in.Family}] = true
		}
	}
	for n, s := range c.states {
		if m, ok := c.members[n]; ok && m.Status == StatusAlive {
			mark(s)
		}
	}
	for n, d := range c.departed {
		if n != name && now.Sub(d.at) <= c.reconnectTimeout {
			mark(d.state)
		}
	}
	for _, in := range c.departed[name].state.Instances {
		if !covered[key{in.Cluster, in.VRID, in.Family}] {
			return true
		}
	}
	return false
}

// mergeDeparted adopts a peer's recently dead members this node knows
// nothing better about: not itself, not a live or departed member of its
// own view, not one that left on purpose. The age carries over, so the
// reconnect timeout counts from the member's failure, not from this
// push/pull.
func (c *Cluster) mergeDeparted(list []departedState, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, dp := range list {
		name := dp.State.Node
		if name == c.name {
			continue
		}
		if _, known := c.departed[name]; known {
			continue
		}
		if _, live := c.states[name]; live {
			continue
		}
		if m, ok := c.members[name]; ok && m.Status != StatusDead {
			continue
		}
		c.departed[name] = departed{state: cloneState(dp.State), at: now.Add(-dp.Age)}
	}
}

// liveStates is what this node sends in a push/pull: its own state and
// those of live members. Called with c.mu held.
func (c *Cluster) liveStatesLocked() []NodeState {
	out := []NodeState{c.local}
	for name, s := range c.states {
		if m, ok := c.members[name]; ok && (m.Status == StatusAlive || m.Status == StatusSuspect) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b NodeState) int { return strings.Compare(a.Node, b.Node) })
	return out
}
