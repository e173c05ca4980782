package keepalived

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// This file reads keepalived's tracking and scripting keywords:
// vrrp_script, track_file (and its old name vrrp_track_file),
// vrrp_sync_group, and inside instances and groups track_script,
// track_interface, track_file and the notify scripts. Each function names
// the keepalived 2.2.7 handler it follows (vrrp_parser.c, vrrp_track.c,
// trackers/track_file.c, lib/notify.c).

// kaGroup is a vrrp_sync_group being read.
type kaGroup struct {
	sg       *config.SyncGroup
	src      *config.Source
	prefix   string
	groupSet bool
	names    []string
	namePos  []config.Pos
	tracks   []config.Track
	// trackingWeight is sync_group_tracking_weight: members keep their
	// weighted tracks.
	trackingWeight bool
}

// kaScripts holds the named checks being read, in keepalived's separate
// name spaces.
type kaScripts struct {
	list    []*config.Check
	byName  map[string]*config.Check // vipd's (unique) check names
	scripts map[string]*config.Check // vrrp_script NAME
	files   map[string]*config.Check // track_file NAME
	ifaces  map[string]*config.Check // interface name
}

func newKAScripts() kaScripts {
	return kaScripts{byName: map[string]*config.Check{}, scripts: map[string]*config.Check{},
		files: map[string]*config.Check{}, ifaces: map[string]*config.Check{}}
}

// add registers a check under a name unique among all checks: a
// track_file that has a vrrp_script's name (keepalived keeps them apart)
// becomes "file:NAME".
func (p *kaParser) addCheck(c *config.Check, prefix string) {
	if _, taken := p.sc.byName[c.Name]; taken {
		c.Name = string(c.Kind) + ":" + c.Name
		p.d.warn(c.Pos, prefix, fmt.Sprintf("another check has this name; vipd calls this one %q", c.Name))
	}
	p.sc.byName[c.Name] = c
	p.sc.list = append(p.sc.list, c)
}

// newCheck returns a check with keepalived's vrrp_script defaults
// (alloc_vrrp_script): every second, timeout the interval, rise and fall 1,
// weight 0; and the record of where its settings are written.
func newCheck(name string, pos config.Pos, kind checks.Kind, prefix string) (*config.Check, *config.Source) {
	c := &config.Check{Config: checks.Config{Name: name, Kind: kind, Interval: time.Second, Timeout: time.Second,
		Fall: 1, Rise: 1}, Pos: pos}
	src := config.NewSource(prefix)
	c.SetSource(src)
	return c, src
}

// --- vrrp_script ---

// vrrpScript reads a vrrp_script block (vrrp_script_handler and its
// keyword handlers, vrrp_vscript_end_handler).
func (p *kaParser) vrrpScript(l kaLine) {
	if len(l.words) < 2 {
		p.missing(l, "vrrp_script")
		p.skipBlock()
		return
	}
	name := l.words[1]
	prefix := "vrrp_script[" + name + "]"
	c, src := newCheck(name, l.pos, checks.KindExec, prefix)
	c.Exec = &checks.ExecConfig{}
	var timeout time.Duration
	removed := false
	p.block(l, prefix, func(kl kaLine) {
		kw := kl.words[0]
		field := prefix + "." + kw
		switch kw {
		case "script": // vrrp_vscript_script_handler
			if argv, _, ok := p.scriptLine(kl, field, false); ok {
				c.Exec.Command = argv
				src.Set("exec.command", kl.pos, kw)
			}
		case "interval", "timeout": // whole seconds; 0 is raised to 1
			v, ok := p.unsignedArg(kl, field, 0, maxSecondsUint, true,
				fmt.Sprintf("must be between 1 and %d; ignored, as keepalived does", maxSecondsUint))
			if !ok {
				return
			}
			if v == 0 {
				p.d.warn(kl.pos, field, "must be greater than 0; set to 1, as keepalived does")
				v = 1
			}
			if kw == "interval" {
				c.Interval = time.Duration(v) * time.Second
			} else {
				timeout = time.Duration(v) * time.Second
			}
			src.Set(kw, kl.pos, kw)
		case "weight": // vrrp_vscript_weight_handler
			s, ok := p.arg(kl, field)
			if !ok {
				return
			}
			c.Weight = p.scriptWeight(kl, field, s)
			src.Set("weight", kl.pos, kw)
			p.weightReverse(kl, field, c)
		case "rise", "fall": // an invalid count means 1
			v, ok := p.unsignedArg(kl, field, 1, math.MaxInt32, true, "invalid; 1 used, as keepalived does")
			if !ok {
				if len(kl.words) < 2 {
					return
				}
				v = 1
			}
			if kw == "rise" {
				c.Rise = int(v)
			} else {
				c.Fall = int(v)
			}
			src.Set(kw, kl.pos, kw)
		case "user": // vrrp_vscript_user_handler: a bad user removes the script
			if len(kl.words) < 2 {
				p.missing(kl, field)
				return
			}
			u := notify.User{User: kl.words[1]}
			if len(kl.words) > 2 {
				u.Group = kl.words[2]
			}
			if msg := p.lookupScriptUser(u); msg != "" {
				p.d.warn(kl.pos, field, msg+"; vrrp_script removed, as keepalived does")
				removed = true
				return
			}
			removed = false
			c.Exec.User, c.Exec.Group = u.User, u.Group
			src.Set("exec.user", kl.pos, kw)
			src.Set("exec.group", kl.pos, kw)
		case "init_fail":
			c.InitFail = true
		default:
			p.unknown(kl, field)
		}
	})
	switch {
	case len(c.Exec.Command) == 0:
		p.d.warn(l.pos, prefix, "no script set; vrrp_script removed, as keepalived does")
		return
	case removed:
		return
	case p.sc.scripts[name] != nil:
		p.d.warn(l.pos, prefix, fmt.Sprintf("vrrp_script %s is already defined at %v; keepalived tracks the first one, and vipd ignores this one", name, p.sc.scripts[name].Pos))
		return
	}
	c.Timeout = c.Interval // keepalived's timeout 0 means the interval
	if timeout > 0 {
		c.Timeout = timeout
	}
	p.sc.scripts[name] = c
	p.addCheck(c, prefix)
}

// scriptWeight reads a vrrp_script weight: keepalived reports a value
// outside [-253, 253] and still stores it; vipd clamps it, which changes
// nothing since priorities are clamped to 1-254 anyway.
func (p *kaParser) scriptWeight(l kaLine, field, s string) int {
	v, ok, msg := readInt(s, checks.MinWeight, checks.MaxWeight, true)
	w := int(max(min(v, checks.MaxWeight), checks.MinWeight))
	switch {
	case ok && msg != "":
		p.d.warn(l.pos, field, fmt.Sprintf("%s; %d used, as keepalived does", msg, w))
	case !ok:
		p.d.warn(l.pos, field, fmt.Sprintf("%s: weight must be in [%d, %d]; %d used", msg, checks.MinWeight, checks.MaxWeight, w))
	}
	return w
}

// scriptLine splits a script or notify line as keepalived does: the raw
// line is split with quotes and escapes, and its second word split again
// into the program and its arguments. With withUser, the third and fourth
// words are the user and group (notify_script_init); otherwise extra words
// are ignored, as keepalived does.
func (p *kaParser) scriptLine(l kaLine, field string, withUser bool) ([]string, notify.User, bool) {
	kw := l.words[0]
	qe, err := config.SplitCommand(l.raw)
	if err != nil {
		p.d.warn(l.pos, field, fmt.Sprintf("cannot parse the %s line: %v; ignored, as keepalived does", kw, err))
		return nil, notify.User{}, false
	}
	if len(qe) < 2 {
		p.d.warn(l.pos, field, fmt.Sprintf("%s has no script; ignored, as keepalived does", kw))
		return nil, notify.User{}, false
	}
	argv, err := config.SplitCommand(qe[1])
	if err != nil || len(argv) == 0 || argv[0] == "" {
		why := "it is empty"
		if err != nil {
			why = err.Error()
		}
		p.d.warn(l.pos, field, fmt.Sprintf("cannot parse the script %q: %s; ignored, as keepalived does", qe[1], why))
		return nil, notify.User{}, false
	}
	var u notify.User
	switch {
	case withUser && len(qe) > 2:
		u.User = qe[2]
		if len(qe) > 3 {
			u.Group = qe[3]
		}
	case !withUser && len(qe) > 2:
		p.d.warn(l.pos, field, fmt.Sprintf("words after the script (%s) are ignored, as keepalived does; quote the whole command line", strings.Join(qe[2:], " ")))
	}
	return argv, u, true
}

// lookupScriptUser checks that a script's user and group exist
// (set_uid_gid), returning what is wrong or "".
func (p *kaParser) lookupScriptUser(u notify.User) string {
	sys := p.opts.Machine()
	if _, _, err := sys.LookupUser(u.User); err != nil {
		return fmt.Sprintf("cannot use script user %q: %v", u.User, config.ErrorText(err))
	}
	if u.Group != "" {
		if _, err := sys.LookupGroup(u.Group); err != nil {
			return fmt.Sprintf("cannot use script group %q: %v", u.Group, config.ErrorText(err))
		}
	}
	return ""
}

// --- track_file ---

// trackFileDef reads a track_file (or vrrp_track_file) block
// (track_file_handler and its keyword handlers, track_file_end_handler).
func (p *kaParser) trackFileDef(l kaLine) {
	kw := l.words[0]
	if len(l.words) < 2 {
		p.missing(l, kw)
		p.skipBlock()
		return
	}
	name := l.words[1]
	prefix := kw + "[" + name + "]"
	if kw == "vrrp_track_file" {
		p.d.warn(l.pos, prefix, `"vrrp_track_file" is deprecated, use "track_file" (keepalived says the same)`)
	}
	c, src := newCheck(name, l.pos, checks.KindFile, prefix)
	c.Weight = 1 // keepalived's track_file default
	c.File = &checks.FileConfig{}
	p.block(l, prefix, func(kl kaLine) {
		fkw := kl.words[0]
		field := prefix + "." + fkw
		switch fkw {
		case "file":
			switch {
			case len(kl.words) < 2:
				p.d.warn(kl.pos, field, "file name missing; ignored, as keepalived does")
			case c.File.Path != "":
				p.d.warn(kl.pos, field, fmt.Sprintf("file already set for %s; %s ignored, as keepalived does", name, kl.words[1]))
			default:
				c.File.Path = kl.words[1]
				src.Set("file.path", kl.pos, fkw)
			}
		case "weight": // track_file_weight_handler
			switch {
			case len(kl.words) < 2:
				p.d.warn(kl.pos, field, "no weight given; ignored, as keepalived does")
				return
			case c.Weight != 1: // keepalived's "already set" test
				p.d.warn(kl.pos, field, fmt.Sprintf("weight already set for %s; %s ignored, as keepalived does", name, kl.words[1]))
				return
			}
			v, ok, msg := readInt(kl.words[1], -254, 254, true)
			switch {
			case ok && msg != "":
				p.d.warn(kl.pos, field, fmt.Sprintf("%s; %d used, as keepalived does", msg, v))
			case !ok:
				p.d.warn(kl.pos, field, fmt.Sprintf("%s: weight must be in [-254, 254]; 1 used, as keepalived does", msg))
				v = 1
			}
			c.Weight = int(v)
			src.Set("weight", kl.pos, fkw)
			p.weightReverse(kl, field, c)
		case "init_file": // track_file_init_handler
			value, overwrite := 0, false
			for _, w := range kl.words[1:] {
				w = strings.TrimLeft(w, cWhitespace)
				switch {
				case w != "" && (isDigit(w[0]) || w[0] == '-'):
					v, ok, _ := readInt(w, math.MinInt32, math.MaxInt32, false)
					switch {
					case !ok:
						p.d.warn(kl.pos, field, fmt.Sprintf("init value %s is invalid; 0 used, as keepalived does", w))
						v = 0
					case v < -254 || v > 254:
						p.d.warn(kl.pos, field, fmt.Sprintf("init value %d is outside the sensible range [-254, 254]; used anyway, as keepalived does", v))
					}
					value = int(v)
				case w == "overwrite":
					overwrite = true
				default:
					p.d.warn(kl.pos, field, fmt.Sprintf("unknown init_file option %q; ignored, as keepalived does", w))
				}
			}
			c.File.InitValue, c.File.InitOverwrite = &value, overwrite
			src.Set("file.init_value", kl.pos, fkw)
		default:
			p.unknown(kl, field)
		}
	})
	switch {
	case c.File.Path == "":
		p.d.warn(l.pos, prefix, "no file set; ignored, as keepalived does")
		return
	case p.sc.files[name] != nil:
		p.d.warn(l.pos, prefix, fmt.Sprintf("track file %s is already defined at %v; keepalived tracks the first one, and vipd ignores this one", name, p.sc.files[name].Pos))
		return
	}
	p.sc.files[name] = c
	p.addCheck(c, prefix)
}

// --- tracking in instances and sync groups ---

// trackEntry reads one line of a track_script, track_interface or
// track_file block of an instance or sync group (alloc_track_script,
// alloc_track_if, vrrp_alloc_track_file): NAME [weight N [reverse]].
// Scripts and files must be defined before they are tracked, as keepalived
// looks them up while reading.
func (p *kaParser) trackEntry(kw string, list *[]config.Track, l kaLine, field string) {
	name := l.words[0]
	var c *config.Check
	switch kw {
	case "track_script":
		c = p.sc.scripts[name]
	case "track_file":
		c = p.sc.files[name]
	case "track_interface":
		if msg := config.CheckIfName(name); msg != "" {
			p.d.warn(l.pos, field, fmt.Sprintf("tracked interface %q %s; ignored", name, msg))
			return
		}
	}
	what := strings.ReplaceAll(kw, "_", " ")
	if kw != "track_interface" && c == nil {
		p.d.warn(l.pos, field, fmt.Sprintf("%s %s not found (it must be defined before it is tracked); ignored, as keepalived does", what, name))
		return
	}
	var checkName string
	if c != nil {
		checkName = c.Name
	} else {
		checkName = p.interfaceCheckName(name)
	}
	for _, t := range *list {
		if t.Check == checkName {
			p.d.warn(l.pos, field, fmt.Sprintf("duplicate %s %s; ignored, as keepalived does", kw, name))
			return
		}
	}
	t := config.Track{Track: priority.Track{Check: checkName}, Pos: l.pos}
	if len(l.words) > 1 {
		if l.words[1] != "weight" {
			p.d.warn(l.pos, field, fmt.Sprintf("unknown %s option %q; %s ignored, as keepalived does", what, l.words[1], name))
			return
		}
		if len(l.words) == 2 {
			p.d.warn(l.pos, field, fmt.Sprintf("weight without a value for %s; ignored, as keepalived does", name))
			return
		}
		var def int
		var rev bool
		if c != nil {
			def, rev = c.Weight, c.WeightReverse
		}
		v, ok, msg := readInt(l.words[2], -254, 254, true)
		w := int(v)
		switch {
		case !ok:
			p.d.warn(l.pos, field, fmt.Sprintf("%s: weight for %s must be in [-253, 253]; %d used, as keepalived does", msg, name, def))
			w = def
		case msg != "":
			p.d.warn(l.pos, field, fmt.Sprintf("%s; %d used, as keepalived does", msg, w))
		}
		if (w == -254 || w == 254) && kw != "track_file" {
			p.d.warn(l.pos, field, fmt.Sprintf("weight for %s cannot be %d; %d used, as keepalived does", name, w, w/254*253))
			w = w / 254 * 253
		}
		if len(l.words) > 3 {
			switch opt := l.words[3]; {
			case opt == "reverse":
				rev = true
			case opt == "noreverse" && kw != "track_interface":
				rev = false
			case kw == "track_file":
				p.d.warn(l.pos, field, fmt.Sprintf("unknown weight option %q for %s; ignored with the entry, as keepalived does", opt, name))
				return
			default:
				p.d.warn(l.pos, field, fmt.Sprintf("unknown weight option %q for %s; ignored, as keepalived does", opt, name))
			}
		}
		t.Weight, t.WeightReverse = &w, rev
	}
	if kw == "track_interface" {
		p.interfaceCheck(name, l.pos)
	}
	*list = append(*list, t)
}

// interfaceCheckName is the name of the check standing for
// track_interface IF: "interface:IF", unless a vrrp_script has that name.
func (p *kaParser) interfaceCheckName(ifname string) string {
	if c := p.sc.ifaces[ifname]; c != nil {
		return c.Name
	}
	name := "interface:" + ifname
	if _, taken := p.sc.byName[name]; taken {
		name = "track_interface:" + ifname
	}
	return name
}

// interfaceCheck returns the check standing for track_interface IF,
// making it at its first use.
func (p *kaParser) interfaceCheck(ifname string, pos config.Pos) *config.Check {
	if c := p.sc.ifaces[ifname]; c != nil {
		return c
	}
	c, _ := newCheck(p.interfaceCheckName(ifname), pos, checks.KindInterface, "track_interface["+ifname+"]")
	c.Interface = &checks.InterfaceConfig{Name: ifname}
	p.sc.ifaces[ifname] = c
	p.sc.byName[c.Name] = c
	p.sc.list = append(p.sc.list, c)
	return c
}

// kaNotifyEvents maps keepalived's notify keywords to events; sync groups
// have all but notify_master_rx_lower_pri.
var kaNotifyEvents = map[string]notify.Script{
	"notify": notify.ScriptAny, "notify_master": notify.ScriptMaster, "notify_backup": notify.ScriptBackup,
	"notify_fault": notify.ScriptFault, "notify_stop": notify.ScriptStop,
	"notify_master_rx_lower_pri": notify.ScriptMasterRxLowerPri,
}

// notifyKeyword reads a notify script line of an instance or sync group
// (vrrp_notify_*_handler, notify_script_init): "SCRIPT" [USER [GROUP]].
func (p *kaParser) notifyKeyword(n *notify.Config, src *config.Source, l kaLine, field string) {
	kw := l.words[0]
	e := kaNotifyEvents[kw]
	if n.Command(e) != nil {
		p.d.warn(l.pos, field, fmt.Sprintf("%s script already specified; this one ignored, as keepalived does", kw))
		return
	}
	argv, u, ok := p.scriptLine(l, field, true)
	if !ok {
		return
	}
	if u.User != "" {
		if msg := p.lookupScriptUser(u); msg != "" {
			p.d.warn(l.pos, field, msg+"; notify script ignored, as keepalived does")
			return
		}
		if n.RunAs == nil {
			n.RunAs = map[notify.Script]notify.User{}
		}
		n.RunAs[e] = u
		src.Set("notify."+string(e)+".user", l.pos, kw)
		src.Set("notify."+string(e)+".group", l.pos, kw)
	}
	n.SetCommand(e, argv)
	src.Set("notify."+string(e), l.pos, kw)
}

// --- vrrp_sync_group ---

// syncGroup reads a vrrp_sync_group block (vrrp_sync_group_handler and
// the group keywords).
func (p *kaParser) syncGroup(l kaLine) {
	name, ok := p.blockName(l, "vrrp_sync_group", func(name string) (config.Pos, bool) {
		if g := p.groupByName[name]; g != nil {
			return g.sg.Pos, true
		}
		return config.Pos{}, false
	})
	if !ok {
		return
	}
	prefix := "vrrp_sync_group[" + name + "]"
	src := config.NewSource(prefix)
	sg := &config.SyncGroup{Name: name, Pos: l.pos}
	sg.SetSource(src)
	g := &kaGroup{sg: sg, src: src, prefix: prefix}
	p.groups = append(p.groups, g)
	p.groupByName[name] = g
	p.block(l, prefix, func(kl kaLine) {
		kw := kl.words[0]
		field := prefix + "." + kw
		switch kw {
		case "group": // vrrp_group_handler
			if g.groupSet {
				p.d.warn(kl.pos, field, "group list already specified; block skipped, as keepalived does")
				p.skipBlock()
				return
			}
			g.groupSet = true
			g.src.Set("instances", kl.pos, kw)
			p.valueBlock(kl, field, func(vl kaLine) {
				for _, w := range vl.words {
					g.names = append(g.names, w)
					g.namePos = append(g.namePos, vl.pos)
				}
			})
			if len(g.names) == 0 {
				p.d.warn(kl.pos, field, "the group block is empty")
			}
		case "track_script", "track_interface", "track_file":
			p.valueBlock(kl, field, func(tl kaLine) { p.trackEntry(kw, &g.tracks, tl, field) })
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			p.notifyKeyword(&g.sg.Notify, g.src, kl, field)
		case "global_tracking": // vrrp_gglobal_tracking_handler
			p.d.warn(kl.pos, field, "global_tracking is deprecated; use track_interface/script/file on the sync group (keepalived says the same); treated as sync_group_tracking_weight")
			g.trackingWeight = true
		case "sync_group_tracking_weight":
			g.trackingWeight = true
		case "smtp_alert", "notify_priority_changes", "track_process", "track_bfd":
			p.unsupported(kl, field)
		default:
			p.unknown(kl, field)
		}
	})
}

// --- completion (vrrp_complete_init) ---

// completeScripts settles who scripts run as and applies script security
// (check_vrrp_script_security, get_default_script_user), before the
// instances are completed, as keepalived does. Scripts keepalived would
// disable are removed with a warning; tracks of removed checks go too.
func (p *kaParser) completeScripts() {
	cfg, g := p.cfg, &p.global
	cfg.Scripts.Enforce = g.scriptSecurity
	if g.securityPos.Line > 0 {
		p.src.Set("scripts.security", g.securityPos, "global_defs.enable_script_security")
	}
	uses := config.ScriptUses(cfg)
	if len(uses) > 0 {
		defaultFailed := false
		switch {
		case g.scriptUser != "" && !g.scriptUserFailed:
			cfg.Scripts.User, cfg.Scripts.Group = g.scriptUser, g.scriptGroup
			p.src.Set("scripts.user", g.scriptUserPos, "global_defs.script_user")
			p.src.Set("scripts.group", g.scriptUserPos, "global_defs.script_user")
		case g.scriptUserFailed:
			defaultFailed = true
		default:
			// keepalived's default script user, if the machine has it.
			if _, _, err := p.opts.Machine().LookupUser(kaDefaultScriptUser); err == nil {
				cfg.Scripts.User = kaDefaultScriptUser
			} else if g.scriptSecurity {
				defaultFailed = true
				p.d.warn(g.securityPos, "global_defs.enable_script_security",
					fmt.Sprintf("no script_user and no user %s: keepalived cannot set the default script user and disables every script without a user of its own", kaDefaultScriptUser))
			}
		}
		if defaultFailed {
			for _, u := range uses {
				if u.Own.User == "" {
					pos, field := u.At()
					p.d.warn(pos, field, fmt.Sprintf("%s has no user of its own and the default script user could not be set; disabled, as keepalived does", u.What))
					u.Disable()
				}
			}
		}
		p.d.list = append(p.d.list, config.CheckScripts(cfg, p.opts)...)
	}

	// Drop disabled checks and what tracks them.
	dropped := map[string]bool{}
	var kept []*config.Check
	for _, c := range p.sc.list {
		if c.Exec != nil && c.Exec.Command == nil {
			dropped[c.Name] = true
			continue
		}
		kept = append(kept, c)
	}
	p.sc.list = kept
	cfg.Checks = kept
	keep := func(ts []config.Track) []config.Track {
		var out []config.Track
		for _, t := range ts {
			if !dropped[t.Check] {
				out = append(out, t)
			}
		}
		return out
	}
	for _, ki := range p.kis {
		ki.inst.Track = keep(ki.inst.Track)
	}
	for _, kg := range p.groups {
		kg.tracks = keep(kg.tracks)
	}
}

// kaDefaultScriptUser is the user keepalived runs scripts as when it
// exists and script_user is not set.
const kaDefaultScriptUser = "keepalived_script"

// completeGroups resolves sync group members (vrrp_sync_set_group):
// unknown members and members of an earlier group are skipped, groups
// left empty are removed, all with keepalived's warnings.
func (p *kaParser) completeGroups() {
	byName := map[string]*kaInstance{}
	for _, ki := range p.kis {
		byName[ki.inst.Name] = ki
	}
	var kept []*config.SyncGroup
	for _, g := range p.groups {
		field := g.prefix + ".group"
		if !g.groupSet {
			p.d.warn(g.sg.Pos, g.prefix, "sync group has no virtual router(s); removed, as keepalived does")
			continue
		}
		for i, name := range g.names {
			ki := byName[name]
			switch {
			case ki == nil:
				p.d.warn(g.namePos[i], field, fmt.Sprintf("virtual router %s does not exist; ignored, as keepalived does", name))
			case ki.group != nil:
				p.d.warn(g.namePos[i], field, fmt.Sprintf("%s is already in sync group %s and cannot be in two; ignored here, as keepalived does", name, ki.group.sg.Name))
			default:
				ki.group = g
				g.sg.Instances = append(g.sg.Instances, name)
			}
		}
		switch len(g.sg.Instances) {
		case 0:
			p.d.warn(g.sg.Pos, g.prefix, "no matching virtual router found; sync group removed, as keepalived does")
			continue
		case 1:
			p.d.warn(g.sg.Pos, g.prefix, "sync group has only 1 virtual router; this probably isn't what you want (keepalived warns too)")
		}
		kept = append(kept, g.sg)
	}
	p.cfg.SyncGroups = kept
}

// completeTracking drops what keepalived ignores on an address owner and
// on a sync group member without sync_group_tracking_weight: weighted
// scripts, weights of interfaces, and weighted files
// (vrrp_complete_instance).
func (p *kaParser) completeTracking(ki *kaInstance) {
	inst := ki.inst
	syncNoWeight := ki.group != nil && !ki.group.trackingWeight
	owner := inst.Priority == config.OwnerPriority
	if !syncNoWeight && !owner {
		return
	}
	why := "the address owner (priority 255)"
	if syncNoWeight {
		why = "sync group " + ki.group.sg.Name + " (no sync_group_tracking_weight)"
	}
	var kept []config.Track
	for _, t := range inst.Track {
		c := p.sc.byName[t.Check]
		w, _ := t.Effective(c)
		field := ki.prefix + "." + kaTrackKeyword(c)
		switch {
		case w == 0:
		case c.Kind == checks.KindInterface && syncNoWeight:
			p.d.warn(t.Pos, field, fmt.Sprintf("ignoring the weight of %s due to %s, as keepalived does", kaTracked(c), why))
			t.Weight, t.WeightReverse = ptr(0), false
		case c.Kind == checks.KindFile && w == 1:
			p.d.warn(t.Pos, field, fmt.Sprintf("ignoring the weight of %s due to %s, as keepalived does (specify weight 0)", kaTracked(c), why))
			t.Weight = ptr(0)
		default:
			p.d.warn(t.Pos, field, fmt.Sprintf("ignoring %s with weight %d due to %s, as keepalived does", kaTracked(c), w, why))
			continue
		}
		kept = append(kept, t)
	}
	inst.Track = kept
}

// groupTracking gives every member of a sync group the group's tracks
// (sync_group_tracking_init, add_vrrp_to_track_script): a group with an
// address owner has its weights cleared; a check the member tracks itself
// takes the group's weight unless the member's is 0.
func (p *kaParser) groupTracking() {
	byName := map[string]*config.Instance{}
	for _, ki := range p.kis {
		byName[ki.inst.Name] = ki.inst
	}
	for _, g := range p.groups {
		if len(g.sg.Instances) == 0 {
			continue
		}
		hasOwner := false
		for _, name := range g.sg.Instances {
			if byName[name].Priority == config.OwnerPriority {
				hasOwner = true
			}
		}
		for _, t := range g.tracks {
			c := p.sc.byName[t.Check]
			w, rev := t.Effective(c)
			if hasOwner && w != 0 {
				p.d.warn(t.Pos, g.prefix+"."+kaTrackKeyword(c), fmt.Sprintf("cannot have a weighted %s with a member of priority 255; weight cleared, as keepalived does", kaTracked(c)))
				w = 0
			}
			for _, name := range g.sg.Instances {
				inst := byName[name]
				own := -1
				for j := range inst.Track {
					if inst.Track[j].Check == t.Check {
						own = j
					}
				}
				if own < 0 {
					inst.Track = append(inst.Track, config.Track{Track: priority.Track{Check: t.Check, Weight: ptr(w), WeightReverse: rev}, Pos: t.Pos})
					continue
				}
				it := &inst.Track[own]
				p.d.warn(it.Pos, p.byName[name].prefix+"."+kaTrackKeyword(c), fmt.Sprintf("%s is tracked by the instance and by its sync group %s; keepalived uses the group's weight unless the instance's is 0", t.Check, g.sg.Name))
				if iw, _ := it.Effective(c); iw != 0 {
					it.Weight, it.WeightReverse = ptr(w), rev
				}
			}
		}
	}
}

// kaTrackKeyword is the keyword tracking a check of c's kind.
func kaTrackKeyword(c *config.Check) string {
	switch c.Kind {
	case checks.KindInterface:
		return "track_interface"
	case checks.KindFile:
		return "track_file"
	}
	return "track_script"
}

// kaTracked names a tracked check in messages: "tracked script chk".
func kaTracked(c *config.Check) string {
	switch c.Kind {
	case checks.KindInterface:
		return "tracked interface " + c.Interface.Name
	case checks.KindFile:
		return "tracked file " + c.Name
	}
	return "tracked script " + c.Name
}

// recordTrackFields names each track for the shared validation.
func (p *kaParser) recordTrackFields(ki *kaInstance) {
	for j, t := range ki.inst.Track {
		if c := p.sc.byName[t.Check]; c != nil {
			ki.src.More().Set("track["+strconv.Itoa(j)+"]", t.Pos, kaTrackKeyword(c))
		}
	}
	if ki.inst.Notify.Timeout == 0 {
		ki.inst.Notify.Timeout = notify.DefaultTimeout
	}
}

// weightReverse reads the option after a weight (vrrp_script's and
// track_file's): reverse, or a warning.
func (p *kaParser) weightReverse(kl kaLine, field string, c *config.Check) {
	if len(kl.words) <= 2 {
		return
	}
	if kl.words[2] == "reverse" {
		c.WeightReverse = true
	} else {
		p.d.warn(kl.pos, field, fmt.Sprintf("unknown weight option %q; ignored, as keepalived does", kl.words[2]))
	}
}
