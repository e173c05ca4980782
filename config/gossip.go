package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Gossip is the cluster membership layer (hashicorp/memberlist): it gives
// every node the whole picture (members, instance states, check results,
// orders) and finds unicast peers. VRRP remains the election. Only the
// native format has it: keepalived.conf has no such section.
type Gossip struct {
	// Pos is where the gossip section is.
	Pos Pos
	// ClusterName labels every gossip packet (memberlist's Label), so two
	// clusters never merge. Required: 1-255 bytes (memberlist's
	// LabelMaxSize), printable.
	ClusterName string
	// BindAddr and BindPort are where gossip listens (TCP and UDP);
	// defaults 0.0.0.0 and 7946 (loading and DefaultGossip fill them in).
	BindAddr netip.Addr
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other members dial; zero
	// means the bind address (or the first private address when bound to
	// all) and the bind port.
	AdvertiseAddr netip.Addr
	AdvertisePort int
	// Join lists members to join at start, "host" or "host:port" (DNS
	// names allowed, IPv6 addresses as "[addr]:port"; no port means the
	// bind port); retried with backoff until one answers.
	Join []string
	// Keys are the encryption keys, base64-encoded AES keys of 16, 24 or
	// 32 bytes (see DecodeGossipKey); the first encrypts, all decrypt
	// (rotation: add the new key everywhere, make it first, then drop the
	// old one). KeyFile, an absolute path, when set holds more keys, one
	// per line, read by the gossip layer at start and on reload (a load does
	// not open it). With no key at all gossip is not encrypted (a warning
	// says so).
	Keys    []string
	KeyFile string
	// Profile is the timing profile: GossipProfileLAN (default),
	// GossipProfileWAN or GossipProfileLocal.
	Profile string
	// Timings override single values of the profile; zero keeps it.
	Timings GossipTimings
	// AZ is this node's availability zone, shown in the cluster view;
	// empty means unknown, GossipAZFromIMDS ("imds") reads it from EC2's
	// instance metadata at start. At most MaxGossipAZLen printable bytes.
	AZ string
	// StateFile persists cluster-wide state (orders, and the addresses of
	// the members last known) across restarts; an absolute path, default
	// DefaultGossipStateFile.
	StateFile string
	// ReconnectInterval is how often this node tries again to join the
	// members it declared failed, the join addresses that are not live
	// members and the members remembered in the state file, so that a
	// cluster split by a partition merges again once it heals (memberlist
	// alone never talks to a dead member again). Default
	// DefaultGossipReconnectInterval.
	ReconnectInterval time.Duration
	// ReconnectTimeout is how long after a member failed it is still
	// tried (and kept as a unicast peer); a member that left gracefully is
	// not tried. While this node sees no other live member it keeps trying
	// everything. Default DefaultGossipReconnectTimeout.
	ReconnectTimeout time.Duration
	// RequireJoin holds every instance with `peers: gossip` in BACKUP
	// until this node has joined at least one other member since it
	// started: a node that cannot join (a mistyped key, a wrong cluster
	// name, a firewall) must not become a second master on its own. The
	// native format's default is true when Join lists anything.
	RequireJoin bool
	// RequireJoinTimeout, if not zero, ends that hold after this long
	// even if no member was joined: the escape for a genuine one-node
	// start (another is `require_join: false` and a reload). Zero waits
	// for a join however long it takes.
	RequireJoinTimeout time.Duration

	// src records where each setting was written; nil for sections built
	// in code.
	src *Source
}

// GossipTimings are memberlist's failure-detection and dissemination
// timings; see docs/architecture.md for the detection time they give.
// A zero field keeps the profile's value (GossipProfileTimings).
type GossipTimings struct {
	// ProbeInterval is how often a random member is probed.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a direct probe waits for its ack before
	// asking others to probe indirectly; less than ProbeInterval.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspected member has to refute
	// before it is declared dead (SuspicionMult * log(N+1) * ProbeInterval).
	SuspicionMult int
	// GossipInterval is how often queued broadcasts are sent.
	GossipInterval time.Duration
	// PushPullInterval is how often full state is exchanged over TCP with
	// a random member.
	PushPullInterval time.Duration
	// RetransmitMult scales how many times a broadcast is retransmitted.
	RetransmitMult int
}

// Gossip defaults.
const (
	DefaultGossipPort      = 7946
	DefaultGossipProfile   = GossipProfileLAN
	DefaultGossipStateFile = "/var/lib/vipd/state.json"
	// DefaultGossipReconnectInterval is short next to every profile's
	// push/pull interval, so that a healed partition merges well within
	// one push/pull interval.
	DefaultGossipReconnectInterval = 10 * time.Second
	// DefaultGossipReconnectTimeout is serf's: a day.
	DefaultGossipReconnectTimeout = 24 * time.Hour
)

// Gossip timing profiles: memberlist's DefaultLANConfig, DefaultWANConfig
// and DefaultLocalConfig.
const (
	GossipProfileLAN   = "lan"
	GossipProfileWAN   = "wan"
	GossipProfileLocal = "local"
)

// Limits of gossip settings.
const (
	// MaxGossipClusterNameLen is memberlist's LabelMaxSize: the label is
	// sent with a one-byte length.
	MaxGossipClusterNameLen = 255
	// MaxGossipAZLen bounds the availability zone, which travels in this
	// node's gossip metadata (memberlist caps all of it at 512 bytes).
	MaxGossipAZLen = 64
	// GossipAZFromIMDS as the az takes the zone from EC2's instance
	// metadata at start.
	GossipAZFromIMDS = "imds"
)

// GossipProfiles returns the profile names, default first.
func GossipProfiles() []string {
	return []string{GossipProfileLAN, GossipProfileWAN, GossipProfileLocal}
}

// GossipProfileTimings returns the timings of a profile as memberlist
// v0.7.0 sets them, and false for an unknown profile.
func GossipProfileTimings(profile string) (GossipTimings, bool) {
	lan := GossipTimings{
		ProbeInterval: time.Second, ProbeTimeout: 500 * time.Millisecond, SuspicionMult: 4,
		GossipInterval: 200 * time.Millisecond, PushPullInterval: 30 * time.Second, RetransmitMult: 4,
	}
	switch profile {
	case GossipProfileLAN:
		return lan, true
	case GossipProfileWAN:
		return GossipTimings{
			ProbeInterval: 5 * time.Second, ProbeTimeout: 3 * time.Second, SuspicionMult: 6,
			GossipInterval: 500 * time.Millisecond, PushPullInterval: 60 * time.Second, RetransmitMult: 4,
		}, true
	case GossipProfileLocal:
		return GossipTimings{
			ProbeInterval: time.Second, ProbeTimeout: 200 * time.Millisecond, SuspicionMult: 3,
			GossipInterval: 100 * time.Millisecond, PushPullInterval: 15 * time.Second, RetransmitMult: 2,
		}, true
	}
	return GossipTimings{}, false
}

// DefaultGossip returns a gossip section with every default filled in
// (ClusterName is left for the caller).
func DefaultGossip() *Gossip {
	return &Gossip{
		BindAddr:          netip.IPv4Unspecified(),
		BindPort:          DefaultGossipPort,
		Profile:           DefaultGossipProfile,
		StateFile:         DefaultGossipStateFile,
		ReconnectInterval: DefaultGossipReconnectInterval,
		ReconnectTimeout:  DefaultGossipReconnectTimeout,
	}
}

// EffectiveTimings returns the profile's timings (the default profile's if
// Profile is unknown) with the non-zero Timings laid over them: what
// memberlist runs with.
func (g *Gossip) EffectiveTimings() GossipTimings {
	t, ok := GossipProfileTimings(g.Profile)
	if !ok {
		t, _ = GossipProfileTimings(DefaultGossipProfile)
	}
	o := g.Timings
	set := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	set(&t.ProbeInterval, o.ProbeInterval)
	set(&t.ProbeTimeout, o.ProbeTimeout)
	set(&t.GossipInterval, o.GossipInterval)
	set(&t.PushPullInterval, o.PushPullInterval)
	if o.SuspicionMult != 0 {
		t.SuspicionMult = o.SuspicionMult
	}
	if o.RetransmitMult != 0 {
		t.RetransmitMult = o.RetransmitMult
	}
	return t
}

// Encrypted reports whether the section has a key or a key file.
func (g *Gossip) Encrypted() bool { return len(g.Keys) > 0 || g.KeyFile != "" }

// SameSettings reports whether g and o configure the same gossip layer:
// every field equal except the position. Both nil counts as the same.
func (g *Gossip) SameSettings(o *Gossip) bool {
	if g == nil || o == nil {
		return g == o
	}
	return g.ClusterName == o.ClusterName && g.BindAddr == o.BindAddr && g.BindPort == o.BindPort &&
		g.AdvertiseAddr == o.AdvertiseAddr && g.AdvertisePort == o.AdvertisePort &&
		slices.Equal(g.Join, o.Join) && slices.Equal(g.Keys, o.Keys) && g.KeyFile == o.KeyFile &&
		g.Profile == o.Profile && g.Timings == o.Timings && g.AZ == o.AZ && g.StateFile == o.StateFile &&
		g.ReconnectInterval == o.ReconnectInterval && g.ReconnectTimeout == o.ReconnectTimeout &&
		g.RequireJoin == o.RequireJoin && g.RequireJoinTimeout == o.RequireJoinTimeout
}

// ErrGossipKey is wrapped by DecodeGossipKey's errors.
var ErrGossipKey = errors.New("invalid gossip key")

// DecodeGossipKey decodes one gossip encryption key: standard base64 (as
// "openssl rand -base64 32" prints it) of 16, 24 or 32 bytes, for AES-128,
// -192 or -256. Its errors wrap ErrGossipKey and never quote the key, so
// that they can be logged.
func DecodeGossipKey(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrGossipKey)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64 (%d characters)", ErrGossipKey, len(s))
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("%w: decodes to %d bytes, not 16, 24 or 32 (AES-128, -192, -256)", ErrGossipKey, len(key))
}
