// Package clock is the one place vipd reads time from. Everything that waits
// (advert timers, GARP schedules, retries) takes a Clock, so tests drive
// state machines and runtimes by testing/synctest's bubble time through
// Real instead of by sleeping; clocktest.Counting wraps Real there to show
// that code waits on the clock it is given: there is no other fake time.
// Sleep and Backoff are the one context-aware wait and the one jittered
// retry backoff.
//
// On Linux the real clock also offers precise timers (PreciseClock), backed
// by a timerfd, for the deadlines whose lateness is measured: a Go
// time.Timer can fire up to about a millisecond late because the runtime
// sleeps in epoll_wait with a timeout in whole milliseconds. A Scheduler
// puts many such deadlines (an agent's VRRP instances) on one timer and one
// goroutine.
//
// It depends on the standard library and golang.org/x/sys/unix only, and
// must not depend on any other vipd package: everything else uses it.
package clock
