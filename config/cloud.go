package config

import (
	"maps"
	"net/netip"
	"slices"
	"time"
)

// This file holds the model of cloud actions: what a node tells the cloud
// (today AWS EC2) when one of its instances or sync groups becomes MASTER,
// so that traffic for the VIPs reaches it (package cloudmove carries them
// out). Only the native format has them; keepalived.conf users call
// scripts from notify_master instead.

// CloudOnFailure says what a node does when a cloud action cannot be
// completed within its retry budget (or cannot succeed at all).
type CloudOnFailure string

const (
	// CloudStay keeps the node MASTER and keeps retrying.
	CloudStay CloudOnFailure = "stay"
	// CloudFault puts the instance (or group) in FAULT, so that another
	// node, perhaps with working permissions or a healthy zone, can try.
	CloudFault CloudOnFailure = "fault"
)

// Cloud action defaults.
const (
	// DefaultCloudReconcileInterval is how often a master re-checks that
	// the cloud still points at it.
	DefaultCloudReconcileInterval = 30 * time.Second
	// DefaultCloudRefreshInterval is how often ids, interfaces and route
	// tables are resolved again in the background.
	DefaultCloudRefreshInterval = time.Minute
	// DefaultCloudCallTimeout bounds one API call.
	DefaultCloudCallTimeout = 5 * time.Second
	// DefaultCloudRetryBudget is how long an action may keep failing on
	// retryable errors before it is reported failed (it keeps retrying
	// while the node is master).
	DefaultCloudRetryBudget = time.Minute
	// DefaultCloudFaultHold is how long on_failure: fault holds the FAULT
	// state after a failure before the node may try again.
	DefaultCloudFaultHold = 5 * time.Minute
	// DefaultEBSForceDetachAfter is how long a new master waits for the old
	// holder of a volume to detach it before forcing the detachment.
	DefaultEBSForceDetachAfter = 30 * time.Second
)

// Cloud is the cloud section of an instance or a sync group.
type Cloud struct {
	// Region is the AWS region; empty means the instance's region from
	// instance metadata.
	Region string
	// Endpoint overrides the EC2 endpoint URL (tests, VPC endpoints);
	// empty means the region's public endpoint.
	Endpoint string
	// OnFailure is CloudStay (default) or CloudFault.
	OnFailure CloudOnFailure
	// ReconcileInterval is the period of the master's re-check.
	ReconcileInterval time.Duration
	// RefreshInterval is the period of the background resolution of ids.
	RefreshInterval time.Duration
	// CallTimeout bounds each API call.
	CallTimeout time.Duration
	// RetryBudget is how long each action retries retryable errors before
	// it is reported failed (and OnFailure applies).
	RetryBudget time.Duration
	// FaultHold is how long OnFailure CloudFault keeps the FAULT state.
	FaultHold time.Duration
	// SkipDryRun skips the start-up DryRun checks of the mutating calls'
	// permissions. For test endpoints that ignore DryRun (and would make
	// the calls): on AWS a missing permission then shows only at the
	// first failover.
	SkipDryRun bool
	// Actions are the actions, in file order; all start at once.
	Actions []*CloudAction
	// Pos is where the section is written.
	Pos Pos

	src *srcMap
}

// CloudActionKind names the kind of a cloud action.
type CloudActionKind string

// The cloud action kinds, spelled as the native format's keys.
const (
	CloudSecondaryIP CloudActionKind = "secondary_ip"
	CloudElasticIP   CloudActionKind = "elastic_ip"
	CloudRoute       CloudActionKind = "route"
	CloudEBS         CloudActionKind = "ebs"
)

// CloudActionKinds lists the kinds in the order messages name them.
func CloudActionKinds() []CloudActionKind {
	return []CloudActionKind{CloudSecondaryIP, CloudElasticIP, CloudRoute, CloudEBS}
}

// CloudAction is one action; exactly one of the kind fields is set, the one
// Kind names.
type CloudAction struct {
	Kind        CloudActionKind
	SecondaryIP *SecondaryIPAction
	ElasticIP   *ElasticIPAction
	Route       *RouteAction
	EBS         *EBSAction
	// Pos is where the action is written.
	Pos Pos
}

// SecondaryIPAction assigns addresses as secondary private IPs of this
// node's network interface (ENI), taking them from whichever ENI has them.
// AWS only allows this within one subnet, hence one availability zone.
type SecondaryIPAction struct {
	// Interface is the local interface whose ENI gets the addresses; empty
	// means the instance's interface.
	Interface string
	// ENI names the network interface (eni-...); empty means the one whose
	// MAC address the interface has, from instance metadata.
	ENI string
	// Addresses are the IPv4 addresses; empty means the owner's IPv4 VIPs.
	Addresses []netip.Addr
}

// ElasticIPAction associates an Elastic IP with this node's ENI.
type ElasticIPAction struct {
	// AllocationID (eipalloc-...) or PublicIP names the address; exactly
	// one is set.
	AllocationID string
	PublicIP     netip.Addr
	// PrivateIP, if set, is the private address of the ENI the Elastic IP
	// maps to; otherwise the ENI's primary address.
	PrivateIP netip.Addr
	// Interface and ENI find the ENI as for SecondaryIPAction.
	Interface string
	ENI       string
}

// RouteAction points a destination at this node's ENI in some route
// tables, replacing the route or creating it when missing.
type RouteAction struct {
	// Destination is the routed prefix (a VIP outside every subnet, as a
	// /32, or any CIDR).
	Destination netip.Prefix
	// RouteTables lists tables by id (rtb-...). Exactly one of RouteTables
	// and SubnetTags is set.
	RouteTables []string
	// SubnetTags selects the tables associated with the subnets of this
	// node's VPC that carry all these tags.
	SubnetTags map[string]string
	// IncludeMain also changes the VPC's main route table (skipped by
	// default: it serves every subnet without its own table).
	IncludeMain bool
	// Interface and ENI find the target ENI as for SecondaryIPAction.
	Interface string
	ENI       string
}

// EBSAction attaches a volume to this node, optionally mounting it; the
// node detaches it when it leaves MASTER.
type EBSAction struct {
	// VolumeID is the volume (vol-...).
	VolumeID string
	// Device is the device name given to AttachVolume (/dev/sdf,
	// /dev/xvdf); Nitro instances show the volume as an NVMe device, found
	// by the volume id.
	Device string
	// Mount, if set, is the absolute path the volume is mounted on.
	Mount string
	// FSType is the file system type for mount; empty lets mount probe.
	FSType string
	// ForceDetachAfter is how long to wait for the old holder to detach
	// before forcing it; 0 means never force.
	ForceDetachAfter time.Duration
}

// DefaultCloud returns a cloud section with its defaults and no actions.
func DefaultCloud() *Cloud {
	return &Cloud{
		OnFailure:         CloudStay,
		ReconcileInterval: DefaultCloudReconcileInterval,
		RefreshInterval:   DefaultCloudRefreshInterval,
		CallTimeout:       DefaultCloudCallTimeout,
		RetryBudget:       DefaultCloudRetryBudget,
		FaultHold:         DefaultCloudFaultHold,
	}
}

// SameSettings reports whether c and o configure the same actions and
// settings, ignoring positions; a reload keeps the running actions of an
// unchanged section.
func (c *Cloud) SameSettings(o *Cloud) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Region == o.Region && c.Endpoint == o.Endpoint && c.OnFailure == o.OnFailure &&
		c.ReconcileInterval == o.ReconcileInterval && c.RefreshInterval == o.RefreshInterval &&
		c.CallTimeout == o.CallTimeout && c.RetryBudget == o.RetryBudget && c.FaultHold == o.FaultHold &&
		c.SkipDryRun == o.SkipDryRun &&
		slices.EqualFunc(c.Actions, o.Actions, (*CloudAction).sameSettings)
}

func (a *CloudAction) sameSettings(o *CloudAction) bool {
	if a == nil || o == nil {
		return a == o
	}
	if a.Kind != o.Kind {
		return false
	}
	switch {
	case (a.SecondaryIP == nil) != (o.SecondaryIP == nil), (a.ElasticIP == nil) != (o.ElasticIP == nil),
		(a.Route == nil) != (o.Route == nil), (a.EBS == nil) != (o.EBS == nil):
		return false
	case a.SecondaryIP != nil:
		x, y := a.SecondaryIP, o.SecondaryIP
		return x.Interface == y.Interface && x.ENI == y.ENI && slices.Equal(x.Addresses, y.Addresses)
	case a.ElasticIP != nil:
		return *a.ElasticIP == *o.ElasticIP
	case a.Route != nil:
		x, y := a.Route, o.Route
		return x.Destination == y.Destination && slices.Equal(x.RouteTables, y.RouteTables) &&
			maps.Equal(x.SubnetTags, y.SubnetTags) && x.IncludeMain == y.IncludeMain &&
			x.Interface == y.Interface && x.ENI == y.ENI
	case a.EBS != nil:
		return *a.EBS == *o.EBS
	}
	return true
}

// CloudOwner is an instance or a sync group that has a cloud section,
// with the settings its actions fall back on.
type CloudOwner struct {
	// Kind is "instance" or "sync_group".
	Kind string
	// Name is the instance's or group's name.
	Name string
	// Cloud is the section.
	Cloud *Cloud
	// Interface is what actions that name no interface use: the
	// instance's, or a group's first member's.
	Interface string
	// VIPs are the IPv4 VIPs secondary_ip takes when it lists no
	// addresses: the instance's, or every member's in group order.
	VIPs []netip.Addr
	// Pos is where the owner is defined.
	Pos Pos
}

// CloudOwners returns the instances and then the sync groups that have a
// cloud section, in file order.
func (c *Config) CloudOwners() []CloudOwner {
	var out []CloudOwner
	byName := map[string]*Instance{}
	for _, inst := range c.Instances {
		byName[inst.Name] = inst
		if inst.Cloud != nil {
			out = append(out, CloudOwner{Kind: "instance", Name: inst.Name, Cloud: inst.Cloud,
				Interface: inst.Interface, VIPs: ipv4VIPs(nil, inst), Pos: inst.Pos})
		}
	}
	for _, g := range c.SyncGroups {
		if g.Cloud == nil {
			continue
		}
		o := CloudOwner{Kind: "sync_group", Name: g.Name, Cloud: g.Cloud, Pos: g.Pos}
		for _, name := range g.Instances {
			if inst := byName[name]; inst != nil {
				if o.Interface == "" {
					o.Interface = inst.Interface
				}
				o.VIPs = ipv4VIPs(o.VIPs, inst)
			}
		}
		out = append(out, o)
	}
	return out
}

// ipv4VIPs appends inst's IPv4 VIPs (excluded ones too: they are held
// like the others) to dst, skipping repeats.
func ipv4VIPs(dst []netip.Addr, inst *Instance) []netip.Addr {
	for _, v := range inst.VIPs {
		if a := v.Prefix.Addr(); a.Is4() && !slices.Contains(dst, a) {
			dst = append(dst, a)
		}
	}
	return dst
}
