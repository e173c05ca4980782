package keepalived

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/notify"
)

// complete derives each instance's defaults and applies keepalived's
// fix-ups, in the order of vrrp_complete_init (keepalived/vrrp/vrrp.c):
// chk_min_cfg, vrrp_complete_instance, then check_vrid_conflicts. Where
// keepalived returns false from these (and so refuses to start), vipd reports
// an error; where it logs and adjusts, vipd warns and adjusts the same way.
func (p *kaParser) complete() {
	for _, ki := range p.kis {
		p.cfg.Instances = append(p.cfg.Instances, ki.inst)
	}
	for _, g := range p.groups {
		p.cfg.SyncGroups = append(p.cfg.SyncGroups, g.sg)
	}
	p.cfg.Checks = p.sc.list
	// check_vrrp_script_security comes first: scripts it disables are
	// gone before instances are completed.
	p.completeScripts()
	p.completeGroups()
	for _, ki := range p.kis {
		p.completeInstance(ki)
		p.completeTracking(ki)
	}
	p.groupTracking()
	p.mixedOwners()
	for _, ki := range p.kis {
		p.recordTrackFields(ki)
	}
	for _, g := range p.cfg.SyncGroups {
		if g.Notify.Timeout == 0 {
			g.Notify.Timeout = notify.DefaultTimeout
		}
	}
	p.vridConflicts()
}

// mixedOwners is vrrp_sync_set_group's warning about a group whose
// members are not all, or all not, address owners.
func (p *kaParser) mixedOwners() {
	for _, g := range p.groups {
		owners := 0
		for _, name := range g.sg.Instances {
			if ki := p.byName[name]; ki != nil && ki.inst.Priority == config.OwnerPriority && ki.inst.InitialState == fsm.Master {
				owners++
			}
		}
		if owners > 0 && owners < len(g.sg.Instances) {
			p.d.warn(g.sg.Pos, g.prefix, "some members are address owners (priority 255) and some are not; this won't work (keepalived warns too)")
		}
	}
}

func (p *kaParser) completeInstance(ki *kaInstance) {
	inst := ki.inst
	warn := func(keyword, msg string) {
		pos, name := ki.src.At(inst, keyword)
		p.d.warn(pos, name, msg)
	}
	fail := func(keyword, msg string) {
		pos, name := ki.src.At(inst, keyword)
		p.bad[name] = true
		p.d.err(pos, name, msg)
	}

	// chk_min_cfg
	if inst.VRID == 0 {
		if ki.badVRID >= 0 {
			// The rejected value is the reason: report it as the error.
			d := &p.d.list[ki.badVRID]
			d.Severity, d.Message = config.SeverityError, ki.badVRIDMsg
			p.bad[d.Field] = true
		} else {
			fail("virtual_router_id", "is not set (1-255); keepalived refuses to start without it")
		}
	}
	if inst.Interface == "" {
		fail("interface", "is not set; keepalived refuses to start without it (\"Unknown interface!\")")
	}

	// vrrp_complete_instance
	strict := p.global.strict
	if ki.strict != nil {
		strict = *ki.strict
	}
	if strict {
		warn("", "strict mode is applied to the configuration as keepalived does; its run-time rules (no accept mode) are not supported yet")
	}
	if ki.family == inet.IPv6 {
		if ki.version == 2 && strict {
			warn("version", "cannot use IPv6 with VRRP version 2 in strict mode; version 3 used, as keepalived does")
			ki.version = 3
		} else if ki.version == 0 {
			ki.version = 3
		}
	}
	if ki.family == 0 {
		ki.family = inet.IPv4 // no address at all
	}
	if ki.version == 0 {
		ki.version = config.DefaultVersion
		if p.global.version != 0 {
			ki.version = p.global.version
		}
	}
	inst.Family, inst.Version = ki.family, ki.version

	if len(inst.AdvertisedVIPs()) == 0 {
		if ki.version == 3 || strict {
			fail("virtual_ipaddress", "no VIP of the instance's family specified; at least one is required (keepalived refuses to start)")
		} else {
			warn("virtual_ipaddress", "no VIP of the instance's family specified; at least one is sensible")
		}
	}

	// No priority: derived from the state; no state: derived from priority.
	if ki.priority == 0 {
		ki.priority = config.DefaultPriority
		if ki.state == fsm.Master {
			ki.priority = config.OwnerPriority
		}
	}
	owner := ki.priority == config.OwnerPriority
	switch {
	case ki.state == fsm.Init:
		ki.state = fsm.Backup
		if owner {
			ki.state = fsm.Master
		}
	case strict && (ki.state == fsm.Master) != owner:
		want := fsm.Backup
		if owner {
			want = fsm.Master
		}
		warn("state", fmt.Sprintf("state MASTER must match being address owner (priority 255) in strict mode; %s used, as keepalived does", want))
		ki.state = want
	}
	inst.Priority, inst.InitialState = ki.priority, ki.state

	p.completeAuth(ki, strict)

	if strict && len(inst.UnicastPeers) > 0 {
		fail("unicast_peer", "unicast peers are not supported in strict mode (keepalived refuses to start on a multicast-capable interface)")
	}
	switch {
	case !ki.unicastConfigured || len(inst.UnicastPeers) > 0:
	case ki.faultNoPeer:
		warn("unicast_peer", "no unicast peers with unicast_fault_no_peer: keepalived holds the instance in FAULT; vipd cannot yet and uses multicast")
	default:
		warn("unicast_peer", "a unicast keyword without any unicast peers: multicast is used, as keepalived does (deprecated)")
	}

	// Move VIPs beyond what fits in an advert to the excluded ones.
	limit := config.MaxAdvertisedVIPs(inst.Family, inst.Version)
	if n := len(inst.AdvertisedVIPs()); n > limit {
		kept := 0
		for j := range inst.VIPs {
			v := &inst.VIPs[j]
			if v.Excluded || inet.FamilyOf(v.Prefix.Addr()) != inst.Family {
				continue
			}
			if kept++; kept > limit {
				v.Excluded = true
			}
		}
		warn("virtual_ipaddress", fmt.Sprintf("%d VIPs exceed the %d that fit in an advert; the excess is held but not advertised, as keepalived does", n, limit))
	}

	p.completePreempt(ki, strict, warn)
	p.completeAdvert(ki, warn)

	for j := range inst.VIPs {
		if inst.VIPs[j].Interface == "" {
			inst.VIPs[j].Interface = inst.Interface
		}
	}
	inst.GARP.Interval = p.global.interval
	inst.GARP.NAInterval = p.global.naInterval
}

// completeAuth keeps a PASS password only where keepalived uses it.
func (p *kaParser) completeAuth(ki *kaInstance, strict bool) {
	inst := ki.inst
	pos := ki.authPos
	if pos.Line == 0 {
		pos, _ = ki.src.At(inst, "authentication")
	}
	_, field := ki.src.At(inst, "authentication")
	var why string
	switch {
	case ki.authType == "":
		if ki.authPass != "" {
			why = "auth_pass without auth_type; ignored, as keepalived does"
		}
	case strict:
		why = "strict mode does not support authentication; ignored, as keepalived does"
	case ki.version == 3:
		why = "VRRP version 3 does not support authentication; ignored, as keepalived does"
	case ki.authPass == "":
		why = "authentication specified but no password given; ignored, as keepalived does"
	case ki.authType == "AH" && ki.family == inet.IPv6:
		why = "cannot use AH authentication with IPv6; ignored, as keepalived does"
	case ki.authType == "AH":
		// keepalived would run it, but its peers would then drop every
		// advert of a vipd node that sent none (and vipd theirs): two
		// masters. Refusing is the only safe reading.
		p.d.err(pos, field, "AH authentication is not supported by vipd (keepalived peers using it would drop vipd's adverts, and vipd theirs); use auth_type PASS or none on every node")
	default:
		inst.AuthPass = ki.authPass
	}
	if why != "" {
		p.d.warn(pos, field, why)
	}
}

func (p *kaParser) completePreempt(ki *kaInstance, strict bool, warn func(keyword, msg string)) {
	inst := ki.inst
	if ki.priority == config.OwnerPriority && ki.nopreempt {
		warn("nopreempt", "nopreempt is incompatible with priority 255; cleared, as keepalived does")
		ki.nopreempt = false
	}
	if ki.state == fsm.Master {
		if ki.nopreempt {
			warn("nopreempt", "nopreempt does not work with initial state MASTER; cleared, as keepalived does")
			ki.nopreempt = false
		}
		if inst.PreemptDelay > 0 {
			warn("preempt_delay", "preempt_delay does not work with initial state MASTER; cleared, as keepalived does")
			inst.PreemptDelay = 0
		}
	}
	if inst.PreemptDelay > 0 {
		if strict {
			warn("preempt_delay", "preempt_delay is incompatible with strict mode; reset to 0, as keepalived does")
			inst.PreemptDelay = 0
		}
		if ki.nopreempt {
			warn("preempt_delay", "preempt_delay is incompatible with nopreempt; reset to 0, as keepalived does")
			inst.PreemptDelay = 0
		}
	}
	inst.Preempt = !ki.nopreempt
}

// completeAdvert fits the advert interval to what the version's header can
// carry, rounding to the nearest unit as keepalived does.
func (p *kaParser) completeAdvert(ki *kaInstance, warn func(keyword, msg string)) {
	inst := ki.inst
	if !ki.advertSet {
		inst.AdvertInterval = config.DefaultAdvertInterval
	}
	unit, max := 10*time.Millisecond, 4095*10*time.Millisecond
	if inst.Version == 2 {
		unit, max = time.Second, 255*time.Second
	}
	adv := inst.AdvertInterval
	switch {
	case adv > max:
		warn("advert_int", fmt.Sprintf("VRRPv%d advertisement interval %v is out of range; %v used, as keepalived does", inst.Version, adv, max))
		adv = max
	case adv%unit != 0:
		r := (adv + unit/2) / unit * unit
		if r == 0 {
			r = unit
		}
		what := "must be whole seconds"
		if inst.Version == 3 {
			what = "must be in units of 10ms"
		}
		warn("advert_int", fmt.Sprintf("VRRPv%d advertisement interval %v %s; rounded to %v, as keepalived does", inst.Version, adv, what, r))
		adv = r
	}
	inst.AdvertInterval = adv
}

// vridConflicts is check_vrid_conflicts: two multicast instances with the
// same VRID and family on one interface, or two unicast ones with the same
// source and a common peer, stop keepalived. Other sharing keepalived
// accepts; vipd warns about it, since such instances differ only by their
// peers. Instances are grouped by (VRID, family, interface) and each one is
// reported once, against the first earlier instance it clashes with (an
// error before a warning): linear in the number of instances and peers,
// where comparing every pair made thousands of instances take seconds and
// hundreds of megabytes.
func (p *kaParser) vridConflicts() {
	type key struct {
		vrid   uint8
		family inet.Family
		ifname string
	}
	groups := map[key]*vridGroup{}
	for _, b := range p.cfg.Instances {
		if b.VRID == 0 {
			continue
		}
		k := key{b.VRID, b.Family, b.Interface}
		g := groups[k]
		if g == nil {
			groups[k] = newVRIDGroup(b)
			continue
		}
		pos, f := p.byName[b.Name].src.At(b, "virtual_router_id")
		same := func(a *config.Instance) string {
			return fmt.Sprintf("%s and %s both use VRID %d with %v on interface %s", a.Name, b.Name, b.VRID, b.Family, b.Interface)
		}
		switch {
		case b.Multicast() && g.multicast != nil:
			p.d.err(pos, f, same(g.multicast)+" (keepalived refuses to start)")
		case !b.Multicast() && g.commonPeer(b) != nil:
			p.d.err(pos, f, same(g.commonPeer(b))+" with a common unicast peer (keepalived refuses to start)")
		case b.Multicast() && g.unicast != nil:
			p.d.warn(pos, f, same(g.unicast)+", one unicast and one multicast; keepalived accepts this")
		case !b.Multicast() && g.multicast != nil:
			p.d.warn(pos, f, same(g.multicast)+", one unicast and one multicast; keepalived accepts this")
		case !b.Multicast() && g.sameSource(b) != nil:
			p.d.warn(pos, f, same(g.sameSource(b))+" with different unicast peers; keepalived accepts this")
		}
		g.add(b)
	}
}

// vridGroup indexes the instances seen so far that share one VRID, family
// and interface, to tell in constant time per peer whether a new one
// clashes with any of them.
type vridGroup struct {
	multicast, unicast *config.Instance // the first of each kind
	// Unicast instances by source (two with different valid sources are
	// separate virtual routers), and for each peer its users by source.
	sources bySource
	peers   map[netip.Addr]*bySource
}

// bySource holds the first instance overall and the first for each unicast
// source, the invalid Addr standing for "no source set", which meets every
// source.
type bySource struct {
	first *config.Instance
	src   map[netip.Addr]*config.Instance
}

func (s *bySource) add(in *config.Instance) {
	if s.first == nil {
		s.first = in
		s.src = map[netip.Addr]*config.Instance{}
	}
	if _, ok := s.src[in.UnicastSource]; !ok {
		s.src[in.UnicastSource] = in
	}
}

// meets returns an instance whose source does not set it apart from src:
// the first of all when src is not set; else one without a source or with
// src.
func (s *bySource) meets(src netip.Addr) *config.Instance {
	if s == nil || s.first == nil {
		return nil
	}
	if !src.IsValid() {
		return s.first
	}
	if in := s.src[netip.Addr{}]; in != nil {
		return in
	}
	return s.src[src]
}

func newVRIDGroup(first *config.Instance) *vridGroup {
	g := &vridGroup{peers: map[netip.Addr]*bySource{}}
	g.add(first)
	return g
}

func (g *vridGroup) add(in *config.Instance) {
	if in.Multicast() {
		if g.multicast == nil {
			g.multicast = in
		}
		return
	}
	if g.unicast == nil {
		g.unicast = in
	}
	g.sources.add(in)
	for _, x := range in.UnicastPeers {
		s := g.peers[x]
		if s == nil {
			s = &bySource{}
			g.peers[x] = s
		}
		s.add(in)
	}
}

// commonPeer returns an earlier unicast instance not set apart by its
// source that has a peer in common with in.
func (g *vridGroup) commonPeer(in *config.Instance) *config.Instance {
	for _, x := range in.UnicastPeers {
		if a := g.peers[x].meets(in.UnicastSource); a != nil {
			return a
		}
	}
	return nil
}

// sameSource returns an earlier unicast instance not set apart by its
// source.
func (g *vridGroup) sameSource(in *config.Instance) *config.Instance {
	return g.sources.meets(in.UnicastSource)
}
