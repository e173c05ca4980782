package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file holds the rules for cloud sections, shared by the native
// format and sections built in code (keepalived.conf has none).

// awsIDRE matches an EC2 resource id: a prefix, a dash, then 8 (older
// resources) or 17 lower-case hex digits.
func awsIDRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + prefix + `-[0-9a-f]{8}([0-9a-f]{9})?$`)
}

var (
	eniRE      = awsIDRE("eni")
	eipallocRE = awsIDRE("eipalloc")
	rtbRE      = awsIDRE("rtb")
	volRE      = awsIDRE("vol")
	// regionRE matches region names such as eu-west-1, us-gov-west-1,
	// ap-southeast-4.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// deviceRE matches the device names EC2 accepts for EBS attachments
	// on Linux.
	deviceRE = regexp.MustCompile(`^/dev/(sd[b-z][1-9]?|xvd[a-z]{1,2})$`)
)

// cloud validates every cloud section of c, and that no resource is
// claimed by two actions.
func (v *validator) cloud(c *Config) {
	claims := map[string]string{} // resource → field that claims it
	for _, o := range c.CloudOwners() {
		prefix := "instances[" + strconv.Itoa(indexOfInstance(c, o.Name)) + "].cloud"
		if o.Kind == "sync_group" {
			prefix = "sync_groups[" + strconv.Itoa(indexOfGroup(c, o.Name)) + "].cloud"
		}
		v.cloudSection(o, prefix, claims)
	}
}

func indexOfInstance(c *Config, name string) int {
	for i, inst := range c.Instances {
		if inst.Name == name {
			return i
		}
	}
	return -1
}

func indexOfGroup(c *Config, name string) int {
	for i, g := range c.SyncGroups {
		if g.Name == name {
			return i
		}
	}
	return -1
}

func (v *validator) cloudSection(o CloudOwner, prefix string, claims map[string]string) {
	cl := o.Cloud
	src := cl.src
	if src == nil {
		src = newSrcMap(prefix)
	}
	def := cl.Pos
	if def.Line == 0 {
		def = o.Pos
	}
	at := func(key string) (Pos, string) { return src.nested(key, def) }
	fail := func(key, msg string) {
		pos, f := at(key)
		v.d.err(pos, f, msg)
	}
	claim := func(key, resource string) {
		_, f := at(key)
		if prev, dup := claims[resource]; dup {
			fail(key, fmt.Sprintf("%s is already moved by %s", resource, prev))
			return
		}
		claims[resource] = f
	}

	if cl.Region != "" && !regionRE.MatchString(cl.Region) {
		fail("region", fmt.Sprintf("%q is not a region name such as eu-west-1", cl.Region))
	}
	if cl.Endpoint != "" {
		if u, err := url.Parse(cl.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("endpoint", fmt.Sprintf("%q is not an http:// or https:// URL", cl.Endpoint))
		}
	}
	if cl.OnFailure != CloudStay && cl.OnFailure != CloudFault {
		fail("on_failure", fmt.Sprintf("%q is not stay or fault", cl.OnFailure))
	}
	positive := func(key string, d, min time.Duration) {
		if d < min {
			fail(key, fmt.Sprintf("%v must be at least %v", d, min))
		}
	}
	positive("reconcile_interval", cl.ReconcileInterval, time.Second)
	positive("refresh_interval", cl.RefreshInterval, time.Second)
	positive("call_timeout", cl.CallTimeout, 100*time.Millisecond)
	positive("retry_budget", cl.RetryBudget, cl.CallTimeout)
	if cl.FaultHold < 0 {
		fail("fault_hold", fmt.Sprintf("%v is negative", cl.FaultHold))
	}
	if len(cl.Actions) == 0 {
		fail("actions", "must list at least one action")
	}
	for j, a := range cl.Actions {
		key := "actions[" + strconv.Itoa(j) + "]"
		if _, ok := src.pos[key]; !ok && a.Pos.Line > 0 {
			src.pos[key] = a.Pos
		}
		v.cloudAction(o, a, key, fail, claim)
	}
}

func (v *validator) cloudAction(o CloudOwner, a *CloudAction, key string, fail func(key, msg string), claim func(key, resource string)) {
	set := 0
	for _, b := range []bool{a.SecondaryIP != nil, a.ElasticIP != nil, a.Route != nil, a.EBS != nil} {
		if b {
			set++
		}
	}
	switch a.Kind {
	case CloudSecondaryIP, CloudElasticIP, CloudRoute, CloudEBS:
	default:
		fail(key, fmt.Sprintf("%q is not a cloud action kind", a.Kind))
		return
	}
	if set != 1 || !a.hasKindBlock() {
		fail(key, fmt.Sprintf("a %s action needs its %s settings and no other kind's", a.Kind, a.Kind))
		return
	}
	k := key + "." + string(a.Kind)
	ifname := func(name string) {
		if name != "" {
			if msg := checkIfName(name); msg != "" {
				fail(k+".interface", fmt.Sprintf("%q %s", name, msg))
			}
		} else if o.Interface == "" {
			fail(k+".interface", "is required (the owner has no interface to default to)")
		}
	}
	id := func(field, val string, re *regexp.Regexp, example string) bool {
		if val != "" && !re.MatchString(val) {
			fail(k+"."+field, fmt.Sprintf("%q is not an id such as %s", val, example))
			return false
		}
		return true
	}
	switch a.Kind {
	case CloudSecondaryIP:
		s := a.SecondaryIP
		ifname(s.Interface)
		id("eni", s.ENI, eniRE, "eni-0123456789abcdef0")
		addrs := s.Addresses
		if len(addrs) == 0 {
			addrs = o.VIPs
			if len(addrs) == 0 {
				fail(k+".addresses", "is required: the "+strings.ReplaceAll(o.Kind, "_", " ")+" has no IPv4 VIP to default to")
			}
		}
		seen := map[string]bool{}
		for j, ad := range addrs {
			ak := k + ".addresses"
			if len(s.Addresses) > 0 {
				ak += "[" + strconv.Itoa(j) + "]"
			}
			switch {
			case !ad.IsValid():
				fail(ak, "invalid address")
			case !ad.Is4():
				fail(ak, fmt.Sprintf("%v: only IPv4 addresses can be moved as secondary private IPs", ad))
			case seen[ad.String()]:
				fail(ak, fmt.Sprintf("%v is listed twice", ad))
			default:
				seen[ad.String()] = true
				claim(ak, "secondary IP "+ad.String())
			}
		}
	case CloudElasticIP:
		e := a.ElasticIP
		ifname(e.Interface)
		id("eni", e.ENI, eniRE, "eni-0123456789abcdef0")
		switch {
		case e.AllocationID == "" && !e.PublicIP.IsValid():
			fail(k+".allocation_id", "is required (or public_ip)")
		case e.AllocationID != "" && e.PublicIP.IsValid():
			fail(k+".public_ip", "give allocation_id or public_ip, not both")
		case e.AllocationID != "":
			if id("allocation_id", e.AllocationID, eipallocRE, "eipalloc-0123456789abcdef0") {
				claim(k+".allocation_id", "Elastic IP "+e.AllocationID)
			}
		case !e.PublicIP.Is4():
			fail(k+".public_ip", fmt.Sprintf("%v: Elastic IPs are IPv4", e.PublicIP))
		default:
			claim(k+".public_ip", "Elastic IP "+e.PublicIP.String())
		}
		if e.PrivateIP.IsValid() && !e.PrivateIP.Is4() {
			fail(k+".private_ip", fmt.Sprintf("%v is not an IPv4 address", e.PrivateIP))
		}
	case CloudRoute:
		r := a.Route
		ifname(r.Interface)
		id("eni", r.ENI, eniRE, "eni-0123456789abcdef0")
		d := r.Destination
		switch {
		case !d.IsValid():
			fail(k+".destination", "is required (a CIDR such as 203.0.113.10/32)")
		case d.Masked() != d:
			fail(k+".destination", fmt.Sprintf("%v has host bits set; the network is %v", d, d.Masked()))
		}
		switch {
		case r.RouteTables == nil && r.SubnetTags == nil:
			fail(k+".route_tables", "is required (or subnet_tags)")
		case r.RouteTables != nil && r.SubnetTags != nil:
			fail(k+".subnet_tags", "give route_tables or subnet_tags, not both")
		case r.RouteTables != nil && len(r.RouteTables) == 0:
			fail(k+".route_tables", "must list at least one route table")
		case r.SubnetTags != nil && len(r.SubnetTags) == 0:
			fail(k+".subnet_tags", "must name at least one tag")
		}
		if r.IncludeMain && r.SubnetTags == nil {
			fail(k+".include_main", "only applies to subnet_tags (list the main table in route_tables instead)")
		}
		seen := map[string]bool{}
		for j, t := range r.RouteTables {
			tk := k + ".route_tables[" + strconv.Itoa(j) + "]"
			switch {
			case !rtbRE.MatchString(t):
				fail(tk, fmt.Sprintf("%q is not an id such as rtb-0123456789abcdef0", t))
			case seen[t]:
				fail(tk, fmt.Sprintf("%s is listed twice", t))
			default:
				seen[t] = true
				if d.IsValid() {
					claim(tk, fmt.Sprintf("the route to %v in %s", d, t))
				}
			}
		}
		for name := range r.SubnetTags {
			if name == "" {
				fail(k+".subnet_tags", "a tag name must not be empty")
			}
		}
		if r.SubnetTags != nil && d.IsValid() {
			claim(k+".destination", fmt.Sprintf("the route to %v in the tables of subnets tagged %v", d, r.SubnetTags))
		}
	case CloudEBS:
		e := a.EBS
		switch {
		case e.VolumeID == "":
			fail(k+".volume_id", "is required")
		case id("volume_id", e.VolumeID, volRE, "vol-0123456789abcdef0"):
			claim(k+".volume_id", "volume "+e.VolumeID)
		}
		switch {
		case e.Device == "":
			fail(k+".device", "is required (such as /dev/xvdf)")
		case !deviceRE.MatchString(e.Device):
			fail(k+".device", fmt.Sprintf("%q is not a device name EC2 accepts, such as /dev/sdf or /dev/xvdf", e.Device))
		}
		if e.Mount != "" && (!filepath.IsAbs(e.Mount) || filepath.Clean(e.Mount) != e.Mount || e.Mount == "/") {
			fail(k+".mount", fmt.Sprintf("%q must be a clean absolute path other than /", e.Mount))
		}
		if e.FSType != "" && e.Mount == "" {
			fail(k+".fstype", "needs mount")
		}
		if e.ForceDetachAfter < 0 {
			fail(k+".force_detach_after", fmt.Sprintf("%v is negative", e.ForceDetachAfter))
		}
	}
}

// hasKindBlock reports whether the block Kind names is the one set.
func (a *CloudAction) hasKindBlock() bool {
	switch a.Kind {
	case CloudSecondaryIP:
		return a.SecondaryIP != nil
	case CloudElasticIP:
		return a.ElasticIP != nil
	case CloudRoute:
		return a.Route != nil
	case CloudEBS:
		return a.EBS != nil
	}
	return false
}
