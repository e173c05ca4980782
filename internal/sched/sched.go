package sched

import (
	"fmt"
	"strconv"
)

// Policy is a kernel scheduling policy.
type Policy int

// The policies Threads can set.
const (
	// Other is the normal time-shared policy (SCHED_OTHER), with Nice.
	Other Policy = iota
	// RR is real-time round robin (SCHED_RR).
	RR
	// FIFO is real-time first-in first-out (SCHED_FIFO).
	FIFO
)

// String returns "other", "rr" or "fifo".
func (p Policy) String() string {
	switch p {
	case Other:
		return "other"
	case RR:
		return "rr"
	case FIFO:
		return "fifo"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// Settings is what Apply puts every thread under.
type Settings struct {
	// Policy is the scheduling policy.
	Policy Policy
	// Priority is the real-time priority (1-99) of RR and FIFO.
	Priority int
	// Nice is the nice value (-20 to 19) of Other.
	Nice int
}

// String returns "rr 50", "fifo 10" or "other nice -5".
func (s Settings) String() string {
	if s.Policy == Other {
		return "other nice " + strconv.Itoa(s.Nice)
	}
	return s.Policy.String() + " " + strconv.Itoa(s.Priority)
}

// Error is a failure to apply a setting, with what would let it work.
type Error struct {
	// What was being done ("set scheduling rr 50 on thread 1234").
	What string
	// Err is the system's error (EPERM, say).
	Err error
	// Hint says what the process lacks, when the cause is known.
	Hint string
}

// Error returns "sched: WHAT: ERR (HINT)".
func (e *Error) Error() string {
	s := fmt.Sprintf("sched: %s: %v", e.What, e.Err)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the system's error.
func (e *Error) Unwrap() error { return e.Err }
