package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procRoot is where processes are looked up; a variable only so that the
// parsing can be tested on a fabricated tree.
var procRoot = "/proc"

// commLen is the longest name the kernel keeps in /proc/PID/comm
// (TASK_COMM_LEN minus the NUL).
const commLen = 15

// processProber looks for a live process without spawning anything: by
// name, as `killall -0 NAME` does (the kernel's name in /proc/PID/comm, or
// the base name of argv[0], which matters for names longer than the
// kernel keeps and for programs started under another name), or by pid
// file. Zombies are dead: they do not count.
type processProber struct {
	name    string
	pidFile string
}

// ProcessConfig is healthy while a process is alive, found without
// spawning anything: by name in /proc, or through a pid file.
type ProcessConfig struct {
	// Name matches the process name (/proc/PID/comm, or argv[0]'s base
	// name), like `killall -0 NAME`.
	Name string `yaml:"name,omitempty"`
	// PIDFile, if set, names a file holding the pid to look for.
	PIDFile string `yaml:"pidfile,omitempty"`
}

var processKind = kindDef{
	kind:     KindProcess,
	settings: func(c *Config) bool { return c.Process != nil },
	validate: func(c *Config, fail func(field, msg string)) {
		switch p := c.Process; {
		case p.Name == "" && p.PIDFile == "":
			fail("process", "needs name or pidfile")
		case strings.Contains(p.Name, "/"):
			fail("process.name", fmt.Sprintf("%q: a process name has no '/'", p.Name))
		}
	},
	same:   func(a, b *Config) bool { return *a.Process == *b.Process },
	prober: func(c *Config, _ Options) (Prober, error) { return newProcessProber(c) },
}

// newProcessProber also refuses what the prober cannot look for: a NUL in
// the name, a pid file it would look for relative to wherever vipd runs.
func newProcessProber(c *Config) (*processProber, error) {
	p := c.Process
	cfgErr := func(field string, err error) error {
		return &ConfigError{Check: c.Name, Kind: c.Kind, Field: field, Err: err}
	}
	if strings.ContainsRune(p.Name, 0) {
		return nil, cfgErr("process.name", fmt.Errorf("%q: a process name has no NUL", p.Name))
	}
	if p.PIDFile != "" && !filepath.IsAbs(p.PIDFile) {
		return nil, cfgErr("process.pidfile", fmt.Errorf("%q: the path must be absolute", p.PIDFile))
	}
	return &processProber{name: p.Name, pidFile: p.PIDFile}, nil
}

// Probe looks the process up once. With a pid file, that pid must be alive
// and, when a name is also set, carry it (a stale pid file may name a
// reused pid). Without one, any live process with the name will do.
func (p *processProber) Probe(ctx context.Context) Result {
	start := time.Now()
	var res Result
	if p.pidFile != "" {
		res = p.probePIDFile(ctx)
	} else {
		res = p.probeName(ctx)
	}
	res.Duration = time.Since(start)
	return res
}

func (p *processProber) probePIDFile(ctx context.Context) Result {
	pid, err := readPIDFile(ctx, p.pidFile)
	if err != nil {
		return Result{Err: err}
	}
	info, err := readProc(ctx, pid)
	if err != nil {
		return Result{Err: fmt.Errorf("pid %d from %s: %w", pid, p.pidFile, err)}
	}
	if info.dead() {
		return Result{Err: fmt.Errorf("pid %d from %s is a zombie", pid, p.pidFile)}
	}
	if p.name != "" && !info.matches(p.name) {
		return Result{Err: fmt.Errorf("pid %d from %s is %q, not %q", pid, p.pidFile, info.comm, p.name)}
	}
	return Result{OK: true, Output: fmt.Sprintf("pid %d (%s) alive", pid, info.comm)}
}

func (p *processProber) probeName(ctx context.Context) Result {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return Result{Err: err}
	}
	zombies := 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return Result{Err: probeErr(ctx, nil)}
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		info, err := readProc(ctx, pid)
		if errors.Is(err, ErrTimeout) {
			return Result{Err: fmt.Errorf("pid %d: %w", pid, err)}
		}
		if err != nil || !info.matches(p.name) {
			continue // gone meanwhile, or not ours
		}
		if info.dead() {
			zombies++
			continue
		}
		return Result{OK: true, Output: fmt.Sprintf("pid %d (%s) alive", pid, info.comm)}
	}
	if zombies > 0 {
		return Result{Err: fmt.Errorf("no live process named %q (%d zombie)", p.name, zombies)}
	}
	return Result{Err: fmt.Errorf("no process named %q", p.name)}
}

// procInfo is what a process check needs to know about one process.
type procInfo struct {
	comm  string // kernel name, at most commLen bytes
	state byte   // R, S, D, Z, X, ...
	argv0 string // base name of argv[0]; empty for kernel threads
}

// dead reports a zombie (exited, not reaped) or a process being torn down.
func (i procInfo) dead() bool { return i.state == 'Z' || i.state == 'X' || i.state == 'x' }

// matches compares as killall does: the kernel's name when it can hold
// the whole of name, else argv[0]'s base name (a name longer than commLen
// is truncated in comm, and a program may be started under another name).
func (i procInfo) matches(name string) bool {
	if len(name) <= commLen && i.comm == name {
		return true
	}
	return i.argv0 != "" && i.argv0 == name
}

// procReadMax bounds the reads of /proc/PID/stat (a few hundred bytes)
// and /proc/PID/cmdline (of which only argv[0] matters).
const procReadMax = 4096

// readProc reads /proc/PID/stat and /proc/PID/cmdline, each with one read
// that does not wait past ctx.
func readProc(ctx context.Context, pid int) (procInfo, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	stat, err := readOnce(ctx, filepath.Join(dir, "stat"), procReadMax)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return procInfo{}, errors.New("no such process")
		}
		return procInfo{}, err
	}
	info, err := parseStat(stat)
	if err != nil {
		return procInfo{}, fmt.Errorf("%s/stat: %w", dir, err)
	}
	// A zombie's cmdline is empty; a vanished process just leaves argv0
	// empty, which never matches.
	if cmd, err := readOnce(ctx, filepath.Join(dir, "cmdline"), procReadMax); err == nil {
		if i := bytes.IndexByte(cmd, 0); i >= 0 {
			cmd = cmd[:i]
		}
		if len(cmd) > 0 {
			info.argv0 = filepath.Base(string(cmd))
		}
	}
	return info, nil
}

// parseStat reads the name and state from /proc/PID/stat: "PID (COMM) S
// ...". The name may itself hold spaces and parentheses, so it ends at the
// last ')'.
func parseStat(b []byte) (procInfo, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open || closing+2 >= len(b) {
		return procInfo{}, fmt.Errorf("malformed stat line %q", truncate(string(b), 64))
	}
	return procInfo{comm: string(b[open+1 : closing]), state: b[closing+2]}, nil
}

// readPIDFile reads a pid: a positive decimal number, white space around
// it allowed. A pid file that would make the read wait (a FIFO) waits
// only until ctx is done.
func readPIDFile(ctx context.Context, path string) (int, error) {
	buf, err := readOnce(ctx, path, 64)
	var pe *os.PathError
	switch {
	case err != nil && (errors.Is(err, ErrTimeout) || ctx.Err() != nil):
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	case errors.As(err, &pe) && pe.Op == "open":
		return 0, err
	case err != nil:
		return 0, fmt.Errorf("pid file %s: unreadable: %v", path, err)
	case len(buf) == 0:
		return 0, fmt.Errorf("pid file %s: empty", path)
	}
	s := strings.TrimSpace(string(buf))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", path, truncate(s, 32))
	}
	return pid, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
