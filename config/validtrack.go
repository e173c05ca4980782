package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// This file holds the rules for checks, tracks, orders, notify scripts and
// sync groups, shared by both formats and configurations built in code.
// keepalived input has already been made to follow them the way keepalived
// does (with warnings) by the keepalived reader, so here every problem is
// an error.

// tracking validates everything tracking-related in c.
func (v *validator) tracking(c *Config) {
	defined := v.checks(c.Checks)
	for idx, inst := range c.Instances {
		s := inst.source(idx)
		v.tracks(inst, s, defined)
		v.order(inst, s)
		v.notify(&inst.Notify, s.more, inst.Pos, false)
	}
	v.syncGroups(c)
}

// checkSrc returns c's source record, making one for checks built in code.
func checkSrc(c *Check, idx int) *Source {
	if c.src != nil {
		return c.src
	}
	return NewSource("checks[" + strconv.Itoa(idx) + "]")
}

// checks reports the problems of the check definitions and returns them
// by name. The rules are package checks' (checks.Config.Validate); here
// only that names are unique, which depends on the other checks.
func (v *validator) checks(list []*Check) map[string]*Check {
	byName := map[string]*Check{}
	for idx, c := range list {
		src := checkSrc(c, idx)
		fail := func(key, msg string) {
			pos, f := src.nested(key, c.Pos)
			v.d.err(pos, f, msg)
		}
		if prev, dup := byName[c.Name]; dup && strings.TrimSpace(c.Name) != "" {
			fail("name", fmt.Sprintf("check name %q is already used by the check at %v", c.Name, prev.Pos))
		} else if !dup {
			byName[c.Name] = c
		}
		var problems checks.ValidationError
		if err := c.Validate(); errors.As(err, &problems) {
			for _, p := range problems {
				fail(p.Field, p.Err.Error())
			}
		} else if err != nil {
			fail("", err.Error())
		}
	}
	return byName
}

// tracks validates an instance's tracks against the checks.
func (v *validator) tracks(inst *Instance, s *InstanceSource, defined map[string]*Check) {
	seen := map[string]bool{}
	for j, t := range inst.Track {
		pos, f := s.more.at("track["+strconv.Itoa(j)+"]", t.Pos)
		c := defined[t.Check]
		switch {
		case t.Check == "":
			v.d.err(pos, f, "names no check")
			continue
		case c == nil:
			v.d.err(pos, f, fmt.Sprintf("check %q is not defined", t.Check))
			continue
		case seen[t.Check]:
			v.d.err(pos, f, fmt.Sprintf("check %q is tracked twice", t.Check))
		}
		seen[t.Check] = true
		lo, hi := checks.WeightRange(c.Kind)
		if t.Weight != nil && (*t.Weight < lo || *t.Weight > hi) {
			v.d.err(pos, f, fmt.Sprintf("weight %d is out of range %d..%d", *t.Weight, lo, hi))
			continue
		}
		if w, _ := t.Effective(c); w != 0 && inst.Priority == OwnerPriority && inst.Order == nil {
			v.d.err(pos, f, fmt.Sprintf("the address owner (priority 255) keeps its priority; track %q with weight 0 (FAULT on failure) instead of %d (keepalived ignores weighted tracks here)", t.Check, w))
		}
	}
}

// order reports the problems of an instance's order: the rules are
// package priority's (priority.OrderConfig.Validate); here only that the
// instance gives no priority of its own.
func (v *validator) order(inst *Instance, s *InstanceSource) {
	o := inst.Order
	if o == nil {
		return
	}
	def, _ := s.more.at("order", Pos{}) // where the order is written
	fail := func(key, msg string) {
		pos, f := s.more.at(key, def)
		v.d.err(pos, f, msg)
	}
	if inst.Priority == OwnerPriority {
		// Point at the state when it is what made the priority 255.
		pos, f := s.at(inst, fPriority)
		if s.pos[fPriority].Line == 0 && s.pos[fState].Line > 0 {
			pos, f = s.at(inst, fState)
		}
		v.d.err(pos, f, "an instance with an order takes its priority from it and cannot be the address owner (priority 255, which state master without a priority means)")
	} else if s.format == FormatYAML && s.pos[fPriority].Line > 0 && s.pos[fPriority] != inst.Pos {
		pos, f := s.at(inst, fPriority)
		v.d.err(pos, f, "an instance with an order takes its priority from it; remove priority")
	}
	var problems priority.ValidationError
	if err := o.Validate(); errors.As(err, &problems) {
		for _, p := range problems {
			key := "order"
			if p.Field != "" {
				key += "." + p.Field
			}
			fail(key, p.Err.Error())
		}
	} else if err != nil {
		fail("order", err.Error())
	}
}

// notify reports the problems of a set of notify scripts; the rules are
// package notify's (notify.Config.Validate).
func (v *validator) notify(n *notify.Config, src *Source, def Pos, group bool) {
	err := n.Validate()
	if group {
		err = n.ValidateGroup()
	}
	var problems notify.ValidationError
	if !errors.As(err, &problems) {
		if err != nil {
			pos, f := src.at("notify", def)
			v.d.err(pos, f, err.Error())
		}
		return
	}
	for _, p := range problems {
		key := "notify." + p.Field
		at := def
		if script, ok := strings.CutSuffix(key, ".group"); ok {
			// A script's group is placed by the script when not written.
			at, _ = src.at(script, def)
		}
		pos, f := src.at(key, at)
		v.d.err(pos, f, p.Err.Error())
	}
}

// syncGroups validates the sync groups against the instances.
func (v *validator) syncGroups(c *Config) {
	insts := map[string]*Instance{}
	for _, inst := range c.Instances {
		insts[inst.Name] = inst
	}
	member := map[string]int{} // instance → index of its group
	names := map[string]bool{}
	for idx, g := range c.SyncGroups {
		src := g.src
		if src == nil {
			src = NewSource("sync_groups[" + strconv.Itoa(idx) + "]")
		}
		fail := func(key, msg string) {
			pos, f := src.at(key, g.Pos)
			v.d.err(pos, f, msg)
		}
		switch {
		case strings.TrimSpace(g.Name) == "":
			fail("name", "is required")
		case names[g.Name]:
			fail("name", fmt.Sprintf("sync group name %q is already used", g.Name))
		}
		names[g.Name] = true
		if len(g.Instances) == 0 {
			fail("instances", "must list at least one instance")
		}
		owners := 0
		for j, name := range g.Instances {
			key := "instances[" + strconv.Itoa(j) + "]"
			inst := insts[name]
			switch prev, dup := member[name]; {
			case inst == nil:
				fail(key, fmt.Sprintf("instance %q is not defined", name))
				continue
			case dup && prev == idx:
				fail(key, fmt.Sprintf("instance %q is listed twice", name))
				continue
			case dup:
				fail(key, fmt.Sprintf("instance %q is already in sync group %q; an instance is in one group at most", name, c.SyncGroups[prev].Name))
				continue
			}
			member[name] = idx
			if inst.Priority == OwnerPriority {
				owners++
			}
		}
		if owners > 0 && owners < len(g.Instances) && !v.lenient {
			fail("instances", "some members are address owners (priority 255) and some are not; the group cannot follow both")
		}
		v.notify(&g.Notify, src, g.Pos, true)
	}
}
