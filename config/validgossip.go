package config

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the rules for the gossip section and "peers: gossip",
// shared by the native format and configurations built in code
// (keepalived.conf has no gossip).

// gossip validates c.Gossip and the instances that take peers from it.
func (v *validator) gossip(c *Config) {
	for idx, inst := range c.Instances {
		if inst.PeersFromGossip && c.Gossip == nil {
			pos, f := inst.source(idx).at(inst, fPeersFrom)
			v.d.err(pos, f, "peers: gossip needs a top-level gossip section")
		}
	}
	g := c.Gossip
	if g == nil {
		return
	}
	src := g.src
	if src == nil {
		src = NewSource("gossip")
	}
	at := func(key string) (Pos, string) { return src.nested(key, g.Pos) }
	fail := func(key, msg string) {
		pos, f := at(key)
		v.d.err(pos, f, msg)
	}

	switch n := len(g.ClusterName); {
	case n == 0:
		fail("cluster_name", "is required (it keeps clusters from merging)")
	case n > MaxGossipClusterNameLen:
		fail("cluster_name", fmt.Sprintf("is %d bytes, at most %d", n, MaxGossipClusterNameLen))
	case !printable(g.ClusterName):
		fail("cluster_name", fmt.Sprintf("%q must be printable UTF-8 text", g.ClusterName))
	}

	switch a := g.BindAddr; {
	case !a.IsValid():
		fail("bind.address", "is required (0.0.0.0 for every address)")
	case a.Zone() != "":
		fail("bind.address", fmt.Sprintf("%v: zones are not supported", a))
	case a.IsMulticast():
		fail("bind.address", fmt.Sprintf("%v is a multicast address", a))
	}
	if g.BindPort < 1 || g.BindPort > math.MaxUint16 {
		fail("bind.port", fmt.Sprintf("%d is out of range 1-65535", g.BindPort))
	}
	if a := g.AdvertiseAddr; a.IsValid() {
		switch {
		case a.Zone() != "":
			fail("advertise.address", fmt.Sprintf("%v: zones are not supported", a))
		case a.IsUnspecified() || a.IsMulticast():
			fail("advertise.address", fmt.Sprintf("%v is not an address other members can reach", a))
		}
	}
	if g.AdvertisePort < 0 || g.AdvertisePort > math.MaxUint16 {
		fail("advertise.port", fmt.Sprintf("%d is out of range 1-65535", g.AdvertisePort))
	}

	seenJoin := map[string]int{}
	for j, s := range g.Join {
		key := "join[" + strconv.Itoa(j) + "]"
		if msg := checkJoin(s); msg != "" {
			fail(key, msg)
		} else if prev, dup := seenJoin[s]; dup {
			fail(key, fmt.Sprintf("%q is already listed (entry %d)", s, prev))
		} else {
			seenJoin[s] = j
		}
	}

	if len(g.Join) > 0 && len(seenJoin) == len(g.Join) && joinsOnlySelf(g) {
		pos, f := at("join")
		v.d.warn(pos, f, "names only this node: it is skipped, so this node joins nobody by itself and, "+
			"once the others have declared it dead (after a restart, say), only the members remembered in "+
			"state_file can bring it back; list the other nodes too")
	}
	switch {
	case g.ReconnectInterval < 0:
		fail("reconnect_interval", "must be greater than 0")
	case g.ReconnectTimeout < 0:
		fail("reconnect_timeout", "must be greater than 0")
	case g.ReconnectInterval > 0 && g.ReconnectTimeout > 0 && g.ReconnectTimeout < g.ReconnectInterval:
		fail("reconnect_timeout", fmt.Sprintf("%v is shorter than reconnect_interval %v: a failed member would never be tried", g.ReconnectTimeout, g.ReconnectInterval))
	}
	if g.RequireJoinTimeout < 0 {
		fail("require_join_timeout", "must not be negative (0 waits for a join however long it takes)")
	}

	decoded := make([][]byte, len(g.Keys)) // nil where invalid
	for j, s := range g.Keys {
		key := "keys[" + strconv.Itoa(j) + "]"
		k, err := DecodeGossipKey(s)
		if err != nil {
			fail(key, err.Error())
			continue
		}
		decoded[j] = k
		for prev := range j {
			if bytes.Equal(k, decoded[prev]) {
				_, pf := at("keys[" + strconv.Itoa(prev) + "]")
				fail(key, "is the same key as "+strings.TrimPrefix(pf, src.prefix+"."))
				break
			}
		}
	}
	if g.KeyFile != "" && !filepath.IsAbs(g.KeyFile) {
		fail("key_file", fmt.Sprintf("%q must be an absolute path", g.KeyFile))
	}

	if _, ok := GossipProfileTimings(g.Profile); !ok {
		fail("profile", fmt.Sprintf("%q is not %s", g.Profile, strings.Join(GossipProfiles(), ", ")))
	} else {
		v.gossipTimings(g, at, fail)
	}

	if len(g.AZ) > MaxGossipAZLen {
		fail("az", fmt.Sprintf("is %d bytes, at most %d", len(g.AZ), MaxGossipAZLen))
	} else if !printable(g.AZ) {
		fail("az", fmt.Sprintf("%q must be printable UTF-8 text", g.AZ))
	}
	switch {
	case g.StateFile == "":
		fail("state_file", "is required (default "+DefaultGossipStateFile+")")
	case !filepath.IsAbs(g.StateFile):
		fail("state_file", fmt.Sprintf("%q must be an absolute path", g.StateFile))
	case g.KeyFile != "" && filepath.Clean(g.StateFile) == filepath.Clean(g.KeyFile):
		fail("state_file", "must not be the key_file (saving state would overwrite the keys)")
	}

	if !g.Encrypted() {
		v.d.warn(g.Pos, src.prefix, "gossip is not encrypted: no keys and no key_file, so anyone who reaches the gossip port can read the cluster's state and join it")
	}
}

// gossipTimings checks the overrides (zero keeps the profile's value) and
// the timings they give with the profile.
func (v *validator) gossipTimings(g *Gossip, at func(string) (Pos, string), fail func(key, msg string)) {
	t := g.Timings
	for _, d := range []struct {
		key string
		val int64
	}{
		{"probe_interval", int64(t.ProbeInterval)}, {"probe_timeout", int64(t.ProbeTimeout)},
		{"gossip_interval", int64(t.GossipInterval)}, {"push_pull_interval", int64(t.PushPullInterval)},
		{"suspicion_mult", int64(t.SuspicionMult)}, {"retransmit_mult", int64(t.RetransmitMult)},
	} {
		if d.val < 0 {
			fail("timings."+d.key, "must be greater than 0")
		}
	}
	eff := g.EffectiveTimings()
	if eff.ProbeTimeout <= 0 || eff.ProbeInterval <= 0 || eff.ProbeTimeout < eff.ProbeInterval {
		return
	}
	// A probe gets ProbeInterval in all: what the direct probe leaves is
	// for the indirect ones, so the timeout must leave something.
	key, timeout, interval := "timings.probe_timeout", eff.ProbeTimeout.String(), eff.ProbeInterval.String()
	if t.ProbeTimeout == 0 {
		key, timeout = "timings.probe_interval", timeout+" (the "+g.Profile+" profile's)"
	} else if t.ProbeInterval == 0 {
		interval += " (the " + g.Profile + " profile's)"
	}
	fail(key, fmt.Sprintf("probe_timeout %s must be less than probe_interval %s", timeout, interval))
}

// joinsOnlySelf reports whether every join entry is an IP address of this
// node (its bind or advertise address) at its gossip port: a join list of
// the "everyone joins n1" kind, loaded on n1. Names are not resolved here;
// the gossip layer checks again at start.
func joinsOnlySelf(g *Gossip) bool {
	var selfAddrs []netip.Addr
	if g.BindAddr.IsValid() && !g.BindAddr.IsUnspecified() {
		selfAddrs = append(selfAddrs, g.BindAddr.Unmap())
	}
	if g.AdvertiseAddr.IsValid() {
		selfAddrs = append(selfAddrs, g.AdvertiseAddr.Unmap())
	}
	selfPorts := []int{g.BindPort}
	if g.AdvertisePort != 0 {
		selfPorts = append(selfPorts, g.AdvertisePort)
	}
	if len(selfAddrs) == 0 {
		return false
	}
	for _, s := range g.Join {
		host, port := s, g.BindPort
		if ap, err := netip.ParseAddrPort(s); err == nil {
			host, port = ap.Addr().String(), int(ap.Port())
		} else {
			host = strings.Trim(host, "[]")
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !slices.Contains(selfAddrs, a.Unmap()) || !slices.Contains(selfPorts, port) {
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control or other
// non-printing characters (spaces are fine).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// checkJoin checks the syntax of a join entry: "host" or "host:port", host
// an IP address or a DNS name, IPv6 with a port written "[addr]:port". It
// returns "" when s is fine. Names are not resolved: they may only resolve
// once the network is up, and the gossip layer retries.
func checkJoin(s string) string {
	const form = "host, host:port or [IPv6]:port"
	if s == "" {
		return "is empty"
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return joinAddr(s, a)
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return fmt.Sprintf("%q is not %s: brackets hold an IPv6 address", s, form)
		}
		return joinAddr(s, a)
	}
	if strings.Contains(s, ":") {
		h, port, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Sprintf("%q is not %s", s, form)
		}
		if n, err := strconv.Atoi(port); err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > math.MaxUint16 {
			return fmt.Sprintf("%q: port %q is not a number in 1-65535", s, port)
		}
		if strings.HasPrefix(s, "[") {
			a, err := netip.ParseAddr(h)
			if err != nil || !a.Is6() {
				return fmt.Sprintf("%q is not %s: brackets hold an IPv6 address", s, form)
			}
			return joinAddr(s, a)
		}
		host = h
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return joinAddr(s, a)
	}
	if !dnsName(host) {
		return fmt.Sprintf("%q: %q is not an IP address or DNS name", s, host)
	}
	return ""
}

func joinAddr(s string, a netip.Addr) string {
	switch {
	case a.Zone() != "":
		return fmt.Sprintf("%q: zones are not supported", s)
	case a.IsUnspecified() || a.IsMulticast():
		return fmt.Sprintf("%q is not an address a member can have", s)
	}
	return ""
}

// dnsName reports whether s is a syntactically valid DNS name: at most 253
// bytes (a final dot aside), labels of 1-63 letters, digits, '-' or '_'
// that neither start nor end with '-', and a last label that is not all
// digits (so that a mistyped IPv4 address is not taken for a name).
func dnsName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
