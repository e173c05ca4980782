// Package fsm holds the VRRP state machine of one virtual router: a pure
// function of (state, event, now) that returns the side effects it wants as
// [Action] values for the runtime to perform in order.
//
// It follows RFC 5798 §6 (RFC 3768 timing for version 2) and, where they
// differ or keepalived adds behaviour (preempt_delay, reasserting mastership
// against a lower-priority master, priority-0 adverts on FAULT, the startup
// handling of "state MASTER"), keepalived 2.2.7. Timer arithmetic is done in
// keepalived's integer microseconds so a vipd backup and a keepalived backup
// time out at the same instant.
//
// One deviation is vipd's own and off unless asked for: Params.FastTakeover
// makes priority changes hand mastership over within about one advert
// interval instead of a master-down interval. Peers without it interoperate.
//
// The package must not depend on sockets, goroutines, timers, the clock,
// logging or any other vipd package: every input arrives as a method argument
// (including the current time) and every output leaves as an Action. Packet
// validation (checksum, VRID, TTL, v2 interval mismatch, our own looped-back
// adverts) is the caller's job; [Machine.Receive] takes an already-validated
// advert.
//
// A Machine is not safe for concurrent use; the runtime drives each one from
// a single goroutine.
package fsm
