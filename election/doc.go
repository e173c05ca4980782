// Package election runs VRRP instances: it connects the pure state machine
// (election/fsm) to the wire (election/transport via the codec in
// election/vrrp) and to the host (VIPs and announcements in election/vip).
//
// One Instance is one VRRP router (vrid + family + interface). A Demux reads
// one raw socket per family and interface and hands each advert to the
// instance that owns its VRID. Instances execute the actions the state
// machine returns; all waiting goes through an injected clock.
//
// This package must not depend on the agent, the API or the cloud code: those
// observe instances through the Observer interface.
package election
