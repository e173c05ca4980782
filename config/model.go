package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// Format says which syntax a configuration was read from.
type Format int

const (
	// FormatYAML is vipd's native, strict YAML format.
	FormatYAML Format = iota + 1
	// FormatKeepalived is keepalived.conf syntax (the VRRP subset).
	FormatKeepalived
)

// String returns "yaml" or "keepalived".
func (f Format) String() string {
	switch f {
	case FormatYAML:
		return "yaml"
	case FormatKeepalived:
		return "keepalived"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Defaults, all taken from keepalived 2.2.7 (vrrp.h, global_data.c).
const (
	// DefaultVersion is the VRRP version of IPv4 instances that set none
	// (keepalived's global vrrp_version default). IPv6 instances default to 3.
	DefaultVersion = 2
	// DefaultPriority is the priority of a BACKUP instance that sets none.
	DefaultPriority = 100
	// OwnerPriority is the priority reserved for the owner of the VIPs; an
	// instance with state MASTER and no priority gets it, as in keepalived.
	OwnerPriority = 255
	// DefaultAdvertInterval is the advertisement interval when none is set.
	DefaultAdvertInterval = time.Second
	// MaxPreemptDelay is the longest preempt_delay keepalived accepts.
	MaxPreemptDelay = 1000 * time.Second
	// MaxAuthPassLen is the size of the VRRPv2 authentication data field.
	MaxAuthPassLen = 8
	// MaxIfNameLen is the longest interface name or address label (IFNAMSIZ-1).
	MaxIfNameLen = 15
)

// Pos is a place in a configuration file. Line is 1-based; 0 means the file
// as a whole (for example when it cannot be read).
type Pos struct {
	File string
	Line int
}

// String returns "FILE:LINE", or "FILE" when Line is 0.
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Config is one complete, validated vipd configuration.
type Config struct {
	// Path is the file the configuration was loaded from (as given to load.File or a parser).
	Path string
	// Format is the syntax Path was read as.
	Format Format
	// Node describes this machine.
	Node Node
	// Instances are the VRRP instances, in file order.
	Instances []*Instance
	// Checks are the health checks instances may track, in file order.
	Checks []*Check
	// SyncGroups tie instances' states together.
	SyncGroups []*SyncGroup
	// Scripts is the policy for running check and notify scripts.
	Scripts ScriptSecurity
	// Gossip, when set, joins this node to a gossip cluster.
	Gossip *Gossip
	// API is how this node serves the API (api.go); DefaultAPI unless set.
	API API
	// History is where this node keeps its event history (history.go).
	History History
	// FastTakeover makes priority changes act at once (vipd's deviation
	// from RFC 5798 §6.4.2 and keepalived): a master whose priority drops
	// advertises immediately, and a preempting backup that hears a lower
	// priority takes over without waiting for the master-down timer.
	// On by default.
	FastTakeover bool
	// Warnings are the problems that did not stop the load (keepalived
	// input mostly: what keepalived would warn about and work around).
	Warnings Diagnostics

	// src records where the global settings were written.
	src *Source
}

// Node describes the machine vipd runs on.
type Node struct {
	// Name identifies this node (keepalived's router_id); it defaults to the
	// host name.
	Name string
	// Scheduling is the kernel scheduling of the agent's threads
	// (process.go; keepalived's vrrp_rt_priority and vrrp_priority).
	Scheduling Scheduling
	// LockMemory locks the agent's memory (mlockall) so that neither the
	// advert path nor the first takeover waits on swap or on the disk
	// (keepalived's vrrp_no_swap).
	LockMemory bool
}

// Instance is one VRRP virtual router: one state machine per
// (Interface, VRID, Family).
type Instance struct {
	// Name is the instance's name (keepalived's vrrp_instance NAME). Unique.
	Name string
	// Pos is where the instance is defined.
	Pos Pos

	// Interface is the interface adverts are sent and received on.
	Interface string
	// VRID is the virtual router id, 1-255.
	VRID uint8
	// Family is the address family of the adverts. keepalived takes it from
	// the first address in the instance (source, peer or VIP), IPv4 if none.
	Family inet.Family
	// Version is the VRRP version, 2 (RFC 3768) or 3 (RFC 5798).
	Version uint8

	// Priority is the configured (base) priority, 1-255; 255 means this node
	// owns the VIPs.
	Priority uint8
	// AdvertInterval is the advertisement interval: whole seconds 1-255 s for
	// VRRPv2, a multiple of 10 ms in 10 ms-40.95 s for VRRPv3.
	AdvertInterval time.Duration
	// InitialState is fsm.Master or fsm.Backup (keepalived's wantstate;
	// the "state" keyword spells it as fsm.State's String does).
	InitialState fsm.State
	// Preempt lets a higher-priority backup take over from a lower master
	// (keepalived's nopreempt clears it).
	Preempt bool
	// PreemptDelay delays preemption after start-up, 0-1000 s.
	PreemptDelay time.Duration

	// UnicastSource is the source address of adverts (keepalived's
	// unicast_src_ip or mcast_src_ip). Invalid (zero) means the interface's
	// primary address. With no peers it is the source of multicast adverts.
	UnicastSource netip.Addr
	// UnicastPeers are the addresses adverts are unicast to; empty means
	// multicast (unless PeersFromGossip).
	UnicastPeers []netip.Addr
	// PeersFromGossip adds, as unicast peers, the gossip members that run
	// the same instance (VRID + family + cluster); native "peers: gossip".
	PeersFromGossip bool

	// AuthPass is the VRRPv2 simple-text password (at most 8 bytes); "" means
	// no authentication.
	AuthPass string

	// VIPs are the virtual addresses this instance holds while MASTER. VIPs of
	// the other family are kept (keepalived drops them) and follow the state,
	// but only AdvertisedVIPs go into adverts.
	VIPs []VIP

	// GARP tunes the gratuitous ARPs / unsolicited neighbour advertisements
	// sent on becoming MASTER.
	GARP GARP

	// Track lists the checks that move this instance's priority or put it
	// in FAULT, each check at most once. The address owner (priority 255)
	// keeps its priority: it may only have tracks of effective weight 0,
	// which put it in FAULT as in keepalived (the native format rejects
	// weighted ones, keepalived.conf input drops them with keepalived's
	// warnings).
	Track []Track
	// Order, when set, gives the priority from this node's place in an
	// ordered list of node names instead of Priority.
	Order *priority.OrderConfig
	// Notify are the instance's state-change scripts.
	Notify notify.Config
	// Cloud, when set, lists the cloud actions run while MASTER (native
	// format only).
	Cloud *Cloud

	// src records where each field came from, for diagnostics; nil for
	// instances built in code.
	src *InstanceSource
}

// VIP is one virtual address.
type VIP struct {
	// Prefix is the address and its prefix length, as added to the interface
	// (host bits are kept: 192.0.2.10/24 is address 192.0.2.10 in a /24).
	Prefix netip.Prefix
	// Interface is the interface the address is added to; it defaults to the
	// instance's.
	Interface string
	// Label is the IPv4 address label ("eth0:vip"); it must start with the
	// interface name. Empty means none.
	Label string
	// Excluded addresses are held like the others but left out of adverts
	// (keepalived's virtual_ipaddress_excluded, or VIPs beyond what fits in
	// an advert).
	Excluded bool
	// Pos is where the address is configured.
	Pos Pos
}

// GARP holds the gratuitous ARP / NA settings of an instance.
type GARP struct {
	// MasterDelay is how long after becoming MASTER the second burst is sent.
	MasterDelay time.Duration
	// MasterRepeat is how many GARPs/NAs each burst holds (at least 1).
	MasterRepeat uint32
	// MasterRefresh is the period of refresh bursts while MASTER; 0 = none.
	MasterRefresh time.Duration
	// MasterRefreshRepeat is how many GARPs/NAs each refresh holds (>= 1).
	MasterRefreshRepeat uint32
	// Interval is the gap between successive GARPs on an interface; 0 = none.
	Interval time.Duration
	// NAInterval is the gap between successive unsolicited NAs; 0 = none.
	NAInterval time.Duration
}

// DefaultGARP returns keepalived's defaults: a second burst 5 s after
// becoming MASTER, 5 messages a burst, no refresh, no pacing.
func DefaultGARP() GARP {
	return GARP{
		MasterDelay:         5 * time.Second,
		MasterRepeat:        5,
		MasterRefresh:       0,
		MasterRefreshRepeat: 1,
	}
}

// DefaultInstance returns an instance with keepalived's defaults for every
// field that has one; Name, Interface, VRID and VIPs are left for the caller.
func DefaultInstance() *Instance {
	return &Instance{
		Family:         inet.IPv4,
		Version:        DefaultVersion,
		Priority:       DefaultPriority,
		AdvertInterval: DefaultAdvertInterval,
		InitialState:   fsm.Backup,
		Preempt:        true,
		GARP:           DefaultGARP(),
		Notify:         notify.Config{Timeout: notify.DefaultTimeout},
	}
}

// DefaultConfig returns an empty configuration in the native format, with
// its defaults: fast takeover on, script security enforced.
func DefaultConfig() *Config {
	return &Config{Format: FormatYAML, FastTakeover: true, Scripts: ScriptSecurity{Enforce: true}, API: DefaultAPI()}
}

// Multicast reports whether adverts are multicast: no unicast peers and
// none to come from gossip (an instance with PeersFromGossip is unicast
// even while gossip has found no peer yet).
func (i *Instance) Multicast() bool { return len(i.UnicastPeers) == 0 && !i.PeersFromGossip }

// AdvertisedVIPs returns the addresses that go into this instance's adverts:
// those of the instance's family that are not excluded, in order.
func (i *Instance) AdvertisedVIPs() []netip.Addr {
	var out []netip.Addr
	for _, v := range i.VIPs {
		if !v.Excluded && inet.FamilyOf(v.Prefix.Addr()) == i.Family {
			out = append(out, v.Prefix.Addr())
		}
	}
	return out
}

// SameSettings reports whether i and o configure the same behaviour: every
// field equal except positions, tracks, order, notify scripts and the cloud
// section included.
// A reload keeps the running state machine of an instance whose settings
// did not change (the checks it tracks are compared apart, with
// Check.SameSettings).
func (i *Instance) SameSettings(o *Instance) bool {
	if i == nil || o == nil {
		return i == o
	}
	return i.Name == o.Name && i.Interface == o.Interface && i.VRID == o.VRID &&
		i.Family == o.Family && i.Version == o.Version && i.Priority == o.Priority &&
		i.AdvertInterval == o.AdvertInterval && i.InitialState == o.InitialState &&
		i.Preempt == o.Preempt && i.PreemptDelay == o.PreemptDelay &&
		i.UnicastSource == o.UnicastSource && slices.Equal(i.UnicastPeers, o.UnicastPeers) &&
		i.PeersFromGossip == o.PeersFromGossip &&
		i.AuthPass == o.AuthPass && i.GARP == o.GARP &&
		slices.EqualFunc(i.VIPs, o.VIPs, func(a, b VIP) bool {
			return a.Prefix == b.Prefix && a.Interface == b.Interface && a.Label == b.Label && a.Excluded == b.Excluded
		}) &&
		sameTracks(i.Track, o.Track) && sameOrder(i.Order, o.Order) && i.Notify.Equal(&o.Notify) &&
		i.Cloud.SameSettings(o.Cloud)
}

// MaxAdvertisedVIPs is how many addresses fit in one advert on a 1500-byte
// MTU link, as keepalived computes it (vrrp_complete_instance): the
// Ethernet, IP and VRRP headers (and the v2 authentication field) are
// subtracted, and the 8-bit count field caps it at 255.
func MaxAdvertisedVIPs(f inet.Family, version uint8) int {
	const mtu, ether, vrrpHdr = 1500, 14, 8
	var n int
	if f == inet.IPv6 {
		n = (mtu - ether - 40 - vrrpHdr) / 16
	} else {
		hdr := ether + 20 + vrrpHdr
		if version == 2 {
			hdr += MaxAuthPassLen
		}
		n = (mtu - hdr) / 4
	}
	return min(n, 255)
}

// String returns a one-line summary, for logs.
func (i *Instance) String() string {
	return fmt.Sprintf("%s (%s vrid %d %s v%d)", i.Name, i.Interface, i.VRID, i.Family, i.Version)
}
