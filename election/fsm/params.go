package fsm

import (
	"fmt"
	"net/netip"
	"time"
)

// Protocol limits used when validating [Params].
const (
	// PriorityOwner is the priority of the router that owns the virtual
	// addresses (RFC 5798 §5.2.4).
	PriorityOwner = 255
	// PriorityStop is the priority a master sends when it resigns.
	PriorityStop = 0
	// DefaultDownTimerAdverts is how many advert intervals a backup waits
	// (plus skew) before declaring the master down (RFC 5798 §6.1).
	DefaultDownTimerAdverts = 3

	centisecond    = 10 * time.Millisecond
	maxV2Interval  = 255 * time.Second  // 8-bit field, seconds
	maxV3Interval  = 4095 * centisecond // 12-bit field, centiseconds
	maxDownAdverts = 100                // keepalived's down_timer_adverts range
)

// Params configures a [Machine]. The zero value is not valid: Version,
// Priority, AdvertInterval and Self must be set.
type Params struct {
	// Version is the VRRP version, 2 (RFC 3768) or 3 (RFC 5798).
	Version uint8
	// Priority is the effective priority at start, 1..255; 255 means we
	// own the virtual addresses. Change it later with SetPriority.
	Priority uint8
	// AdvertInterval is the configured advert interval: whole seconds
	// (1s..255s) for version 2, whole centiseconds (10ms..40.95s) for
	// version 3. The config layer rounds as keepalived does.
	AdvertInterval time.Duration
	// Preempt false is keepalived's nopreempt: a backup never takes over
	// from a live lower-priority master. Forced on for priority 255 and for
	// StartMaster, as keepalived does.
	Preempt bool
	// PreemptDelay is keepalived's preempt_delay: after the first
	// lower-priority advert a backup keeps accepting them for this long
	// before it starts discarding them (and so takes over one master-down
	// interval later). Zero disables it; ignored when Preempt is false,
	// for priority 255 or with StartMaster (keepalived clears it then).
	PreemptDelay time.Duration
	// StartMaster is keepalived's "state MASTER". For priority 255 it
	// changes nothing (the owner starts as master anyway). For a lower
	// priority keepalived 2.2.7 still starts a stand-alone instance in
	// BACKUP with the full master-down timer; the only effect is that
	// nopreempt and preempt_delay are cleared. New does the same.
	StartMaster bool
	// Self is our primary address on the interface, the source of our
	// adverts, used to break ties between equal priorities.
	Self netip.Addr
	// DownTimerAdverts is keepalived's down_timer_adverts (1..100): how
	// many advert intervals make up the master-down interval. Zero means
	// the RFC value 3.
	DownTimerAdverts uint8
	// FastTakeover is vipd's deviation from RFC 5798 §6.4.2 and
	// keepalived, so that a priority change acts within about one advert
	// interval instead of a full master-down interval:
	//
	//   - a MASTER whose priority drops (SetPriority) advertises the new
	//     priority at once instead of at its next advert tick;
	//   - a preempting BACKUP that hears a lower, non-zero priority treats
	//     it like a resignation: it takes over after Skew_Time instead of
	//     after the master-down timer. Skew_Time, not zero, so that when
	//     several backups outrank the old master the best one goes first
	//     and the others hear it before their own skew runs out, rather
	//     than all of them taking over (and running their notify and cloud
	//     actions) only to step back down. With PreemptDelay, lower adverts
	//     are still accepted until the delay has passed; the first one
	//     after it starts the skew wait.
	//
	// nopreempt backups are unaffected. Peers without it (keepalived)
	// interoperate: they simply take over later. Off in the fsm so the
	// protocol defaults stay RFC; the agent turns it on by default.
	FastTakeover bool
}

// ParamError reports an invalid [Params] field.
type ParamError struct {
	Field  string // the Params field name
	Value  any    // the offending value
	Reason string // what is wrong with it
}

// Error implements error.
func (e *ParamError) Error() string {
	return fmt.Sprintf("fsm: invalid %s %v: %s", e.Field, e.Value, e.Reason)
}

// Validate reports the first problem with p as a *ParamError, or nil.
func (p Params) Validate() error {
	switch p.Version {
	case 2:
		if p.AdvertInterval < time.Second || p.AdvertInterval > maxV2Interval || p.AdvertInterval%time.Second != 0 {
			return &ParamError{"AdvertInterval", p.AdvertInterval, "VRRPv2 needs whole seconds from 1s to 255s"}
		}
	case 3:
		if p.AdvertInterval < centisecond || p.AdvertInterval > maxV3Interval || p.AdvertInterval%centisecond != 0 {
			return &ParamError{"AdvertInterval", p.AdvertInterval, "VRRPv3 needs whole centiseconds from 10ms to 40.95s"}
		}
	default:
		return &ParamError{"Version", p.Version, "must be 2 or 3"}
	}
	if p.Priority == PriorityStop {
		return &ParamError{"Priority", p.Priority, "must be 1..255 (0 is reserved for resigning)"}
	}
	if p.PreemptDelay < 0 {
		return &ParamError{"PreemptDelay", p.PreemptDelay, "must not be negative"}
	}
	if !p.Self.IsValid() {
		return &ParamError{"Self", p.Self, "our primary address is required for tie-breaks"}
	}
	if p.DownTimerAdverts > maxDownAdverts {
		return &ParamError{"DownTimerAdverts", p.DownTimerAdverts, "must be 1..100 (0 means 3)"}
	}
	return nil
}

// normalize applies the adjustments keepalived makes at configuration time
// (vrrp_complete_instance) so the machine never has to re-check them.
func (p Params) normalize() Params {
	p.Self = p.Self.Unmap()
	if p.DownTimerAdverts == 0 {
		p.DownTimerAdverts = DefaultDownTimerAdverts
	}
	// The owner cannot be nopreempt, and "state MASTER" clears both
	// nopreempt and preempt_delay.
	if p.Priority == PriorityOwner || p.StartMaster {
		p.Preempt = true
	}
	if p.Priority == PriorityOwner || p.StartMaster || !p.Preempt {
		p.PreemptDelay = 0
	}
	return p
}
