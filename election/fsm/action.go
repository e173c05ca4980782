package fsm

import "net/netip"

// Action is a side effect the runtime must perform, in the order returned.
// The concrete types are [SendAdvert], [Transition] and [Reassert].
type Action interface{ action() }

// SendAdvert asks the runtime to send one advertisement now with this
// priority. Priority 0 means we are resigning mastership.
type SendAdvert struct{ Priority uint8 }

// Transition reports a state change. The runtime adds or removes the
// virtual addresses, runs notify scripts, logs and counts. When entering
// MASTER it comes after the first SendAdvert, as keepalived sends its advert
// before taking the addresses so the old master lets go of them first.
type Transition struct {
	From, To State
	Reason   string // human-readable cause, one of the Reason constants or a fault reason
}

// Reassert reports that we, as master, heard an advert with a lower
// priority (or an equal priority from a lower address): someone else is
// acting as master, typically after a communication break. We have already
// answered with a SendAdvert (keepalived behaviour; RFC 5798 would discard
// it). Runtime hooks such as keepalived's notify_master_rx_lower_pri and
// split-brain recovery hang on this.
type Reassert struct {
	From     netip.Addr // source address of the lower-priority advert
	Priority uint8      // its priority
}

func (SendAdvert) action() {}
func (Transition) action() {}
func (Reassert) action()   {}

// Reasons carried by [Transition] values the machine produces by itself.
// Fault and fault-clear transitions carry the caller's reason instead.
const (
	ReasonOwnerStartup   = "address owner (priority 255) at startup"
	ReasonStartup        = "startup"
	ReasonMasterDown     = "master down timer expired"
	ReasonMasterResigned = "master resigned (priority 0 advert)"
	ReasonPreempted      = "preempted a lower priority master"
	ReasonFastTakeover   = "advert with lower priority: fast takeover after skew time"
	ReasonHigherPriority = "advert with higher priority"
	ReasonHigherAddress  = "advert with equal priority from a higher address"
	ReasonFault          = "fault"
	ReasonFaultCleared   = "fault cleared"
	ReasonShutdown       = "shutdown"
	// ReasonSyncGroupHeld: another member of our sync group yields to a
	// better master elsewhere, so this one steps down too.
	ReasonSyncGroupHeld = "sync group member yields to another node"
	// ReasonSyncGroupReleased: the hold ended and no master is heard.
	ReasonSyncGroupReleased = "sync group released, no master heard"
	// ReasonSyncGroupFollow: another member of our sync group became
	// master, and the group moves as one.
	ReasonSyncGroupFollow = "sync group member became master"
)

// standardReasons are the reasons whose Transitions are boxed into Action
// interface values once, at package initialisation, so that the hot paths
// (Receive, Tick) return them without allocating.
var standardReasons = [...]string{
	ReasonOwnerStartup, ReasonStartup, ReasonMasterDown, ReasonMasterResigned,
	ReasonPreempted, ReasonFastTakeover, ReasonHigherPriority, ReasonHigherAddress,
	ReasonFault, ReasonFaultCleared, ReasonShutdown, ReasonSyncGroupHeld, ReasonSyncGroupReleased,
	ReasonSyncGroupFollow,
}

var boxedTransitions = func() map[Transition]Action {
	m := make(map[Transition]Action, int(numStates)*int(numStates)*len(standardReasons))
	for from := Init; from < numStates; from++ {
		for to := Init; to < numStates; to++ {
			for _, r := range standardReasons {
				t := Transition{From: from, To: to, Reason: r}
				m[t] = t
			}
		}
	}
	return m
}()

// boxedSendAdverts holds every SendAdvert pre-boxed, for the same reason.
var boxedSendAdverts = func() (a [256]Action) {
	for i := range a {
		a[i] = SendAdvert{Priority: uint8(i)}
	}
	return a
}()

// boxTransition returns t as an Action, without allocating when its reason
// is a standard one.
func boxTransition(t Transition) Action {
	if a, ok := boxedTransitions[t]; ok {
		return a
	}
	return t
}
