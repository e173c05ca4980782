package gossip

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/priority"
)

// NodeMeta is what every member advertises about itself in memberlist's
// node meta. Encoded it must fit MetaMaxSize (512 bytes): New refuses a
// larger one rather than cutting it short.
type NodeMeta struct {
	// Name is the node name (the memberlist name); filled by New if empty.
	Name string
	// AZ is the availability zone; filled from config.Gossip.AZ if empty.
	AZ string
	// Version is the vipd version the node runs.
	Version string
	// APIAddr is where the node's API listens ("host:port").
	APIAddr string
}

// InstanceState is what a node says about one of its VRRP instances.
type InstanceState struct {
	// Name is the instance name.
	Name string
	// VRID is the virtual router id.
	VRID uint8
	// Family is the address family (on the wire one byte, 4 or 6).
	Family inet.Family
	// Cluster is the gossip cluster name the instance belongs to; with
	// VRID and Family it identifies the VRRP router across nodes (Peers).
	Cluster string
	// Src is this node's advert source address for the instance; peers
	// build their unicast peer lists from it.
	Src netip.Addr
	// State is the VRRP state. On the wire it is fsm's word for it
	// (State.String(): MASTER, BACKUP, FAULT, ...); a word this version
	// cannot read (a newer node's) decodes to UnknownState and is passed
	// on as it came.
	State fsm.State
	// Priority is the current effective priority.
	Priority uint8
	// Reason says why the instance is in State (e.g. a failed check).
	Reason string
	// Master is the address the node believes is the master.
	Master netip.Addr
	// Since is when the instance entered State.
	Since time.Time
	// stateWord is the wire word of an UnknownState, kept for relaying.
	stateWord string
}

// MaxCheckOutput bounds CheckState.Output; SetLocal keeps the end of longer
// output, where a check's verdict is (output is a hint, unlike the meta,
// so cutting it is fine).
const MaxCheckOutput = 512

// CheckState is what a node says about one of its health checks.
type CheckState struct {
	// Name is the check name.
	Name string
	// Healthy is State == checks.StateHealthy: false while the check is
	// still in StateInit as well as when it failed.
	Healthy bool
	// State is the check runner's state. On the wire it is
	// checks.State.String()'s word ("init": no run finished yet,
	// "healthy" or "failed"); another word decodes to UnknownCheckState,
	// which the agent reports as unspecified, and is passed on as it came.
	State checks.State
	// Since is when the check entered State (the runner's start while it
	// is in StateInit).
	Since time.Time
	// Output is the check's last output, at most MaxCheckOutput bytes.
	Output string
	// stateWord is the wire word of an UnknownCheckState, kept for
	// relaying.
	stateWord string
}

// NodeState is everything one node says about its instances and checks.
// Only the owner changes it; Incarnation orders its versions.
type NodeState struct {
	// Node is the owner's name.
	Node string
	// Incarnation is bumped by the owner on every change; receivers keep
	// the highest.
	Incarnation uint64
	// Instances are the node's VRRP instances, sorted by name.
	Instances []InstanceState
	// Checks are the node's health checks, sorted by name.
	Checks []CheckState
	// Maintenance is true while the node is drained: it hands over every
	// instance and stays BACKUP.
	Maintenance bool
}

// Orders are priority.Order values, the one type for an N-way order.
// Gossip carries an order's Instance, its nodes' names and Disabled flags,
// Version and Origin; concurrent writers are resolved by last writer wins
// (newerOrder).

// newerOrder reports whether e wins over o under last writer wins: the
// higher Version, then the higher Origin. Two different orders never tie
// because one origin writes one version once.
func newerOrder(e, o priority.Order) bool {
	if e.Version != o.Version {
		return e.Version > o.Version
	}
	return e.Origin > o.Origin
}

// Member statuses.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusDead    = "dead"
	StatusLeft    = "left"
)

// Member is one node of the cluster as this node sees it.
type Member struct {
	// Name is the node name.
	Name string
	// Addr is the node's gossip address.
	Addr netip.AddrPort
	// Meta is what the node advertises.
	Meta NodeMeta
	// Status is alive, suspect, dead or left. memberlist v0.7.0 does not
	// tell its delegates about suspicion, so a suspect node shows as alive
	// until it is declared dead; StatusSuspect is reserved for when it does.
	Status string
	// Since is when this node saw Status begin.
	Since time.Time
}

// EventKind says what changed.
type EventKind uint8

// Event kinds.
const (
	// MemberJoin: a node joined (or came back).
	MemberJoin EventKind = iota + 1
	// MemberLeave: a node left or was declared dead; its state is gone.
	MemberLeave
	// MemberUpdate: a node's meta changed.
	MemberUpdate
	// StateUpdate: another node's NodeState changed (never raised for this
	// node's own SetLocal; a state that arrives before its node's join is
	// announced by that MemberJoin instead).
	StateUpdate
	// OrderUpdate: the order of an instance changed, by SetOrder here or
	// by a peer.
	OrderUpdate
)

var eventNames = [...]string{
	MemberJoin:   "member-join",
	MemberLeave:  "member-leave",
	MemberUpdate: "member-update",
	StateUpdate:  "state-update",
	OrderUpdate:  "order-update",
}

// String returns the kind's name.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event tells Options.OnChange what changed.
type Event struct {
	// Kind is what changed.
	Kind EventKind
	// Node is the node concerned (for OrderUpdate: the order's origin).
	Node string
	// Instance is the instance concerned, for OrderUpdate.
	Instance string
}
