package config

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file reads the native format's gossip section and an instance's
// "peers: gossip". The parser checks types and ranges a YAML value can get
// wrong; the rules that also apply to sections built in code are in
// validgossip.go.

// gossip reads the top-level gossip section; k is its key, for its
// position.
func (p *yamlParser) gossip(k, n *yaml.Node, path string) *Gossip {
	g := DefaultGossip()
	g.Pos, g.src = p.pos(k), NewSource(path)
	mark := func(key string, k *yaml.Node) { g.src.Set(key, p.pos(k), "") }
	str := func(key string, dst *string) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			mark(key, k)
			if s, ok := p.str(v, path); ok {
				*dst = s
			}
		}
	}
	// dur reads a duration that must be positive.
	dur := func(key string, dst *time.Duration) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			mark(key, k)
			if d, ok := p.duration(v, path); ok {
				if d <= 0 {
					p.fail(v, path, "must be greater than 0 (leave it out for the default)")
					return
				}
				*dst = d
			}
		}
	}
	requireJoinSet := false
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"cluster_name": str("cluster_name", &g.ClusterName),
		"bind": func(k, v *yaml.Node, path string) {
			mark("bind", k)
			p.endpoint(v, path, "bind", g, &g.BindAddr, &g.BindPort)
		},
		"advertise": func(k, v *yaml.Node, path string) {
			mark("advertise", k)
			p.endpoint(v, path, "advertise", g, &g.AdvertiseAddr, &g.AdvertisePort)
		},
		"join": func(k, v *yaml.Node, path string) {
			mark("join", k)
			p.sequence(v, path, func(n *yaml.Node, path string, j int) {
				if s, ok := p.str(n, path); ok {
					g.src.Set("join["+strconv.Itoa(len(g.Join))+"]", p.pos(n), "join["+strconv.Itoa(j)+"]")
					g.Join = append(g.Join, s)
				}
			})
		},
		"keys": func(k, v *yaml.Node, path string) {
			mark("keys", k)
			p.sequence(v, path, func(n *yaml.Node, path string, j int) {
				if s, ok := p.str(n, path); ok {
					g.src.Set("keys["+strconv.Itoa(len(g.Keys))+"]", p.pos(n), "keys["+strconv.Itoa(j)+"]")
					g.Keys = append(g.Keys, s)
				}
			})
		},
		"key_file": str("key_file", &g.KeyFile),
		"profile": func(k, v *yaml.Node, path string) {
			mark("profile", k)
			if s, ok := p.str(v, path); ok {
				g.Profile = strings.ToLower(s)
				if _, known := GossipProfileTimings(g.Profile); !known {
					p.fail(v, path, fmt.Sprintf("%q is not %s", s, strings.Join(GossipProfiles(), ", ")))
				}
			}
		},
		"timings": func(k, v *yaml.Node, path string) {
			mark("timings", k)
			p.gossipTimings(v, path, g)
		},
		"az":                 str("az", &g.AZ),
		"state_file":         str("state_file", &g.StateFile),
		"reconnect_interval": dur("reconnect_interval", &g.ReconnectInterval),
		"reconnect_timeout":  dur("reconnect_timeout", &g.ReconnectTimeout),
		"require_join": func(k, v *yaml.Node, path string) {
			mark("require_join", k)
			if b, ok := p.boolean(v, path); ok {
				g.RequireJoin, requireJoinSet = b, true
			}
		},
		"require_join_timeout": func(k, v *yaml.Node, path string) {
			mark("require_join_timeout", k)
			if d, ok := p.duration(v, path); ok {
				g.RequireJoinTimeout = d
			}
		},
	})
	if !requireJoinSet {
		// A node told whom to join is not meant to stand alone.
		g.RequireJoin = len(g.Join) > 0
	}
	if n.Kind != yaml.MappingNode && p.badFields[path] {
		// Reported as not a mapping: nothing in it to validate.
		p.badFields[path+".*"] = true
	}
	return g
}

// endpoint reads {address, port} into addr and port; what is left out
// keeps its default.
func (p *yamlParser) endpoint(n *yaml.Node, path, key string, g *Gossip, addr *netip.Addr, port *int) {
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"address": func(k, v *yaml.Node, path string) {
			g.src.Set(key+".address", p.pos(k), "")
			if a, ok := p.addr(v, path); ok {
				*addr = a
			}
		},
		"port": func(k, v *yaml.Node, path string) {
			g.src.Set(key+".port", p.pos(k), "")
			if x, ok := p.integer(v, path, 1, math.MaxUint16); ok {
				*port = int(x)
			}
		},
	})
}

// gossipTimings reads the timing overrides; each must be positive (zero
// would silently mean "the profile's").
func (p *yamlParser) gossipTimings(n *yaml.Node, path string, g *Gossip) {
	t := &g.Timings
	dur := func(key string, dst *time.Duration) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			g.src.Set("timings."+key, p.pos(k), "")
			if d, ok := p.duration(v, path); ok {
				if d == 0 {
					p.fail(v, path, "must be greater than 0 (leave it out for the profile's value)")
					return
				}
				*dst = d
			}
		}
	}
	mult := func(key string, dst *int) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			g.src.Set("timings."+key, p.pos(k), "")
			if x, ok := p.integer(v, path, 1, math.MaxInt32); ok {
				*dst = int(x)
			}
		}
	}
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"probe_interval":     dur("probe_interval", &t.ProbeInterval),
		"probe_timeout":      dur("probe_timeout", &t.ProbeTimeout),
		"suspicion_mult":     mult("suspicion_mult", &t.SuspicionMult),
		"gossip_interval":    dur("gossip_interval", &t.GossipInterval),
		"push_pull_interval": dur("push_pull_interval", &t.PushPullInterval),
		"retransmit_mult":    mult("retransmit_mult", &t.RetransmitMult),
	})
}

// peersFrom reads an instance's "peers: gossip".
func (p *yamlParser) peersFrom(v *yaml.Node, path string, inst *Instance) {
	s, ok := p.str(v, path)
	if !ok {
		return
	}
	if !strings.EqualFold(s, "gossip") {
		p.fail(v, path, fmt.Sprintf("%q is not gossip (static peers go in unicast.peers)", s))
		return
	}
	inst.PeersFromGossip = true
}
