package config

import (
	"slices"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
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

// Track is one instance's use of a check: package priority's settings
// (priority.Track) and where they were written.
type Track struct {
	priority.Track
	// Pos is where the tracking is configured.
	Pos Pos
}

// Effective returns the weight and reverse flag this track applies with
// check c (the one named by t.Check, nil if none): its own when Weight is
// set, else the check's.
func (t Track) Effective(c *Check) (weight int, reverse bool) {
	if c == nil {
		return t.Track.Effective(nil)
	}
	return t.Track.Effective(&c.Config)
}

// MinWeight and MaxWeight bound check and track weights: checks'
// (checks.WeightRange widens them for file checks).
const (
	MinWeight = checks.MinWeight
	MaxWeight = checks.MaxWeight
)

// An order's settings, defaults and rules are package priority's
// (priority.OrderConfig); these names keep the front ends' spelling. Where
// an order is written is in its instance's record (key "order").
type (
	// Order is priority.OrderConfig: an instance's N-way order. Only the
	// native format has orders.
	Order = priority.OrderConfig
	// Unhealthy is priority.Unhealthy.
	Unhealthy = priority.Unhealthy
)

// What an order does with an unhealthy node, as package priority names it.
const (
	UnhealthyLowest = priority.UnhealthyLowest
	UnhealthyFault  = priority.UnhealthyFault
)

// DefaultOrderPriorities returns the priorities of the first positions of
// an order when the configuration gives none: priority.DefaultPriorities.
func DefaultOrderPriorities() []uint8 { return priority.DefaultPriorities() }

// MinOrderPriority is the lowest priority of a healthy node in an order.
const MinOrderPriority = priority.MinOrderPriority

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
	return slices.EqualFunc(a, b, func(x, y Track) bool { return x.Track.SameSettings(y.Track) })
}

// sameOrder compares orders.
func sameOrder(a, b *Order) bool { return a.SameSettings(b) }

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
