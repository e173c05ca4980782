package fsm

// State is the VRRP state of one virtual router instance.
type State uint8

// The states. Init is the state before [Machine.Start]; Stopped is final.
const (
	Init State = iota
	Backup
	Master
	Fault
	Stopped
	numStates
)

// String returns keepalived's word for the state, as used in logs and in the
// STATE argument of notify scripts.
func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stopped:
		return "STOP"
	}
	return "UNKNOWN"
}

// ParseState is String's inverse: the state word names, ok false for any
// other word (gossip reads other nodes' states in these words).
func ParseState(word string) (s State, ok bool) {
	for s := Init; s < numStates; s++ {
		if s.String() == word {
			return s, true
		}
	}
	return 0, false
}
