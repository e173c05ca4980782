package agent

import (
	"slices"
	"sort"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/priority"
)

// candidate is one node running an instance, as gossip shows it.
type candidate struct {
	node  string
	st    gossip.InstanceState
	maint bool
}

// candidates lists the nodes running instance, best priority first.
func candidates(states map[string]gossip.NodeState, instance string) []candidate {
	var out []candidate
	for node, ns := range states {
		for _, in := range ns.Instances {
			if in.Name == instance {
				out = append(out, candidate{node, in, ns.Maintenance})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].st.Priority != out[j].st.Priority {
			return out[i].st.Priority > out[j].st.Priority
		}
		return out[i].node < out[j].node
	})
	return out
}

// failoverView is what failover planning reads of the cluster.
type failoverView struct {
	states  map[string]gossip.NodeState
	members []gossip.Member
	orders  map[string]priority.Order
}

// failoverPlan is what a failover does: write order (when not nil) so the
// move sticks, and have master (when not empty) resign.
type failoverPlan struct {
	target string
	master string               // the current master, empty if none
	order  []priority.OrderNode // nil: nothing to write, target already is master
}

// planFailover works out a failover of instance to target (empty: the best
// node other than the current master) from the cluster as v shows it. It
// does nothing itself; its errors are *Errors.
func planFailover(instance, target string, v failoverView) (failoverPlan, error) {
	if instance == "" {
		return failoverPlan{}, reqErrorf(ErrorInvalid, "instance: required")
	}
	cands := candidates(v.states, instance)
	if len(cands) == 0 {
		return failoverPlan{}, reqErrorf(ErrorNotFound, "instance %q: no node of the cluster runs it", instance)
	}
	var master *candidate
	for i := range cands {
		if cands[i].st.State == fsm.Master && master == nil {
			master = &cands[i]
		}
	}
	usable := func(c *candidate) error {
		switch {
		case c.maint:
			return reqErrorf(ErrorPrecondition, "node %s is in maintenance", c.node)
		case c.st.State == fsm.Fault:
			return reqErrorf(ErrorPrecondition, "node %s has instance %s in FAULT (%s)", c.node, instance, c.st.Reason)
		}
		return nil
	}
	var to *candidate
	if target != "" {
		for i := range cands {
			if cands[i].node == target {
				to = &cands[i]
			}
		}
		if to == nil {
			if !slices.ContainsFunc(v.members, func(m gossip.Member) bool { return m.Name == target && m.Status == gossip.StatusAlive }) {
				return failoverPlan{}, reqErrorf(ErrorNotFound, "node %q: no such alive member", target)
			}
			return failoverPlan{}, reqErrorf(ErrorPrecondition, "node %s does not run instance %s", target, instance)
		}
		if err := usable(to); err != nil {
			return failoverPlan{}, err
		}
	} else {
		if master == nil {
			return failoverPlan{}, reqErrorf(ErrorPrecondition, "instance %s has no master to move away from", instance)
		}
		for i := range cands {
			if cands[i].node != master.node && usable(&cands[i]) == nil {
				to = &cands[i]
				break
			}
		}
		if to == nil {
			return failoverPlan{}, reqErrorf(ErrorPrecondition, "instance %s: no other node can take over", instance)
		}
	}
	p := failoverPlan{target: to.node}
	if master != nil {
		p.master = master.node
		if master.node == to.node {
			return p, nil // already there
		}
	}
	// The order: the target first, then the current order's other nodes
	// (or the other candidates, best first).
	p.order = []priority.OrderNode{{Name: to.node}}
	if cur, ok := v.orders[instance]; ok {
		for _, n := range cur.Nodes {
			if n.Name != to.node {
				p.order = append(p.order, n)
			}
		}
	} else {
		for _, c := range cands {
			if c.node != to.node {
				p.order = append(p.order, priority.OrderNode{Name: c.node})
			}
		}
	}
	return p, nil
}
