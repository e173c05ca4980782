package history

import "strings"

// Causes are the classes of transition reasons: a fixed, small set, so
// that a metric labelled by cause cannot grow with free-text reasons.
var Causes = []string{
	CauseStartup, CauseMasterDown, CauseResigned, CausePreempted, CauseHigherPriority,
	CauseFault, CauseShutdown, CauseSyncGroup, CauseFailover, CauseMaintenance, CauseGuard, CauseOther,
}

// Transition causes.
const (
	CauseStartup        = "startup"         // the instance started
	CauseMasterDown     = "master_down"     // no advert heard for the master-down interval
	CauseResigned       = "resigned"        // the master sent priority 0
	CausePreempted      = "preempted"       // this node outranked the master
	CauseHigherPriority = "higher_priority" // a better master was heard
	CauseFault          = "fault"           // a check, interface or group fault (or its end)
	CauseShutdown       = "shutdown"        // the instance or the node stopped
	CauseSyncGroup      = "sync_group"      // a sync group member moved
	CauseFailover       = "failover"        // a forced failover
	CauseMaintenance    = "maintenance"     // the node was drained or released
	CauseGuard          = "guard"           // the split-brain guard held or released it
	CauseOther          = "other"           // anything else
)

// causeWords maps words of the reasons vipd writes (election/fsm's
// Reason constants, the agent's holds) to causes, most specific first.
var causeWords = []struct{ word, cause string }{
	{"failover", CauseFailover},
	{"maintenance", CauseMaintenance},
	{"split-brain guard", CauseGuard},
	{"sync group", CauseSyncGroup},
	{"startup", CauseStartup},
	{"master down", CauseMasterDown},
	{"resigned", CauseResigned},
	{"preempted", CausePreempted},
	{"fast takeover", CausePreempted},
	{"higher priority", CauseHigherPriority},
	{"higher address", CauseHigherPriority},
	{"another node acted as master", CauseHigherPriority},
	{"shutdown", CauseShutdown},
	{"stopped", CauseShutdown},
	{"fault", CauseFault},
	{"check", CauseFault},
	{"interface", CauseFault},
}

// Cause classes a transition reason; the result is always one of Causes.
func Cause(reason string) string {
	r := strings.ToLower(reason)
	for _, w := range causeWords {
		if strings.Contains(r, w.word) {
			return w.cause
		}
	}
	return CauseOther
}
