// Package history is each node's record of what happened to its VRRP
// instances and why: transitions with their reasons, check verdicts,
// order changes, commands, split-brain guard decisions, cloud actions and
// reloads. It holds the record type, the on-disk log (segment files with
// size and age limits, crash-safe: a torn tail is skipped), the recorder
// that keeps writing off the failover path (Record never waits on the
// disk), the reader's filters, and the merge of several nodes' records
// into one cluster timeline.
//
// It depends on nothing of vipd but internal/clock: the agent feeds it,
// the API and the gossip layer carry what it returns.
package history
