package config

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
	numFields
)

// Field names as each format spells them, so that a message names what the
// user wrote. An empty keepalived name means the instance itself.
var (
	yamlFieldNames = [numFields]string{
		"name", "interface", "vrid", "family", "version", "priority",
		"advert_interval", "state", "preempt", "preempt_delay",
		"unicast.source", "unicast.peers", "auth", "vips", "garp",
	}
	keepalivedFieldNames = [numFields]string{
		"", "interface", "virtual_router_id", "", "version", "priority",
		"advert_int", "state", "nopreempt", "preempt_delay",
		"unicast_src_ip", "unicast_peer", "authentication", "virtual_ipaddress", "garp",
	}
)

// instanceSource records where an instance's settings were written.
type instanceSource struct {
	format  Format
	prefix  string // "instances[0]" or "vrrp_instance[VI_1]"
	pos     [numFields]Pos
	peerPos []Pos
}

func newYAMLSource(idx int) *instanceSource {
	return &instanceSource{format: FormatYAML, prefix: "instances[" + strconv.Itoa(idx) + "]"}
}

func newKeepalivedSource(name string) *instanceSource {
	return &instanceSource{format: FormatKeepalived, prefix: "vrrp_instance[" + name + "]"}
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
