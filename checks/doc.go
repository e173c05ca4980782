// Package checks holds vipd's health checks: the probes that say whether a
// service is fit to hold a VIP, and the Runner that schedules one check with
// keepalived's vrrp_script semantics (interval, timeout, fall, rise,
// init_fail) and reports its state.
//
// Each kind's settings, their rules and its behaviour are in one file, its
// tests in its _test file:
// exec.go (a program, keepalived's vrrp_script), process.go (a process is
// alive, like `killall -0`), tcp.go (a TCP connect), http.go (a GET), dns.go
// (a DNS query, matched as `dig +short` prints it), file.go (an integer in a
// file, keepalived's vrrp_track_file) and iface.go (an interface's link,
// keepalived's track_interface). config.go holds the settings every kind
// has (Config), their defaults, Validate with its FieldErrors, and the
// list that registers each kind; checks.go the probers' shared parts,
// runner.go the schedule and state, changes.go a non-blocking fan-in of
// state changes. README.md says how to add a kind.
//
// # State, as keepalived has it
//
// A check starts in StateInit ("no result yet"; keepalived's
// SCRIPT_INIT_STATE_INIT) unless InitFail is set, in which case it starts
// failed. In StateInit the first result decides, one success or one failure
// being enough (keepalived sets its counter to rise-1). From then on Fall
// consecutive failures make a healthy check failed, Rise consecutive
// successes make a failed one healthy, and anything in between changes
// nothing. The priority code must treat StateInit as keepalived does: a
// weighted check neither adds nor subtracts its weight yet, and a weight-0
// check keeps the instance from leaving INIT.
//
// keepalived 2.2.7 resets a vrrp_script's init_fail when an instance
// tracks it (alloc_track_script overwrites init_state), so there init_fail
// has no effect on tracked scripts. vipd implements the documented intent
// instead: InitFail starts the check failed and it needs Rise successes.
//
// File checks have no rise or fall: every value read applies at once, and
// Status.Value carries it for the priority code, which applies each
// instance's weight. keepalived watches the file with inotify; vipd reads
// it every Interval, so a change is seen at most one interval late.
//
// # Watched checks
//
// A kind that the kernel can tell about its changes is a Watcher: today
// the interface check, which follows the link notifications of netlink
// (RTNLGRP_LINK; linkquery.go asks for one link with raw system calls on a
// socket kept open). Its Runner probes when notified, at the interval only
// while a fall or rise is under way, and otherwise every RecheckInterval
// as a safety re-read (with RunnerOptions.Timers, riding a wake-up the
// instances' timer makes anyway), so an idle check wakes nothing.
//
// # Dependencies
//
// This package owns the checks' configuration: package config decodes
// files into a Config and reports Validate's problems at the lines they
// were written, and imports this package, never the reverse. Besides the
// standard library it depends on internal/clock and internal/proc
// (running exec checks). It must not depend on election, the agent or
// anything else that consumes check results: results flow out through
// Status and the OnChange callback, never by calling back up.
package checks
