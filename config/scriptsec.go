package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// This file is keepalived's script security (lib/notify.c,
// check_script_secure and check_security, with enable_script_security):
// a script that runs as root must not be replaceable by anyone else, so
// the file and every directory above it must be owned by root and not
// writable by a non-root group or by everyone (a directory with the sticky
// bit, like /tmp, is fine). A bare program name is first looked up in PATH
// as keepalived (and execvp) does.

// defaultSearchPath is glibc's confstr(_CS_PATH), used when PATH is unset.
const defaultSearchPath = "/bin:/usr/bin"

// scriptProblem classifies what is wrong with a script.
type scriptProblem int

const (
	scriptOK scriptProblem = iota
	// scriptMissing: not found, not accessible or not executable.
	// keepalived disables such a script whatever its security setting.
	scriptMissing
	// scriptInsecure: it or a directory above it is writable by a
	// non-root user. keepalived disables it with enable_script_security
	// only, and runs it otherwise.
	scriptInsecure
)

// vetScript checks the program of argv as user uid/gid would run it.
func vetScript(sys system, argv []string, uid, gid uint32) (scriptProblem, string) {
	if len(argv) == 0 || argv[0] == "" {
		return scriptMissing, "no program given"
	}
	prog := argv[0]
	if !strings.Contains(prog, "/") {
		found, msg := searchPath(sys, prog, uid, gid)
		if found == "" {
			return scriptMissing, msg
		}
		prog = found
	}
	real, err := sys.realPath(prog)
	if err != nil {
		return scriptMissing, fmt.Sprintf("%s cannot be accessed: %v", prog, errText(err))
	}
	st, err := sys.stat(real)
	if err != nil {
		return scriptMissing, fmt.Sprintf("%s cannot be accessed: %v", real, errText(err))
	}
	if !st.mode.IsRegular() {
		return scriptMissing, fmt.Sprintf("%s is not a regular file", real)
	}
	if !executable(st, uid, gid) {
		return scriptMissing, fmt.Sprintf("%s is not executable for uid:gid %d:%d", real, uid, gid)
	}
	if msg := insecurePath(sys, real, true); msg != "" {
		return scriptInsecure, msg
	}
	// A link to the program can be swapped by whoever may write the
	// directory holding it, so check that directory too.
	if abs := filepath.Clean(prog); filepath.IsAbs(abs) && abs != real {
		if dir, err := sys.realPath(filepath.Dir(abs)); err == nil && dir != filepath.Dir(real) {
			if msg := insecurePath(sys, dir, false); msg != "" {
				return scriptInsecure, msg + " (it holds the link " + abs + ")"
			}
		}
	}
	return scriptOK, ""
}

// searchPath finds a bare program name in PATH (find_path): the first
// regular file executable by uid/gid.
func searchPath(sys system, name string, uid, gid uint32) (string, string) {
	path, set := sys.getenv("PATH"), true
	if path == "" {
		path, set = defaultSearchPath, false
	}
	for dir := range strings.SplitSeq(path, ":") {
		cand := name
		if dir != "" {
			cand = dir + "/" + name
		}
		st, err := sys.stat(cand)
		if err == nil && st.mode.IsRegular() && executable(st, uid, gid) {
			return cand, ""
		}
	}
	if !set {
		return "", fmt.Sprintf("%s not found in %s (PATH is not set)", name, path)
	}
	return "", fmt.Sprintf("%s not found in PATH (%s)", name, path)
}

// executable is keepalived's is_executable: root needs any execute bit,
// others the owner, group or other bit that applies to them.
func executable(st fileMeta, uid, gid uint32) bool {
	m := st.mode.Perm()
	switch {
	case uid == 0:
		return m&0o111 != 0
	case uid == st.uid:
		return m&0o100 != 0
	case gid == st.gid:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// insecurePath walks path from the root (check_security), with lstat so
// that links are not followed. Every element but the last must be a
// directory; the last a directory (when file is false) or a regular file
// or link. It returns what is wrong, or "".
func insecurePath(sys system, path string, file bool) string {
	path = filepath.Clean(path)
	if !filepath.IsAbs(path) {
		return ""
	}
	parts := []string{"/"}
	for p := path; p != "/"; p = filepath.Dir(p) {
		parts = append(parts, p)
	}
	// parts is "/" then path up to its first element; walk downwards.
	order := append([]string{"/"}, reversed(parts[1:])...)
	for i, p := range order {
		st, err := sys.lstat(p)
		if err != nil {
			return fmt.Sprintf("%s cannot be checked: %v", p, errText(err))
		}
		last := i == len(order)-1
		switch {
		case !last || !file:
			if !st.mode.IsDir() {
				return fmt.Sprintf("%s is not a directory", p)
			}
		case !st.mode.IsRegular() && st.mode&fs.ModeSymlink == 0:
			return fmt.Sprintf("%s is not a regular file", p)
		}
		if why := unsafeMeta(st); why != "" {
			return fmt.Sprintf("%s %s", p, why)
		}
	}
	return ""
}

// unsafeMeta says why a file or directory lets a non-root user change what
// root runs, or "".
func unsafeMeta(st fileMeta) string {
	m := st.mode
	if st.uid != 0 {
		return fmt.Sprintf("is owned by uid %d, not root", st.uid)
	}
	sticky := m.IsDir() && m&fs.ModeSticky != 0
	if sticky || (!m.IsDir() && !m.IsRegular()) {
		return ""
	}
	switch {
	case st.gid != 0 && m.Perm()&0o020 != 0:
		return fmt.Sprintf("is writable by group %d (mode %v)", st.gid, m)
	case m.Perm()&0o002 != 0:
		return fmt.Sprintf("is writable by everyone (mode %v)", m)
	}
	return ""
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// scriptUse is one script of a configuration, for the security checks.
type scriptUse struct {
	argv []string
	// own is the script's own user, if it names one.
	own ScriptUser
	// ownKey is the srcMap key of own.User ("exec.user", "notify.master.user").
	ownKey string
	src    *srcMap
	key    string // srcMap key of the command
	def    Pos    // position when the key is not recorded
	// what names the script in messages: `vrrp_script "chk"`.
	what string
	// disable removes the script (keepalived input only).
	disable func()
}

func (u scriptUse) at() (Pos, string) { return u.src.at(u.key, u.def) }

// scriptUses lists every script of c: exec checks, then the notify
// scripts of instances and sync groups.
func scriptUses(c *Config) []scriptUse {
	var uses []scriptUse
	for i, ch := range c.Checks {
		if ch.Exec == nil || len(ch.Exec.Command) == 0 {
			continue // validation reports a missing command
		}
		src := ch.src
		if src == nil {
			src = newSrcMap("checks[" + fmt.Sprint(i) + "]")
		}
		uses = append(uses, scriptUse{
			argv: ch.Exec.Command, own: ScriptUser{ch.Exec.User, ch.Exec.Group}, ownKey: "exec.user",
			src: src, key: "exec.command", def: ch.Pos, what: fmt.Sprintf("check %q", ch.Name),
			disable: func() { ch.Exec.Command = nil },
		})
	}
	notify := func(n *Notify, src *srcMap, def Pos, owner string) {
		for _, e := range NotifyEvents() {
			if len(n.Command(e)) == 0 {
				continue
			}
			key := "notify." + string(e)
			name := key // as each format spells it
			if c.Format == FormatKeepalived {
				name = e.KeepalivedKeyword()
			}
			uses = append(uses, scriptUse{
				argv: n.Command(e), own: n.User(e), ownKey: key + ".user",
				src: src, key: key, def: def, what: fmt.Sprintf("%s script of %s", name, owner),
				disable: func() { *n.slot(e) = nil; delete(n.RunAs, e) },
			})
		}
	}
	for idx, inst := range c.Instances {
		notify(&inst.Notify, inst.source(idx).more, inst.Pos, "instance "+inst.Name)
	}
	for i, g := range c.SyncGroups {
		src := g.src
		if src == nil {
			src = newSrcMap("sync_groups[" + fmt.Sprint(i) + "]")
		}
		notify(&g.Notify, src, g.Pos, "sync group "+g.Name)
	}
	return uses
}

// scriptChecks applies the script policy of c to its scripts, as Load does:
// users and groups must exist, and scripts that run as root must be
// secure. keepalived input (lenient) follows keepalived: a missing or
// non-executable script is disabled with a warning, an insecure one is an
// error with enable_script_security and a warning without.
func scriptChecks(c *Config, sys system, d *diags, lenient bool) {
	uses := scriptUses(c)
	if len(uses) == 0 {
		return
	}
	myUID, myGID := sys.ids()

	// The default user, once.
	defUID, defGID := myUID, myGID
	defOK := true
	if c.Scripts.User != "" || c.Scripts.Group != "" {
		defUID, defGID, defOK = resolveScriptUser(sys, d, c.Scripts.User, c.Scripts.Group, c.src, "scripts", lenient)
	}

	violation := false
	for _, u := range uses {
		uid, gid, ok := defUID, defGID, defOK
		if u.own.User != "" || u.own.Group != "" {
			uid, gid, ok = resolveScriptUser(sys, d, u.own.User, u.own.Group, u.src, strings.TrimSuffix(u.ownKey, ".user"), lenient)
			if u.own.User == "" {
				uid = defUID
			}
		}
		if !ok {
			continue
		}
		if uid != 0 && gid != 0 {
			continue // runs unprivileged: nothing to protect
		}
		if !c.Scripts.Enforce && !lenient {
			continue // the native format's "security: false"
		}
		problem, msg := vetScript(sys, u.argv, uid, gid)
		pos, field := u.at()
		switch {
		case problem == scriptOK:
		case problem == scriptMissing && lenient:
			d.warn(pos, field, fmt.Sprintf("%s: %s; disabled, as keepalived does", u.what, msg))
			u.disable()
			continue
		case problem == scriptMissing:
			d.err(pos, field, fmt.Sprintf("%s: %s", u.what, msg))
		case c.Scripts.Enforce:
			d.err(pos, field, fmt.Sprintf("%s runs as root but %s; refusing it (script security)", u.what, msg))
		default:
			d.warn(pos, field, fmt.Sprintf("%s runs as root but %s; keepalived runs it without enable_script_security, and so does vipd", u.what, msg))
		}
		if lenient && !c.Scripts.Enforce && !violation {
			violation = true
			d.warn(pos, field, "scripts run as root but enable_script_security is not set (keepalived reports a SECURITY VIOLATION)")
		}
	}
}

// resolveScriptUser looks up a script user and group; a group alone
// keeps vipd's own user. Problems are reported at key.user or key.group
// in src.
func resolveScriptUser(sys system, d *diags, name, group string, src *srcMap, key string, lenient bool) (uid, gid uint32, ok bool) {
	uid, gid = sys.ids()
	report := func(k, what, n string, err error) {
		pos, field := src.at(joinField(key, k), Pos{})
		msg := fmt.Sprintf("%s %q %v", what, n, errText(err))
		if errors.Is(err, errUnknownName) {
			msg = fmt.Sprintf("%s %q does not exist", what, n)
		}
		if lenient {
			d.warn(pos, field, msg)
		} else {
			d.err(pos, field, msg)
		}
	}
	ok = true
	if name != "" {
		var err error
		if uid, gid, err = sys.lookupUser(name); err != nil {
			report("user", "user", name, err)
			ok = false
		}
	}
	if group != "" {
		g, err := sys.lookupGroup(group)
		if err != nil {
			report("group", "group", group, err)
			ok = false
		} else {
			gid = g
		}
	}
	return uid, gid, ok
}
