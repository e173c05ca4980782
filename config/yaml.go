package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

// ParseYAML reads the native format from data; path is used in diagnostics
// only. Every problem is an error: unknown keys, wrong types, values out of
// range and every validation rule. On success the returned Config carries no
// warnings (apart from host checks that could not run and gossip without
// encryption); on failure it is nil
// and the error is Diagnostics holding every problem found.
func ParseYAML(path string, data []byte, opts LoadOptions) (*Config, error) {
	if n, line := countYAMLInstances(data); n > MaxInstances {
		return nil, Diagnostics{tooManyInstances(Pos{File: path, Line: line}, "instances", n)}
	}
	p := yamlParser{path: path, opts: opts}
	cfg := p.parse(data)
	nParse := len(p.d.list)
	if cfg != nil {
		validate(cfg, opts.Host, &p.d)
		scriptChecks(cfg, opts.Machine(), &p.d, false)
	}
	return finish(cfg, p.d.list, nParse, p.badFields)
}

// yamlParser walks the yaml.Node tree by hand rather than decoding into
// structs, so that every problem gets its own line and field name and all of
// them are reported at once.
type yamlParser struct {
	path      string
	opts      LoadOptions
	d         diags
	badFields map[string]bool
}

// The tree is parsed into these, with nil meaning "not set" so that defaults
// can be applied in keepalived's order afterwards.
type yamlGARP struct {
	masterDelay, masterRefresh, interval, naInterval *time.Duration
	masterRepeat, masterRefreshRepeat                *uint32
}

type yamlInstance struct {
	inst     *Instance
	family   *inet.Family
	version  *uint8
	priority *uint8
	state    *fsm.State
	preempt  *bool
	garp     yamlGARP
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

func (p *yamlParser) parse(data []byte) *Config {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	cfg := DefaultConfig()
	cfg.Path, cfg.src = p.path, NewSource("")
	if errors.Is(err, io.EOF) {
		cfg.Node.Name = p.opts.ResolvedHostname()
		return cfg // an empty file: no instances
	}
	if err != nil {
		p.syntax(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.d.err(p.pos(&extra), "", "only one YAML document is allowed")
	} else if !errors.Is(err, io.EOF) {
		p.syntax(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}

	var globalVersion *uint8
	var globalGARP yamlGARP
	var instances []*yamlInstance
	p.mappingKeys(root, "", map[string]func(k, n *yaml.Node, path string){
		"node": func(_, n *yaml.Node, path string) {
			keys := map[string]func(k, v *yaml.Node, path string){
				"name": func(_, n *yaml.Node, path string) { cfg.Node.Name, _ = p.str(n, path) },
			}
			p.processKeys(keys, cfg) // scheduling, lock_memory (yamlprocess.go)
			p.mappingKeys(n, path, keys)
		},
		"vrrp": func(_, n *yaml.Node, path string) {
			p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
				"version": func(k, n *yaml.Node, path string) { globalVersion = p.version(n, path) },
				"garp":    func(k, n *yaml.Node, path string) { p.garp(n, path, &globalGARP) },
				"fast_takeover": func(k, n *yaml.Node, path string) {
					cfg.src.Set("vrrp.fast_takeover", p.pos(k), "")
					if b, ok := p.boolean(n, path); ok {
						cfg.FastTakeover = b
					}
				},
			})
		},
		"instances": func(_, n *yaml.Node, path string) {
			p.sequence(n, path, func(n *yaml.Node, path string, idx int) {
				instances = append(instances, p.instance(n, path, idx))
			})
		},
		"checks": func(_, n *yaml.Node, path string) {
			p.sequence(n, path, func(n *yaml.Node, path string, _ int) {
				cfg.Checks = append(cfg.Checks, p.check(n, path))
			})
		},
		"sync_groups": func(_, n *yaml.Node, path string) {
			p.sequence(n, path, func(n *yaml.Node, path string, _ int) {
				cfg.SyncGroups = append(cfg.SyncGroups, p.syncGroup(n, path))
			})
		},
		"scripts": func(_, n *yaml.Node, path string) { p.scripts(n, path, cfg) },
		"gossip":  func(k, n *yaml.Node, path string) { cfg.Gossip = p.gossip(k, n, path) },
		"api":     func(k, n *yaml.Node, path string) { p.api(k, n, path, &cfg.API) },
		"history": func(k, n *yaml.Node, path string) { p.history(k, n, path, &cfg.History) },
	})
	if cfg.Node.Name == "" {
		cfg.Node.Name = p.opts.ResolvedHostname()
	}
	for _, yi := range instances {
		cfg.Instances = append(cfg.Instances, yi.resolve(globalVersion, &globalGARP))
	}
	return cfg
}

// resolve applies defaults the way keepalived derives them
// (vrrp_complete_instance): family from the first address, version 3 for
// IPv6, priority from the state and the state from the priority.
func (yi *yamlInstance) resolve(globalVersion *uint8, global *yamlGARP) *Instance {
	inst := yi.inst
	switch {
	case yi.family != nil:
		inst.Family = *yi.family
	case inst.UnicastSource.IsValid():
		inst.Family = inet.FamilyOf(inst.UnicastSource)
	case len(inst.UnicastPeers) > 0:
		inst.Family = inet.FamilyOf(inst.UnicastPeers[0])
	case len(inst.VIPs) > 0 && inst.VIPs[0].Prefix.IsValid():
		inst.Family = inet.FamilyOf(inst.VIPs[0].Prefix.Addr())
	default:
		inst.Family = inet.IPv4
	}
	switch {
	case yi.version != nil:
		inst.Version = *yi.version
	case inst.Family == inet.IPv6:
		inst.Version = 3
	case globalVersion != nil:
		inst.Version = *globalVersion
	default:
		inst.Version = DefaultVersion
	}
	state := fsm.Init // not set
	if yi.state != nil {
		state = *yi.state
	}
	switch {
	case yi.priority != nil:
		inst.Priority = *yi.priority
	case state == fsm.Master:
		inst.Priority = OwnerPriority
	default:
		inst.Priority = DefaultPriority
	}
	switch {
	case state != fsm.Init:
		inst.InitialState = state
	case inst.Priority == OwnerPriority:
		inst.InitialState = fsm.Master
	default:
		inst.InitialState = fsm.Backup
	}
	if yi.preempt != nil {
		inst.Preempt = *yi.preempt
	}
	inst.GARP = DefaultGARP()
	global.apply(&inst.GARP)
	yi.garp.apply(&inst.GARP)
	for j := range inst.VIPs {
		if inst.VIPs[j].Interface == "" {
			inst.VIPs[j].Interface = inst.Interface
		}
	}
	return inst
}

func (g *yamlGARP) apply(out *GARP) {
	set := func(dst *time.Duration, src *time.Duration) {
		if src != nil {
			*dst = *src
		}
	}
	set(&out.MasterDelay, g.masterDelay)
	set(&out.MasterRefresh, g.masterRefresh)
	set(&out.Interval, g.interval)
	set(&out.NAInterval, g.naInterval)
	if g.masterRepeat != nil {
		out.MasterRepeat = *g.masterRepeat
	}
	if g.masterRefreshRepeat != nil {
		out.MasterRefreshRepeat = *g.masterRefreshRepeat
	}
}

func (p *yamlParser) instance(n *yaml.Node, path string, idx int) *yamlInstance {
	inst := DefaultInstance()
	inst.Pos = p.pos(n)
	inst.src = newYAMLSource(idx)
	yi := &yamlInstance{inst: inst}
	mark := func(f field, n *yaml.Node) { inst.src.pos[f] = p.pos(n) }

	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"name": func(k, v *yaml.Node, path string) { mark(fName, k); inst.Name, _ = p.str(v, path) },
		"interface": func(k, v *yaml.Node, path string) {
			mark(fInterface, k)
			inst.Interface, _ = p.str(v, path)
		},
		"vrid": func(k, v *yaml.Node, path string) {
			mark(fVRID, k)
			if x, ok := p.integer(v, path, 1, 255); ok {
				inst.VRID = uint8(x)
			}
		},
		"family": func(k, v *yaml.Node, path string) {
			mark(fFamily, k)
			if s, ok := p.str(v, path); ok {
				if f, err := inet.ParseFamily(s); err != nil {
					p.fail(v, path, err.Error())
				} else {
					yi.family = &f
				}
			}
		},
		"version":  func(k, v *yaml.Node, path string) { mark(fVersion, k); yi.version = p.version(v, path) },
		"priority": func(k, v *yaml.Node, path string) { mark(fPriority, k); yi.priority = p.uint8In(v, path, 1, 255) },
		"advert_interval": func(k, v *yaml.Node, path string) {
			mark(fAdvert, k)
			if d, ok := p.duration(v, path); ok {
				inst.AdvertInterval = d
			}
		},
		"state": func(k, v *yaml.Node, path string) {
			mark(fState, k)
			if s, ok := p.str(v, path); ok {
				switch st, _ := fsm.ParseState(strings.ToUpper(s)); st {
				case fsm.Master, fsm.Backup:
					yi.state = ptr(st)
				default:
					p.fail(v, path, fmt.Sprintf("%q is not master or backup", s))
				}
			}
		},
		"preempt": func(k, v *yaml.Node, path string) {
			mark(fPreempt, k)
			if b, ok := p.boolean(v, path); ok {
				yi.preempt = &b
			}
		},
		"preempt_delay": func(k, v *yaml.Node, path string) {
			mark(fPreemptDelay, k)
			if d, ok := p.duration(v, path); ok {
				inst.PreemptDelay = d
			}
		},
		"unicast": func(k, v *yaml.Node, path string) { p.unicast(v, path, inst) },
		"auth":    func(k, v *yaml.Node, path string) { mark(fAuth, k); p.auth(v, path, inst) },
		"vips": func(k, v *yaml.Node, path string) {
			mark(fVIPs, k)
			vipsPath := path
			p.sequence(v, path, func(n *yaml.Node, path string, _ int) {
				if vip, ok := p.vip(n, path); ok {
					inst.VIPs = append(inst.VIPs, vip)
				} else {
					p.badFields[vipsPath] = true // no "at least one VIP" on top
				}
			})
		},
		"garp":   func(k, v *yaml.Node, path string) { mark(fGARP, k); p.garp(v, path, &yi.garp) },
		"track":  func(k, v *yaml.Node, path string) { p.tracks(v, path, inst) },
		"order":  func(k, v *yaml.Node, path string) { p.order(k, v, path, inst) },
		"notify": func(k, v *yaml.Node, path string) { p.notify(v, path, &inst.Notify, inst.src.more) },
		"peers":  func(k, v *yaml.Node, path string) { mark(fPeersFrom, k); p.peersFrom(v, path, inst) },
		"cloud":  func(k, v *yaml.Node, path string) { inst.Cloud = p.cloud(k, v, path) },
	})
	return yi
}

func (p *yamlParser) unicast(n *yaml.Node, path string, inst *Instance) {
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"source": func(k, v *yaml.Node, path string) {
			inst.src.pos[fSource] = p.pos(k)
			if a, ok := p.addr(v, path); ok {
				inst.UnicastSource = a
			}
		},
		"peers": func(k, v *yaml.Node, path string) {
			inst.src.pos[fPeers] = p.pos(k)
			p.sequence(v, path, func(n *yaml.Node, path string, _ int) {
				if a, ok := p.addr(n, path); ok {
					inst.UnicastPeers = append(inst.UnicastPeers, a)
					inst.src.peerPos = append(inst.src.peerPos, p.pos(n))
				}
			})
		},
	})
}

func (p *yamlParser) auth(n *yaml.Node, path string, inst *Instance) {
	var typ, pass *yaml.Node
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"type": func(k, v *yaml.Node, path string) {
			typ = v
			if s, ok := p.str(v, path); ok && !strings.EqualFold(s, "pass") {
				p.fail(v, path, fmt.Sprintf("%q is not supported, only pass (AH is not implemented)", s))
			}
		},
		"password": func(k, v *yaml.Node, path string) {
			pass = v
			if s, ok := p.str(v, path); ok {
				if s == "" {
					p.fail(v, path, "must not be empty")
				}
				inst.AuthPass = s
			}
		},
	})
	if n.Kind == yaml.MappingNode {
		if typ == nil {
			p.fail(n, path+".type", "is required (pass)")
		}
		if pass == nil {
			p.fail(n, path+".password", "is required")
		}
	}
}

func (p *yamlParser) vip(n *yaml.Node, path string) (VIP, bool) {
	vip := VIP{Pos: p.pos(n)}
	if n.Kind == yaml.ScalarNode {
		s, ok := p.str(n, path)
		if !ok {
			return vip, false
		}
		vip.Prefix, ok = p.prefix(n, path, s)
		return vip, ok
	}
	have := false
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"address": func(k, v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				vip.Prefix, have = p.prefix(v, path, s)
			}
		},
		"interface": func(k, v *yaml.Node, path string) { vip.Interface, _ = p.str(v, path) },
		"label":     func(k, v *yaml.Node, path string) { vip.Label, _ = p.str(v, path) },
		"excluded": func(k, v *yaml.Node, path string) {
			if b, ok := p.boolean(v, path); ok {
				vip.Excluded = b
			}
		},
	})
	if n.Kind == yaml.MappingNode && !have && !p.badFields[path+".address"] {
		p.fail(n, path+".address", "is required")
	}
	return vip, have
}

func (p *yamlParser) garp(n *yaml.Node, path string, g *yamlGARP) {
	dur := func(dst **time.Duration) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			if d, ok := p.duration(v, path); ok {
				*dst = &d
			}
		}
	}
	count := func(dst **uint32) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			if x, ok := p.integer(v, path, 1, 1<<32-1); ok {
				*dst = ptr(uint32(x))
			}
		}
	}
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"master_delay":          dur(&g.masterDelay),
		"master_repeat":         count(&g.masterRepeat),
		"master_refresh":        dur(&g.masterRefresh),
		"master_refresh_repeat": count(&g.masterRefreshRepeat),
		"interval":              dur(&g.interval),
		"na_interval":           dur(&g.naInterval),
	})
}

// --- tree walking ---

func (p *yamlParser) pos(n *yaml.Node) Pos { return Pos{File: p.path, Line: n.Line} }

func (p *yamlParser) fail(n *yaml.Node, path, msg string) {
	if p.badFields == nil {
		p.badFields = map[string]bool{}
	}
	p.badFields[path] = true
	p.d.err(p.pos(n), path, msg)
}

func (p *yamlParser) syntax(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	p.d.err(Pos{File: p.path, Line: line}, "", "YAML syntax: "+msg)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// usable rejects aliases (a strict format has no need for them, and
// following them would let a small file expand without bound) and reports
// whether n holds something.
func (p *yamlParser) usable(n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		p.fail(n, path, "YAML aliases are not supported")
		return false
	}
	return !(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// mappingKeys calls handlers[key] with the key's node and value for each
// key of n; unknown and repeated keys are errors.
func (p *yamlParser) mappingKeys(n *yaml.Node, path string, handlers map[string]func(k, v *yaml.Node, path string)) {
	if !p.usable(n, path) {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if path != "" {
			what = "it"
		}
		p.fail(n, path, fmt.Sprintf("%s must be a mapping of keys to values, not %s", what, kindName(n)))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(k, path, "keys must be plain strings")
			continue
		}
		kp := join(path, k.Value)
		h, known := handlers[k.Value]
		switch {
		case !known:
			p.fail(k, kp, "unknown key"+allowedKeys(handlers))
		case seen[k.Value]:
			p.fail(k, kp, "is set twice")
		default:
			seen[k.Value] = true
			if p.usable(v, kp) || v.Kind == yaml.ScalarNode {
				h(k, v, kp)
			}
		}
	}
}

// allowedKeys lists the keys allowed where an unknown one was found.
func allowedKeys[T any](handlers map[string]T) string {
	keys := make([]string, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return " (allowed: " + strings.Join(keys, ", ") + ")"
}

func (p *yamlParser) sequence(n *yaml.Node, path string, each func(n *yaml.Node, path string, idx int)) {
	if !p.usable(n, path) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "must be a list, not "+kindName(n))
		return
	}
	for i, item := range n.Content {
		ip := path + "[" + strconv.Itoa(i) + "]"
		if p.usable(item, ip) {
			each(item, ip, i)
		} else if item.Kind != yaml.AliasNode {
			p.fail(item, ip, "empty list entry")
		}
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// --- scalars ---

func (p *yamlParser) scalar(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "must be a single value, not "+kindName(n))
		return false
	}
	if n.ShortTag() == "!!null" {
		p.fail(n, path, "needs a value")
		return false
	}
	return true
}

func (p *yamlParser) str(n *yaml.Node, path string) (string, bool) {
	if !p.scalar(n, path) {
		return "", false
	}
	if n.ShortTag() == "!!binary" {
		// EncodeYAML writes a string that is not UTF-8 (a script argument
		// from a keepalived.conf in another encoding) as !!binary base64:
		// its value is those bytes, not the base64 text.
		var s string
		if err := n.Decode(&s); err != nil {
			p.fail(n, path, "is not valid !!binary (base64) data")
			return "", false
		}
		return s, true
	}
	return n.Value, true
}

func (p *yamlParser) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	if !p.scalar(n, path) {
		return 0, false
	}
	var x int64
	if n.ShortTag() != "!!int" || n.Decode(&x) != nil {
		if n.ShortTag() == "!!float" && strings.Trim(n.Value, "0123456789") == "" {
			// Digits only, but too large for an int64.
			p.fail(n, path, fmt.Sprintf("%s is out of range %d-%d", n.Value, lo, hi))
			return 0, false
		}
		p.fail(n, path, fmt.Sprintf("%q is not an integer", n.Value))
		return 0, false
	}
	if x < lo || x > hi {
		p.fail(n, path, fmt.Sprintf("%s is out of range %d-%d", n.Value, lo, hi))
		return 0, false
	}
	return x, true
}

func (p *yamlParser) uint8In(n *yaml.Node, path string, lo, hi int64) *uint8 {
	if x, ok := p.integer(n, path, lo, hi); ok {
		return ptr(uint8(x))
	}
	return nil
}

func (p *yamlParser) version(n *yaml.Node, path string) *uint8 {
	if !p.scalar(n, path) {
		return nil
	}
	if n.Value != "2" && n.Value != "3" {
		p.fail(n, path, fmt.Sprintf("%q is not 2 or 3", n.Value))
		return nil
	}
	return ptr(uint8(n.Value[0] - '0'))
}

func (p *yamlParser) boolean(n *yaml.Node, path string) (bool, bool) {
	if !p.scalar(n, path) {
		return false, false
	}
	var b bool
	if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.fail(n, path, fmt.Sprintf("%q is not true or false", n.Value))
		return false, false
	}
	return b, true
}

func (p *yamlParser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if !p.scalar(n, path) {
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.fail(n, path, fmt.Sprintf("%q is not a duration such as 1s or 100ms", n.Value))
		return 0, false
	}
	if d < 0 {
		p.fail(n, path, fmt.Sprintf("%s is negative", n.Value))
		return 0, false
	}
	return d, true
}

func (p *yamlParser) addr(n *yaml.Node, path string) (netip.Addr, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		p.fail(n, path, fmt.Sprintf("%q is not an IP address", s))
		return netip.Addr{}, false
	}
	return a, true
}

// prefix parses ADDR or ADDR/LEN; without a length the VIP is a host route
// (/32 or /128), as in keepalived.
func (p *yamlParser) prefix(n *yaml.Node, path, s string) (netip.Prefix, bool) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			p.fail(n, path, fmt.Sprintf("%q is not an IP address", s))
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil || pr.Addr().Zone() != "" {
		p.fail(n, path, fmt.Sprintf("%q is not an address with a prefix length such as 192.0.2.10/24", s))
		return netip.Prefix{}, false
	}
	return pr, true
}

func ptr[T any](v T) *T { return &v }
