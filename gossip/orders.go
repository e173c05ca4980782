package gossip

import (
	"maps"
	"slices"
	"strings"

	"github.com/vipd/vipd/priority"
)

// SetOrder writes a new order for instance: its version is one more than
// any version this node has seen (Lamport), its origin this node, so it
// wins over every order this node knows. The order is gossiped and sent to
// every alive member over TCP, saved in
// the state file and raises OrderUpdate. It returns the entry; the error
// wraps ErrInvalid for a bad order (nothing changes then) or ErrPersist
// when the state file could not be written (the order is in effect
// anyway and is saved again on the next change).
func (c *Cluster) SetOrder(instance string, nodes []priority.OrderNode) (priority.Order, error) {
	e := priority.Order{Instance: instance, Nodes: carried(nodes), Origin: c.name}
	if err := validateOrder(e); err != nil {
		return priority.Order{}, err
	}
	c.mu.Lock()
	c.clock++
	e.Version = c.clock
	c.orders[instance] = e
	c.mu.Unlock()
	c.publishDirect("order/"+instance, encodeOrder(e))
	c.emit(Event{Kind: OrderUpdate, Node: c.name, Instance: instance})
	if err := c.persist(); err != nil {
		return cloneOrder(e), err
	}
	return cloneOrder(e), nil
}

// Orders returns every instance's current order (a copy).
func (c *Cluster) Orders() map[string]priority.Order {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]priority.Order, len(c.orders))
	for k, e := range c.orders {
		out[k] = cloneOrder(e)
	}
	return out
}

// carried copies what gossip carries of nodes: names and Disabled flags
// (not where a node was written).
func carried(nodes []priority.OrderNode) []priority.OrderNode {
	if nodes == nil {
		return nil
	}
	out := make([]priority.OrderNode, len(nodes))
	for i, n := range nodes {
		out[i] = priority.OrderNode{Name: n.Name, Disabled: n.Disabled}
	}
	return out
}

func cloneOrder(e priority.Order) priority.Order {
	e.Nodes = slices.Clone(e.Nodes)
	return e
}

// mergeOrders merges entries into orders by last writer wins and advances
// the Lamport clock past every version seen, winner or not. It returns the
// entries that won, in the order given.
func mergeOrders(orders map[string]priority.Order, clock *uint64, entries ...priority.Order) []priority.Order {
	var won []priority.Order
	for _, e := range entries {
		*clock = max(*clock, e.Version)
		if cur, ok := orders[e.Instance]; ok && !newerOrder(e, cur) {
			continue
		}
		orders[e.Instance] = e
		won = append(won, e)
	}
	return won
}

// handleOrders takes orders learned from a peer: the winners are stored,
// passed on (if regossip), saved in the background and announced.
func (c *Cluster) handleOrders(regossip bool, entries ...priority.Order) {
	c.mu.Lock()
	won := mergeOrders(c.orders, &c.clock, entries...)
	c.mu.Unlock()
	if len(won) == 0 {
		return
	}
	c.persistSoon()
	for _, e := range won {
		if regossip {
			c.regossip("order/"+e.Instance, encodeOrder(e))
		}
		c.log.Info("gossip: order updated", "instance", e.Instance, "version", e.Version, "origin", e.Origin, "nodes", orderString(e.Nodes))
		c.emit(Event{Kind: OrderUpdate, Node: e.Origin, Instance: e.Instance})
	}
}

// orderString renders nodes for logs: "a b !c" (! = disabled).
func orderString(nodes []priority.OrderNode) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteByte(' ')
		}
		if n.Disabled {
			b.WriteByte('!')
		}
		b.WriteString(n.Name)
	}
	return b.String()
}

// sortedOrders lists orders by instance name (for push/pull and the state
// file, so both are deterministic).
func sortedOrders(orders map[string]priority.Order) []priority.Order {
	out := slices.Collect(maps.Values(orders))
	slices.SortFunc(out, func(a, b priority.Order) int { return strings.Compare(a.Instance, b.Instance) })
	return out
}
