package config

import "strings"

import "strconv"

// field is a setting of an Instance that a diagnostic can point at.
type field int

const (
	fName field = iota
	fInterface
	fVRID
	fFamily
	fVersion
	fPriority
	fAdvert
	fState
	fPreempt
	fPreemptDelay
	fSource
	fPeers
	fAuth
	fVIPs
	fGARP
	fPeersFrom
	numFields
)

// Field names as each format spells them, so that a message names what the
// user wrote. An empty keepalived name means the instance itself.
var (
	yamlFieldNames = [numFields]string{
		"name", "interface", "vrid", "family", "version", "priority",
		"advert_interval", "state", "preempt", "preempt_delay",
		"unicast.source", "unicast.peers", "auth", "vips", "garp", "peers",
	}
	keepalivedFieldNames = [numFields]string{
		"", "interface", "virtual_router_id", "", "version", "priority",
		"advert_int", "state", "nopreempt", "preempt_delay",
		"unicast_src_ip", "unicast_peer", "authentication", "virtual_ipaddress", "garp",
		"", // no gossip in keepalived.conf
	}
)

// instanceSource records where an instance's settings were written.
type instanceSource struct {
	format  Format
	prefix  string // "instances[0]" or "vrrp_instance[VI_1]"
	pos     [numFields]Pos
	peerPos []Pos
	// more holds the tracking settings: "track[J]", "order.nodes",
	// "notify.master"...
	more *srcMap
}

func newYAMLSource(idx int) *instanceSource {
	prefix := "instances[" + strconv.Itoa(idx) + "]"
	return &instanceSource{format: FormatYAML, prefix: prefix, more: newSrcMap(prefix)}
}

func newKeepalivedSource(name string) *instanceSource {
	prefix := "vrrp_instance[" + name + "]"
	return &instanceSource{format: FormatKeepalived, prefix: prefix, more: newSrcMap(prefix)}
}

// source returns the instance's source record, making a YAML-style one for
// instances built in code (idx is the instance's index in the Config).
func (i *Instance) source(idx int) *instanceSource {
	if i.src == nil {
		s := newYAMLSource(idx)
		for f := range s.pos {
			s.pos[f] = i.Pos
		}
		return s
	}
	return i.src
}

// at returns the position and full field name of f.
func (s *instanceSource) at(inst *Instance, f field) (Pos, string) {
	pos := s.pos[f]
	if pos.Line == 0 {
		pos = inst.Pos
	}
	names := &yamlFieldNames
	if s.format == FormatKeepalived {
		names = &keepalivedFieldNames
	}
	if names[f] == "" {
		return pos, s.prefix
	}
	return pos, s.prefix + "." + names[f]
}

// vip returns the position and field name of VIP j.
func (s *instanceSource) vip(inst *Instance, j int) (Pos, string) {
	pos := inst.VIPs[j].Pos
	if pos.Line == 0 {
		pos, _ = s.at(inst, fVIPs)
	}
	if s.format == FormatKeepalived {
		return pos, s.prefix + ".virtual_ipaddress"
	}
	return pos, s.prefix + ".vips[" + strconv.Itoa(j) + "]"
}

// peer returns the position and field name of unicast peer j.
func (s *instanceSource) peer(inst *Instance, j int) (Pos, string) {
	pos, name := s.at(inst, fPeers)
	if j < len(s.peerPos) && s.peerPos[j].Line > 0 {
		pos = s.peerPos[j]
	}
	if s.format == FormatYAML {
		name += "[" + strconv.Itoa(j) + "]"
	}
	return pos, name
}

// srcMap records where the settings of one object (a check, a sync group,
// an instance's tracking settings, the global settings) were written, and
// how the user spelled them, for diagnostics. Keys are the native format's
// dotted paths below the object ("interval", "exec.command",
// "notify.master"); keepalived input records its own keyword as the name.
type srcMap struct {
	prefix string // "checks[0]", "vrrp_script[chk]"; "" for the global settings
	pos    map[string]Pos
	name   map[string]string
}

func newSrcMap(prefix string) *srcMap {
	return &srcMap{prefix: prefix, pos: map[string]Pos{}, name: map[string]string{}}
}

// set records key's position; name, if not empty, is the field as the user
// wrote it relative to the prefix ("script" for "exec.command").
func (s *srcMap) set(key string, pos Pos, name string) {
	s.pos[key] = pos
	if name != "" {
		s.name[key] = name
	}
}

// at returns the position of key (def if unknown) and its full field name.
// It works on a nil srcMap, for objects built in code, with prefix given by
// the caller through def's object.
func (s *srcMap) at(key string, def Pos) (Pos, string) {
	if s == nil {
		return def, key
	}
	pos, ok := s.pos[key]
	if !ok || pos.Line == 0 {
		pos = def
	}
	name := key
	if n, ok := s.name[key]; ok {
		name = n
	}
	return pos, joinField(s.prefix, name)
}

// nested is at for a nested key ("tls.cert", "listen[1]",
// "actions[0].route.route_tables[1]"): a key without a line of its own
// takes the line of its nearest parent that has one, then def.
func (s *srcMap) nested(key string, def Pos) (Pos, string) {
	if s != nil {
		for k := key; k != ""; {
			if p, ok := s.pos[k]; ok && p.Line > 0 {
				def = p
				break
			}
			i := strings.LastIndexAny(k, ".[")
			if i < 0 {
				break
			}
			k = k[:i]
		}
	}
	return s.at(key, def)
}

func joinField(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	}
	return prefix + "." + name
}
