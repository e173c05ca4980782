package proc

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// DefaultOutputLimit is how many bytes of output Run keeps when
// Spec.OutputLimit is not set.
const DefaultOutputLimit = 4096

// DefaultOutputGrace is how long Run keeps reading output after the
// program has exited when Spec.OutputGrace is not set.
const DefaultOutputGrace = time.Second

const (
	// groupDeathWait bounds how long Run waits, after killing a group,
	// for its members to be dead: a SIGKILL is only queued by kill(2).
	groupDeathWait = 2 * time.Second
)

// Spec says what to run and how.
type Spec struct {
	// Argv is the program and its arguments, run without a shell. A
	// program name without a slash is looked up in vipd's own PATH.
	Argv []string
	// Env is the program's environment as "KEY=value" strings. Nil means
	// vipd's own environment (the os/exec rule); pass an empty, non-nil
	// slice for none.
	Env []string
	// Dir is the working directory; empty means vipd's.
	Dir string
	// User and Group run the program as that user and group (names, or
	// numeric ids), looked up with os/user. The user's primary group is
	// used unless Group is set; supplementary groups are dropped, as
	// keepalived does. Empty means vipd's own.
	User, Group string
	// OutputLimit is how many bytes of combined stdout and stderr are
	// kept: the last ones, where a failing script says why. Zero or
	// negative means DefaultOutputLimit.
	OutputLimit int
	// OutputGrace bounds how long Run waits for the output pipe to close
	// once the program has exited or been killed: a background child
	// that inherited it must not hold Run, and with it a notify queue or
	// a check's schedule, hostage. Zero or negative means
	// DefaultOutputGrace.
	OutputGrace time.Duration
}

// Validate reports what Run would refuse before starting anything:
// ErrNoCommand, or a *CredentialError for a user or group that cannot be
// resolved or that vipd, not running as root, cannot switch to. It starts
// nothing. Run resolves the user and group again each time, so a later
// change to the user database still counts.
func (s Spec) Validate() error {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return ErrNoCommand
	}
	_, err := ownCredential(s.User, s.Group)
	return err
}

// Result is how a run ended.
type Result struct {
	// ExitCode is the program's exit status, or -1 when it did not exit by
	// itself (not started, killed by a signal).
	ExitCode int
	// Output is the tail of the combined stdout and stderr, at most
	// Spec.OutputLimit bytes.
	Output string
	// Duration is the time from the start to the end of the run.
	Duration time.Duration
	// TimedOut reports that the context's deadline passed: the process
	// group was killed, or the program was never started.
	TimedOut bool
	// Err is nil when the program ran and exited by itself, whatever its
	// exit status (a non-zero ExitCode is the program's verdict, not an
	// error running it). Otherwise it is ErrNoCommand, a
	// *CredentialError, a *StartError or a *KilledError.
	Err error
}

// Run runs s.Argv and waits for it. The program gets a process group of
// its own; when ctx is done first, the whole group is killed with SIGKILL
// and Run returns once its members are dead. The program itself is always
// reaped. Members of the group that outlive a program that exited by itself
// (a deliberate "daemon &") are left alone, as keepalived leaves them, but
// may not keep the output pipe open past a short grace period. Should vipd
// itself die, the program gets SIGTERM, as keepalived's scripts do.
//
// Run never panics on bad input: problems are reported in Result.Err.
func Run(ctx context.Context, s Spec) Result {
	start := time.Now()
	res := Result{ExitCode: -1}
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		res.Err = ErrNoCommand
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Err = &StartError{Path: s.Argv[0], Err: err}
		res.TimedOut = errors.Is(err, context.DeadlineExceeded)
		return res
	}
	cred, err := ownCredential(s.User, s.Group)
	if err != nil {
		res.Err = err
		return res
	}
	limit := s.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	out := &tail{limit: limit}

	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	cmd.Dir = s.Dir
	// One writer for both streams: os/exec then uses a single pipe, which
	// keeps stdout and stderr lines in the order they were written.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGTERM,
		Credential: cred,
	}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = s.OutputGrace
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultOutputGrace
	}

	// PR_SET_PDEATHSIG fires when the forking thread exits, not the
	// process. vipd has goroutines that lock a thread into a network
	// namespace and let it die; keep this thread ours until the program is
	// reaped so that only vipd's own death signals the program.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if err := cmd.Start(); err != nil {
		res.Err = &StartError{Path: s.Argv[0], Err: err}
		res.Duration = time.Since(start)
		return res
	}
	pgid := cmd.Process.Pid
	waitErr := cmd.Wait()
	res.Duration = time.Since(start)
	res.Output = out.String()

	ps := cmd.ProcessState
	switch {
	case ps == nil:
		res.Err = &StartError{Path: s.Argv[0], Err: waitErr}
	case ps.Exited():
		// A waitErr here can only be exec.ErrWaitDelay: a leftover
		// child held the output pipe. The program's own verdict stands.
		res.ExitCode = ps.ExitCode()
	default:
		ke := &KilledError{Path: s.Argv[0]}
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ke.Signal = ws.Signal()
		}
		if cerr := ctx.Err(); cerr != nil {
			ke.Cause = cerr
			res.TimedOut = errors.Is(cerr, context.DeadlineExceeded)
			// The leader is dead; make sure the rest of its group is
			// too (children forked while we were killing it included).
			_ = killGroup(pgid)
			waitGroupDead(pgid, groupDeathWait)
		}
		res.Err = ke
	}
	return res
}

// killGroup sends SIGKILL to every process in the group. A group that is
// already gone is not an error.
func killGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
