// Package priority turns what vipd knows about this node into an instance's
// effective VRRP priority, and says whether the instance must be in FAULT
// and why.
//
// It holds three things:
//
//   - Compute, a pure function of an instance's configuration, the plain
//     states of the checks it tracks and, for N-way orders, this node's
//     place in an order list. Tracking follows keepalived 2.2.7
//     (vrrp_track.c, trackers/track_file.c): weights, reverse, track_file
//     values, the 1-254 clamp and the address-owner rules.
//   - Order lists: ParseList reads the one-name-per-line order file format,
//     FromConfig turns an inline list into the same List.
//   - Watcher, which polls an order file through an injected clock and
//     publishes a new List whenever its content changes, keeping the last
//     good one when the file goes away.
//
// It depends only on config, internal/clock and the standard library. It
// must not depend on the election, agent or checks packages: check results
// come in as plain CheckState values, and the caller feeds the Result to the
// state machine.
package priority
