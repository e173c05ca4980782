package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

// Host answers questions about the machine a configuration is for. It is
// optional: without one, the checks that need it are skipped silently.
type Host interface {
	// InterfaceAddrs returns the addresses configured on the named interface.
	// It is called from a load only and need not be safe for concurrent use.
	InterfaceAddrs(ifname string) ([]netip.Prefix, error)
}

// Validate checks c as a load does and returns what it finds. Native and
// code-built configurations are held to every rule as an error; keepalived
// input (c.Format == FormatKeepalived) gets warnings where keepalived 2.2.7
// accepts the setting. host may be nil.
func (c *Config) Validate(host Host) Diagnostics {
	var d diags
	validate(c, host, &d)
	return d.list
}

// MaxInstances bounds the instances of one configuration: far above any
// real deployment (a VRID has 8 bits: 255 instances per interface and
// family; the benchmarks run 100), and low enough that loading, validating
// and running them stays within seconds and a few hundred megabytes
// whatever the file holds (docs/benchmarks.md, "Loader").
const MaxInstances = 10000

// validate runs the rules shared by both formats.
func validate(c *Config, host Host, d *diags) {
	v := validator{d: d, host: host, lenient: c.Format == FormatKeepalived}
	if n := len(c.Instances); n > MaxInstances {
		// Validating them all would only bury this one error.
		inst := c.Instances[MaxInstances]
		pos, _ := inst.source(MaxInstances).at(inst, fName)
		d.list = append(d.list, tooManyInstances(pos, "instances", n))
		return
	}
	names := map[string]int{}
	for idx, inst := range c.Instances {
		s := inst.source(idx)
		if prev, dup := names[inst.Name]; dup && inst.Name != "" {
			pos, f := s.at(inst, fName)
			d.err(pos, f, fmt.Sprintf("instance name %q is already used by instances[%d]", inst.Name, prev))
		}
		names[inst.Name] = idx
		v.instance(inst, s)
	}
	if !v.lenient {
		// keepalived input gets keepalived's own, narrower, duplicate check
		// in completeKeepalived.
		v.duplicates(c.Instances)
	}
	v.tracking(c)
	v.gossip(c)
	v.cloud(c)
	v.api(c)
	v.process(c)
}

type validator struct {
	d       *diags
	host    Host
	lenient bool // keepalived input: warn where keepalived carries on
}

// problem reports an error, or for keepalived input a warning: the rules
// routed here are ones keepalived 2.2.7 does not enforce.
func (v *validator) problem(pos Pos, f, msg, kaNote string) {
	if v.lenient {
		v.d.warn(pos, f, msg+"; "+kaNote)
		return
	}
	v.d.err(pos, f, msg)
}

func (v *validator) instance(inst *Instance, s *InstanceSource) {
	at := func(f field) (Pos, string) { return s.at(inst, f) }

	if inst.Name == "" {
		pos, f := at(fName)
		v.d.err(pos, f, "is required")
	}
	if inst.Interface == "" {
		pos, f := at(fInterface)
		v.d.err(pos, f, "is required")
	} else if msg := CheckIfName(inst.Interface); msg != "" {
		pos, f := at(fInterface)
		v.d.err(pos, f, fmt.Sprintf("%q %s", inst.Interface, msg))
	}
	if inst.VRID == 0 {
		pos, f := at(fVRID)
		v.d.err(pos, f, "is required (1-255)")
	}
	if !inst.Family.Valid() {
		pos, f := at(fFamily)
		v.d.err(pos, f, fmt.Sprintf("%v is not IPv4 or IPv6", inst.Family))
	}
	versionOK := inst.Version == 2 || inst.Version == 3
	if !versionOK {
		pos, f := at(fVersion)
		v.d.err(pos, f, fmt.Sprintf("%d is not 2 or 3", inst.Version))
	}
	if inst.Priority == 0 {
		pos, f := at(fPriority)
		v.d.err(pos, f, "0 is out of range 1-255")
	}
	if inst.InitialState != fsm.Master && inst.InitialState != fsm.Backup {
		pos, f := at(fState)
		v.d.err(pos, f, fmt.Sprintf("%q is not MASTER or BACKUP", inst.InitialState))
	}
	if versionOK {
		if msg := checkAdvert(inst.AdvertInterval, inst.Version); msg != "" {
			pos, f := at(fAdvert)
			v.d.err(pos, f, msg)
		}
	}
	v.preempt(inst, at)
	v.auth(inst, at)
	if inst.Version == 2 && inst.Family == inet.IPv6 {
		pos, f := at(fVersion)
		v.problem(pos, f, "VRRPv2 is IPv4-only (RFC 3768) but the instance is IPv6",
			"keepalived runs VRRPv2 over IPv6 when \"version 2\" comes before the first IPv6 address, and so does vipd")
	}
	v.addresses(inst, s)
	v.garp(inst, at)
	v.owner(inst, s)
}

func (v *validator) preempt(inst *Instance, at func(field) (Pos, string)) {
	if inst.PreemptDelay < 0 || inst.PreemptDelay > MaxPreemptDelay {
		pos, f := at(fPreemptDelay)
		v.d.err(pos, f, fmt.Sprintf("%v is out of range 0s-%v", inst.PreemptDelay, MaxPreemptDelay))
	}
	// keepalived input never gets here with these: completeKeepalived clears
	// them with keepalived's warnings.
	if !inst.Preempt {
		pos, f := at(fPreempt)
		if inst.InitialState == fsm.Master {
			v.d.err(pos, f, "preempt must be on with initial state MASTER (keepalived clears nopreempt)")
		}
		if inst.Priority == OwnerPriority {
			v.d.err(pos, f, "preempt must be on with priority 255 (keepalived clears nopreempt)")
		}
	}
	if inst.PreemptDelay > 0 && (!inst.Preempt || inst.InitialState == fsm.Master) {
		pos, f := at(fPreemptDelay)
		v.d.err(pos, f, "a preempt delay needs preempt on and initial state BACKUP")
	}
}

func (v *validator) auth(inst *Instance, at func(field) (Pos, string)) {
	if inst.AuthPass == "" {
		return
	}
	pos, f := at(fAuth)
	if inst.Version != 2 {
		v.d.err(pos, f, fmt.Sprintf("PASS authentication exists only in VRRPv2, not v%d", inst.Version))
	}
	if len(inst.AuthPass) > MaxAuthPassLen {
		v.d.err(pos, f, fmt.Sprintf("password is %d bytes, at most %d fit in the advert", len(inst.AuthPass), MaxAuthPassLen))
	}
}

// addresses checks the source, the peers and the VIPs.
func (v *validator) addresses(inst *Instance, s *InstanceSource) {
	if inst.UnicastSource.IsValid() && inet.FamilyOf(inst.UnicastSource) != inst.Family {
		pos, f := s.at(inst, fSource)
		v.d.err(pos, f, fmt.Sprintf("%v is not %v, the instance's family", inst.UnicastSource, inst.Family))
	}
	seenPeer := map[netip.Addr]bool{}
	for j, p := range inst.UnicastPeers {
		pos, f := s.peer(inst, j)
		switch {
		case !p.IsValid():
			v.d.err(pos, f, "invalid address")
		case inet.FamilyOf(p) != inst.Family:
			v.d.err(pos, f, fmt.Sprintf("%v is not %v, the instance's family", p, inst.Family))
		case seenPeer[p]:
			v.problem(pos, f, fmt.Sprintf("%v is listed twice", p), "keepalived sends to it twice, and so does vipd")
		case p == inst.UnicastSource:
			v.problem(pos, f, fmt.Sprintf("%v is this node's own source address", p), "keepalived sends to it anyway, and so does vipd")
		}
		seenPeer[p] = true
	}

	if len(inst.VIPs) == 0 && !v.lenient {
		// keepalived runs an instance without virtual_ipaddress (notify
		// scripts or cloud actions move the address), so vipd does too,
		// in both formats: every keepalived.conf `config check` accepts
		// converts to YAML that loads.
		pos, f := s.at(inst, fVIPs)
		v.d.warn(pos, f, "no VIP: the instance only elects a master (its notify scripts or cloud actions must move the traffic)")
	}
	seen := map[netip.Addr]int{}
	for j, vip := range inst.VIPs {
		pos, f := s.vip(inst, j)
		if !vip.Prefix.IsValid() {
			v.d.err(pos, f, "invalid address")
			continue
		}
		a := vip.Prefix.Addr()
		if prev, dup := seen[a]; dup {
			v.problem(pos, f, fmt.Sprintf("%v is already listed (entry %d)", a, prev),
				"keepalived adds it once per entry, vipd once")
		}
		seen[a] = j
		ifname := vip.Interface
		if ifname == "" {
			ifname = inst.Interface
		} else if msg := CheckIfName(ifname); msg != "" {
			v.d.err(pos, f, fmt.Sprintf("interface %q %s", ifname, msg))
		}
		v.label(vip, ifname, pos, f)
	}
	adv := inst.AdvertisedVIPs()
	if max := MaxAdvertisedVIPs(inst.Family, inst.Version); len(adv) > max {
		pos, f := s.at(inst, fVIPs)
		v.d.err(pos, f, fmt.Sprintf("%d addresses to advertise, at most %d fit in an advert; mark the rest excluded", len(adv), max))
	}
	if inst.Family == inet.IPv6 && inst.Multicast() && len(adv) > 0 && !adv[0].IsLinkLocalUnicast() {
		pos, f := s.at(inst, fVIPs)
		for j, vip := range inst.VIPs {
			if vip.Prefix.Addr() == adv[0] {
				pos, f = s.vip(inst, j)
				break
			}
		}
		// A warning in both formats: RFC 5798 says "should", keepalived
		// carries on, and a keepalived.conf converted to YAML must still run.
		v.d.warn(pos, f, fmt.Sprintf("the first IPv6 VIP (%v) should be link-local for multicast VRRPv3 (RFC 5798 5.2.9); keepalived logs this and carries on, and so does vipd", adv[0]))
	}
}

func (v *validator) label(vip VIP, ifname string, pos Pos, f string) {
	if vip.Label == "" {
		return
	}
	if vip.Prefix.Addr().Is6() {
		v.d.err(pos, f, fmt.Sprintf("label %q: IPv6 addresses have no labels", vip.Label))
		return
	}
	if len(vip.Label) > MaxIfNameLen {
		v.d.err(pos, f, fmt.Sprintf("label %q is longer than %d characters", vip.Label, MaxIfNameLen))
		return
	}
	if ifname != "" && !strings.HasPrefix(vip.Label, ifname) {
		v.problem(pos, f, fmt.Sprintf("label %q must start with the interface name %q", vip.Label, ifname),
			"keepalived passes it to the kernel unchecked, and so does vipd")
	}
}

func (v *validator) garp(inst *Instance, at func(field) (Pos, string)) {
	g := inst.GARP
	pos, f := at(fGARP)
	if g.MasterRepeat == 0 {
		v.d.err(pos, f+".master_repeat", "must be at least 1")
	}
	if g.MasterRefreshRepeat == 0 {
		v.d.err(pos, f+".master_refresh_repeat", "must be at least 1")
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{
		{"master_delay", g.MasterDelay}, {"master_refresh", g.MasterRefresh},
		{"interval", g.Interval}, {"na_interval", g.NAInterval},
	} {
		if t.d < 0 {
			v.d.err(pos, f+"."+t.name, fmt.Sprintf("%v is negative", t.d))
		}
	}
}

// owner checks that priority 255 is used only by the owner of the VIPs, that
// is, when every advertised VIP is already an address of the interface.
func (v *validator) owner(inst *Instance, s *InstanceSource) {
	if v.host == nil || inst.Priority != OwnerPriority || inst.Interface == "" {
		return
	}
	pos, f := s.at(inst, fPriority)
	addrs, err := v.host.InterfaceAddrs(inst.Interface)
	if err != nil {
		v.d.warn(pos, f, fmt.Sprintf("cannot check that this node owns the VIPs of priority 255: %v", err))
		return
	}
	for _, a := range inst.AdvertisedVIPs() {
		if !slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == a }) {
			v.problem(pos, f, fmt.Sprintf("255 is reserved for the address owner, but %v is not an address of %s", a, inst.Interface),
				"keepalived does not check this and runs with 255, and so does vipd")
			return
		}
	}
}

// duplicates rejects two instances with the same VRID and family on one
// interface: they would answer each other's adverts.
func (v *validator) duplicates(list []*Instance) {
	type key struct {
		ifname string
		vrid   uint8
		family inet.Family
	}
	seen := map[key]int{}
	for idx, inst := range list {
		if inst.VRID == 0 || inst.Interface == "" {
			continue
		}
		k := key{inst.Interface, inst.VRID, inst.Family}
		if prev, dup := seen[k]; dup {
			pos, f := inst.source(idx).at(inst, fVRID)
			v.d.err(pos, f, fmt.Sprintf("%d is already used by instance %q for %v on %s",
				inst.VRID, list[prev].Name, inst.Family, inst.Interface))
			continue
		}
		seen[k] = idx
	}
}

// checkAdvert checks an advert interval against what the version's header
// can carry: whole seconds 1-255 in v2, centiseconds 1-4095 in v3.
func checkAdvert(d time.Duration, version uint8) string {
	if version == 2 {
		if d%time.Second != 0 || d < time.Second || d > 255*time.Second {
			return fmt.Sprintf("%v is not whole seconds in 1s-255s (VRRPv2)", d)
		}
		return ""
	}
	if d%(10*time.Millisecond) != 0 || d < 10*time.Millisecond || d > 4095*10*time.Millisecond {
		return fmt.Sprintf("%v is not a multiple of 10ms in 10ms-40.95s (VRRPv3)", d)
	}
	return ""
}

// CheckIfName applies the kernel's rules for interface names
// (dev_valid_name): 1-15 bytes, not "." or "..", no '/', ':' or space. It
// returns what is wrong with name, or "". Both front ends use it.
func CheckIfName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > MaxIfNameLen:
		return fmt.Sprintf("is longer than %d characters", MaxIfNameLen)
	case name == "." || name == "..":
		return "is not a valid interface name"
	case strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return "contains a character interface names cannot have ('/', ':' or space)"
	}
	return ""
}
