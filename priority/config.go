package priority

// The settings that make an instance's priority: its tracks of checks and
// its N-way order, their defaults and the rules every order is held to,
// whoever wrote it (the native YAML front end in package config, or code).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/internal/fielderr"
)

// Unhealthy says what an order does with this node when it is unhealthy
// or disabled.
type Unhealthy string

const (
	// UnhealthyLowest drops to the lowest priority (1, below every
	// position of the order): still a backup of last resort.
	UnhealthyLowest Unhealthy = "lowest"
	// UnhealthyFault puts the instance in FAULT: it never takes the VIP.
	UnhealthyFault Unhealthy = "fault"
)

// MinOrderPriority is the lowest priority of a healthy node in an order;
// UnhealthyLowest's 1 is below all of them.
const MinOrderPriority = minOrderPriority

// OrderConfig gives an instance its priority from this node's place in an
// ordered list of node names (scenario 5 of the design): the first healthy
// node is master, the next its first backup, and so on. The order itself,
// once read (from Nodes or File), is an Order. An instance with an order has
// no priority of its own and cannot be an address owner.
type OrderConfig struct {
	// Nodes is the list given in the configuration. Ignored when File is set.
	Nodes []string
	// File is a file with one node name per line; a line starting with '#'
	// disables that node (the file is watched for changes). The native
	// front end stores a relative path joined to the configuration file's
	// directory.
	File string
	// Reverse walks the list from its end (a second VIP preferring the
	// opposite order).
	Reverse bool
	// Priorities are the priorities of the positions, first to last; nodes
	// past the end get the last one minus 1 per step. Default
	// DefaultPriorities; the front ends fill it in. Each is 2-254 (1 is
	// UnhealthyLowest's, 255 the address owner's), strictly decreasing.
	Priorities []uint8
	// Unhealthy is what happens to this node's instance when it is
	// disabled in the order, missing from it, or a tracked check fails
	// (whatever the check's weight). Default UnhealthyLowest.
	Unhealthy Unhealthy
}

// Priority returns the priority of position i (0 is the first) of the
// order: PositionPriority(i, o.Priorities).
func (o *OrderConfig) Priority(i int) uint8 { return PositionPriority(i, o.Priorities) }

// SameSettings reports whether o and p configure the same order.
func (o *OrderConfig) SameSettings(p *OrderConfig) bool {
	if o == nil || p == nil {
		return o == p
	}
	return slices.Equal(o.Nodes, p.Nodes) && o.File == p.File && o.Reverse == p.Reverse &&
		slices.Equal(o.Priorities, p.Priorities) && o.Unhealthy == p.Unhealthy
}

// FieldError is a problem with one setting of an order. Its Field is the
// setting's path below the order, spelled as the native format's keys
// ("file", "nodes[1]", "priorities"; "" for the order as a whole).
type FieldError = fielderr.Error

// ValidationError lists every problem Validate found, in the order of the
// settings.
type ValidationError = fielderr.List

// nodeNameSpace is what separates words in an order file's line (C's
// isspace), so what a node name cannot hold.
const nodeNameSpace = " \t\f\n\r\v"

// Validate checks the order's settings and returns nil or a
// ValidationError. That the instance gives no priority of its own, and is
// no address owner, is the caller's to check.
func (o *OrderConfig) Validate() error {
	var errs ValidationError
	fail := errs.Add
	switch {
	case o.Nodes != nil && o.File != "":
		fail("file", "an order takes nodes or file, not both")
	case o.Nodes == nil && o.File == "":
		fail("", "needs nodes or file")
	case o.Nodes != nil && len(o.Nodes) == 0:
		fail("nodes", "must list at least one node")
	}
	seen := map[string]bool{}
	for j, n := range o.Nodes {
		key := "nodes[" + strconv.Itoa(j) + "]"
		switch {
		case n == "" || strings.ContainsAny(n, nodeNameSpace):
			fail(key, fmt.Sprintf("%q is not a node name", n))
		case strings.HasPrefix(n, "#"):
			fail(key, fmt.Sprintf("%q: '#' disables a node in an order file only; leave the node out here", n))
		case seen[n]:
			fail(key, fmt.Sprintf("node %q is listed twice", n))
		}
		seen[n] = true
	}
	if len(o.Priorities) == 0 {
		fail("priorities", "must list at least one priority")
	}
	for j, p := range o.Priorities {
		switch {
		case p < MinOrderPriority || int(p) > maxPriority:
			fail("priorities", fmt.Sprintf("%d is out of range %d-%d (1 is for unhealthy nodes, 255 for address owners)", p, MinOrderPriority, maxPriority))
		case j > 0 && p >= o.Priorities[j-1]:
			fail("priorities", fmt.Sprintf("must decrease from first to last, but %d follows %d", p, o.Priorities[j-1]))
		}
	}
	if o.Unhealthy != UnhealthyLowest && o.Unhealthy != UnhealthyFault {
		fail("unhealthy", fmt.Sprintf("%q is not lowest or fault", o.Unhealthy))
	}
	return errs.Err()
}

// Track is one instance's use of a check.
type Track struct {
	// Check is the name of the tracked check.
	Check string
	// Weight overrides the check's weight for this instance when set.
	Weight *int
	// WeightReverse overrides the check's reverse flag when Weight is set.
	WeightReverse bool
}

// Effective returns the weight and reverse flag this track applies with
// check c (the one named by t.Check): its own when Weight is set, else the
// check's (as keepalived's alloc_track_script and vrrp_alloc_track_file
// default them).
func (t Track) Effective(c *checks.Config) (weight int, reverse bool) {
	if t.Weight != nil {
		return *t.Weight, t.WeightReverse
	}
	if c == nil {
		return 0, false
	}
	return c.Weight, c.WeightReverse
}

// SameSettings reports whether t and u track the same check alike.
func (t Track) SameSettings(u Track) bool {
	return t.Check == u.Check && t.WeightReverse == u.WeightReverse &&
		(t.Weight == nil) == (u.Weight == nil) && (t.Weight == nil || *t.Weight == *u.Weight)
}

// Instance is what Compute needs of an instance's configuration.
type Instance struct {
	// Priority is the configured priority; 255 makes an address owner.
	// Ignored under an Order.
	Priority uint8
	// Order, when set, gives the priority from this node's place.
	Order *OrderConfig
	// Track are the checks the instance tracks, in order.
	Track []Track
}

// CheckLookup returns the settings of the check named name, or nil when
// none is configured.
type CheckLookup func(name string) *checks.Config
