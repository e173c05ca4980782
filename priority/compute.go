package priority

import (
	"fmt"
	"strings"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
)

// CheckState is the latest result of one health check, as the checks
// runtime reports it (after fall/rise).
type CheckState struct {
	// Name is the check's name (checks.Config.Name).
	Name string
	// Kind is the check's kind; Compute goes by the configured kind.
	Kind checks.Kind
	// Healthy is the check's state. File checks ignore it: their Value is
	// the state (keepalived reads a missing or unreadable file as 0).
	Healthy bool
	// Value is the integer last read by a file check.
	Value int
}

// Result is an instance's effective priority and whether it must be in
// FAULT.
type Result struct {
	// Priority is the priority to advertise, 1-254, or 255 for an address
	// owner. It is computed even when Fault is set (keepalived keeps its
	// effective priority in FAULT), except under an order, where an
	// unhealthy node gets 1.
	Priority uint8
	// Fault means the instance must be in FAULT (never take the VIPs).
	Fault bool
	// Reason says, for people, why the instance is in FAULT or why its
	// priority is what it is: the causes in tracking order, joined by
	// "; ". It is empty when every tracked check is in its normal state
	// and moves nothing.
	Reason string
	// FailedChecks are the tracked checks whose state counts against this
	// node (failing, or succeeding with reverse; a file value that means
	// failure), in tracking order. A check without a result yet is not
	// listed.
	FailedChecks []string
}

// Priority bounds. 255 is the address owner's alone and 0 means "leaving";
// under an order, 1 is kept for unhealthy nodes so every healthy node
// outranks them.
const (
	minPriority      = 1
	maxPriority      = fsm.PriorityOwner - 1
	minOrderPriority = 2
)

// DefaultPriorities returns the priorities of order positions for an order
// that sets none: 250, 200, 150, 100, 50.
func DefaultPriorities() []uint8 { return []uint8{250, 200, 150, 100, 50} }

// PositionPriority returns the priority of the 0-based position pos in an
// order with the given position priorities (DefaultPriorities when empty).
// Positions past the end get the last priority minus 1 per extra step.
// The result is kept within 2-254: 255 belongs to address owners and 1 to
// unhealthy nodes.
func PositionPriority(pos int, prios []uint8) uint8 {
	if len(prios) == 0 {
		prios = DefaultPriorities()
	}
	pos = max(pos, 0)
	var p int
	if pos < len(prios) {
		p = int(prios[pos])
	} else {
		p = int(prios[len(prios)-1]) - (pos - len(prios) + 1)
	}
	return uint8(max(minOrderPriority, min(maxPriority, p)))
}

// Compute returns the effective priority of inst on this node and whether
// it must be in FAULT.
//
// checks holds the configured checks by name, states their latest results
// by name; a tracked check with no state has no result yet. node is this
// node's name and order the current Order read for inst.Order (nil when the
// order file has not been read; an inline order is built from
// inst.Order.Nodes when order is nil).
//
// Without an order it follows keepalived 2.2.7 (vrrp_track.c): each
// tracked check moves the configured priority by its weight (see
// checks.Config.Weight), an unweighted failing check puts the instance in
// FAULT, and the total is clamped to 1-254 (vrrp_set_effective_priority).
// An address owner (255) keeps 255 and ignores weighted checks, but an
// unweighted failing check still puts it in FAULT, as in keepalived
// (vrrp_complete_instance keeps weight-0 tracking for owners).
//
// With an order the priority comes from this node's slot in the list
// (PositionPriority; disabled entries keep their slot, and Reverse counts
// from the end). Weights do not apply: if this node is disabled, missing
// from the list, the list is not loaded, or any tracked check counts
// against it or has no result yet, the order's Unhealthy policy applies:
// priority 1, plus FAULT for UnhealthyFault. lookup finds the tracked
// checks' settings.
func Compute(inst *Instance, lookup CheckLookup, states map[string]CheckState, node string, order *Order) Result {
	if inst == nil {
		return Result{Priority: minPriority, Fault: true, Reason: "no instance configuration"}
	}
	owner := inst.Order == nil && inst.Priority == fsm.PriorityOwner
	outs := make([]outcome, 0, len(inst.Track))
	var failed []string
	for _, t := range inst.Track {
		o := evaluate(t, lookup, states, owner)
		outs = append(outs, o)
		if o.against {
			failed = append(failed, o.name)
		}
	}
	if inst.Order != nil {
		r := computeOrder(inst.Order, outs, node, order)
		r.FailedChecks = failed
		return r
	}

	var faults, notes []string
	total := int(inst.Priority)
	for _, o := range outs {
		total += o.delta
		if o.fault {
			faults = append(faults, o.reason)
		}
		if o.reason != "" {
			notes = append(notes, o.reason)
		}
	}
	r := Result{FailedChecks: failed}
	switch {
	case owner:
		r.Priority = fsm.PriorityOwner
	case total < minPriority:
		r.Priority = minPriority
		notes = append(notes, fmt.Sprintf("%d clamped to %d", total, minPriority))
	case total > maxPriority:
		r.Priority = maxPriority
		notes = append(notes, fmt.Sprintf("%d clamped to %d", total, maxPriority))
	default:
		r.Priority = uint8(total)
	}
	if len(faults) > 0 {
		r.Fault = true
		r.Reason = strings.Join(faults, "; ")
	} else {
		r.Reason = strings.Join(notes, "; ")
	}
	return r
}

// computeOrder gives the priority of an instance under an N-way order.
//
// Every node computes only its own priority, knowing only its own health,
// so the order must yield the same ranking whoever computes it. Slots are
// therefore fixed by the list (disabled entries keep theirs): disabling,
// failing or re-enabling a node changes that node's priority only. Had
// disabled entries been skipped, disabling the first node would raise every
// later node by one slot at the moment each of them read the file, so nodes
// that had and had not yet seen an edit would briefly share a priority,
// and masters could move between healthy nodes for nothing.
func computeOrder(o *OrderConfig, outs []outcome, node string, list *Order) Result {
	if list == nil && o.File == "" {
		l, _ := FromConfig(o.Nodes)
		list = &l
	}
	var why []string
	idx, e := -1, OrderNode{}
	switch {
	case list == nil:
		why = append(why, "order file "+o.File+" not loaded")
	case node == "":
		why = append(why, "this node has no name to look up in the "+list.where(0))
	default:
		var ok bool
		idx, e, ok = list.Find(node)
		if !ok {
			why = append(why, "node "+node+" not in "+list.where(0))
		} else if e.Disabled {
			why = append(why, "node "+node+" disabled in "+list.where(e.Line))
		}
	}
	fault := o.Unhealthy == UnhealthyFault
	for _, out := range outs {
		if out.against || out.pending {
			why = append(why, out.reason)
		}
		if out.link && out.fault {
			fault = true
		}
	}
	if len(why) > 0 {
		return Result{
			Priority: minPriority,
			Fault:    fault,
			Reason:   strings.Join(why, "; "),
		}
	}
	pos := idx
	from := ""
	if o.Reverse {
		pos = len(list.Nodes) - 1 - idx
		from = " counting from the end"
	}
	return Result{
		Priority: PositionPriority(pos, o.Priorities),
		Reason:   fmt.Sprintf("node %s is number %d in %s%s", e.Name, pos+1, list.where(e.Line), from),
	}
}
