// Package notify runs keepalived-compatible state-change scripts:
// notify_master, notify_backup, notify_fault and notify_stop with no added
// arguments, notify with "TYPE NAME STATE PRIORITY" appended, and
// notify_master_rx_lower_pri, for instances and sync groups.
//
// The caller (the agent) hands events to a Notifier, which never blocks it:
// events are queued, the scripts of one source (instance or group) run one
// at a time in event order, different sources run in parallel, and every
// script runs through internal/proc with a timeout that kills its whole
// process group. Scripts also get the event in VIPD_* environment variables.
//
// It owns the scripts' settings and their rules (Config, config.go):
// package config decodes files into a Config and reports Validate's
// problems at the lines they were written, and imports this package, not
// the reverse. It depends on internal/proc and election/fsm (an event's
// states are fsm.State) only; it must not depend on the election runtime,
// the agent or any package above them.
package notify
