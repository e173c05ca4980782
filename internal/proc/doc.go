// Package proc runs one helper program (a notify script, a check command)
// the way a daemon must: in its own process group, optionally as another
// user, with a bounded capture of its combined output, and killed together
// with everything it started when its context ends, so that no stray
// process outlives its deadline.
//
// It is Linux-only in spirit (process groups, PR_SET_PDEATHSIG, /proc) like
// the rest of vipd. It must not depend on any other vipd package: checks,
// notify and the agent all build on it.
package proc
