package history

import (
	"fmt"
	"slices"
	"time"
)

// Kind says what an Event records. The set is fixed (Kinds): the API and
// the CLI filter on it.
type Kind string

// Event kinds.
const (
	// KindTransition: an instance changed VRRP state.
	KindTransition Kind = "transition"
	// KindPriority: an instance's effective priority (or its FAULT
	// verdict) changed: checks, weights, an order.
	KindPriority Kind = "priority"
	// KindCheck: a health check changed verdict.
	KindCheck Kind = "check"
	// KindOrder: an instance's cluster-wide order got a new version.
	KindOrder Kind = "order"
	// KindMember: a gossip member joined, failed, left or came back.
	KindMember Kind = "member"
	// KindFailover: a forced failover was asked for, here or by another
	// node.
	KindFailover Kind = "failover"
	// KindMaintenance: this node entered or left maintenance.
	KindMaintenance Kind = "maintenance"
	// KindGuard: the split-brain guard held or released an instance.
	KindGuard Kind = "guard"
	// KindCloud: a cloud action ran (its calls, duration and error).
	KindCloud Kind = "cloud"
	// KindReload: the configuration was reloaded (what changed).
	KindReload Kind = "reload"
)

// Kinds is every Kind, in a stable order.
var Kinds = []Kind{KindTransition, KindPriority, KindCheck, KindOrder, KindMember, KindFailover, KindMaintenance, KindGuard, KindCloud, KindReload}

// ParseKind checks a kind's name.
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", fmt.Errorf("unknown event kind %q (one of %v)", s, Kinds)
}

// Event is one recorded fact. Node, Seq and Time are set by the Recorder;
// which other fields are set depends on Kind. The JSON names are the
// on-disk format: add fields, never rename one.
type Event struct {
	// Node is the node that recorded the event.
	Node string `json:"node"`
	// Seq numbers the node's events from 1, without gaps, across restarts
	// (a gap means events were dropped or pruned).
	Seq uint64 `json:"seq"`
	// Time is the recording node's wall clock.
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind Kind `json:"kind"`
	// Instance is the instance concerned, if any.
	Instance string `json:"instance,omitempty"`
	// Reason says why, in words (a transition's VRRP reason, a guard's
	// finding, a command's origin).
	Reason string `json:"reason,omitempty"`
	// From and To are the states left and entered (transitions:
	// MASTER, BACKUP...; checks: HEALTHY, FAILED...; members: alive,
	// dead...; maintenance: on, off).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Priority is the effective priority after the event, PrevPriority
	// the one before (transitions).
	Priority     int `json:"priority,omitempty"`
	PrevPriority int `json:"prev_priority,omitempty"`
	// Master is the master as this node saw it after a transition.
	Master string `json:"master,omitempty"`
	// Check is the check concerned (KindCheck); Output the tail of the
	// run's output that changed the verdict.
	Check  string `json:"check,omitempty"`
	Output string `json:"output,omitempty"`
	// Origin is the node that published an order or asked for a command;
	// Version the order's version.
	Origin  string `json:"origin,omitempty"`
	Version uint64 `json:"version,omitempty"`
	// Via is how a command arrived (grpc, http, unix, gossip); Caller the
	// caller's identity when known (TLS client name, peer address).
	Via    string `json:"via,omitempty"`
	Caller string `json:"caller,omitempty"`
	// Duration and Error describe an action's outcome (cloud actions).
	Duration time.Duration `json:"duration,omitempty"`
	Error    string        `json:"error,omitempty"`
	// Detail is any further text: the cloud calls made, what a reload
	// changed.
	Detail string `json:"detail,omitempty"`
}

// Field length limits applied by the Recorder, so that one event stays
// small whatever a check prints.
const (
	maxOutput = 512
	maxText   = 2048
)

// clip bounds an event's free-text fields, cutting on a rune boundary.
func (e *Event) clip() {
	e.Output = tail(e.Output, maxOutput)
	e.Reason = head(e.Reason, maxText)
	e.Detail = head(e.Detail, maxText)
	e.Error = head(e.Error, maxText)
}

func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// tail keeps the end of a check's output: the last lines say why it failed.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && s[i]&0xC0 == 0x80 {
		i++
	}
	return "…" + s[i:]
}

// Query selects events. The zero Query selects everything (up to
// DefaultLimit, the newest).
type Query struct {
	// Since and Until bound Time (inclusive); zero is unbounded.
	Since, Until time.Time
	// Instance keeps events about that instance and events about no
	// instance (checks, members, maintenance, reloads), as Watch does.
	Instance string
	// Node keeps the events recorded by that node.
	Node string
	// Kinds keeps those kinds; empty keeps all.
	Kinds []Kind
	// Limit keeps the newest Limit events; 0 means DefaultLimit, and
	// MaxLimit bounds it.
	Limit int
}

// Query limits.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Match reports whether e passes q's filters (not the limit).
func (q *Query) Match(e *Event) bool {
	switch {
	case !q.Since.IsZero() && e.Time.Before(q.Since):
		return false
	case !q.Until.IsZero() && e.Time.After(q.Until):
		return false
	case q.Instance != "" && e.Instance != "" && e.Instance != q.Instance:
		return false
	case q.Node != "" && e.Node != q.Node:
		return false
	case len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind):
		return false
	}
	return true
}

// limit is q's effective limit.
func (q *Query) limit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	}
	return q.Limit
}
