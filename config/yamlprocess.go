package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// processKeys adds the node section's keys of process.go to keys:
//
//	node:
//	  scheduling: {policy: rr, priority: 50}   # or {nice: -10}
//	  lock_memory: true
//
// The parser checks types and ranges; combinations are validated by
// validator.process.
func (p *yamlParser) processKeys(keys map[string]func(k, v *yaml.Node, path string), cfg *Config) {
	mark := func(key string, k *yaml.Node) { cfg.src.Set(key, p.pos(k), "") }
	keys["scheduling"] = func(k, v *yaml.Node, path string) {
		mark("node.scheduling", k)
		s := &cfg.Node.Scheduling
		p.mappingKeys(v, path, map[string]func(k, v *yaml.Node, path string){
			"policy": func(k, v *yaml.Node, path string) {
				mark("node.scheduling.policy", k)
				str, ok := p.str(v, path)
				if !ok {
					return
				}
				switch pol := SchedPolicy(strings.ToLower(str)); pol {
				case SchedOther:
					s.Policy = "" // the same, one spelling for comparisons
				case SchedRR, SchedFIFO:
					s.Policy = pol
				default:
					p.fail(v, path, fmt.Sprintf("%q is not one of other, rr, fifo", str))
				}
			},
			"priority": func(k, v *yaml.Node, path string) {
				mark("node.scheduling.priority", k)
				if x, ok := p.integer(v, path, MinRTPriority, MaxRTPriority); ok {
					s.Priority = int(x)
				}
			},
			"nice": func(k, v *yaml.Node, path string) {
				mark("node.scheduling.nice", k)
				if x, ok := p.integer(v, path, MinNice, MaxNice); ok {
					s.Nice = int(x)
				}
			},
		})
		if v.Kind != yaml.MappingNode && p.badFields[path] {
			// Reported as not a mapping: nothing in it to validate.
			p.badFields[path+".*"] = true
		}
	}
	keys["lock_memory"] = func(k, v *yaml.Node, path string) {
		mark("node.lock_memory", k)
		if b, ok := p.boolean(v, path); ok {
			cfg.Node.LockMemory = b
		}
	}
}
