package gossip

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/config"
)

// Timing profiles, as in config.Gossip.Profile.
const (
	ProfileLAN   = "lan"
	ProfileWAN   = "wan"
	ProfileLocal = "local"
)

// delegateProtocol is the version of vipd's use of memberlist's user
// messages, announced to peers through memberlist's version vector.
const delegateProtocol = 1

// memberlistConfig turns the gossip section into a memberlist.Config:
// the profile's defaults, then the timing overrides, the cluster label and
// the addresses. Delegates, logger and keyring are New's business.
func memberlistConfig(cfg *config.Gossip, nodeName string) (*memberlist.Config, error) {
	var mc *memberlist.Config
	switch cfg.Profile {
	case "", ProfileLAN:
		mc = memberlist.DefaultLANConfig()
	case ProfileWAN:
		mc = memberlist.DefaultWANConfig()
	case ProfileLocal:
		mc = memberlist.DefaultLocalConfig()
	default:
		return nil, &ConfigError{Field: "profile", Err: fmt.Errorf("%q: want %s, %s or %s", cfg.Profile, ProfileLAN, ProfileWAN, ProfileLocal)}
	}
	if err := checkName("node name", nodeName); err != nil {
		return nil, &ConfigError{Field: "node name", Err: err}
	}
	mc.Name = nodeName

	// The label keeps clusters apart: memberlist drops packets and streams
	// whose label differs, and with encryption it is authenticated data.
	switch {
	case cfg.ClusterName == "":
		return nil, &ConfigError{Field: "cluster_name", Err: errors.New("required")}
	case len(cfg.ClusterName) > memberlist.LabelMaxSize:
		return nil, &ConfigError{Field: "cluster_name", Err: fmt.Errorf("longer than %d bytes", memberlist.LabelMaxSize)}
	}
	mc.Label = cfg.ClusterName

	mc.BindAddr = "0.0.0.0"
	if cfg.BindAddr.IsValid() {
		if cfg.BindAddr.Zone() != "" {
			return nil, &ConfigError{Field: "bind_addr", Err: errors.New("addresses with a zone are not supported")}
		}
		mc.BindAddr = cfg.BindAddr.String()
	}
	mc.BindPort = config.DefaultGossipPort
	if cfg.BindPort != 0 {
		if cfg.BindPort < 0 || cfg.BindPort > 65535 {
			return nil, &ConfigError{Field: "bind_port", Err: fmt.Errorf("%d out of range", cfg.BindPort)}
		}
		mc.BindPort = cfg.BindPort
	}
	mc.AdvertiseAddr = ""
	if cfg.AdvertiseAddr.IsValid() {
		if cfg.AdvertiseAddr.Zone() != "" || cfg.AdvertiseAddr.IsUnspecified() {
			return nil, &ConfigError{Field: "advertise_addr", Err: fmt.Errorf("%s cannot be dialled by peers", cfg.AdvertiseAddr)}
		}
		mc.AdvertiseAddr = cfg.AdvertiseAddr.String()
	}
	mc.AdvertisePort = mc.BindPort
	if cfg.AdvertisePort != 0 {
		if cfg.AdvertisePort < 0 || cfg.AdvertisePort > 65535 {
			return nil, &ConfigError{Field: "advertise_port", Err: fmt.Errorf("%d out of range", cfg.AdvertisePort)}
		}
		mc.AdvertisePort = cfg.AdvertisePort
	}

	if err := applyTimings(mc, cfg.Timings); err != nil {
		return nil, err
	}

	mc.DelegateProtocolVersion = delegateProtocol
	mc.DelegateProtocolMin = delegateProtocol
	mc.DelegateProtocolMax = delegateProtocol
	return mc, nil
}

// applyTimings overrides the profile's values with the non-zero timings.
func applyTimings(mc *memberlist.Config, t config.GossipTimings) error {
	durations := []struct {
		field string
		v     time.Duration
		dst   *time.Duration
	}{
		{"probe_interval", t.ProbeInterval, &mc.ProbeInterval},
		{"probe_timeout", t.ProbeTimeout, &mc.ProbeTimeout},
		{"gossip_interval", t.GossipInterval, &mc.GossipInterval},
		{"push_pull_interval", t.PushPullInterval, &mc.PushPullInterval},
	}
	for _, d := range durations {
		if d.v < 0 {
			return &ConfigError{Field: "timings." + d.field, Err: fmt.Errorf("negative duration %v", d.v)}
		}
		if d.v > 0 {
			*d.dst = d.v
		}
	}
	multipliers := []struct {
		field string
		v     int
		dst   *int
	}{
		{"suspicion_mult", t.SuspicionMult, &mc.SuspicionMult},
		{"retransmit_mult", t.RetransmitMult, &mc.RetransmitMult},
	}
	for _, m := range multipliers {
		if m.v < 0 {
			return &ConfigError{Field: "timings." + m.field, Err: fmt.Errorf("negative multiplier %d", m.v)}
		}
		if m.v > 0 {
			*m.dst = m.v
		}
	}
	// The probe timeout is the direct probe's share of one probe interval;
	// the rest is for indirect probes. A longer timeout leaves none.
	if mc.ProbeTimeout >= mc.ProbeInterval {
		return &ConfigError{Field: "timings.probe_timeout", Err: fmt.Errorf("%v is not shorter than the probe interval %v", mc.ProbeTimeout, mc.ProbeInterval)}
	}
	// The dead-node gossip must outlive detection, or a node that missed it
	// is never told.
	if mc.GossipToTheDeadTime < mc.PushPullInterval {
		mc.GossipToTheDeadTime = mc.PushPullInterval
	}
	return nil
}

// detectionTime bounds how long memberlist with configuration mc takes,
// in a cluster of n nodes, from a node's failure until every other node
// has declared it dead:
//
//	probe:      2 × (n−1) × ProbeInterval  until some member probes it, and
//	                                       that probe (direct + indirect) fails:
//	                                       each member probes the others one
//	                                       per interval in a shuffled round,
//	                                       so one that was probed first in a
//	                                       round may come last in the next
//	suspicion:  SuspicionMult × max(1, log10 n) × ProbeInterval
//	            × SuspicionMaxTimeoutMult   when n ≥ SuspicionMult, memberlist
//	                                       waits for k = SuspicionMult−2
//	                                       confirmations and, lacking them,
//	                                       up to this many times longer
//	spread:     RetransmitMult × ceil(log10(n+1)) × GossipInterval
//	                                       for the dead message to reach all
//
// Typically some member probes the failed one within an interval or two,
// so detection takes about 2 × ProbeInterval + suspicion + spread; the
// probe term above is the worst case. A graceful Leave is seen within the
// spread term alone. The bound is for
// a healthy prober; memberlist stretches its probe interval up to
// AwarenessMaxMultiplier times on a node that is itself struggling.
func detectionTime(mc *memberlist.Config, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	scale := math.Max(1, math.Log10(float64(n)))
	suspicion := time.Duration(float64(mc.SuspicionMult) * scale * float64(mc.ProbeInterval))
	if k := mc.SuspicionMult - 2; k >= 1 && n-2 >= k {
		suspicion *= time.Duration(mc.SuspicionMaxTimeoutMult)
	}
	spread := time.Duration(mc.RetransmitMult) * time.Duration(math.Ceil(math.Log10(float64(n+1)))) * mc.GossipInterval
	probe := 2 * time.Duration(max(1, n-1)) * mc.ProbeInterval
	return probe + suspicion + spread
}
