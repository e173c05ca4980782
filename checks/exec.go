package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/proc"
)

// ExecPath is where an exec check's bare program name is looked up, and the
// PATH the program gets. A program's whole environment is this one
// variable, PATH=ExecPath, so that a check behaves the same whatever
// environment vipd was started with; its working directory is "/" and its
// standard input /dev/null.
const ExecPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execOutputGrace bounds how long a probe keeps reading output once the
// program has exited or been killed: a background child that inherited
// stdout must not hold the probe open, and with it the check's schedule.
const execOutputGrace = 100 * time.Millisecond

// errGroupKilled is the reason of a probe whose program was still running
// when its context ended.
var errGroupKilled = errors.New("process group killed")

// execProber runs a program, keepalived's vrrp_script, through proc.Run:
// without a shell, in a process group of its own that a timeout kills
// whole (SIGKILL), as keepalived does. Exit status 0 is success; anything
// else, a signal or a timeout is failure. Processes the program leaves
// running after exiting in time are not hunted down, as with keepalived.
// Whether the program is safe to run is config's to say (its script
// security check at load), not the prober's.
type execProber struct {
	spec proc.Spec
}

// ExecConfig runs a program; exit status 0 is success.
type ExecConfig struct {
	// Command is the program and its arguments, run without a shell (give
	// "sh", "-c", "..." to use one).
	Command []string `yaml:"command" vipd:"command"`
	// User and Group run the program unprivileged (keepalived's "user"
	// keyword); empty User means Options.User and Options.Group. Group
	// empty means the user's primary group.
	User  string `yaml:"user,omitempty"`
	Group string `yaml:"group,omitempty"`
}

var execKind = kindDef{
	kind:     KindExec,
	settings: func(c *Config) bool { return c.Exec != nil },
	validate: func(c *Config, fail func(field, msg string)) {
		e := c.Exec
		if len(e.Command) == 0 || e.Command[0] == "" {
			fail("exec.command", "is required (the program and its arguments)")
		}
		if e.Group != "" && e.User == "" {
			fail("exec.group", "needs user")
		}
	},
	same: func(a, b *Config) bool {
		x, y := a.Exec, b.Exec
		return slices.Equal(x.Command, y.Command) && x.User == y.User && x.Group == y.Group
	},
	prober: func(c *Config, opts Options) (Prober, error) { return newExecProber(c, opts) },
}

// newExecProber also refuses what only this machine can say is wrong: a
// program that cannot be found or run, a user or group that does not
// exist, an argument the kernel cannot pass.
func newExecProber(c *Config, opts Options) (*execProber, error) {
	cfgErr := func(field string, err error) error {
		return &ConfigError{Check: c.Name, Kind: c.Kind, Field: field, Err: err}
	}
	e := c.Exec
	for _, a := range e.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, cfgErr("exec.command", fmt.Errorf("argument %q contains a NUL byte", a))
		}
	}
	path, err := lookProgram(e.Command[0])
	if err != nil {
		return nil, cfgErr("exec.command", err)
	}

	// The check's own user wins, with its group or else the user's
	// primary group; otherwise the global script user and group apply.
	usr, grp := e.User, e.Group
	if usr == "" {
		usr = opts.User
		if grp == "" {
			grp = opts.Group
		}
	}
	// As keepalived does, argv[0] is the program's resolved path.
	argv := append([]string{path}, e.Command[1:]...)
	spec := proc.Spec{
		Argv:        argv,
		Env:         []string{"PATH=" + ExecPath},
		Dir:         "/",
		User:        usr,
		Group:       grp,
		OutputLimit: MaxOutput,
		OutputGrace: execOutputGrace,
	}
	// Refuse now a user or group that cannot work, rather than fail every
	// run; proc.Run looks them up again each time.
	if err := spec.Validate(); err != nil {
		field := "exec.user"
		var ce *proc.CredentialError
		if errors.As(err, &ce) && ce.BadGroup {
			field = "exec.group"
		}
		return nil, cfgErr(field, err)
	}
	return &execProber{spec: spec}, nil
}

// Probe runs the program once and waits for it.
func (p *execProber) Probe(ctx context.Context) Result {
	start := time.Now()
	r := proc.Run(ctx, p.spec)
	res := Result{Output: bound(r.Output), Duration: time.Since(start)}
	var ke *proc.KilledError
	switch {
	case r.Err == nil && r.ExitCode == 0:
		res.OK = true
	case r.Err == nil:
		res.Err = fmt.Errorf("exit status %d", r.ExitCode)
	case errors.As(r.Err, &ke) && ke.Cause != nil:
		res.Err = probeErr(ctx, errGroupKilled)
	case errors.As(r.Err, &ke):
		res.Err = fmt.Errorf("signal: %v", ke.Signal)
	default:
		// Never started: the deadline had passed, the program is gone,
		// its user no longer exists.
		res.Err = probeErr(ctx, r.Err)
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
