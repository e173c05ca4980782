package config

import (
	"slices"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/notify"
)

// This file holds the model of what makes a VIP follow the service: health
// checks and how instances track them, N-way priority orders, notify
// scripts and sync groups. The parsers fill it; checks/, order/, notify/ and
// the agent read it. A check's settings, defaults and rules are package
// checks' (checks.Config); a Check adds where they were written.

// Check is one health check, shared by every instance that tracks it:
// package checks' settings (checks.Config: its kinds, defaults and rules
// are checks') and where they were written.
type Check struct {
	checks.Config
	// Pos is where the check is defined.
	Pos Pos

	// src records where each setting was written; nil for checks built
	// in code.
	src *Source
}

// The kinds and their settings are package checks'; these names keep the
// front ends' spelling of them.
type (
	// CheckKind is checks.Kind.
	CheckKind = checks.Kind
	// ExecCheck is checks.ExecConfig.
	ExecCheck = checks.ExecConfig
	// ProcessCheck is checks.ProcessConfig.
	ProcessCheck = checks.ProcessConfig
	// TCPCheck is checks.TCPConfig.
	TCPCheck = checks.TCPConfig
	// HTTPCheck is checks.HTTPConfig.
	HTTPCheck = checks.HTTPConfig
	// DNSCheck is checks.DNSConfig.
	DNSCheck = checks.DNSConfig
	// FileCheck is checks.FileConfig.
	FileCheck = checks.FileConfig
	// InterfaceCheck is checks.InterfaceConfig.
	InterfaceCheck = checks.InterfaceConfig
)

// The check kinds, as package checks names them.
const (
	CheckExec      = checks.KindExec
	CheckProcess   = checks.KindProcess
	CheckTCP       = checks.KindTCP
	CheckHTTP      = checks.KindHTTP
	CheckDNS       = checks.KindDNS
	CheckFile      = checks.KindFile
	CheckInterface = checks.KindInterface
)

// Track is one instance's use of a check.
type Track struct {
	// Check is the name of the tracked check.
	Check string
	// Weight overrides the check's weight for this instance when set.
	Weight *int
	// WeightReverse overrides the check's reverse flag when Weight is set.
	WeightReverse bool
	// Pos is where the tracking is configured.
	Pos Pos
}

// Effective returns the weight and reverse flag this track applies with
// check c (the one named by t.Check): its own when Weight is set, else the
// check's.
func (t Track) Effective(c *Check) (weight int, reverse bool) {
	if t.Weight != nil {
		return *t.Weight, t.WeightReverse
	}
	if c == nil {
		return 0, false
	}
	return c.Weight, c.WeightReverse
}

// MinWeight and MaxWeight bound check and track weights: checks'
// (checks.WeightRange widens them for file checks).
const (
	MinWeight = checks.MinWeight
	MaxWeight = checks.MaxWeight
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

// Order gives an instance its priority from this node's place in an ordered
// list of node names (scenario 5 of the design): the first healthy node is
// master, the next its first backup, and so on. Only the native format has
// orders. An instance with an order has no priority of its own (its
// Priority keeps the default and is not used) and cannot be an address
// owner.
type Order struct {
	// Nodes is the list given in the configuration. Ignored when File is set.
	Nodes []string
	// File is a file with one node name per line; a line starting with '#'
	// disables that node (the file is watched for changes). A relative path
	// in the native format is relative to the configuration file's
	// directory; the parser stores it joined.
	File string
	// Reverse walks the list from its end (a second VIP preferring the
	// opposite order).
	Reverse bool
	// Priorities are the priorities of the positions, first to last; nodes
	// past the end get the last one minus 1 per step. Default 250, 200,
	// 150, 100, 50 (DefaultOrderPriorities); the parsers fill it in. Each
	// is 2-254 (1 is UnhealthyLowest's, 255 the address owner's), in
	// strictly decreasing order.
	Priorities []uint8
	// Unhealthy is what happens to this node's instance when it is
	// disabled in the order, missing from it, or a tracked check fails
	// (whatever the check's weight). Default UnhealthyLowest.
	Unhealthy Unhealthy
	// Pos is where the order is configured.
	Pos Pos
}

// DefaultOrderPriorities returns the priorities of the first positions of
// an order when the configuration gives none: 250, 200, 150, 100, 50.
func DefaultOrderPriorities() []uint8 { return []uint8{250, 200, 150, 100, 50} }

// MinOrderPriority is the lowest priority of a healthy node in an order;
// UnhealthyLowest's 1 is below all of them.
const MinOrderPriority = 2

// Priority returns the priority of position i (0 is the first) of the
// order: Priorities[i], or past their end the last one minus 1 per extra
// step, never below MinOrderPriority.
func (o *Order) Priority(i int) uint8 {
	ps := o.Priorities
	if len(ps) == 0 {
		ps = DefaultOrderPriorities()
	}
	if i < 0 {
		i = 0
	}
	if i < len(ps) {
		return ps[i]
	}
	p := int(ps[len(ps)-1]) - (i - len(ps) + 1)
	return uint8(max(p, MinOrderPriority))
}

// Notify scripts' settings, their defaults and rules are package
// notify's (notify.Config); these names keep the front ends' spelling.
type (
	// Notify is notify.Config: an instance's or a group's scripts.
	Notify = notify.Config
	// NotifyEvent is notify.Script: which of the scripts.
	NotifyEvent = notify.Script
	// ScriptUser is notify.User: who a script (or an exec check) runs as.
	ScriptUser = notify.User
)

// DefaultNotifyTimeout bounds a notify script that sets no timeout.
const DefaultNotifyTimeout = notify.DefaultTimeout

// The notify scripts, as package notify names them.
const (
	NotifyAny              = notify.ScriptAny
	NotifyMaster           = notify.ScriptMaster
	NotifyBackup           = notify.ScriptBackup
	NotifyFault            = notify.ScriptFault
	NotifyStop             = notify.ScriptStop
	NotifyMasterRxLowerPri = notify.ScriptMasterRxLowerPri
)

// NotifyEvents lists every script, in the order of the Notify fields.
func NotifyEvents() []NotifyEvent { return notify.Scripts() }

// SyncGroup makes instances change state together (keepalived's
// vrrp_sync_group): when one leaves MASTER or enters FAULT, all do.
// keepalived's tracking on a group (track_script and the like inside
// vrrp_sync_group) is stored as tracks of every member.
type SyncGroup struct {
	// Name identifies the group; unique.
	Name string
	// Pos is where the group is defined.
	Pos Pos
	// Instances are the member instances' names. An instance is in at most
	// one group.
	Instances []string
	// Notify are the group's scripts (TYPE is GROUP). A group has no
	// MasterRxLowerPri script.
	Notify Notify
	// Cloud, when set, lists the cloud actions run while the group is
	// MASTER (native format only).
	Cloud *Cloud

	src *Source
}

// SameSettings reports whether g and o configure the same group, its cloud
// section included, ignoring positions.
func (g *SyncGroup) SameSettings(o *SyncGroup) bool {
	if g == nil || o == nil {
		return g == o
	}
	return g.Name == o.Name && slices.Equal(g.Instances, o.Instances) && g.Notify.Equal(&o.Notify) &&
		g.Cloud.SameSettings(o.Cloud)
}

// SameSettings reports whether c and o configure the same check, ignoring
// positions; a reload restarts only checks that changed.
func (c *Check) SameSettings(o *Check) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Config.SameSettings(&o.Config)
}

// sameTracks compares track lists, ignoring positions.
func sameTracks(a, b []Track) bool {
	return slices.EqualFunc(a, b, func(x, y Track) bool {
		return x.Check == y.Check && x.WeightReverse == y.WeightReverse &&
			(x.Weight == nil) == (y.Weight == nil) && (x.Weight == nil || *x.Weight == *y.Weight)
	})
}

// sameOrder compares orders, ignoring positions.
func sameOrder(a, b *Order) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Nodes, b.Nodes) && a.File == b.File && a.Reverse == b.Reverse &&
		slices.Equal(a.Priorities, b.Priorities) && a.Unhealthy == b.Unhealthy
}

// Check returns the check named name, or nil.
func (c *Config) Check(name string) *Check {
	for _, ch := range c.Checks {
		if ch.Name == name {
			return ch
		}
	}
	return nil
}

// SyncGroupOf returns the sync group instance name belongs to, or nil.
func (c *Config) SyncGroupOf(name string) *SyncGroup {
	for _, g := range c.SyncGroups {
		if slices.Contains(g.Instances, name) {
			return g
		}
	}
	return nil
}

// ScriptSecurity is the global policy for running scripts.
type ScriptSecurity struct {
	// Enforce refuses scripts (and their directories) writable by a
	// non-root user when vipd runs as root (keepalived's
	// enable_script_security). On by default in the native format. Loading
	// applies it: a configuration with an insecure script that would run
	// as root does not load (keepalived.conf without
	// enable_script_security gets a warning per such script instead).
	Enforce bool
	// User and Group run scripts that set no user of their own
	// (keepalived's script_user; for keepalived.conf without one, the
	// user keepalived_script when it exists, as keepalived does); empty
	// User means the user vipd runs as, empty Group the user's primary
	// group.
	User, Group string
}
