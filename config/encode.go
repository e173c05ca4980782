package config

import (
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EncodeYAML renders c in the native format with every setting explicit, so
// that loading the result gives the same instances (see
// Instance.SameSettings). It is what "vipd convert --from-keepalived" prints.
// A keepalived configuration that only loaded thanks to keepalived's leniency
// (VRRPv2 over IPv6, say) encodes faithfully but will not pass the native
// format's stricter validation; loading the output reports those errors.
func EncodeYAML(c *Config) ([]byte, error) {
	out := yamlOutConfig{Node: yamlOutNode{Name: c.Node.Name}}
	for _, inst := range c.Instances {
		out.Instances = append(out.Instances, encodeInstance(inst))
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// The yamlOut types fix the key order of the output.
type yamlOutConfig struct {
	Node      yamlOutNode       `yaml:"node"`
	Instances []yamlOutInstance `yaml:"instances,omitempty"`
}

type yamlOutNode struct {
	Name string `yaml:"name,omitempty"`
}

type yamlOutInstance struct {
	Name           string          `yaml:"name"`
	Interface      string          `yaml:"interface"`
	VRID           uint8           `yaml:"vrid"`
	Family         string          `yaml:"family"`
	Version        uint8           `yaml:"version"`
	Priority       uint8           `yaml:"priority"`
	AdvertInterval string          `yaml:"advert_interval"`
	State          string          `yaml:"state"`
	Preempt        bool            `yaml:"preempt"`
	PreemptDelay   string          `yaml:"preempt_delay,omitempty"`
	Unicast        *yamlOutUnicast `yaml:"unicast,omitempty"`
	Auth           *yamlOutAuth    `yaml:"auth,omitempty"`
	VIPs           []any           `yaml:"vips"`
	GARP           yamlOutGARP     `yaml:"garp"`
}

type yamlOutUnicast struct {
	Source string   `yaml:"source,omitempty"`
	Peers  []string `yaml:"peers,omitempty"`
}

type yamlOutAuth struct {
	Type     string `yaml:"type"`
	Password string `yaml:"password"`
}

type yamlOutVIP struct {
	Address   string `yaml:"address"`
	Interface string `yaml:"interface,omitempty"`
	Label     string `yaml:"label,omitempty"`
	Excluded  bool   `yaml:"excluded,omitempty"`
}

type yamlOutGARP struct {
	MasterDelay         string `yaml:"master_delay"`
	MasterRepeat        uint32 `yaml:"master_repeat"`
	MasterRefresh       string `yaml:"master_refresh"`
	MasterRefreshRepeat uint32 `yaml:"master_refresh_repeat"`
	Interval            string `yaml:"interval"`
	NAInterval          string `yaml:"na_interval"`
}

func encodeInstance(i *Instance) yamlOutInstance {
	o := yamlOutInstance{
		Name: i.Name, Interface: i.Interface, VRID: i.VRID,
		Family: strings.ToLower(i.Family.String()), Version: i.Version, Priority: i.Priority,
		AdvertInterval: i.AdvertInterval.String(), State: strings.ToLower(i.InitialState),
		Preempt: i.Preempt,
		GARP: yamlOutGARP{
			MasterDelay: i.GARP.MasterDelay.String(), MasterRepeat: i.GARP.MasterRepeat,
			MasterRefresh: i.GARP.MasterRefresh.String(), MasterRefreshRepeat: i.GARP.MasterRefreshRepeat,
			Interval: i.GARP.Interval.String(), NAInterval: i.GARP.NAInterval.String(),
		},
		VIPs: []any{},
	}
	if i.PreemptDelay != 0 {
		o.PreemptDelay = i.PreemptDelay.String()
	}
	if i.UnicastSource.IsValid() || len(i.UnicastPeers) > 0 {
		u := &yamlOutUnicast{}
		if i.UnicastSource.IsValid() {
			u.Source = i.UnicastSource.String()
		}
		for _, p := range i.UnicastPeers {
			u.Peers = append(u.Peers, p.String())
		}
		o.Unicast = u
	}
	if i.AuthPass != "" {
		o.Auth = &yamlOutAuth{Type: "pass", Password: i.AuthPass}
	}
	for _, v := range i.VIPs {
		addr := vipText(v.Prefix)
		if v.Label == "" && !v.Excluded && (v.Interface == "" || v.Interface == i.Interface) {
			o.VIPs = append(o.VIPs, addr)
			continue
		}
		ov := yamlOutVIP{Address: addr, Label: v.Label, Excluded: v.Excluded}
		if v.Interface != i.Interface {
			ov.Interface = v.Interface
		}
		o.VIPs = append(o.VIPs, ov)
	}
	return o
}

// vipText writes host routes without their length, as they are usually
// written.
func vipText(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}
