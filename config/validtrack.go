package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// This file holds the rules for checks, tracks, orders, notify scripts and
// sync groups, shared by both formats and configurations built in code.
// keepalived input has already been made to follow them the way keepalived
// does (with warnings) by the keepalived reader, so here every problem is
// an error.

// tracking validates everything tracking-related in c.
func (v *validator) tracking(c *Config) {
	checks := v.checks(c.Checks)
	for idx, inst := range c.Instances {
		s := inst.source(idx)
		v.tracks(inst, s, checks)
		v.order(inst, s)
		v.notify(&inst.Notify, s.more, inst.Pos, false)
	}
	v.syncGroups(c)
}

// checkSrc returns c's source record, making one for checks built in code.
func checkSrc(c *Check, idx int) *Source {
	if c.src != nil {
		return c.src
	}
	return NewSource("checks[" + strconv.Itoa(idx) + "]")
}

// checks validates the check definitions and returns them by name.
func (v *validator) checks(list []*Check) map[string]*Check {
	byName := map[string]*Check{}
	for idx, c := range list {
		src := checkSrc(c, idx)
		at := func(key string) (Pos, string) { return src.nested(key, c.Pos) }
		fail := func(key, msg string) {
			pos, f := at(key)
			v.d.err(pos, f, msg)
		}
		switch prev, dup := byName[c.Name]; {
		case strings.TrimSpace(c.Name) == "":
			fail("name", "is required")
		case dup:
			fail("name", fmt.Sprintf("check name %q is already used by the check at %v", c.Name, prev.Pos))
		default:
			byName[c.Name] = c
		}
		if c.Interval <= 0 {
			fail("interval", fmt.Sprintf("%v must be greater than 0", c.Interval))
		}
		if c.Timeout <= 0 {
			fail("timeout", fmt.Sprintf("%v must be greater than 0", c.Timeout))
		}
		if c.Fall < 1 {
			fail("fall", fmt.Sprintf("%d must be at least 1", c.Fall))
		}
		if c.Rise < 1 {
			fail("rise", fmt.Sprintf("%d must be at least 1", c.Rise))
		}
		lo, hi := weightRange(c)
		if c.Weight < lo || c.Weight > hi {
			fail("weight", fmt.Sprintf("%d is out of range %d..%d", c.Weight, lo, hi))
		}
		v.checkKind(c, at, fail)
	}
	return byName
}

// weightRange is keepalived's: [-253, 253], but [-254, 254] for files.
func weightRange(c *Check) (int, int) {
	if c != nil && c.Kind == CheckFile {
		return MinWeight - 1, MaxWeight + 1
	}
	return MinWeight, MaxWeight
}

// checkKind validates the kind-specific settings of c.
func (v *validator) checkKind(c *Check, at func(string) (Pos, string), fail func(key, msg string)) {
	blocks := map[CheckKind]bool{
		CheckExec: c.Exec != nil, CheckProcess: c.Process != nil, CheckTCP: c.TCP != nil,
		CheckHTTP: c.HTTP != nil, CheckDNS: c.DNS != nil, CheckFile: c.File != nil,
		CheckInterface: c.Interface != nil,
	}
	n := 0
	for _, set := range blocks {
		if set {
			n++
		}
	}
	switch {
	case !slices.Contains(checkKinds, c.Kind):
		fail("kind", fmt.Sprintf("%q is not a check kind", c.Kind))
		return
	case !blocks[c.Kind] || n != 1:
		fail(string(c.Kind), fmt.Sprintf("a %s check needs its %s settings and no other kind's", c.Kind, c.Kind))
		return
	}
	switch c.Kind {
	case CheckExec:
		if len(c.Exec.Command) == 0 || c.Exec.Command[0] == "" {
			fail("exec.command", "is required (the program and its arguments)")
		}
		if c.Exec.Group != "" && c.Exec.User == "" {
			fail("exec.group", "needs user")
		}
	case CheckProcess:
		switch p := c.Process; {
		case p.Name == "" && p.PIDFile == "":
			fail("process", "needs name or pidfile")
		case strings.Contains(p.Name, "/"):
			fail("process.name", fmt.Sprintf("%q: a process name has no '/'", p.Name))
		}
	case CheckTCP:
		if msg := checkHostPort(c.TCP.Address, false); msg != "" {
			fail("tcp.address", msg)
		}
	case CheckHTTP:
		v.httpCheck(c.HTTP, fail)
	case CheckDNS:
		v.dnsCheck(c.DNS, fail)
	case CheckFile:
		if c.File.Path == "" {
			fail("file.path", "is required")
		}
	case CheckInterface:
		if msg := CheckIfName(c.Interface.Name); msg != "" {
			fail("interface.name", fmt.Sprintf("%q %s", c.Interface.Name, msg))
		}
	}
}

// checkHostPort checks HOST:PORT, or HOST alone when the port is optional.
func checkHostPort(s string, portOptional bool) string {
	if s == "" {
		return "is required (host:port)"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if portOptional {
			if _, perr := netip.ParseAddr(strings.Trim(s, "[]")); perr == nil || !strings.Contains(s, ":") {
				return ""
			}
		}
		return fmt.Sprintf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number in 1-65535", s, port)
	}
	return ""
}

func (v *validator) httpCheck(h *HTTPCheck, fail func(key, msg string)) {
	u, err := url.Parse(h.URL)
	switch {
	case h.URL == "":
		fail("http.url", "is required")
	case err != nil:
		fail("http.url", fmt.Sprintf("%q is not a URL: %v", h.URL, err))
	case u.Scheme != "http" && u.Scheme != "https":
		fail("http.url", fmt.Sprintf("%q is not an http:// or https:// URL", h.URL))
	case u.Host == "":
		fail("http.url", fmt.Sprintf("%q has no host", h.URL))
	}
	for _, s := range h.ExpectStatus {
		if s < 100 || s > 599 {
			fail("http.expect_status", fmt.Sprintf("%d is not an HTTP status (100-599)", s))
		}
	}
	if _, err := regexp.Compile(h.BodyRegexp); err != nil {
		fail("http.body_regexp", fmt.Sprintf("%q does not compile: %v", h.BodyRegexp, err))
	}
}

func (v *validator) dnsCheck(d *DNSCheck, fail func(key, msg string)) {
	if d.Server == "" {
		fail("dns.server", "is required (host or host:port)")
	} else if msg := checkHostPort(d.Server, true); msg != "" {
		fail("dns.server", msg)
	}
	if d.Name == "" {
		fail("dns.name", "is required")
	} else if _, ok := dns.IsDomainName(d.Name); !ok {
		fail("dns.name", fmt.Sprintf("%q is not a domain name", d.Name))
	}
	if _, ok := dns.StringToType[d.Type]; !ok {
		fail("dns.type", fmt.Sprintf("%q is not a DNS record type", d.Type))
	}
	if _, ok := dns.StringToClass[d.Class]; !ok {
		fail("dns.class", fmt.Sprintf("%q is not a DNS class", d.Class))
	}
	if d.Protocol != "udp" && d.Protocol != "tcp" {
		fail("dns.protocol", fmt.Sprintf("%q is not udp or tcp", d.Protocol))
	}
	if _, ok := dns.StringToRcode[d.ExpectRcode]; !ok {
		fail("dns.expect_rcode", fmt.Sprintf("%q is not a DNS response code", d.ExpectRcode))
	}
	if _, err := regexp.Compile(d.ExpectAnswer); err != nil {
		fail("dns.expect_answer", fmt.Sprintf("%q does not compile: %v", d.ExpectAnswer, err))
	}
}

// tracks validates an instance's tracks against the checks.
func (v *validator) tracks(inst *Instance, s *InstanceSource, checks map[string]*Check) {
	seen := map[string]bool{}
	for j, t := range inst.Track {
		pos, f := s.more.at("track["+strconv.Itoa(j)+"]", t.Pos)
		c := checks[t.Check]
		switch {
		case t.Check == "":
			v.d.err(pos, f, "names no check")
			continue
		case c == nil:
			v.d.err(pos, f, fmt.Sprintf("check %q is not defined", t.Check))
			continue
		case seen[t.Check]:
			v.d.err(pos, f, fmt.Sprintf("check %q is tracked twice", t.Check))
		}
		seen[t.Check] = true
		lo, hi := weightRange(c)
		if t.Weight != nil && (*t.Weight < lo || *t.Weight > hi) {
			v.d.err(pos, f, fmt.Sprintf("weight %d is out of range %d..%d", *t.Weight, lo, hi))
			continue
		}
		if w, _ := t.Effective(c); w != 0 && inst.Priority == OwnerPriority && inst.Order == nil {
			v.d.err(pos, f, fmt.Sprintf("the address owner (priority 255) keeps its priority; track %q with weight 0 (FAULT on failure) instead of %d (keepalived ignores weighted tracks here)", t.Check, w))
		}
	}
}

// order validates an instance's order.
func (v *validator) order(inst *Instance, s *InstanceSource) {
	o := inst.Order
	if o == nil {
		return
	}
	at := func(key string) (Pos, string) { return s.more.at(key, o.Pos) }
	fail := func(key, msg string) {
		pos, f := at(key)
		v.d.err(pos, f, msg)
	}
	if inst.Priority == OwnerPriority {
		// Point at the state when it is what made the priority 255.
		pos, f := s.at(inst, fPriority)
		if s.pos[fPriority].Line == 0 && s.pos[fState].Line > 0 {
			pos, f = s.at(inst, fState)
		}
		v.d.err(pos, f, "an instance with an order takes its priority from it and cannot be the address owner (priority 255, which state master without a priority means)")
	} else if s.format == FormatYAML && s.pos[fPriority].Line > 0 && s.pos[fPriority] != inst.Pos {
		pos, f := s.at(inst, fPriority)
		v.d.err(pos, f, "an instance with an order takes its priority from it; remove priority")
	}
	switch {
	case o.Nodes != nil && o.File != "":
		fail("order.file", "an order takes nodes or file, not both")
	case o.Nodes == nil && o.File == "":
		fail("order", "needs nodes or file")
	case o.Nodes != nil && len(o.Nodes) == 0:
		fail("order.nodes", "must list at least one node")
	}
	seen := map[string]bool{}
	for j, n := range o.Nodes {
		key := "order.nodes[" + strconv.Itoa(j) + "]"
		switch {
		case n == "" || strings.ContainsAny(n, cWhitespace):
			fail(key, fmt.Sprintf("%q is not a node name", n))
		case strings.HasPrefix(n, "#"):
			fail(key, fmt.Sprintf("%q: '#' disables a node in an order file only; leave the node out here", n))
		case seen[n]:
			fail(key, fmt.Sprintf("node %q is listed twice", n))
		}
		seen[n] = true
	}
	if len(o.Priorities) == 0 {
		fail("order.priorities", "must list at least one priority")
	}
	for j, p := range o.Priorities {
		switch {
		case p < MinOrderPriority || p >= OwnerPriority:
			fail("order.priorities", fmt.Sprintf("%d is out of range %d-%d (1 is for unhealthy nodes, 255 for address owners)", p, MinOrderPriority, OwnerPriority-1))
		case j > 0 && p >= o.Priorities[j-1]:
			fail("order.priorities", fmt.Sprintf("must decrease from first to last, but %d follows %d", p, o.Priorities[j-1]))
		}
	}
	if o.Unhealthy != UnhealthyLowest && o.Unhealthy != UnhealthyFault {
		fail("order.unhealthy", fmt.Sprintf("%q is not lowest or fault", o.Unhealthy))
	}
}

// notify validates a set of notify scripts.
func (v *validator) notify(n *Notify, src *Source, def Pos, group bool) {
	for _, e := range NotifyEvents() {
		key := "notify." + string(e)
		cmd := n.Command(e)
		if cmd == nil {
			if _, has := n.RunAs[e]; has {
				pos, f := src.at(key+".user", def)
				v.d.err(pos, f, "a user for a script that is not set")
			}
			continue
		}
		pos, f := src.at(key, def)
		switch {
		case group && e == NotifyMasterRxLowerPri:
			v.d.err(pos, f, "sync groups have no master_rx_lower_pri script (as in keepalived)")
		case len(cmd) == 0 || cmd[0] == "":
			v.d.err(pos, f, "is empty; give the program and its arguments")
		}
		if u := n.User(e); u.Group != "" && u.User == "" {
			pos, f := src.at(key+".group", pos)
			v.d.err(pos, f, "needs user")
		}
	}
	// A zero timeout is allowed where there is nothing to run, so that
	// code-built instances without scripts need not set one.
	if n.Timeout < 0 || (n.Timeout == 0 && !n.Empty()) {
		pos, f := src.at("notify.timeout", def)
		v.d.err(pos, f, fmt.Sprintf("%v must be greater than 0", n.Timeout))
	}
}

// syncGroups validates the sync groups against the instances.
func (v *validator) syncGroups(c *Config) {
	insts := map[string]*Instance{}
	for _, inst := range c.Instances {
		insts[inst.Name] = inst
	}
	member := map[string]int{} // instance → index of its group
	names := map[string]bool{}
	for idx, g := range c.SyncGroups {
		src := g.src
		if src == nil {
			src = NewSource("sync_groups[" + strconv.Itoa(idx) + "]")
		}
		fail := func(key, msg string) {
			pos, f := src.at(key, g.Pos)
			v.d.err(pos, f, msg)
		}
		switch {
		case strings.TrimSpace(g.Name) == "":
			fail("name", "is required")
		case names[g.Name]:
			fail("name", fmt.Sprintf("sync group name %q is already used", g.Name))
		}
		names[g.Name] = true
		if len(g.Instances) == 0 {
			fail("instances", "must list at least one instance")
		}
		owners := 0
		for j, name := range g.Instances {
			key := "instances[" + strconv.Itoa(j) + "]"
			inst := insts[name]
			switch prev, dup := member[name]; {
			case inst == nil:
				fail(key, fmt.Sprintf("instance %q is not defined", name))
				continue
			case dup && prev == idx:
				fail(key, fmt.Sprintf("instance %q is listed twice", name))
				continue
			case dup:
				fail(key, fmt.Sprintf("instance %q is already in sync group %q; an instance is in one group at most", name, c.SyncGroups[prev].Name))
				continue
			}
			member[name] = idx
			if inst.Priority == OwnerPriority {
				owners++
			}
		}
		if owners > 0 && owners < len(g.Instances) && !v.lenient {
			fail("instances", "some members are address owners (priority 255) and some are not; the group cannot follow both")
		}
		v.notify(&g.Notify, src, g.Pos, true)
	}
}
