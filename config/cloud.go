package config

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/vipd/vipd/cloudmove"
)

// This file holds where cloud sections sit in the model: what a node
// tells the cloud (today AWS EC2) when one of its instances or sync groups
// becomes MASTER. Package cloudmove owns the settings, their defaults and
// their rules (cloudmove.Config); this package only reads them from the
// native format (keepalived.conf users call scripts from notify_master
// instead) and says where each was written.

// Cloud is the cloud section of an instance or a sync group: cloudmove's
// settings and where they were written.
type Cloud struct {
	cloudmove.Config
	// Pos is where the section is written.
	Pos Pos

	src *Source
}

// DefaultCloud returns a section with cloudmove's defaults and no actions.
func DefaultCloud() *Cloud {
	return &Cloud{Config: *cloudmove.DefaultConfig()}
}

// SameSettings reports whether c and o configure the same actions and
// settings, ignoring positions; a reload keeps the running actions of an
// unchanged section.
func (c *Cloud) SameSettings(o *Cloud) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Config.SameSettings(&o.Config)
}

// settings returns the section's settings, nil for no section.
func (c *Cloud) settings() *cloudmove.Config {
	if c == nil {
		return nil
	}
	return &c.Config
}

// cloudOwner is an owner of a cloud section with what diagnostics need.
type cloudOwner struct {
	cloudmove.Owner
	section *Cloud
	pos     Pos    // where the owner is defined
	prefix  string // "instances[0].cloud", "sync_groups[1].cloud"
}

// CloudOwners returns the instances and then the sync groups that have a
// cloud section, in file order, as cloudmove runs them.
func (c *Config) CloudOwners() []cloudmove.Owner {
	owners := c.cloudOwners()
	out := make([]cloudmove.Owner, len(owners))
	for i, o := range owners {
		out[i] = o.Owner
	}
	return out
}

func (c *Config) cloudOwners() []cloudOwner {
	var out []cloudOwner
	byName := map[string]*Instance{}
	for i, inst := range c.Instances {
		byName[inst.Name] = inst
		if inst.Cloud != nil {
			out = append(out, cloudOwner{
				Owner: cloudmove.Owner{Kind: "instance", Name: inst.Name, Cloud: inst.Cloud.settings(),
					Interface: inst.Interface, VIPs: ipv4VIPs(nil, inst)},
				section: inst.Cloud, pos: inst.Pos, prefix: "instances[" + strconv.Itoa(i) + "].cloud"})
		}
	}
	for i, g := range c.SyncGroups {
		if g.Cloud == nil {
			continue
		}
		o := cloudOwner{Owner: cloudmove.Owner{Kind: "sync_group", Name: g.Name, Cloud: g.Cloud.settings()},
			section: g.Cloud, pos: g.Pos, prefix: "sync_groups[" + strconv.Itoa(i) + "].cloud"}
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
