package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/vipd/vipd/config/internal/machine"
	"github.com/vipd/vipd/notify"
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
func vetScript(sys machine.System, argv []string, uid, gid uint32) (scriptProblem, string) {
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
	real, err := sys.RealPath(prog)
	if err != nil {
		return scriptMissing, fmt.Sprintf("%s cannot be accessed: %v", prog, ErrorText(err))
	}
	st, err := sys.Stat(real)
	if err != nil {
		return scriptMissing, fmt.Sprintf("%s cannot be accessed: %v", real, ErrorText(err))
	}
	if !st.Mode.IsRegular() {
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
		if dir, err := sys.RealPath(filepath.Dir(abs)); err == nil && dir != filepath.Dir(real) {
			if msg := insecurePath(sys, dir, false); msg != "" {
				return scriptInsecure, msg + " (it holds the link " + abs + ")"
			}
		}
	}
	return scriptOK, ""
}

// searchPath finds a bare program name in PATH (find_path): the first
// regular file executable by uid/gid.
func searchPath(sys machine.System, name string, uid, gid uint32) (string, string) {
	path, set := sys.Getenv("PATH"), true
	if path == "" {
		path, set = defaultSearchPath, false
	}
	for dir := range strings.SplitSeq(path, ":") {
		cand := name
		if dir != "" {
			cand = dir + "/" + name
		}
		st, err := sys.Stat(cand)
		if err == nil && st.Mode.IsRegular() && executable(st, uid, gid) {
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
func executable(st machine.FileMeta, uid, gid uint32) bool {
	m := st.Mode.Perm()
	switch {
	case uid == 0:
		return m&0o111 != 0
	case uid == st.UID:
		return m&0o100 != 0
	case gid == st.GID:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// insecurePath walks path from the root (check_security), with lstat so
// that links are not followed. Every element but the last must be a
// directory; the last a directory (when file is false) or a regular file
// or link. It returns what is wrong, or "".
func insecurePath(sys machine.System, path string, file bool) string {
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
		st, err := sys.Lstat(p)
		if err != nil {
			return fmt.Sprintf("%s cannot be checked: %v", p, ErrorText(err))
		}
		last := i == len(order)-1
		switch {
		case !last || !file:
			if !st.Mode.IsDir() {
				return fmt.Sprintf("%s is not a directory", p)
			}
		case !st.Mode.IsRegular() && st.Mode&fs.ModeSymlink == 0:
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
func unsafeMeta(st machine.FileMeta) string {
	m := st.Mode
	if st.UID != 0 {
		return fmt.Sprintf("is owned by uid %d, not root", st.UID)
	}
	sticky := m.IsDir() && m&fs.ModeSticky != 0
	if sticky || (!m.IsDir() && !m.IsRegular()) {
		return ""
	}
	switch {
	case st.GID != 0 && m.Perm()&0o020 != 0:
		return fmt.Sprintf("is writable by group %d (mode %v)", st.GID, m)
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

// ScriptUse is one script of a configuration (a check's command, a notify
// command), for the security checks and for front ends that settle who
// scripts run as (keepalived's default script user).
type ScriptUse struct {
	argv []string
	// Own is the script's own user, if it names one.
	Own notify.User
	// ownKey is the Source key of own.User ("exec.user", "notify.master.user").
	ownKey string
	src    *Source
	key    string // Source key of the command
	def    Pos    // position when the key is not recorded
	// What names the script in messages: `check "chk"`.
	What string
	// disable removes the script (keepalived input only).
	disable func()
}

// At returns where the script was written and its field name.
func (u ScriptUse) At() (Pos, string) { return u.src.at(u.key, u.def) }

// Disable removes the script from the configuration, as keepalived does
// with a script it cannot run.
func (u ScriptUse) Disable() { u.disable() }

// ScriptUses lists every script of c: exec checks, then the notify
// scripts of instances and sync groups.
func ScriptUses(c *Config) []ScriptUse {
	var uses []ScriptUse
	for i, ch := range c.Checks {
		if ch.Exec == nil || len(ch.Exec.Command) == 0 {
			continue // validation reports a missing command
		}
		src := ch.src
		if src == nil {
			src = NewSource("checks[" + fmt.Sprint(i) + "]")
		}
		uses = append(uses, ScriptUse{
			argv: ch.Exec.Command, Own: notify.User{User: ch.Exec.User, Group: ch.Exec.Group}, ownKey: "exec.user",
			src: src, key: "exec.command", def: ch.Pos, What: fmt.Sprintf("check %q", ch.Name),
			disable: func() { ch.Exec.Command = nil },
		})
	}
	notify := func(n *notify.Config, src *Source, def Pos, owner string) {
		for _, e := range notify.Scripts() {
			if len(n.Command(e)) == 0 {
				continue
			}
			key := "notify." + string(e)
			name := key // as each format spells it
			if c.Format == FormatKeepalived {
				name = e.KeepalivedKeyword()
			}
			uses = append(uses, ScriptUse{
				argv: n.Command(e), Own: n.User(e), ownKey: key + ".user",
				src: src, key: key, def: def, What: fmt.Sprintf("%s script of %s", name, owner),
				disable: func() { n.SetCommand(e, nil); delete(n.RunAs, e) },
			})
		}
	}
	for idx, inst := range c.Instances {
		notify(&inst.Notify, inst.source(idx).more, inst.Pos, "instance "+inst.Name)
	}
	for i, g := range c.SyncGroups {
		src := g.src
		if src == nil {
			src = NewSource("sync_groups[" + fmt.Sprint(i) + "]")
		}
		notify(&g.Notify, src, g.Pos, "sync group "+g.Name)
	}
	return uses
}

// CheckScripts applies c's script policy to its scripts as a load does,
// keepalived input (c.Format) as keepalived does; it returns what it
// found. Front ends outside this package call it once they have settled
// who scripts run as.
func CheckScripts(c *Config, opts LoadOptions) Diagnostics {
	var d diags
	scriptChecks(c, opts.Machine(), &d, c.Format == FormatKeepalived)
	return d.list
}

// scriptChecks applies the script policy of c to its scripts, as a load does:
// users and groups must exist, and scripts that run as root must be
// secure. keepalived input (lenient) follows keepalived: a missing or
// non-executable script is disabled with a warning, an insecure one is an
// error with enable_script_security and a warning without.
func scriptChecks(c *Config, sys machine.System, d *diags, lenient bool) {
	uses := ScriptUses(c)
	if len(uses) == 0 {
		return
	}
	myUID, myGID := sys.IDs()

	// The default user, once.
	defUID, defGID := myUID, myGID
	defOK := true
	if c.Scripts.User != "" || c.Scripts.Group != "" {
		defUID, defGID, defOK = resolveScriptUser(sys, d, c.Scripts.User, c.Scripts.Group, c.src, "scripts", lenient)
	}

	violation := false
	for _, u := range uses {
		uid, gid, ok := defUID, defGID, defOK
		if u.Own.User != "" || u.Own.Group != "" {
			uid, gid, ok = resolveScriptUser(sys, d, u.Own.User, u.Own.Group, u.src, strings.TrimSuffix(u.ownKey, ".user"), lenient)
			if u.Own.User == "" {
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
		pos, field := u.At()
		switch {
		case problem == scriptOK:
		case problem == scriptMissing && lenient:
			d.warn(pos, field, fmt.Sprintf("%s: %s; disabled, as keepalived does", u.What, msg))
			u.Disable()
			continue
		case problem == scriptMissing:
			d.err(pos, field, fmt.Sprintf("%s: %s", u.What, msg))
		case c.Scripts.Enforce:
			d.err(pos, field, fmt.Sprintf("%s runs as root but %s; refusing it (script security)", u.What, msg))
		default:
			d.warn(pos, field, fmt.Sprintf("%s runs as root but %s; keepalived runs it without enable_script_security, and so does vipd", u.What, msg))
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
func resolveScriptUser(sys machine.System, d *diags, name, group string, src *Source, key string, lenient bool) (uid, gid uint32, ok bool) {
	uid, gid = sys.IDs()
	report := func(k, what, n string, err error) {
		pos, field := src.at(joinField(key, k), Pos{})
		msg := fmt.Sprintf("%s %q %v", what, n, ErrorText(err))
		if errors.Is(err, machine.ErrUnknownName) {
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
		if uid, gid, err = sys.LookupUser(name); err != nil {
			report("user", "user", name, err)
			ok = false
		}
	}
	if group != "" {
		g, err := sys.LookupGroup(group)
		if err != nil {
			report("group", "group", group, err)
			ok = false
		} else {
			gid = g
		}
	}
	return uid, gid, ok
}
