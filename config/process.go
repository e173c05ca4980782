package config

import (
	"fmt"
	"strconv"
)

// This file holds the settings that protect the agent from a busy machine
// (node.scheduling and node.lock_memory; keepalived's vrrp_rt_priority,
// vrrp_priority and vrrp_no_swap): their type, limits and validation. The
// agent applies them once at start (internal/sched); a reload keeps the
// running ones, and a change takes effect at the next start.

// SchedPolicy is the kernel scheduling policy of the agent's threads.
type SchedPolicy string

// Scheduling policies, spelled as the native format takes them.
const (
	// SchedOther is the kernel's normal, time-shared policy (SCHED_OTHER),
	// optionally with a nice value. The default.
	SchedOther SchedPolicy = "other"
	// SchedRR is real-time round robin (SCHED_RR), what keepalived's
	// vrrp_rt_priority sets.
	SchedRR SchedPolicy = "rr"
	// SchedFIFO is real-time first-in first-out (SCHED_FIFO).
	SchedFIFO SchedPolicy = "fifo"
)

// RealTime reports whether p is a real-time policy (rr or fifo).
func (p SchedPolicy) RealTime() bool { return p == SchedRR || p == SchedFIFO }

// Limits of the scheduling settings (Linux's).
const (
	// MinRTPriority and MaxRTPriority bound a real-time priority
	// (sched_get_priority_min/max of SCHED_RR and SCHED_FIFO).
	MinRTPriority = 1
	MaxRTPriority = 99
	// MinNice and MaxNice bound a nice value.
	MinNice = -20
	MaxNice = 19
)

// Scheduling is how the kernel schedules the agent's threads. The zero
// value (policy "" or other, nice 0) leaves the scheduling as vipd was
// started with.
type Scheduling struct {
	// Policy is SchedOther ("" means the same), SchedRR or SchedFIFO.
	Policy SchedPolicy
	// Priority is the real-time priority, MinRTPriority-MaxRTPriority, of
	// a real-time policy; 0 with SchedOther.
	Priority int
	// Nice is the nice value, MinNice-MaxNice, with SchedOther (negative
	// runs ahead of normal processes); 0 leaves it. A real-time policy
	// takes none.
	Nice int
}

// IsZero reports whether s changes nothing.
func (s Scheduling) IsZero() bool {
	return (s.Policy == "" || s.Policy == SchedOther) && s.Priority == 0 && s.Nice == 0
}

// String returns "rr 50", "fifo 10", "other nice -10" or "other".
func (s Scheduling) String() string {
	p := s.Policy
	if p == "" {
		p = SchedOther
	}
	if p.RealTime() {
		return string(p) + " " + strconv.Itoa(s.Priority)
	}
	if s.Nice != 0 {
		return string(p) + " nice " + strconv.Itoa(s.Nice)
	}
	return string(p)
}

// process validates c.Node.Scheduling; the formats' parsers reject values
// out of range on their own lines first, so this catches combinations and
// configurations built in code.
func (v *validator) process(c *Config) {
	s := c.Node.Scheduling
	at := func(key string) (Pos, string) { return c.src.nested(key, Pos{File: c.Path}) }
	fail := func(key, msg string) {
		pos, f := at(key)
		v.d.err(pos, f, msg)
	}
	switch s.Policy {
	case "", SchedOther:
		if s.Priority != 0 {
			fail("node.scheduling.priority", fmt.Sprintf("%d: a priority needs policy rr or fifo (policy other takes a nice value)", s.Priority))
		}
		if s.Nice < MinNice || s.Nice > MaxNice {
			fail("node.scheduling.nice", fmt.Sprintf("%d is out of range %d-%d", s.Nice, MinNice, MaxNice))
		}
	case SchedRR, SchedFIFO:
		switch {
		case s.Priority == 0: // not set: point at the policy that needs it
			pos, _ := at("node.scheduling.policy")
			_, f := at("node.scheduling.priority")
			v.d.err(pos, f, fmt.Sprintf("policy %s needs a priority %d-%d", s.Policy, MinRTPriority, MaxRTPriority))
		case s.Priority < MinRTPriority || s.Priority > MaxRTPriority:
			fail("node.scheduling.priority", fmt.Sprintf("%d is out of range %d-%d", s.Priority, MinRTPriority, MaxRTPriority))
		}
		if s.Nice != 0 {
			fail("node.scheduling.nice", fmt.Sprintf("%d: a nice value applies to policy other only", s.Nice))
		}
	default:
		fail("node.scheduling.policy", fmt.Sprintf("%q is not one of other, rr, fifo", s.Policy))
	}
}
