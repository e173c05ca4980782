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
	Notify notify.Config
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
func sameOrder(a, b *priority.OrderConfig) bool { return a.SameSettings(b) }

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
