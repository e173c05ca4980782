package keepalived

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/notify"
)

// Parse reads keepalived.conf syntax from data; path names the file
// for diagnostics and is the base for relative include patterns. It accepts
// what keepalived 2.2.7 accepts: where keepalived logs a problem and carries
// on, vipd adds a warning to Config.Warnings and does what keepalived does;
// where keepalived refuses to start, vipd returns an error. Keywords of
// features vipd does not have yet are skipped (with their blocks) with a
// warning, never silently. On failure the Config is nil and the error is
// Diagnostics holding every problem found.
func Parse(path string, data []byte, opts config.LoadOptions) (*config.Config, error) {
	p := newKAParser(path, data, opts)
	p.parse()
	if p.overLimit {
		// Completing and validating what was read would only bury this.
		p.d.list = append(p.d.list, config.TooManyInstances(p.overLimitPos, "vrrp_instance"))
		return config.Finish(nil, p.d.list, p.bad, opts.Host)
	}
	p.complete()
	return config.Finish(p.cfg, p.d.list, p.bad, opts.Host)
}

// kaGlobal holds global_defs settings that affect instances.
type kaGlobal struct {
	version    uint8       // vrrp_version; 0 = unset (2)
	strict     bool        // vrrp_strict
	garp       config.GARP // copied into each instance when it starts, as alloc_vrrp does
	interval   time.Duration
	naInterval time.Duration

	scriptSecurity   bool // enable_script_security
	securityPos      config.Pos
	scriptUser       string // script_user
	scriptGroup      string
	scriptUserPos    config.Pos
	scriptUserFailed bool // script_user named an unknown user or group
}

// kaInstance is an instance being read, with keepalived's "not set" states
// kept apart until complete() derives the defaults.
type kaInstance struct {
	inst     *config.Instance
	src      *config.InstanceSource
	prefix   string
	version  uint8     // 0 = not set
	priority uint8     // 0 = not set
	state    fsm.State // fsm.Init = not set
	// family is set by the first address seen (source, peer, VIP, multicast
	// destination), as keepalived does.
	family            inet.Family
	nopreempt         bool
	strict            *bool
	unicastConfigured bool // a unicast keyword was used (unicast_src_ip, unicast_peer...)
	faultNoPeer       bool // unicast_fault_no_peer
	authType          string
	authPass          string
	authPos           config.Pos
	// badVRID indexes the warning about the last rejected
	// virtual_router_id; it becomes the error if no valid one follows.
	badVRID    int
	badVRIDMsg string
	advertSet  bool
	// group is the sync group the instance ended up in.
	group *kaGroup
}

type kaParser struct {
	opts   config.LoadOptions
	d      diags
	bad    map[string]bool
	lx     *kaLexer
	peeked *kaLine
	cfg    *config.Config
	src    *config.Source // where cfg's global settings were written
	global kaGlobal
	kis    []*kaInstance
	sc     kaScripts
	groups []*kaGroup
	// byName and groupByName find an instance or sync group by name, so
	// that a file of many blocks is read in linear time.
	byName      map[string]*kaInstance
	groupByName map[string]*kaGroup
	// overLimit is set at vrrp_instance block MaxInstances+1, which
	// starts at overLimitPos: reading stops there.
	overLimit    bool
	overLimitPos config.Pos
	// process holds vrrp_rt_priority and vrrp_priority until the file is
	// read (kaprocess.go).
	process kaProcess
	// quiet lists settings skipped without a warning because they mean
	// nothing to vipd; KeepalivedUnused reports them (for vipd convert).
	quiet config.Diagnostics
}

func newKAParser(path string, data []byte, opts config.LoadOptions) *kaParser {
	p := &kaParser{opts: opts, bad: map[string]bool{}, sc: newKAScripts(),
		byName: map[string]*kaInstance{}, groupByName: map[string]*kaGroup{}}
	p.lx = newKALexer(path, data, opts, &p.d)
	// Fast takeover is vipd's default in both formats; global_defs
	// vipd_fast_takeover turns it off.
	p.cfg = &config.Config{Path: path, Format: config.FormatKeepalived, FastTakeover: true, API: config.DefaultAPI()}
	p.src = config.NewSource("")
	p.cfg.SetSource(p.src)
	p.global.garp = config.DefaultGARP()
	return p
}

// --- line reading ---

func (p *kaParser) next() (kaLine, bool) {
	if p.peeked != nil {
		l := *p.peeked
		p.peeked = nil
		return l, true
	}
	return p.lx.next()
}

func (p *kaParser) unread(l kaLine) { p.peeked = &l }

// skipBlock skips the block that follows a keyword line, if there is one
// (keepalived's skip_block(true)).
func (p *kaParser) skipBlock() {
	l, ok := p.next()
	if !ok {
		return
	}
	if !l.is("{") {
		p.unread(l)
		return
	}
	p.skipToClose(l.pos)
}

// skipToClose skips lines up to the '}' that closes an already opened block.
func (p *kaParser) skipToClose(open config.Pos) {
	depth := 1
	for {
		l, ok := p.next()
		if !ok {
			p.d.warn(open, "", "block is missing its closing '}'")
			return
		}
		switch {
		case l.is("{"):
			depth++
		case l.is("}"):
			if depth--; depth == 0 {
				return
			}
		}
	}
}

// block reads a keyword block as process_stream does: the opening '{'
// (keepalived warns if it is missing and reads on), then each line until a
// '}'. A stray '{' inside is ignored with a warning and does not nest, so
// the next '}' ends the block, exactly as in keepalived.
func (p *kaParser) block(open kaLine, field string, each func(kaLine)) {
	p.lines(open, field, func(l kaLine) {
		if l.is("{") {
			p.d.warn(l.pos, field, "unexpected '{'; ignored, as keepalived does")
			return
		}
		each(l)
	})
}

// openBrace consumes the '{' that should follow a block keyword.
func (p *kaParser) openBrace(open kaLine, field string) {
	first, ok := p.next()
	switch {
	case !ok:
	case first.is("{"):
	default:
		p.d.warn(first.pos, field, "missing '{' at the beginning of the block")
		p.unread(first)
	}
}

// valueBlock reads a block of values (alloc_value_block): each line up to
// the next '}' is one entry, whatever it holds.
func (p *kaParser) valueBlock(open kaLine, field string, each func(kaLine)) {
	if len(open.words) > 1 {
		p.d.warn(open.pos, field, fmt.Sprintf("block %s has extra parameters %s ...; ignored", open.words[0], open.words[1]))
	}
	p.lines(open, field, each)
}

// lines reads the '{' after open, then hands each line to each up to the
// next '}' (block and valueBlock).
func (p *kaParser) lines(open kaLine, field string, each func(kaLine)) {
	p.openBrace(open, field)
	for {
		l, ok := p.next()
		switch {
		case !ok:
			p.d.warn(open.pos, field, "block is missing its closing '}' (keepalived reads to the end of the file)")
			return
		case l.is("}"):
			return
		default:
			each(l)
		}
	}
}

// missing reports a keyword without its parameter. keepalived exits on this
// (null_strvec), so it is an error.
func (p *kaParser) missing(l kaLine, field string) {
	p.bad[field] = true
	p.d.err(l.pos, field, fmt.Sprintf("%s is missing its parameter", l.words[0]))
}

// arg returns the first parameter of a keyword line, reporting it missing.
func (p *kaParser) arg(l kaLine, field string) (string, bool) {
	if len(l.words) < 2 {
		p.missing(l, field)
		return "", false
	}
	return l.words[1], true
}

// unsupported skips a keyword of a feature vipd does not have yet.
func (p *kaParser) unsupported(l kaLine, field string) {
	p.d.warn(l.pos, field, fmt.Sprintf("%s is not supported yet; skipped", l.words[0]))
	p.skipBlock()
}

// harmless skips a setting of keepalived itself (process, logging, LVS,
// SNMP...) that changes nothing vipd does: no warning, but it is noted so
// that a conversion can list it.
func (p *kaParser) harmless(l kaLine, field string) {
	p.quiet = append(p.quiet, config.Diagnostic{Pos: l.pos, Field: field, Severity: config.SeverityWarning,
		Message: l.words[0] + " is a setting of keepalived itself with no effect in vipd; not converted"})
	p.skipBlock()
}

// Unused reads keepalived.conf syntax as Parse does and
// returns the settings it skips silently because they mean nothing to vipd
// (keepalived's own process, logging, LVS and SNMP settings), each at its
// file and line. With the warnings of ParseKeepalived (unsupported and
// unknown keywords, changed values) it accounts for every line a
// conversion to the native format leaves out.
func Unused(path string, data []byte, opts config.LoadOptions) config.Diagnostics {
	p := newKAParser(path, data, opts)
	p.parse()
	return p.quiet
}

// unknown reports a keyword keepalived does not know either. keepalived logs
// it and ignores that line only: a block after it is not skipped, its '{' is
// ignored and its lines are read at the enclosing level (so its '}' ends the
// enclosing block). vipd does the same, so that both read a config alike.
func (p *kaParser) unknown(l kaLine, field string) {
	p.d.warn(l.pos, field, fmt.Sprintf("unknown keyword %q; line ignored, as keepalived does", l.words[0]))
}

// other reads a keyword a section has no case of its own for: one vipd
// does not support yet (in unsupported), one of keepalived's own settings
// that changes nothing vipd does (in harmless), or an unknown one.
func (p *kaParser) other(l kaLine, field string, unsupported, harmless map[string]bool) {
	switch kw := l.words[0]; {
	case unsupported[kw]:
		p.unsupported(l, field)
	case harmless[kw]:
		p.harmless(l, field)
	default:
		p.unknown(l, field)
	}
}

// --- top level ---

var (
	kaRootUnsupported = setOf("vrrp_track_process", "static_ipaddress", "static_routes", "static_rules", "track_group",
		"garp_group", "linkbeat_interfaces", "interface_up_down_delays", "virtual_server",
		"virtual_server_group", "SSL", "bfd_instance", "net_namespace", "net_namespace_ipvs",
		"namespace_with_ipsets")
	// Keywords with no effect on what vipd does.
	kaRootHarmless = setOf("use_pid_dir", "instance", "child_wait_time", "linkbeat_use_polling")
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

func (p *kaParser) parse() {
	for !p.overLimit {
		l, ok := p.next()
		if !ok {
			break
		}
		kw := l.words[0]
		switch {
		case l.is("{"):
			p.d.warn(l.pos, "", "unexpected '{'; ignored, as keepalived does")
		case l.is("}"):
			p.d.warn(l.pos, "", "extra '}'; ignored, as keepalived does")
		case kw == "global_defs":
			p.block(l, kw, p.globalKeyword)
		case kw == "vrrp_instance":
			p.instance(l)
		case kw == "vrrp_script":
			p.vrrpScript(l)
		case kw == "track_file" || kw == "vrrp_track_file":
			p.trackFileDef(l)
		case kw == "vrrp_sync_group":
			p.syncGroup(l)
		default:
			p.other(l, kw, kaRootUnsupported, kaRootHarmless)
		}
	}
	if p.cfg.Node.Name == "" {
		p.cfg.Node.Name = p.opts.ResolvedHostname()
	}
	p.processDone()
}

// --- global_defs ---

var (
	kaGlobalUnsupported = setOf("vrrp_mcast_group4", "vrrp_mcast_group6",
		"vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_down_timer_adverts",
		"vrrp_garp_extra_if", "vrrp_vmac_garp_intvl", "vrrp_lower_prio_no_advert",
		"vrrp_higher_prio_send_advert", "vrrp_iptables", "vrrp_ipsets", "nftables",
		"nftables_priority", "nftables_ifindex", "vrrp_check_unicast_src", "vrrp_skip_check_adv_addr",
		"notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script",
		"vrrp_notify_priority_changes", "fifo_write_vrrp_states_on_reload", "vrrp_startup_delay",
		"vmac_prefix", "vmac_addr_prefix", "startup_script", "startup_script_timeout",
		"shutdown_script", "shutdown_script_timeout", "notification_email", "smtp_server",
		"smtp_alert", "smtp_alert_vrrp", "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets")
	// Settings of keepalived itself (process, logging, LVS, SNMP...) that
	// change nothing vipd does.
	kaGlobalHarmless = setOf("linkbeat_use_polling", "use_pid_dir", "instance", "child_wait_time",
		"process_names", "process_name", "vrrp_process_name", "checker_process_name",
		"lvs_process_name", "bfd_process_name", "notification_email_from", "smtp_helo_name",
		"smtp_connect_timeout", "max_auto_priority", "min_auto_priority_delay", "smtp_alert_checker",
		"checker_log_all_failures", "dynamic_interfaces", "no_email_faults", "default_interface",
		"disable_local_igmp", "lvs_timeouts", "lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop",
		"lvs_sync_daemon", "nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark",
		"nftables_counters", "vrrp_cpu_affinity",
		"vrrp_rlimit_rttime", "vrrp_rlimit_rtime", "lvs_notify_fifo", "lvs_notify_fifo_script",
		"checker_priority", "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity",
		"checker_rlimit_rttime", "checker_rlimit_rtime", "bfd_priority", "bfd_no_swap",
		"bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime", "bfd_rlimit_rtime", "snmp_socket",
		"enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_snmp_rfc",
		"enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker", "enable_dbus",
		"dbus_service_name", "vrrp_netlink_cmd_rcv_bufs",
		"vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
		"vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs",
		"process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
		"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "rs_init_notifies",
		"no_checker_emails", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "log_unknown_vrids",
		"umask", "random_seed", "reload_check_config", "reload_time_file", "reload_repeat",
		"reload_file", "config_save_dir", "tmp_config_directory", "data_use_instance")
)

func (p *kaParser) globalKeyword(l kaLine) {
	kw := l.words[0]
	field := "global_defs." + kw
	g := &p.global
	// Each handler below mirrors its namesake in keepalived/core/global_parser.c.
	switch kw {
	case "router_id": // routerid_handler: no name is a warning only
		if len(l.words) < 2 {
			p.d.warn(l.pos, field, "router_id name missing; ignored")
			return
		}
		p.cfg.Node.Name = l.words[1]
	case "vrrp_version": // vrrp_version_handler
		if s, ok := p.arg(l, field); ok {
			if v, ok := p.intArg(l, field, s, 2, 3, true, "VRRP version must be either 2 or 3; ignored"); ok {
				g.version = uint8(v)
			}
		}
	case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat":
		p.garpKeyword(l, field, strings.TrimPrefix(kw, "vrrp_"), &g.garp, "")
	case "vrrp_garp_interval":
		if d, ok := p.durationArg(l, field, 1, 1<<32-1, "invalid; ignored"); ok {
			g.interval = d
		}
	case "vrrp_gna_interval":
		if d, ok := p.durationArg(l, field, 1, 1<<32-1, "invalid; ignored"); ok {
			g.naInterval = d
		}
	case "vrrp_min_garp": // vrrp_min_garp_handler: one GARP, no delay or refresh, unless set
		on, ok := p.optionalBool(l, field, "invalid value %q; ignored")
		if !ok {
			return
		}
		if on {
			def := config.DefaultGARP()
			if g.garp.MasterRepeat == def.MasterRepeat {
				g.garp.MasterRepeat = 1
			}
			if g.garp.MasterRefreshRepeat == def.MasterRefreshRepeat {
				// keepalived sets 0 here, which it treats as a single message.
				g.garp.MasterRefreshRepeat = 1
			}
			if g.garp.MasterDelay == def.MasterDelay {
				g.garp.MasterDelay = 0
			}
		}
	case "vrrp_strict":
		g.strict = true
	case "enable_script_security": // script_security_handler
		g.scriptSecurity, g.securityPos = true, l.pos
	case "script_user": // script_user_handler, set_default_script_user
		if len(l.words) < 2 {
			p.d.warn(l.pos, field, "no script user name given; ignored, as keepalived does")
			return
		}
		u := notify.User{User: l.words[1]}
		if len(l.words) > 2 {
			u.Group = l.words[2]
		}
		g.scriptUser, g.scriptGroup, g.scriptUserPos = u.User, u.Group, l.pos
		g.scriptUserFailed = false
		if msg := p.lookupScriptUser(u); msg != "" {
			g.scriptUserFailed = true
			p.d.warn(l.pos, field, msg+"; keepalived then runs no script that lacks a user of its own")
		}
	case "vipd_fast_takeover":
		// vipd's own keyword: keepalived 2.2.7 logs "Unknown keyword" and
		// ignores it, so a file using it still runs under keepalived.
		on, ok := p.optionalBool(l, field, "invalid value %q (true or false); ignored")
		if !ok {
			return
		}
		p.cfg.FastTakeover = on
		p.src.Set("vrrp.fast_takeover", l.pos, field)
	case "include_check":
		p.includeCheck(l, field)
	default:
		if !p.processKeyword(l, field) { // vrrp_rt_priority, vrrp_priority, vrrp_no_swap
			p.other(l, field, kaGlobalUnsupported, kaGlobalHarmless)
		}
	}
}

// includeCheck is include_check_set: with no options every check is on;
// "+opt"/"-opt" add or remove one; a bare option replaces the set.
func (p *kaParser) includeCheck(l kaLine, field string) {
	if len(l.words) < 2 {
		p.lx.check = includeAll
		return
	}
	for i, w := range l.words[1:] {
		op := byte(0)
		name := w
		if w[0] == '+' || w[0] == '-' {
			op, name = w[0], w[1:]
		} else if i == 0 {
			p.lx.check = 0
		} else {
			p.d.warn(l.pos, field, fmt.Sprintf("duplicate include_check %q; ignored", w))
			continue
		}
		var flag includeFlags
		switch name {
		case "read":
			flag = includeRead
		case "match":
			flag = includeMatch
		case "wildcard_match":
			flag = includeWildcard
		case "brace_match":
			flag = includeBrace
		default:
			p.d.warn(l.pos, field, fmt.Sprintf("unknown include_check type %q; ignored", name))
			continue
		}
		switch op {
		case '+':
			p.lx.check |= flag
		case '-':
			p.lx.check &^= flag
		default:
			p.lx.check = includeRead | flag
		}
	}
}

// --- number arguments ---

// maxSecondsUint is UINT_MAX / TIMER_HZ: keepalived keeps garp delays in
// microseconds in an unsigned int.
const maxSecondsUint = (1<<32 - 1) / 1_000_000

func (p *kaParser) unsignedArg(l kaLine, field string, lo, hi uint64, lenient bool, fail string) (uint64, bool) {
	s, ok := p.arg(l, field)
	if !ok {
		return 0, false
	}
	v, ok, msg := readUnsigned(s, lo, hi, lenient)
	return v, p.numberResult(l, field, ok, msg, fail)
}

func (p *kaParser) intArg(l kaLine, field, s string, lo, hi int64, lenient bool, fail string) (int64, bool) {
	v, ok, msg := readInt(s, lo, hi, lenient)
	return v, p.numberResult(l, field, ok, msg, fail)
}

// durationArg reads a keepalived TIMER (seconds with up to 6 decimals) whose
// bounds are in microseconds.
func (p *kaParser) durationArg(l kaLine, field string, lo, hi uint64, fail string) (time.Duration, bool) {
	s, ok := p.arg(l, field)
	if !ok {
		return 0, false
	}
	v, ok, msg := readDecimal(s, lo, hi, 6, true)
	return time.Duration(v) * time.Microsecond, p.numberResult(l, field, ok, msg, fail)
}

// numberResult reports what a number reader said: a used number with a
// message is a warning; an unused one is a warning that names what keepalived
// does instead (fail).
func (p *kaParser) numberResult(l kaLine, field string, ok bool, msg, fail string) bool {
	switch {
	case ok && msg != "":
		p.d.warn(l.pos, field, msg+"; used anyway, as keepalived does")
	case !ok:
		if msg != "" {
			msg += ": "
		}
		p.d.warn(l.pos, field, msg+fail)
	}
	return ok
}

// garpKeyword reads one garp_master_* setting into garp: an instance's
// keyword, or the global default's (vrrp_ prefix removed), which
// keepalived reads alike (vrrp_garp_delay_handler,
// vrrp_garp_refresh_handler and their global twins). also ends the
// warnings' words.
func (p *kaParser) garpKeyword(l kaLine, field, kw string, garp *config.GARP, also string) {
	switch kw {
	case "garp_master_delay": // whole seconds
		if v, ok := p.unsignedArg(l, field, 0, maxSecondsUint, true, "invalid; ignored"+also); ok {
			garp.MasterDelay = time.Duration(v) * time.Second
		}
	case "garp_master_refresh": // an invalid value resets it to 0
		v, ok := p.unsignedArg(l, field, 0, 1<<32-1, true, "invalid; set to 0"+also)
		if ok || len(l.words) > 1 {
			if !ok {
				v = 0
			}
			garp.MasterRefresh = time.Duration(v) * time.Second
		}
	case "garp_master_repeat":
		if v, ok := p.repeatArg(l, field); ok {
			garp.MasterRepeat = v
		}
	case "garp_master_refresh_repeat":
		if v, ok := p.repeatArg(l, field); ok {
			garp.MasterRefreshRepeat = v
		}
	}
}

// optionalBool reads a switch that is on when written alone, or set by a
// check_true_false word after it. An invalid word is warned about with
// format (given the word) and ok is false: the line is ignored.
func (p *kaParser) optionalBool(l kaLine, field, format string) (on, ok bool) {
	if len(l.words) < 2 {
		return true, true
	}
	if on, ok = checkTrueFalse(l.words[1]); !ok {
		p.d.warn(l.pos, field, fmt.Sprintf(format, l.words[1]))
	}
	return on, ok
}

// blockName returns the name on a block's first line. A missing or
// second name, or a name defined before (at the place earlier returns),
// skips the whole block with a warning, as keepalived does.
func (p *kaParser) blockName(l kaLine, kind string, earlier func(name string) (config.Pos, bool)) (string, bool) {
	if len(l.words) != 2 {
		p.d.warn(l.pos, kind, kind+" must have exactly one name; block skipped, as keepalived does")
		p.skipBlock()
		return "", false
	}
	name := l.words[1]
	if at, ok := earlier(name); ok {
		p.d.warn(l.pos, kind, fmt.Sprintf("%s %s is already defined at %v; block skipped, as keepalived does", kind, name, at))
		p.skipBlock()
		return "", false
	}
	return name, true
}

// repeatArg reads a garp repeat count: 0 is raised to 1 with a warning.
func (p *kaParser) repeatArg(l kaLine, field string) (uint32, bool) {
	v, ok := p.unsignedArg(l, field, 0, 1<<32-1, true, "invalid; ignored")
	if !ok {
		return 0, false
	}
	if v == 0 {
		p.d.warn(l.pos, field, "must be greater than 0; set to 1, as keepalived does")
		v = 1
	}
	return uint32(v), true
}

// --- vrrp_instance ---

func (p *kaParser) instance(l kaLine) {
	// vrrp_handler: a nameless or duplicate instance is skipped with a message.
	name, ok := p.blockName(l, "vrrp_instance", func(name string) (config.Pos, bool) {
		if ki := p.byName[name]; ki != nil {
			return ki.inst.Pos, true
		}
		return config.Pos{}, false
	})
	if !ok {
		return
	}
	if len(p.kis) >= config.MaxInstances {
		p.overLimit, p.overLimitPos = true, l.pos
		return
	}
	inst := &config.Instance{Name: name, Pos: l.pos, GARP: p.global.garp}
	src := config.NewKeepalivedSource(name)
	inst.SetSource(src)
	ki := &kaInstance{inst: inst, src: src, prefix: "vrrp_instance[" + name + "]", badVRID: -1}
	p.kis = append(p.kis, ki)
	p.byName[name] = ki
	p.block(l, ki.prefix, func(kl kaLine) { p.instanceKeyword(ki, kl) })
}

var (
	kaInstanceUnsupported = setOf("use_vmac", "use_vmac_addr", "vmac_xmit_base", "use_ipvlan",
		"unicast_fault_no_peer", "check_unicast_src", "old_unicast_checksum", "vrf",
		"dont_track_primary", "track_process",
		"track_bfd", "mcast_dst_ip", "track_src_ip", "unicast_ttl", "promote_secondaries",
		"linkbeat_use_polling", "virtual_routes", "virtual_rules", "accept", "no_accept",
		"skip_check_adv_addr", "notify_deleted", "smtp_alert", "notify_priority_changes", "lvs_sync_daemon_interface", "garp_lower_prio_delay",
		"garp_lower_prio_repeat", "down_timer_adverts", "garp_extra_if", "vmac_garp_intvl",
		"lower_prio_no_advert", "higher_prio_send_advert", "kernel_rx_buf_size")
	// Keywords that mark an instance as unicast in keepalived, whether or
	// not vipd supports them (vrrp_parser.c sets VRRP_FLAG_UNICAST_CONFIGURED).
	kaUnicastKeywords = setOf("unicast_src_ip", "unicast_peer", "unicast_fault_no_peer",
		"check_unicast_src", "old_unicast_checksum")
)

func (p *kaParser) instanceKeyword(ki *kaInstance, l kaLine) {
	inst := ki.inst
	mark := func(keyword string) { ki.src.Mark(keyword, l.pos) }
	kw := l.words[0]
	field := ki.prefix + "." + kw
	if kaUnicastKeywords[kw] {
		ki.unicastConfigured = true
	}
	if kw == "unicast_fault_no_peer" {
		ki.faultNoPeer = true
	}
	// Each case mirrors its handler in keepalived/vrrp/vrrp_parser.c.
	switch kw {
	case "state": // vrrp_state_handler
		mark("state")
		s, ok := p.arg(l, field)
		switch {
		case !ok:
		case s == fsm.Master.String():
			ki.state = fsm.Master
		case s == fsm.Backup.String() && ki.state == fsm.Master:
			p.d.warn(l.pos, field, "state previously set as MASTER; BACKUP ignored, as keepalived does")
		case s == fsm.Backup.String():
			ki.state = fsm.Backup
		default:
			p.d.warn(l.pos, field, fmt.Sprintf("unknown state %q; BACKUP used, as keepalived does", s))
			ki.state = fsm.Backup
		}
	case "interface": // vrrp_int_handler
		mark("interface")
		if s, ok := p.arg(l, field); ok {
			if len(s) > config.MaxIfNameLen {
				p.d.warn(l.pos, field, fmt.Sprintf("interface name %q is too long; ignored, as keepalived does", s))
				return
			}
			inst.Interface = s
		}
	case "virtual_router_id": // vrrp_vrid_handler: strict read; unset is fatal later
		mark("virtual_router_id")
		s, ok := p.arg(l, field)
		if !ok {
			return
		}
		v, ok, msg := readUnsigned(s, 1, 255, false)
		if !ok {
			msg = rangeText(s, msg, 1, 255)
			ki.badVRID, ki.badVRIDMsg = len(p.d.list), msg
			p.d.warn(l.pos, field, msg+"; ignored, as keepalived does")
			return
		}
		inst.VRID = uint8(v)
		ki.badVRID = -1
	case "priority": // vrrp_prio_handler: invalid means the default, 100
		mark("priority")
		s, ok := p.arg(l, field)
		if !ok {
			return
		}
		v, ok, msg := readUnsigned(s, 1, config.OwnerPriority, false)
		if !ok {
			p.d.warn(l.pos, field, fmt.Sprintf("%s; default %d used, as keepalived does", rangeText(s, msg, 1, 255), config.DefaultPriority))
			v = config.DefaultPriority
		}
		ki.priority = uint8(v)
	case "advert_int": // vrrp_adv_handler: 0.01-255 s, microsecond resolution
		mark("advert_int")
		if d, ok := p.durationArg(l, field, 10_000, 255_000_000, "not valid; ignored, as keepalived does"); ok {
			inst.AdvertInterval = d
			ki.advertSet = true
		}
	case "nopreempt":
		mark("nopreempt")
		ki.nopreempt = true
	case "preempt": // backwards compatibility: clears nopreempt
		mark("nopreempt")
		ki.nopreempt = false
	case "preempt_delay": // vrrp_preempt_delay_handler: invalid means 0
		mark("preempt_delay")
		d, ok := p.durationArg(l, field, 0, uint64(config.MaxPreemptDelay/time.Microsecond), "must be between 0 and 1000; set to 0, as keepalived does")
		if !ok {
			d = 0
		}
		inst.PreemptDelay = d
	case "unicast_src_ip", "mcast_src_ip": // vrrp_srcip_handler
		mark("unicast_src_ip")
		s, ok := p.arg(l, field)
		if !ok {
			return
		}
		a, ok := kaSockAddr(s)
		switch {
		case !ok:
			p.d.warn(l.pos, field, fmt.Sprintf("malformed source address %q; skipped, as keepalived does", s))
		case !ki.takeFamily(a):
			p.d.warn(l.pos, field, fmt.Sprintf("%v is not %v like the instance; skipped, as keepalived does", a, ki.family))
		default:
			inst.UnicastSource = a
		}
	case "unicast_peer": // vrrp_unicast_peer_handler / alloc_vrrp_unicast_peer
		mark("unicast_peer")
		p.valueBlock(l, field, func(pl kaLine) { p.peer(ki, pl, field) })
	case "authentication":
		mark("authentication")
		p.block(l, field, func(al kaLine) { p.authKeyword(ki, al, field) })
	case "virtual_ipaddress", "virtual_ipaddress_excluded":
		if kw == "virtual_ipaddress" {
			mark("virtual_ipaddress")
		}
		p.valueBlock(l, field, func(vl kaLine) { p.vip(ki, vl, field, kw == "virtual_ipaddress_excluded") })
	case "garp_master_delay", "garp_master_refresh", "garp_master_repeat", "garp_master_refresh_repeat":
		p.garpKeyword(l, field, kw, &inst.GARP, ", as keepalived does")
	case "version": // vrrp_version_handler
		mark("version")
		s, ok := p.arg(l, field)
		if !ok {
			return
		}
		v, ok := p.intArg(l, field, s, 2, 3, true, "version must be either 2 or 3; ignored, as keepalived does")
		if !ok {
			return
		}
		switch {
		case ki.version != 0 && int64(ki.version) != v:
			p.d.warn(l.pos, field, fmt.Sprintf("version %d conflicts with version %d set before; ignored, as keepalived does", v, ki.version))
			return
		case v == 2 && ki.family == inet.IPv6:
			p.d.warn(l.pos, field, "version 2 conflicts with the IPv6 addresses before it; ignored (version 3 used), as keepalived does")
			return
		}
		ki.version = uint8(v)
	case "native_ipv6": // vrrp_native_ipv6_handler
		if ki.family == inet.IPv4 {
			p.d.warn(l.pos, field, "cannot use native_ipv6 with IPv4 addresses; ignored, as keepalived does")
			return
		}
		ki.family = inet.IPv6
		ki.version = 3
	case "strict_mode": // vrrp_strict_mode_handler
		on, ok := p.optionalBool(l, field, "invalid strict_mode %q; ignored")
		if !ok {
			return
		}
		ki.strict = &on
	case "track_script", "track_interface", "track_file": // alloc_value_block
		p.valueBlock(l, field, func(tl kaLine) { p.trackEntry(kw, &inst.Track, tl, field) })
	case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_master_rx_lower_pri":
		p.notifyKeyword(&inst.Notify, ki.src.More(), l, field)
	case "debug":
		// Log verbosity only.
		p.harmless(l, field)
	case "mcast_dst_ip":
		// Not supported, but keepalived takes the family from it.
		if len(l.words) > 1 {
			if a, ok := kaSockAddr(l.words[1]); ok {
				ki.takeFamily(a)
			}
		}
		p.unsupported(l, field)
	default:
		p.other(l, field, kaInstanceUnsupported, nil)
	}
}

// rangeText words a number reader's range complaint the way vipd's other
// messages are: "300 is out of range 1-255".
func rangeText(s, msg string, lo, hi int) string {
	if strings.Contains(msg, "outside") {
		return fmt.Sprintf("%s is out of range %d-%d", s, lo, hi)
	}
	return msg
}

// takeFamily sets the instance family from its first address and reports
// whether a matches it.
func (ki *kaInstance) takeFamily(a netip.Addr) bool {
	if ki.family == 0 {
		ki.family = inet.FamilyOf(a)
	}
	return inet.FamilyOf(a) == ki.family
}

func (p *kaParser) authKeyword(ki *kaInstance, l kaLine, block string) {
	field := block + "." + l.words[0]
	switch l.words[0] {
	case "auth_type": // vrrp_auth_type_handler
		s, ok := p.arg(l, field)
		switch {
		case !ok:
		case s == "PASS" || s == "AH":
			ki.authType = s
			ki.authPos = l.pos
		default:
			p.d.warn(l.pos, field, fmt.Sprintf("unknown authentication type %q; ignored, as keepalived does", s))
		}
	case "auth_pass": // vrrp_auth_pass_handler: truncated to the 8-byte field
		s, ok := p.arg(l, field)
		if !ok {
			return
		}
		if len(s) > config.MaxAuthPassLen {
			p.d.warn(l.pos, field, fmt.Sprintf("auth_pass is %d characters; truncated to %d, as keepalived does", len(s), config.MaxAuthPassLen))
			s = s[:config.MaxAuthPassLen]
		}
		ki.authPass = s
		if ki.authPos.Line == 0 {
			ki.authPos = l.pos
		}
	default:
		p.unknown(l, field)
	}
}

// peer reads one unicast_peer line: ADDRESS [min_ttl N] [max_ttl N].
func (p *kaParser) peer(ki *kaInstance, l kaLine, field string) {
	a, ok := kaSockAddr(l.words[0])
	switch {
	case !ok:
		p.d.warn(l.pos, field, fmt.Sprintf("malformed unicast peer address %q; skipped, as keepalived does", l.words[0]))
		return
	case !ki.takeFamily(a):
		p.d.warn(l.pos, field, fmt.Sprintf("peer %v is not %v like the instance; skipped, as keepalived does", a, ki.family))
		return
	}
	if len(l.words) > 1 {
		p.d.warn(l.pos, field, fmt.Sprintf("peer options (%s) are not supported yet; ignored", strings.Join(l.words[1:], " ")))
	}
	ki.inst.UnicastPeers = append(ki.inst.UnicastPeers, a)
	ki.src.MarkPeer(l.pos)
}

// kaSockAddr parses an address as inet_stosockaddr does: anything from a
// '-' or '/' on is dropped, the family is IPv6 if there is a colon, and
// the address must be in inet_pton's form (no zone).
func kaSockAddr(s string) (netip.Addr, bool) {
	if i := strings.IndexAny(s, "-/"); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || strings.Contains(s, ":") != a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// vip reads one virtual_ipaddress line (alloc_ipaddress):
// ADDRESS[/LEN] [dev IF] [label L] [scope S] [brd B] [peer P] [flags...].
func (p *kaParser) vip(ki *kaInstance, l kaLine, field string, excluded bool) {
	vip, ok := p.parseVIP(l, field)
	if !ok {
		return
	}
	vip.Excluded = excluded
	a := vip.Prefix.Addr()
	if !excluded {
		// alloc_vrrp_vip: the first VIP may set the family; keepalived drops
		// VIPs of the other family, vipd keeps them.
		if !ki.takeFamily(a) {
			p.d.warn(l.pos, field, fmt.Sprintf("%v is not %v like the instance: keepalived would drop it; vipd keeps it, follows the instance's state and leaves it out of adverts", a, ki.family))
		}
	}
	ki.inst.VIPs = append(ki.inst.VIPs, vip)
}

func (p *kaParser) parseVIP(l kaLine, field string) (config.VIP, bool) {
	vip := config.VIP{Pos: l.pos}
	spec := l.words[0]
	addrPart, lenPart, hasLen := strings.Cut(spec, "/")
	is6 := strings.Contains(spec, ":")
	bits := 32
	if is6 {
		bits = 128
	}
	a, err := netip.ParseAddr(addrPart)
	if err != nil || a.Zone() != "" || a.Is6() != is6 {
		p.d.warn(l.pos, field, fmt.Sprintf("invalid IP %s; skipped, as keepalived does", spec))
		return vip, false
	}
	if hasLen {
		v, ok, _ := readUnsigned(lenPart, 0, uint64(bits), true)
		if ok {
			bits = int(v)
		} else {
			p.d.warn(l.pos, field, fmt.Sprintf("invalid address prefix length %s for %s; /%d used, as keepalived does", lenPart, spec, bits))
		}
	}
	vip.Prefix = netip.PrefixFrom(a, bits)

	var ignored []string
	words := l.words[1:]
	for i := 0; i < len(words); i++ {
		opt := words[i]
		takesParam := opt == "dev" || opt == "scope" || opt == "broadcast" || opt == "brd" ||
			opt == "label" || opt == "peer" || opt == "preferred_lft"
		if takesParam && i+1 >= len(words) {
			p.d.warn(l.pos, field, fmt.Sprintf("no %s parameter given for %s; address skipped, as keepalived does", opt, spec))
			return vip, false
		}
		switch opt {
		case "dev":
			i++
			if vip.Interface != "" {
				p.d.warn(l.pos, field, fmt.Sprintf("dev given twice for %s; address skipped, as keepalived does", spec))
				return vip, false
			}
			if msg := config.CheckIfName(words[i]); msg != "" {
				p.d.warn(l.pos, field, fmt.Sprintf("interface %q %s; address skipped", words[i], msg))
				return vip, false
			}
			vip.Interface = words[i]
		case "label":
			i++
			if len(words[i]) > config.MaxIfNameLen {
				p.d.warn(l.pos, field, fmt.Sprintf("label %s is longer than %d characters; address skipped, as keepalived does", words[i], config.MaxIfNameLen))
				return vip, false
			}
			vip.Label = words[i]
		case "broadcast", "brd":
			i++
			if is6 {
				p.d.warn(l.pos, field, fmt.Sprintf("broadcast %s given for the IPv6 address %s; address skipped, as keepalived does", words[i], spec))
				return vip, false
			}
			ignored = append(ignored, opt+" "+words[i])
		case "scope", "peer", "preferred_lft":
			i++
			ignored = append(ignored, opt+" "+words[i])
		case "home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac":
			ignored = append(ignored, opt)
		default:
			p.d.warn(l.pos, field, fmt.Sprintf("unknown option %q for %s; ignored, as keepalived does", opt, spec))
		}
	}
	if len(ignored) > 0 {
		p.d.warn(l.pos, field, fmt.Sprintf("address options not supported yet, ignored: %s", strings.Join(ignored, ", ")))
	}
	if is6 && vip.Label != "" {
		p.d.warn(l.pos, field, fmt.Sprintf("IPv6 addresses have no label (%s); label ignored, as keepalived does", spec))
		vip.Label = ""
	}
	return vip, true
}

// diags collects the front end's diagnostics in the order they are found.
type diags struct {
	list config.Diagnostics
}

func (d *diags) warn(pos config.Pos, field, msg string) {
	d.list = append(d.list, config.Diagnostic{Pos: pos, Field: field, Severity: config.SeverityWarning, Message: msg})
}

func (d *diags) err(pos config.Pos, field, msg string) {
	d.list = append(d.list, config.Diagnostic{Pos: pos, Field: field, Severity: config.SeverityError, Message: msg})
}

func ptr[T any](v T) *T { return &v }
