package config

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// This file reads the native format's tracking settings: checks, tracks,
// orders, notify scripts, sync groups and the script policy. The parser
// checks types and ranges a YAML value can get wrong; the rules that also
// apply to configurations built in code are in validtrack.go. A check
// kind's own keys are read from the struct tags of its settings type
// (yamlkind.go).

func (p *yamlParser) check(n *yaml.Node, path string) *Check {
	c := &Check{Config: checks.DefaultConfig("", ""), Pos: p.pos(n), src: NewSource(path)}
	var timeout *time.Duration
	mark := func(key string, k *yaml.Node) { c.src.Set(key, p.pos(k), "") }
	keys := map[string]func(k, v *yaml.Node, path string){
		"name": func(k, v *yaml.Node, path string) { mark("name", k); c.Name, _ = p.str(v, path) },
		"interval": func(k, v *yaml.Node, path string) {
			mark("interval", k)
			if d, ok := p.duration(v, path); ok {
				c.Interval = d
			}
		},
		"timeout": func(k, v *yaml.Node, path string) {
			mark("timeout", k)
			if d, ok := p.duration(v, path); ok {
				timeout = &d
			}
		},
		"fall": func(k, v *yaml.Node, path string) {
			mark("fall", k)
			if x, ok := p.integer(v, path, 1, math.MaxInt32); ok {
				c.Fall = int(x)
			}
		},
		"rise": func(k, v *yaml.Node, path string) {
			mark("rise", k)
			if x, ok := p.integer(v, path, 1, math.MaxInt32); ok {
				c.Rise = int(x)
			}
		},
		"weight": func(k, v *yaml.Node, path string) {
			mark("weight", k)
			if x, ok := p.integer(v, path, math.MinInt32, math.MaxInt32); ok {
				c.Weight = int(x)
			}
		},
		"weight_reverse": func(k, v *yaml.Node, path string) { c.WeightReverse, _ = p.boolean(v, path) },
		"init_fail":      func(k, v *yaml.Node, path string) { c.InitFail, _ = p.boolean(v, path) },
	}
	// Each kind's block is read from the tags of its settings type
	// (yamlkind.go): no kind has code here.
	for _, kd := range checks.Kinds() {
		keys[string(kd)] = func(k, v *yaml.Node, path string) {
			mark(string(kd), k)
			if c.Kind != "" {
				p.fail(k, path, fmt.Sprintf("a check has exactly one kind, and this one is already %s", c.Kind))
				return
			}
			p.kindSettings(v, path, c.NewSettings(kd), func(key string, n *yaml.Node, name string) {
				if name != "" {
					name = string(kd) + "." + name
				}
				c.src.Set(string(kd)+"."+key, p.pos(n), name)
			})
			c.FinishSettings()
		}
	}
	p.mappingKeys(n, path, keys)
	if n.Kind == yaml.MappingNode && c.Kind == "" {
		kinds := checks.Kinds()
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		p.fail(n, path, "needs one kind: "+strings.Join(names, ", "))
	}
	c.Timeout = c.Interval
	if timeout != nil {
		c.Timeout = *timeout
	}
	return c
}

// command reads a command line: a list of words, or a string split with
// keepalived's quoting rules (SplitCommand).
func (p *yamlParser) command(n *yaml.Node, path string) ([]string, bool) {
	if n.Kind == yaml.SequenceNode {
		var argv []string
		ok := true
		p.sequence(n, path, func(n *yaml.Node, path string, _ int) {
			s, good := p.str(n, path)
			argv = append(argv, s)
			ok = ok && good
		})
		if len(n.Content) == 0 {
			p.fail(n, path, "must not be empty")
			return nil, false
		}
		return argv, ok
	}
	s, ok := p.str(n, path)
	if !ok {
		return nil, false
	}
	argv, err := SplitCommand(s)
	if err != nil {
		p.fail(n, path, err.Error())
		return nil, false
	}
	if len(argv) == 0 {
		p.fail(n, path, "must not be empty")
		return nil, false
	}
	return argv, true
}

// tracks reads an instance's track list: check names, or
// {check, weight, weight_reverse}.
func (p *yamlParser) tracks(n *yaml.Node, path string, inst *Instance) {
	p.sequence(n, path, func(n *yaml.Node, path string, j int) {
		t := Track{Pos: p.pos(n)}
		inst.src.more.Set("track["+strconv.Itoa(j)+"]", t.Pos, "")
		if n.Kind == yaml.ScalarNode {
			t.Check, _ = p.str(n, path)
			inst.Track = append(inst.Track, t)
			return
		}
		var reverse *yaml.Node
		p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
			"check": func(k, v *yaml.Node, path string) { t.Check, _ = p.str(v, path) },
			"weight": func(k, v *yaml.Node, path string) {
				if x, ok := p.integer(v, path, math.MinInt32, math.MaxInt32); ok {
					t.Weight = ptr(int(x))
				}
			},
			"weight_reverse": func(k, v *yaml.Node, path string) {
				reverse = k
				t.WeightReverse, _ = p.boolean(v, path)
			},
		})
		if n.Kind != yaml.MappingNode {
			return
		}
		if t.Check == "" && !p.badFields[path+".check"] {
			p.fail(n, path+".check", "is required")
		}
		if reverse != nil && t.Weight == nil && !p.badFields[path+".weight"] {
			p.fail(reverse, path+".weight_reverse", "needs weight (without one the check's own weight and reverse flag apply)")
		}
		inst.Track = append(inst.Track, t)
	})
}

// order reads an instance's order.
func (p *yamlParser) order(k, n *yaml.Node, path string, inst *Instance) {
	o := &priority.OrderConfig{}
	src := inst.src.more
	src.Set("order", p.pos(k), "")
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"nodes": func(k, v *yaml.Node, path string) {
			src.Set("order.nodes", p.pos(k), "")
			o.Nodes = []string{}
			p.sequence(v, path, func(n *yaml.Node, path string, j int) {
				s, _ := p.str(n, path)
				src.Set("order.nodes["+strconv.Itoa(j)+"]", p.pos(n), "")
				o.Nodes = append(o.Nodes, s)
			})
		},
		"file": func(k, v *yaml.Node, path string) {
			src.Set("order.file", p.pos(k), "")
			if s, ok := p.str(v, path); ok {
				if s != "" && !filepath.IsAbs(s) {
					s = filepath.Join(filepath.Dir(p.path), s)
					// Absolute, so that the path stays right when the
					// config is printed and loaded from elsewhere.
					if abs, err := filepath.Abs(s); err == nil {
						s = abs
					}
				}
				o.File = s
			}
		},
		"reverse": func(k, v *yaml.Node, path string) { o.Reverse, _ = p.boolean(v, path) },
		"priorities": func(k, v *yaml.Node, path string) {
			src.Set("order.priorities", p.pos(k), "")
			o.Priorities = []uint8{}
			listPath := path
			p.sequence(v, path, func(n *yaml.Node, path string, _ int) {
				if x := p.uint8In(n, path, priority.MinOrderPriority, OwnerPriority-1); x != nil {
					o.Priorities = append(o.Priorities, *x)
				} else {
					p.badFields[listPath] = true // not also "must list at least one"
				}
			})
		},
		"unhealthy": func(k, v *yaml.Node, path string) {
			src.Set("order.unhealthy", p.pos(k), "")
			if s, ok := p.str(v, path); ok {
				switch u := priority.Unhealthy(strings.ToLower(s)); u {
				case priority.UnhealthyLowest, priority.UnhealthyFault:
					o.Unhealthy = u
				default:
					p.fail(v, path, fmt.Sprintf("%q is not lowest or fault", s))
				}
			}
		},
	})
	if o.Priorities == nil {
		o.Priorities = priority.DefaultPriorities()
	}
	if o.Unhealthy == "" {
		o.Unhealthy = priority.UnhealthyLowest
	}
	inst.Order = o
}

// notify reads a notify block: each script as a string, a list of words,
// or {command, user, group}; and timeout.
func (p *yamlParser) notify(n *yaml.Node, path string, nt *notify.Config, src *Source) {
	handlers := map[string]func(k, v *yaml.Node, path string){
		"timeout": func(k, v *yaml.Node, path string) {
			src.Set("notify.timeout", p.pos(k), "")
			if d, ok := p.duration(v, path); ok {
				nt.Timeout = d
			}
		},
	}
	for _, e := range notify.Scripts() {
		key := "notify." + string(e)
		handlers[string(e)] = func(k, v *yaml.Node, path string) {
			src.Set(key, p.pos(k), "")
			if v.Kind != yaml.MappingNode {
				argv, _ := p.command(v, path)
				nt.SetCommand(e, argv)
				return
			}
			var u notify.User
			p.mappingKeys(v, path, map[string]func(k, v *yaml.Node, path string){
				"command": func(k, v *yaml.Node, path string) { argv, _ := p.command(v, path); nt.SetCommand(e, argv) },
				"user": func(k, v *yaml.Node, path string) {
					src.Set(key+".user", p.pos(k), "")
					u.User, _ = p.str(v, path)
				},
				"group": func(k, v *yaml.Node, path string) {
					src.Set(key+".group", p.pos(k), "")
					u.Group, _ = p.str(v, path)
				},
			})
			if nt.Command(e) == nil && !p.badFields[path+".command"] {
				p.fail(v, path+".command", "is required")
			}
			if u != (notify.User{}) {
				if nt.RunAs == nil {
					nt.RunAs = map[notify.Script]notify.User{}
				}
				nt.RunAs[e] = u
			}
		}
	}
	p.mappingKeys(n, path, handlers)
}

// syncGroup reads one entry of sync_groups.
func (p *yamlParser) syncGroup(n *yaml.Node, path string) *SyncGroup {
	g := &SyncGroup{Pos: p.pos(n), src: NewSource(path), Notify: notify.Config{Timeout: notify.DefaultTimeout}}
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"name": func(k, v *yaml.Node, path string) { g.src.Set("name", p.pos(k), ""); g.Name, _ = p.str(v, path) },
		"instances": func(k, v *yaml.Node, path string) {
			g.src.Set("instances", p.pos(k), "")
			p.sequence(v, path, func(n *yaml.Node, path string, j int) {
				s, _ := p.str(n, path)
				g.src.Set("instances["+strconv.Itoa(j)+"]", p.pos(n), "")
				g.Instances = append(g.Instances, s)
			})
		},
		"notify": func(k, v *yaml.Node, path string) { p.notify(v, path, &g.Notify, g.src) },
		"cloud":  func(k, v *yaml.Node, path string) { g.Cloud = p.cloud(k, v, path) },
	})
	return g
}

// scripts reads the global script policy.
func (p *yamlParser) scripts(n *yaml.Node, path string, cfg *Config) {
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"security": func(k, v *yaml.Node, path string) {
			cfg.src.Set("scripts.security", p.pos(k), "")
			if b, ok := p.boolean(v, path); ok {
				cfg.Scripts.Enforce = b
			}
		},
		"user": func(k, v *yaml.Node, path string) {
			cfg.src.Set("scripts.user", p.pos(k), "")
			cfg.Scripts.User, _ = p.str(v, path)
		},
		"group": func(k, v *yaml.Node, path string) {
			cfg.src.Set("scripts.group", p.pos(k), "")
			cfg.Scripts.Group, _ = p.str(v, path)
		},
	})
}
