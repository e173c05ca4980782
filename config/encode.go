package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/notify"
)

// EncodeYAML renders c in the native format with every setting explicit, so
// that loading the result gives the same configuration (see
// Config.SameSettings). It is what "vipd convert --from-keepalived" and
// "vipd config print" print. The api section is always written in full,
// defaults included (a keepalived.conf has DefaultAPI), and each instance's
// or sync group's cloud section with every setting.
// A keepalived configuration that only loaded thanks to keepalived's leniency
// (VRRPv2 over IPv6, say) encodes faithfully but will not pass the native
// format's stricter validation; loading the output reports those errors.
func EncodeYAML(c *Config) ([]byte, error) {
	out := yamlOutConfig{
		Node:    encodeNode(&c.Node),
		VRRP:    yamlOutVRRP{FastTakeover: c.FastTakeover},
		Scripts: yamlOutScripts{Security: c.Scripts.Enforce, User: c.Scripts.User, Group: c.Scripts.Group},
	}
	if g := c.Gossip; g != nil {
		out.Gossip = encodeGossip(g)
	}
	out.API = encodeAPI(&c.API)
	out.History = encodeHistory(&c.History)
	for _, ch := range c.Checks {
		out.Checks = append(out.Checks, encodeCheck(ch))
	}
	for _, inst := range c.Instances {
		out.Instances = append(out.Instances, encodeInstance(inst))
	}
	for _, g := range c.SyncGroups {
		out.SyncGroups = append(out.SyncGroups, yamlOutGroup{
			Name: g.Name, Instances: g.Instances, Notify: encodeNotify(&g.Notify), Cloud: encodeCloud(g.Cloud),
		})
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

// SameSettings reports whether c and o configure the same behaviour: node,
// globals, gossip, api, checks, instances and sync groups (their cloud
// sections included) equal in order and settings, positions, formats and
// warnings aside. It is EncodeYAML's
// contract: loading the encoding of c gives a configuration with the same
// settings as c.
func (c *Config) SameSettings(o *Config) bool { return len(c.Differences(o)) == 0 }

// Differences lists, one a line, what SameSettings found different between
// c and o (empty when they configure the same behaviour), so that a failed
// comparison can say where.
func (c *Config) Differences(o *Config) []string {
	if c == nil || o == nil {
		if c == o {
			return nil
		}
		return []string{"one configuration is missing"}
	}
	var out []string
	diff := func(what string, a, b any) { out = append(out, fmt.Sprintf("%s: %+v vs %+v", what, a, b)) }
	if c.Node != o.Node {
		diff("node", c.Node, o.Node)
	}
	if c.FastTakeover != o.FastTakeover {
		diff("vrrp.fast_takeover", c.FastTakeover, o.FastTakeover)
	}
	if c.Scripts != o.Scripts {
		diff("scripts", c.Scripts, o.Scripts)
	}
	if !c.Gossip.SameSettings(o.Gossip) {
		diff("gossip", c.Gossip, o.Gossip)
	}
	if !c.API.SameSettings(&o.API) {
		diff("api", apiText(&c.API), apiText(&o.API))
	}
	if !c.History.SameSettings(&o.History) {
		diff("history", c.History, o.History)
	}
	compareLists(&out, "checks", c.Checks, o.Checks, func(a *Check) string { return a.Name }, (*Check).SameSettings)
	compareLists(&out, "instances", c.Instances, o.Instances, func(a *Instance) string { return a.Name }, (*Instance).SameSettings)
	compareLists(&out, "sync_groups", c.SyncGroups, o.SyncGroups, func(a *SyncGroup) string { return a.Name }, (*SyncGroup).SameSettings)
	// The lines above show a cloud section as a pointer: spell out the
	// sections that differ.
	if len(c.Instances) == len(o.Instances) {
		for i, a := range c.Instances {
			if b := o.Instances[i]; !a.Cloud.SameSettings(b.Cloud) {
				diff(fmt.Sprintf("instances[%d] (%s).cloud", i, a.Name), cloudText(a.Cloud), cloudText(b.Cloud))
			}
		}
	}
	if len(c.SyncGroups) == len(o.SyncGroups) {
		for i, a := range c.SyncGroups {
			if b := o.SyncGroups[i]; !a.Cloud.SameSettings(b.Cloud) {
				diff(fmt.Sprintf("sync_groups[%d] (%s).cloud", i, a.Name), cloudText(a.Cloud), cloudText(b.Cloud))
			}
		}
	}
	return out
}

// cloudText renders a cloud section on one line, as YAML flow style.
func cloudText(c *Cloud) string {
	if c == nil {
		return "none"
	}
	var n yaml.Node
	if err := n.Encode(encodeCloud(c)); err != nil {
		return err.Error()
	}
	n.Style = yaml.FlowStyle
	b, err := yaml.Marshal(&n)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}

// compareLists notes a length mismatch or each pair of entries that differ.
func compareLists[T any](out *[]string, what string, a, b []*T, name func(*T) string, same func(*T, *T) bool) {
	if len(a) != len(b) {
		*out = append(*out, fmt.Sprintf("%s: %d vs %d entries", what, len(a), len(b)))
		return
	}
	for i := range a {
		if !same(a[i], b[i]) {
			*out = append(*out, fmt.Sprintf("%s[%d] (%s): %+v vs %+v", what, i, name(a[i]), *a[i], *b[i]))
		}
	}
}

// The yamlOut types fix the key order of the output.
type yamlOutConfig struct {
	Node       yamlOutNode       `yaml:"node"`
	VRRP       yamlOutVRRP       `yaml:"vrrp"`
	Scripts    yamlOutScripts    `yaml:"scripts"`
	Gossip     *yamlOutGossip    `yaml:"gossip,omitempty"`
	API        yamlOutAPI        `yaml:"api"`
	History    *yamlOutHistory   `yaml:"history,omitempty"`
	Checks     []yamlOutCheck    `yaml:"checks,omitempty"`
	Instances  []yamlOutInstance `yaml:"instances,omitempty"`
	SyncGroups []yamlOutGroup    `yaml:"sync_groups,omitempty"`
}

type yamlOutVRRP struct {
	FastTakeover bool `yaml:"fast_takeover"`
}

type yamlOutScripts struct {
	Security bool   `yaml:"security"`
	User     string `yaml:"user,omitempty"`
	Group    string `yaml:"group,omitempty"`
}

type yamlOutCheck struct {
	Name          string `yaml:"name"`
	Interval      string `yaml:"interval"`
	Timeout       string `yaml:"timeout"`
	Fall          int    `yaml:"fall"`
	Rise          int    `yaml:"rise"`
	Weight        int    `yaml:"weight"`
	WeightReverse bool   `yaml:"weight_reverse,omitempty"`
	InitFail      bool   `yaml:"init_fail,omitempty"`
	// Kind holds the one kind's block, keyed by the kind, as
	// encodeSettings writes its settings.
	Kind map[string]*yaml.Node `yaml:",inline"`
}

type yamlOutTrack struct {
	Check         string `yaml:"check"`
	Weight        int    `yaml:"weight"`
	WeightReverse bool   `yaml:"weight_reverse,omitempty"`
}

type yamlOutOrder struct {
	Nodes      []string `yaml:"nodes,omitempty"`
	File       string   `yaml:"file,omitempty"`
	Reverse    bool     `yaml:"reverse,omitempty"`
	Priorities []int    `yaml:"priorities"`
	Unhealthy  string   `yaml:"unhealthy"`
}

// yamlOutNotify lists the scripts in a fixed order; each is a list of
// words, or {command, user, group} when it has its own user.
type yamlOutNotify struct {
	Any              any    `yaml:"any,omitempty"`
	Master           any    `yaml:"master,omitempty"`
	Backup           any    `yaml:"backup,omitempty"`
	Fault            any    `yaml:"fault,omitempty"`
	Stop             any    `yaml:"stop,omitempty"`
	MasterRxLowerPri any    `yaml:"master_rx_lower_pri,omitempty"`
	Timeout          string `yaml:"timeout"`
}

type yamlOutScript struct {
	Command []string `yaml:"command"`
	User    string   `yaml:"user,omitempty"`
	Group   string   `yaml:"group,omitempty"`
}

type yamlOutGroup struct {
	Name      string         `yaml:"name"`
	Instances []string       `yaml:"instances"`
	Notify    *yamlOutNotify `yaml:"notify,omitempty"`
	Cloud     *yamlOutCloud  `yaml:"cloud,omitempty"`
}

type yamlOutNode struct {
	Name       string             `yaml:"name,omitempty"`
	Scheduling *yamlOutScheduling `yaml:"scheduling,omitempty"`
	LockMemory bool               `yaml:"lock_memory,omitempty"`
}

// yamlOutScheduling is node.scheduling, written only when it changes
// something.
type yamlOutScheduling struct {
	Policy   string `yaml:"policy"`
	Priority int    `yaml:"priority,omitempty"`
	Nice     int    `yaml:"nice,omitempty"`
}

func encodeNode(n *Node) yamlOutNode {
	o := yamlOutNode{Name: n.Name, LockMemory: n.LockMemory}
	if s := n.Scheduling; !s.IsZero() {
		pol := s.Policy
		if pol == "" {
			pol = SchedOther
		}
		o.Scheduling = &yamlOutScheduling{Policy: string(pol), Priority: s.Priority, Nice: s.Nice}
	}
	return o
}

type yamlOutInstance struct {
	Name           string          `yaml:"name"`
	Interface      string          `yaml:"interface"`
	VRID           uint8           `yaml:"vrid"`
	Family         string          `yaml:"family"`
	Version        uint8           `yaml:"version"`
	Priority       *uint8          `yaml:"priority,omitempty"`
	AdvertInterval string          `yaml:"advert_interval"`
	State          string          `yaml:"state"`
	Preempt        bool            `yaml:"preempt"`
	PreemptDelay   string          `yaml:"preempt_delay,omitempty"`
	Unicast        *yamlOutUnicast `yaml:"unicast,omitempty"`
	Peers          string          `yaml:"peers,omitempty"`
	Auth           *yamlOutAuth    `yaml:"auth,omitempty"`
	VIPs           []any           `yaml:"vips"`
	GARP           yamlOutGARP     `yaml:"garp"`
	Track          []any           `yaml:"track,omitempty"`
	Order          *yamlOutOrder   `yaml:"order,omitempty"`
	Notify         *yamlOutNotify  `yaml:"notify,omitempty"`
	Cloud          *yamlOutCloud   `yaml:"cloud,omitempty"`
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
		Family: i.Family.Label(), Version: i.Version,
		AdvertInterval: i.AdvertInterval.String(), State: strings.ToLower(i.InitialState.String()),
		Preempt: i.Preempt,
		GARP: yamlOutGARP{
			MasterDelay: i.GARP.MasterDelay.String(), MasterRepeat: i.GARP.MasterRepeat,
			MasterRefresh: i.GARP.MasterRefresh.String(), MasterRefreshRepeat: i.GARP.MasterRefreshRepeat,
			Interval: i.GARP.Interval.String(), NAInterval: i.GARP.NAInterval.String(),
		},
		VIPs: []any{},
	}
	// An instance with an order takes its priority from it: the native
	// format rejects a priority next to an order.
	if i.Order == nil {
		o.Priority = &i.Priority
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
	if i.PeersFromGossip {
		o.Peers = "gossip"
	}
	if i.AuthPass != "" {
		o.Auth = &yamlOutAuth{Type: "pass", Password: i.AuthPass}
	}
	for _, t := range i.Track {
		if t.Weight == nil {
			o.Track = append(o.Track, t.Check)
		} else {
			o.Track = append(o.Track, yamlOutTrack{Check: t.Check, Weight: *t.Weight, WeightReverse: t.WeightReverse})
		}
	}
	if or := i.Order; or != nil {
		oo := &yamlOutOrder{Nodes: or.Nodes, File: or.File, Reverse: or.Reverse, Unhealthy: string(or.Unhealthy)}
		for _, p := range or.Priorities {
			oo.Priorities = append(oo.Priorities, int(p))
		}
		o.Order = oo
	}
	o.Notify = encodeNotify(&i.Notify)
	o.Cloud = encodeCloud(i.Cloud)
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

// encodeNotify returns nil for no scripts and the default timeout.
func encodeNotify(n *notify.Config) *yamlOutNotify {
	if n.Empty() && n.Timeout == notify.DefaultTimeout {
		return nil
	}
	out := &yamlOutNotify{Timeout: n.Timeout.String()}
	dst := map[notify.Script]*any{
		notify.ScriptAny: &out.Any, notify.ScriptMaster: &out.Master, notify.ScriptBackup: &out.Backup,
		notify.ScriptFault: &out.Fault, notify.ScriptStop: &out.Stop, notify.ScriptMasterRxLowerPri: &out.MasterRxLowerPri,
	}
	for _, e := range notify.Scripts() {
		cmd := n.Command(e)
		switch u := n.User(e); {
		case cmd == nil:
		case u != (notify.User{}):
			*dst[e] = yamlOutScript{Command: cmd, User: u.User, Group: u.Group}
		default:
			*dst[e] = cmd
		}
	}
	return out
}

func encodeCheck(c *Check) yamlOutCheck {
	o := yamlOutCheck{
		Name: c.Name, Interval: c.Interval.String(), Timeout: c.Timeout.String(),
		Fall: c.Fall, Rise: c.Rise, Weight: c.Weight, WeightReverse: c.WeightReverse, InitFail: c.InitFail,
	}
	// The first kind with settings, whatever Kind says: a valid check
	// has just that one.
	for _, k := range checks.Kinds() {
		if st := c.SettingsOf(k); st != nil {
			o.Kind = map[string]*yaml.Node{string(k): encodeSettings(st)}
			break
		}
	}
	return o
}

type yamlOutGossip struct {
	ClusterName string               `yaml:"cluster_name"`
	Bind        yamlOutEndpoint      `yaml:"bind"`
	Advertise   *yamlOutEndpoint     `yaml:"advertise,omitempty"`
	Join        []string             `yaml:"join,omitempty"`
	Keys        []string             `yaml:"keys,omitempty"`
	KeyFile     string               `yaml:"key_file,omitempty"`
	Profile     string               `yaml:"profile"`
	Timings     *yamlOutGossipTiming `yaml:"timings,omitempty"`
	AZ          string               `yaml:"az,omitempty"`
	StateFile   string               `yaml:"state_file"`
	// Reconnection and the join hold, always written: their defaults
	// depend on other keys (require_join) or are worth seeing.
	ReconnectInterval  string `yaml:"reconnect_interval,omitempty"`
	ReconnectTimeout   string `yaml:"reconnect_timeout,omitempty"`
	RequireJoin        bool   `yaml:"require_join"`
	RequireJoinTimeout string `yaml:"require_join_timeout,omitempty"`
}

type yamlOutEndpoint struct {
	Address string `yaml:"address,omitempty"`
	Port    int    `yaml:"port,omitempty"`
}

// yamlOutGossipTiming holds only the overrides: the profile gives the rest.
type yamlOutGossipTiming struct {
	ProbeInterval    string `yaml:"probe_interval,omitempty"`
	ProbeTimeout     string `yaml:"probe_timeout,omitempty"`
	SuspicionMult    int    `yaml:"suspicion_mult,omitempty"`
	GossipInterval   string `yaml:"gossip_interval,omitempty"`
	PushPullInterval string `yaml:"push_pull_interval,omitempty"`
	RetransmitMult   int    `yaml:"retransmit_mult,omitempty"`
}

func encodeGossip(g *Gossip) *yamlOutGossip {
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	o := &yamlOutGossip{
		ClusterName: g.ClusterName,
		Bind:        yamlOutEndpoint{Address: addr(g.BindAddr), Port: g.BindPort},
		Join:        g.Join, Keys: g.Keys, KeyFile: g.KeyFile,
		Profile: g.Profile, AZ: g.AZ, StateFile: g.StateFile,
		ReconnectInterval: dur(g.ReconnectInterval), ReconnectTimeout: dur(g.ReconnectTimeout),
		RequireJoin: g.RequireJoin, RequireJoinTimeout: dur(g.RequireJoinTimeout),
	}
	if g.AdvertiseAddr.IsValid() || g.AdvertisePort != 0 {
		o.Advertise = &yamlOutEndpoint{Address: addr(g.AdvertiseAddr), Port: g.AdvertisePort}
	}
	if t := g.Timings; t != (GossipTimings{}) {
		o.Timings = &yamlOutGossipTiming{
			ProbeInterval: dur(t.ProbeInterval), ProbeTimeout: dur(t.ProbeTimeout), SuspicionMult: t.SuspicionMult,
			GossipInterval: dur(t.GossipInterval), PushPullInterval: dur(t.PushPullInterval), RetransmitMult: t.RetransmitMult,
		}
	}
	return o
}

// yamlOutAPI writes every key but the optional ones left unset: socket ""
// and listen [] are meaningful (no socket, no TCP), so they are always
// written.
type yamlOutAPI struct {
	Socket        string         `yaml:"socket"`
	Listen        []string       `yaml:"listen"`
	Advertise     string         `yaml:"advertise,omitempty"`
	TLS           *yamlOutAPITLS `yaml:"tls,omitempty"`
	TokenFile     string         `yaml:"token_file,omitempty"`
	ReadTokenFile string         `yaml:"read_token_file,omitempty"`
	PublicRead    bool           `yaml:"public_read"`
}

type yamlOutAPITLS struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca,omitempty"`
}

func encodeAPI(a *API) yamlOutAPI {
	o := yamlOutAPI{
		Socket: a.Socket, Listen: []string{}, Advertise: a.Advertise,
		// public_read as it acts: true without any token file, so the
		// printed default says that reads over TCP are open (and, without
		// token_file, commands over TCP refused).
		TokenFile: a.TokenFile, ReadTokenFile: a.ReadTokenFile, PublicRead: a.ReadsOpen(),
	}
	for _, ap := range a.Listen {
		o.Listen = append(o.Listen, ap.String())
	}
	if t := a.TLS; t != nil {
		o.TLS = &yamlOutAPITLS{Cert: t.Cert, Key: t.Key, ClientCA: t.ClientCA}
	}
	return o
}

// apiText renders an API section for Differences (the struct itself holds
// pointers).
func apiText(a *API) string {
	tls := "none"
	if a.TLS != nil {
		tls = fmt.Sprintf("%+v", *a.TLS)
	}
	return fmt.Sprintf("{socket %q listen %v advertise %q tls %s token_file %q read_token_file %q public_read %v}",
		a.Socket, a.Listen, a.Advertise, tls, a.TokenFile, a.ReadTokenFile, a.ReadsOpen())
}

// yamlOutCloud writes every setting of a cloud section, defaults included.
type yamlOutCloud struct {
	Region            string          `yaml:"region,omitempty"`
	Endpoint          string          `yaml:"endpoint,omitempty"`
	OnFailure         string          `yaml:"on_failure"`
	ReconcileInterval string          `yaml:"reconcile_interval"`
	RefreshInterval   string          `yaml:"refresh_interval"`
	CallTimeout       string          `yaml:"call_timeout"`
	RetryBudget       string          `yaml:"retry_budget"`
	FaultHold         string          `yaml:"fault_hold"`
	SkipDryRun        bool            `yaml:"skip_dry_run,omitempty"`
	Actions           []yamlOutAction `yaml:"actions"`
}

// yamlOutAction has exactly one kind set, as the format requires: its
// block, keyed by the kind, as encodeSettings writes its settings.
type yamlOutAction map[string]*yaml.Node

// encodeCloud returns nil for no section.
func encodeCloud(c *Cloud) *yamlOutCloud {
	if c == nil {
		return nil
	}
	o := &yamlOutCloud{
		Region: c.Region, Endpoint: c.Endpoint, OnFailure: string(c.OnFailure),
		ReconcileInterval: c.ReconcileInterval.String(), RefreshInterval: c.RefreshInterval.String(),
		CallTimeout: c.CallTimeout.String(), RetryBudget: c.RetryBudget.String(), FaultHold: c.FaultHold.String(),
		SkipDryRun: c.SkipDryRun, Actions: []yamlOutAction{},
	}
	for _, a := range c.Actions {
		oa := yamlOutAction{}
		// The first kind with settings, whatever Kind says: a valid
		// action has just that one.
		for _, k := range cloudmove.Kinds() {
			if st := a.SettingsOf(k); st != nil {
				oa[string(k)] = encodeSettings(st)
				break
			}
		}
		o.Actions = append(o.Actions, oa)
	}
	return o
}
