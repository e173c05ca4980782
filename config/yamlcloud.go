package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"go.yaml.in/yaml/v3"
)

// This file reads the native format's cloud section of an instance or a
// sync group into cloudmove's types, checking only what a YAML value can
// get wrong (types, one kind per action), and records where each setting
// was written. The rules (id prefixes, required fields, ranges) are
// cloudmove's; validcloud.go reports them.

// cloud reads a cloud section; k is its key, for its position.
func (p *yamlParser) cloud(k, n *yaml.Node, path string) *Cloud {
	c := DefaultCloud()
	c.Pos, c.src = p.pos(k), NewSource(path)
	mark := func(key string, k *yaml.Node) { c.src.Set(key, p.pos(k), "") }
	dur := func(key string, dst *time.Duration) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			mark(key, k)
			if d, ok := p.duration(v, path); ok {
				*dst = d
			}
		}
	}
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"region":   func(k, v *yaml.Node, path string) { mark("region", k); c.Region, _ = p.str(v, path) },
		"endpoint": func(k, v *yaml.Node, path string) { mark("endpoint", k); c.Endpoint, _ = p.str(v, path) },
		"on_failure": func(k, v *yaml.Node, path string) {
			mark("on_failure", k)
			if s, ok := p.str(v, path); ok {
				if f, err := cloudmove.ParseOnFailure(s); err != nil {
					p.fail(v, path, err.Error())
				} else {
					c.OnFailure = f
				}
			}
		},
		"reconcile_interval": dur("reconcile_interval", &c.ReconcileInterval),
		"refresh_interval":   dur("refresh_interval", &c.RefreshInterval),
		"call_timeout":       dur("call_timeout", &c.CallTimeout),
		"retry_budget":       dur("retry_budget", &c.RetryBudget),
		"fault_hold":         dur("fault_hold", &c.FaultHold),
		"skip_dry_run": func(k, v *yaml.Node, path string) {
			mark("skip_dry_run", k)
			c.SkipDryRun, _ = p.boolean(v, path)
		},
		"actions": func(k, v *yaml.Node, path string) {
			mark("actions", k)
			c.Actions = []*cloudmove.ActionConfig{}
			p.sequence(v, path, func(n *yaml.Node, path string, j int) {
				if a := p.cloudAction(n, path, "actions["+strconv.Itoa(j)+"]", c.src); a != nil {
					c.Actions = append(c.Actions, a)
				} else {
					p.badFields[join(c.src.prefix, "actions")] = true // no "needs an action" on top
				}
			})
		},
	})
	if n.Kind != yaml.MappingNode && p.badFields[path] {
		p.badFields[path+".*"] = true
	}
	return c
}

// cloudAction reads one entry of actions: a mapping with exactly one kind
// key. key is the entry's name below the section ("actions[0]").
func (p *yamlParser) cloudAction(n *yaml.Node, path, key string, src *Source) *cloudmove.ActionConfig {
	a := &cloudmove.ActionConfig{}
	src.Set(key, p.pos(n), "")
	mark := func(sub string, k *yaml.Node) { src.Set(key+"."+sub, p.pos(k), "") }
	str := func(sub string, dst *string) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) { mark(sub, k); *dst, _ = p.str(v, path) }
	}
	addr := func(sub string, dst *netip.Addr) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) { mark(sub, k); *dst, _ = p.addr(v, path) }
	}
	// withTarget adds the keys of a kind's Target (interface, eni) to its
	// keys.
	type keys = map[string]func(k, v *yaml.Node, path string)
	withTarget := func(kd cloudmove.Kind, t *cloudmove.Target, ks keys) keys {
		ks["interface"] = str(string(kd)+".interface", &t.Interface)
		ks["eni"] = str(string(kd)+".eni", &t.ENI)
		return ks
	}
	kind := func(kd cloudmove.Kind, read func(v *yaml.Node, path string)) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			mark(string(kd), k)
			if a.Kind != "" {
				p.fail(k, path, fmt.Sprintf("an action has exactly one kind, and this one is already %s", a.Kind))
				return
			}
			a.Kind = kd
			read(v, path)
		}
	}
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"secondary_ip": kind(cloudmove.KindSecondaryIP, func(v *yaml.Node, path string) {
			s := &cloudmove.SecondaryIPConfig{}
			a.SecondaryIP = s
			p.mappingKeys(v, path, withTarget(cloudmove.KindSecondaryIP, &s.Target, keys{
				"addresses": func(k, v *yaml.Node, path string) {
					mark("secondary_ip.addresses", k)
					p.sequence(v, path, func(n *yaml.Node, path string, j int) {
						if ad, ok := p.addr(n, path); ok {
							src.Set(key+".secondary_ip.addresses["+strconv.Itoa(len(s.Addresses))+"]", p.pos(n),
								key+".secondary_ip.addresses["+strconv.Itoa(j)+"]")
							s.Addresses = append(s.Addresses, ad)
						}
					})
				},
			}))
		}),
		"elastic_ip": kind(cloudmove.KindElasticIP, func(v *yaml.Node, path string) {
			e := &cloudmove.ElasticIPConfig{}
			a.ElasticIP = e
			p.mappingKeys(v, path, withTarget(cloudmove.KindElasticIP, &e.Target, keys{
				"allocation_id": str("elastic_ip.allocation_id", &e.AllocationID),
				"public_ip":     addr("elastic_ip.public_ip", &e.PublicIP),
				"private_ip":    addr("elastic_ip.private_ip", &e.PrivateIP),
			}))
		}),
		"route": kind(cloudmove.KindRoute, func(v *yaml.Node, path string) {
			r := &cloudmove.RouteConfig{}
			a.Route = r
			p.mappingKeys(v, path, withTarget(cloudmove.KindRoute, &r.Target, keys{
				"destination": func(k, v *yaml.Node, path string) {
					mark("route.destination", k)
					if s, ok := p.str(v, path); ok {
						r.Destination, _ = p.prefix(v, path, s)
					}
				},
				"route_tables": func(k, v *yaml.Node, path string) {
					mark("route.route_tables", k)
					r.RouteTables = []string{}
					p.sequence(v, path, func(n *yaml.Node, path string, _ int) {
						if s, ok := p.str(n, path); ok {
							r.RouteTables = append(r.RouteTables, s)
						}
					})
				},
				"subnet_tags": func(k, v *yaml.Node, path string) {
					mark("route.subnet_tags", k)
					r.SubnetTags = map[string]string{}
					if !p.usable(v, path) {
						return
					}
					if v.Kind != yaml.MappingNode {
						p.fail(v, path, "must be a mapping of tag names to values, not "+kindName(v))
						return
					}
					for i := 0; i+1 < len(v.Content); i += 2 {
						tk, tv := v.Content[i], v.Content[i+1]
						name, ok := p.str(tk, path)
						if !ok {
							continue
						}
						if _, dup := r.SubnetTags[name]; dup {
							p.fail(tk, join(path, name), "is set twice")
							continue
						}
						if val, ok := p.str(tv, join(path, name)); ok {
							r.SubnetTags[name] = val
						}
					}
				},
				"include_main": func(k, v *yaml.Node, path string) {
					mark("route.include_main", k)
					r.IncludeMain, _ = p.boolean(v, path)
				},
			}))
		}),
		"ebs": kind(cloudmove.KindEBS, func(v *yaml.Node, path string) {
			e := cloudmove.DefaultVolumeConfig()
			a.EBS = e
			p.mappingKeys(v, path, map[string]func(k, v *yaml.Node, path string){
				"volume_id": str("ebs.volume_id", &e.VolumeID),
				"device":    str("ebs.device", &e.Device),
				"mount":     str("ebs.mount", &e.Mount),
				"fstype":    str("ebs.fstype", &e.FSType),
				"force_detach_after": func(k, v *yaml.Node, path string) {
					mark("ebs.force_detach_after", k)
					if d, ok := p.duration(v, path); ok {
						e.ForceDetachAfter = d
					}
				},
			})
		}),
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if a.Kind == "" {
		names := make([]string, 0, 4)
		for _, k := range cloudmove.Kinds() {
			names = append(names, string(k))
		}
		p.fail(n, path, "needs one kind: "+strings.Join(names, ", "))
		return nil
	}
	return a
}
