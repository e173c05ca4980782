package config

import (
	"strconv"
	"strings"
)

// This file is the position API of the model: where each setting was
// written (PATH:LINE) and how the user spelled it, so that validation
// names what the user wrote. The native format records it in this
// package; the keepalived.conf front end (config/keepalived) through the
// exported names below.

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

// InstanceSource records where an instance's settings were written; a
// front end attaches one to each Instance it reads (Instance.SetSource).
type InstanceSource struct {
	format  Format
	prefix  string // "instances[0]" or "vrrp_instance[VI_1]"
	pos     [numFields]Pos
	peerPos []Pos
	// more holds the tracking settings: "track[J]", "order.nodes",
	// "notify.master"...
	more *Source
}

func newYAMLSource(idx int) *InstanceSource {
	prefix := "instances[" + strconv.Itoa(idx) + "]"
	return &InstanceSource{format: FormatYAML, prefix: prefix, more: NewSource(prefix)}
}

// NewKeepalivedSource returns the record for keepalived.conf's
// vrrp_instance NAME: diagnostics name its fields as keepalived.conf
// spells them ("vrrp_instance[VI_1].virtual_router_id").
func NewKeepalivedSource(name string) *InstanceSource {
	prefix := "vrrp_instance[" + name + "]"
	return &InstanceSource{format: FormatKeepalived, prefix: prefix, more: NewSource(prefix)}
}

// keepalivedField returns the field keepalived.conf spells keyword ("" is
// the instance itself), or false for a keyword that names no field.
func keepalivedField(keyword string) (field, bool) {
	for f, n := range keepalivedFieldNames {
		if n == keyword {
			return field(f), true
		}
	}
	return 0, false
}

// Mark records that the setting keepalived.conf spells keyword (one of
// "interface", "virtual_router_id", "version", "priority", "advert_int",
// "state", "nopreempt", "preempt_delay", "unicast_src_ip", "unicast_peer",
// "authentication", "virtual_ipaddress") was written at pos. Other
// keywords name no field of the model and are not recorded.
func (s *InstanceSource) Mark(keyword string, pos Pos) {
	if f, ok := keepalivedField(keyword); ok && keyword != "" {
		s.pos[f] = pos
	}
}

// MarkPeer records the position of the next unicast peer.
func (s *InstanceSource) MarkPeer(pos Pos) { s.peerPos = append(s.peerPos, pos) }

// More returns the record of the instance's tracking and notify settings
// ("track[0]", "notify.master"...).
func (s *InstanceSource) More() *Source { return s.more }

// At returns where the setting keepalived.conf spells keyword was written
// (the instance's own line if it was not) and the field name diagnostics
// give it; keyword "" is the instance itself.
func (s *InstanceSource) At(inst *Instance, keyword string) (Pos, string) {
	f, ok := keepalivedField(keyword)
	if !ok {
		pos := s.pos[fName]
		if pos.Line == 0 {
			pos = inst.Pos
		}
		return pos, joinField(s.prefix, keyword)
	}
	return s.at(inst, f)
}

// SetSource attaches the record of where i's settings were written.
func (i *Instance) SetSource(s *InstanceSource) { i.src = s }

// source returns the instance's source record, making a YAML-style one for
// instances built in code (idx is the instance's index in the Config).
func (i *Instance) source(idx int) *InstanceSource {
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
func (s *InstanceSource) at(inst *Instance, f field) (Pos, string) {
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
func (s *InstanceSource) vip(inst *Instance, j int) (Pos, string) {
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
func (s *InstanceSource) peer(inst *Instance, j int) (Pos, string) {
	pos, name := s.at(inst, fPeers)
	if j < len(s.peerPos) && s.peerPos[j].Line > 0 {
		pos = s.peerPos[j]
	}
	if s.format == FormatYAML {
		name += "[" + strconv.Itoa(j) + "]"
	}
	return pos, name
}

// Source records where the settings of one object (a check, a sync group,
// an instance's tracking settings, the global settings) were written, and
// how the user spelled them, for diagnostics. Keys are the native format's
// dotted paths below the object ("interval", "exec.command",
// "notify.master"); keepalived input records its own keyword as the name.
type Source struct {
	prefix string // "checks[0]", "vrrp_script[chk]"; "" for the global settings
	pos    map[string]Pos
	name   map[string]string
}

// NewSource returns an empty record for the object whose fields are named
// below prefix ("vrrp_script[chk]"; "" for the global settings).
func NewSource(prefix string) *Source {
	return &Source{prefix: prefix, pos: map[string]Pos{}, name: map[string]string{}}
}

// Set records key's position; name, if not empty, is the field as the user
// wrote it relative to the prefix ("script" for "exec.command").
func (s *Source) Set(key string, pos Pos, name string) {
	s.pos[key] = pos
	if name != "" {
		s.name[key] = name
	}
}

// at returns the position of key (def if unknown) and its full field name.
// It works on a nil Source, for objects built in code, with prefix given by
// the caller through def's object.
func (s *Source) at(key string, def Pos) (Pos, string) {
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
func (s *Source) nested(key string, def Pos) (Pos, string) {
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

// SetSource attaches the record of where c's global settings were
// written (node, scripts...); its prefix is "".
func (c *Config) SetSource(s *Source) { c.src = s }

// SetSource attaches the record of where c's settings were written.
func (c *Check) SetSource(s *Source) { c.src = s }

// SetSource attaches the record of where g's settings were written.
func (g *SyncGroup) SetSource(s *Source) { g.src = s }
