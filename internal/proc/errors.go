package proc

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrNoCommand reports a Spec without a program to run.
var ErrNoCommand = errors.New("proc: no command: argv is empty")

// CredentialError reports that Spec.User or Spec.Group could not be
// resolved, or that vipd, not running as root, cannot switch to them;
// nothing was started.
type CredentialError struct {
	User, Group string // as given in the Spec
	// BadGroup reports that the group, not the user, is what could not
	// be resolved or switched to.
	BadGroup bool
	// Err is from os/user, a parse error, or wraps ErrNotRoot.
	Err error
}

// Error implements error.
func (e *CredentialError) Error() string {
	what := "user " + quote(e.User)
	if e.User == "" {
		what = "group " + quote(e.Group)
	} else if e.Group != "" {
		what += " group " + quote(e.Group)
	}
	return fmt.Sprintf("proc: cannot run as %s: %v", what, e.Err)
}

// Unwrap returns the underlying error.
func (e *CredentialError) Unwrap() error { return e.Err }

// StartError reports that the program could not be started: not found, not
// executable, a bad working directory or credentials the kernel refused, or
// a context already done.
type StartError struct {
	Path string // Argv[0]
	Err  error
}

// Error implements error.
func (e *StartError) Error() string {
	return fmt.Sprintf("proc: cannot start %s: %v", quote(e.Path), e.Err)
}

// Unwrap returns the underlying error, so errors.Is(err, exec.ErrNotFound)
// or errors.Is(err, fs.ErrNotExist) work.
func (e *StartError) Unwrap() error { return e.Err }

// KilledError reports that the program did not exit by itself.
type KilledError struct {
	Path   string         // Argv[0]
	Signal syscall.Signal // the signal that ended it
	// Cause is the context's error when Run killed the group because the
	// context was done; nil when someone else sent the signal.
	Cause error
}

// Error implements error.
func (e *KilledError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("proc: %s killed (%v): %v", quote(e.Path), e.Signal, e.Cause)
	}
	return fmt.Sprintf("proc: %s killed by signal %v", quote(e.Path), e.Signal)
}

// Unwrap returns Cause, so errors.Is(err, context.DeadlineExceeded) works.
func (e *KilledError) Unwrap() error { return e.Cause }

func quote(s string) string { return fmt.Sprintf("%q", s) }
