package gossip

import (
	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
)

// Instance and check states are typed in memory and words on the wire
// (what every vipd version sent). A word this version cannot read keeps
// its own spelling beside the Unknown value, so that a node relaying a
// newer node's state (push/pull carries every member's) re-encodes it
// byte for byte: the codec stays canonical.

// UnknownState stands for an instance state word this version cannot
// read. It is no state of fsm's; the agent reports it as unspecified.
const UnknownState fsm.State = 255

// UnknownCheckState stands for a check state word this version cannot
// read; the agent reports it as unspecified.
const UnknownCheckState checks.State = 255

// checkStates are the check states a word can name.
var checkStates = []checks.State{checks.StateInit, checks.StateHealthy, checks.StateFailed}

// StateWord is the wire word of in.State: fsm's, or the word an
// UnknownState came with (for edges that carry words on, such as a
// history reply).
func (in InstanceState) StateWord() string {
	if in.State == UnknownState {
		return in.stateWord
	}
	return in.State.String()
}

// instanceState reads a wire word: its state, or UnknownState and the
// word to keep.
func instanceState(word string) (fsm.State, string) {
	if s, ok := fsm.ParseState(word); ok {
		return s, ""
	}
	return UnknownState, word
}

// StateWord is the wire word of c.State: checks', or the word an
// UnknownCheckState came with.
func (c CheckState) StateWord() string {
	if c.State == UnknownCheckState {
		return c.stateWord
	}
	return c.State.String()
}

// checkState reads a wire word: its state, or UnknownCheckState and the
// word to keep.
func checkState(word string) (checks.State, string) {
	for _, s := range checkStates {
		if s.String() == word {
			return s, ""
		}
	}
	return UnknownCheckState, word
}
