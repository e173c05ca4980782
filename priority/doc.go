// Package priority turns what vipd knows about this node into an instance's
// effective VRRP priority, and says whether the instance must be in FAULT
// and why.
//
// It holds three things:
//
//   - Compute, a pure function of an instance's configuration, the plain
//     states of the checks it tracks and, for N-way orders, this node's
//     place in an Order. Tracking follows keepalived 2.2.7
//     (vrrp_track.c, trackers/track_file.c): weights, reverse, track_file
//     values, the 1-254 clamp and the address-owner rules.
//   - Orders (Order, the one type for an N-way order, also the one package
//     gossip agrees on cluster-wide): ParseOrder reads the
//     one-name-per-line order file format, FromConfig turns an inline list
//     into the same Order.
//   - Watcher, which follows an order file through the kernel's file
//     notifications (inotify, one instance for the process: inotify_linux.go)
//     with a slow safety re-read on an injected clock, and publishes a new
//     Order whenever its content changes, keeping the last good one when
//     the file goes away. It polls only where notifications fail.
//
// It owns the settings that make a priority (config.go): an instance's
// tracks (Track), its order (OrderConfig, its defaults and Validate's
// rules). Package config decodes files into them and reports Validate's
// problems at the lines they were written, and imports this package, not
// the reverse. It depends on checks (for a check's settings: its kind and
// weight), election/fsm (the owner's priority), internal/clock,
// golang.org/x/sys/unix (inotify) and the standard library. It must not depend on the election runtime, the agent
// or the checks runtime: check results come in as plain CheckState values,
// and the caller feeds the Result to the state machine.
package priority
