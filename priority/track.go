package priority

import (
	"fmt"
	"strings"

	"github.com/vipd/vipd/checks"
)

// Bounds of one tracked check's effect, from keepalived 2.2.7: script and
// interface weights are limited to ±253 (alloc_track_script,
// alloc_track_if; checks.MinWeight, MaxWeight), and a track_file status is cut to [-254, 253], -254
// meaning FAULT (process_update_vrrp_track_file_status).
const (
	fileFaultStatus = -254
	maxFileStatus   = 253
)

// outcome is what one tracked check does to an instance.
type outcome struct {
	name string
	// fault puts the instance in FAULT.
	fault bool
	// against means the check's state counts against this node: it is
	// failing (succeeding, with reverse), or a file's value is a failure.
	// Orders treat any such check as making the node unhealthy.
	against bool
	// pending means the check has no result yet.
	pending bool
	// delta is added to the base priority.
	delta int
	// reason says what the check does, for people; empty when nothing.
	reason string
	// link marks an unweighted interface check: its link down is FAULT
	// whatever an order's unhealthy policy says, as in keepalived, since a
	// node off its network must not claim the VIP on it.
	link bool
}

// evaluate works out one tracked check's effect. owner is set for an
// address owner (priority 255), which keepalived lets only unweighted
// tracking affect (vrrp_complete_instance drops weighted scripts and
// interfaces, and turns a track_file's default weight 1 into 0).
func evaluate(t Track, lookup CheckLookup, states map[string]CheckState, owner bool) outcome {
	var c *checks.Config
	if lookup != nil {
		c = lookup(t.Check)
	}
	if c == nil {
		// Validation should have caught it; fail safe rather than guess.
		return outcome{name: t.Check, fault: true, against: true,
			reason: fmt.Sprintf("tracked check %s is not configured", t.Check)}
	}
	w, rev := t.Effective(c)
	if owner && c.Kind == checks.KindFile && w == 1 {
		w = 0
	}
	if owner && w != 0 {
		return outcome{name: c.Name}
	}
	o := outcome{name: c.Name}
	st, have := states[c.Name]
	if !have {
		// keepalived holds an instance tracking an unweighted script out of
		// service until the script has run once (num_script_init), and
		// moves no priority before a weighted one has.
		o.pending = true
		o.fault = w == 0
		o.reason = fmt.Sprintf("%s has no result yet (%s)", subject(c), weightText(w, rev))
		return o
	}
	if c.Kind == checks.KindFile {
		evalFile(&o, c, st.Value, w, rev)
	} else {
		evalState(&o, c, st.Healthy, w, rev)
	}
	o.link = c.Kind == checks.KindInterface && w == 0
	return o
}

// evalState applies keepalived's rules for scripts, processes and
// interfaces (vrrp_track.c process_script_update_priority and
// initialise_track_script_state; keepalived_netlink.c
// process_if_status_change). Weight 0: the instance is in FAULT while the
// check fails, or while it succeeds with reverse. Otherwise a positive
// weight is added while the check succeeds and a negative one while it
// fails; reverse negates what is added (multiplier -1).
func evalState(o *outcome, c *checks.Config, healthy bool, w int, rev bool) {
	w = max(checks.MinWeight, min(checks.MaxWeight, w))
	o.against = healthy == rev
	if w == 0 {
		o.fault = o.against
	} else if (w > 0) == healthy {
		o.delta = w
		if rev {
			o.delta = -w
		}
	}
	if o.fault || o.against || o.delta != 0 {
		o.reason = fmt.Sprintf("%s %s (%s)", subject(c), stateWord(c, healthy), weightText(w, rev))
		if o.delta != 0 {
			o.reason += fmt.Sprintf(": %+d", o.delta)
		}
	}
}

// evalFile applies keepalived's track_file rules (trackers/track_file.c
// update_track_file_status and process_update_vrrp_track_file_status,
// vrrp_track.c initialise_vrrp_file_tracking_priorities). Weight 0: a
// non-zero value is a failure and puts the instance in FAULT (a zero one
// does, with reverse). Otherwise the status is value × weight (negated by
// reverse), cut to [-254, 253]; -254 or below means FAULT, and anything
// else is added to the priority.
func evalFile(o *outcome, c *checks.Config, value, w int, rev bool) {
	if w == 0 {
		o.fault = (value != 0) != rev
		o.against = o.fault
		if o.fault {
			o.reason = fmt.Sprintf("%s: value %d (%s)", subject(c), value, weightText(w, rev))
		}
		return
	}
	m := int64(1)
	if rev {
		m = -1
	}
	status := int64(value) * int64(w) * m
	switch {
	case status <= fileFaultStatus:
		o.fault, o.against = true, true
		o.reason = fmt.Sprintf("%s: value %d * %s = %d, FAULT at %d or below",
			subject(c), value, weightText(w, rev), status, fileFaultStatus)
	case status > maxFileStatus:
		o.delta = maxFileStatus
		o.reason = fmt.Sprintf("%s: value %d * %s = %d, capped at %+d",
			subject(c), value, weightText(w, rev), status, maxFileStatus)
	case status != 0:
		o.delta = int(status)
		o.reason = fmt.Sprintf("%s: value %d * %s = %+d", subject(c), value, weightText(w, rev), status)
	}
}

// subject names a check for people: "interface eth1", "file check NAME",
// "check NAME".
func subject(c *checks.Config) string {
	switch c.Kind {
	case checks.KindInterface:
		if c.Interface != nil && c.Interface.Name != "" {
			return "interface " + c.Interface.Name
		}
		return "interface " + strings.TrimPrefix(c.Name, "interface:")
	case checks.KindFile:
		return "file check " + c.Name
	}
	return "check " + c.Name
}

func stateWord(c *checks.Config, healthy bool) string {
	switch {
	case c.Kind == checks.KindInterface && healthy:
		return "up"
	case c.Kind == checks.KindInterface:
		return "down"
	case healthy:
		return "succeeded"
	}
	return "failed"
}

// weightText renders a weight as keepalived's config would: "weight 0",
// "weight -20", "weight +10 reverse".
func weightText(w int, rev bool) string {
	s := "weight 0"
	if w != 0 {
		s = fmt.Sprintf("weight %+d", w)
	}
	if rev {
		s += " reverse"
	}
	return s
}
