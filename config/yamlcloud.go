package config

import (
	"fmt"
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
// cloudmove's; validcloud.go reports them. An action's own keys are read
// from the struct tags of its kind's settings type (yamlkind.go).

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
	// Each kind's block is read from the tags of its settings type
	// (yamlkind.go): no kind has code here.
	keys := map[string]func(k, v *yaml.Node, path string){}
	for _, kd := range cloudmove.Kinds() {
		below := key + "." + string(kd)
		keys[string(kd)] = func(k, v *yaml.Node, path string) {
			src.Set(below, p.pos(k), "")
			if a.Kind != "" {
				p.fail(k, path, fmt.Sprintf("an action has exactly one kind, and this one is already %s", a.Kind))
				return
			}
			p.kindSettings(v, path, a.NewSettings(kd), func(sub string, n *yaml.Node, name string) {
				if name != "" {
					name = below + "." + name
				}
				src.Set(below+"."+sub, p.pos(n), name)
			})
		}
	}
	p.mappingKeys(n, path, keys)
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
