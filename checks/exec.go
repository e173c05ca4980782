package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vipd/vipd/config"
)

// ExecPath is where an exec check's bare program name is looked up, and the
// PATH the program gets. A program's whole environment is this one
// variable, PATH=ExecPath, so that a check behaves the same whatever
// environment vipd was started with; its working directory is "/" and its
// standard input /dev/null.
const ExecPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execWaitDelay bounds how long a probe keeps reading output once the
// program has exited or been killed: a background child that inherited
// stdout must not hold the probe open.
const execWaitDelay = 100 * time.Millisecond

// execProber runs a program, keepalived's vrrp_script. The program runs
// without a shell, in a process group of its own, so that a timeout kills
// everything it started (SIGKILL to the group), as keepalived does. Exit
// status 0 is success; anything else, a signal or a timeout is failure.
// Processes the program leaves running after exiting in time are not
// hunted down, as with keepalived.
type execProber struct {
	path string   // the program's absolute path
	args []string // argv, argv[0] as configured
	cred *syscall.Credential
}

func newExecProber(c *config.Check, opts Options) (*execProber, error) {
	cfgErr := func(field string, err error) error {
		return &ConfigError{Check: c.Name, Kind: c.Kind, Field: field, Err: err}
	}
	e := c.Exec
	if len(e.Command) == 0 || e.Command[0] == "" {
		return nil, cfgErr("Command", errors.New("no program given"))
	}
	for _, a := range e.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, cfgErr("Command", fmt.Errorf("argument %q contains a NUL byte", a))
		}
	}
	path, err := lookProgram(e.Command[0])
	if err != nil {
		return nil, cfgErr("Command", err)
	}

	// The check's own user wins, with its group or else the user's
	// primary group; otherwise the global script user and group apply.
	usr, grp := e.User, e.Group
	if usr == "" {
		usr = opts.Scripts.User
		if grp == "" {
			grp = opts.Scripts.Group
		}
	}
	cred, err := credential(usr, grp, uint32(os.Geteuid()), uint32(os.Getegid()))
	if err != nil {
		field := "User"
		var ge groupError
		if errors.As(err, &ge) {
			field = "Group"
		}
		return nil, cfgErr(field, err)
	}

	if err := checkScriptSecurity(path, cred); err != nil {
		if opts.Scripts.Enforce {
			return nil, cfgErr("Command", err)
		}
		opts.logger().Warn("check script is not safe", "check", c.Name, "program", path, "err", err)
	}
	return &execProber{path: path, args: append([]string(nil), e.Command...), cred: cred}, nil
}

// Probe runs the program once and waits for it.
func (p *execProber) Probe(ctx context.Context) Result {
	start := time.Now()
	out := &tailBuffer{max: MaxOutput}
	cmd := exec.CommandContext(ctx, p.path)
	cmd.Args = p.args
	cmd.Env = []string{"PATH=" + ExecPath}
	cmd.Dir = "/"
	// One writer value for both, so os/exec uses one pipe and one copier.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	cmd.Cancel = func() error {
		// The group leader is not reaped yet, so its pid still names
		// the group: no risk of signalling a stranger.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = execWaitDelay
	err := cmd.Run() // Run always waits, so no zombie is left behind.

	res := Result{Output: bound(out.String()), Duration: time.Since(start)}
	st := cmd.ProcessState
	var ws syscall.WaitStatus
	if st != nil {
		ws, _ = st.Sys().(syscall.WaitStatus)
	}
	switch {
	case st != nil && st.Success() && (err == nil || errors.Is(err, exec.ErrWaitDelay)):
		res.OK = true
	case st != nil && ws.Signaled() && ws.Signal() == syscall.SIGKILL && ctx.Err() != nil:
		res.Err = probeErr(ctx, errors.New("process group killed"))
	case st != nil && ws.Exited():
		res.Err = fmt.Errorf("exit status %d", ws.ExitStatus())
	case st != nil && ws.Signaled():
		res.Err = fmt.Errorf("signal: %v", ws.Signal())
	case err != nil:
		res.Err = probeErr(ctx, err) // never started, or could not be waited for
	default:
		res.Err = fmt.Errorf("program failed: %s", st)
	}
	return res
}

// lookProgram resolves the program name: an absolute path is taken as is,
// a bare name is looked up in ExecPath (never in vipd's own PATH), and a
// relative path is refused since vipd's working directory means nothing to
// whoever wrote the configuration.
func lookProgram(name string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			return "", fmt.Errorf("program %q: a path must be absolute", name)
		}
		if err := isProgram(name); err != nil {
			return "", err
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(ExecPath) {
		p := filepath.Join(dir, name)
		if isProgram(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %q not found in %s", name, ExecPath)
}

func isProgram(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("program %q: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("program %q is not a regular file", path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("program %q is not executable", path)
	}
	return nil
}

// groupError marks credential errors that are about the group.
type groupError struct{ error }

func (e groupError) Unwrap() error { return e.error }

// credential resolves the user and group a program runs as, for vipd
// running as euid and egid; nil means vipd's own. A user brings its
// primary group and supplementary groups unless a group is given; a group
// alone keeps vipd's user and drops supplementary groups.
func credential(userName, groupName string, euid, egid uint32) (*syscall.Credential, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	uid, gid := euid, egid
	var groups []uint32
	if userName != "" {
		u, err := lookupUser(userName)
		if err != nil {
			return nil, err
		}
		uid, err = parseID(u.Uid)
		if err != nil {
			return nil, fmt.Errorf("user %q: uid %w", userName, err)
		}
		if gid, err = parseID(u.Gid); err != nil {
			return nil, fmt.Errorf("user %q: gid %w", userName, err)
		}
		if ids, err := u.GroupIds(); err == nil {
			for _, s := range ids {
				if id, err := parseID(s); err == nil {
					groups = append(groups, id)
				}
			}
		}
	}
	if groupName != "" {
		g, err := lookupGroup(groupName)
		if err != nil {
			return nil, groupError{err}
		}
		if gid, err = parseID(g.Gid); err != nil {
			return nil, groupError{fmt.Errorf("group %q: gid %w", groupName, err)}
		}
		if userName == "" {
			groups = nil
		}
	}
	if euid != 0 {
		// Without root nothing can change; asking for what we already
		// are is fine, anything else would fail at every run.
		if uid == euid && gid == egid {
			return nil, nil
		}
		return nil, fmt.Errorf("running as uid %d gid %d needs vipd to run as root", uid, gid)
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}, nil
}

func lookupUser(name string) (*user.User, error) {
	if _, err := strconv.ParseUint(name, 10, 32); err == nil {
		if u, err := user.LookupId(name); err == nil {
			return u, nil
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

func lookupGroup(name string) (*user.Group, error) {
	if _, err := strconv.ParseUint(name, 10, 32); err == nil {
		if g, err := user.LookupGroupId(name); err == nil {
			return g, nil
		}
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", name, err)
	}
	return g, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not numeric", s)
	}
	return uint32(n), nil
}

// checkScriptSecurity applies keepalived's script security test
// (check_script_secure in lib/notify.c): a program that will run with root
// privileges (as uid or gid 0, or set-uid/set-gid root) must not be
// replaceable by anyone else, so the program and every directory above it,
// both on the configured path and on the path with symbolic links
// resolved, must be owned by root and not writable by a non-root group or
// by others (a sticky directory may be). A nil error means safe or not
// privileged.
func checkScriptSecurity(path string, cred *syscall.Credential) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if cred != nil {
		uid, gid = cred.Uid, cred.Gid
	}
	privileged := uid == 0 || gid == 0
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		mode := fi.Mode()
		privileged = privileged ||
			(st.Uid == 0 && mode&fs.ModeSetuid != 0 && mode&0o100 != 0) ||
			(st.Gid == 0 && mode&fs.ModeSetgid != 0 && mode&0o010 != 0)
	}
	if !privileged {
		return nil
	}
	if err := checkPathSecure(path); err != nil {
		return err
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if resolved != path {
		return checkPathSecure(resolved)
	}
	return nil
}

// checkPathSecure checks "/", each directory below it and the file itself.
func checkPathSecure(path string) error {
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(path), "/"), "/")
	cur := "/"
	for i := -1; i < len(parts); i++ {
		if i >= 0 {
			cur = filepath.Join(cur, parts[i])
		}
		last := i == len(parts)-1
		fi, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no ownership information", cur)
		}
		mode := fi.Mode()
		switch {
		case !last && !mode.IsDir():
			return fmt.Errorf("%s: not a directory", cur)
		case last && !mode.IsRegular() && mode&fs.ModeSymlink == 0:
			return fmt.Errorf("%s: not a regular file", cur)
		}
		perm := mode.Perm()
		guarded := (mode.IsDir() && mode&fs.ModeSticky == 0) || mode.IsRegular()
		if st.Uid != 0 || (guarded && ((st.Gid != 0 && perm&0o020 != 0) || perm&0o002 != 0)) {
			return fmt.Errorf("%w: %s (owner %d, group %d, mode %s)", ErrInsecure, cur, st.Uid, st.Gid, mode)
		}
	}
	return nil
}
