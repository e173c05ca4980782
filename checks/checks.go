package checks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// MaxOutput bounds Result.Output, in bytes: enough to show why a check
// failed through the API, small enough to keep for every check.
const MaxOutput = 4096

// Prober runs one probe of a check. Probe must honour ctx (its deadline is
// the check's timeout, its cancellation vipd stopping) and return soon
// after ctx is done. A Prober is called by one goroutine at a time, again
// and again; it must be safe to call again after it returns.
type Prober interface {
	Probe(ctx context.Context) Result
}

// Watcher is a Prober that the kernel can tell when what it probes may have
// changed (an interface's link, through netlink notifications). Its Runner
// then probes when told, and otherwise only every RecheckInterval while the
// state stands, instead of every Interval: an idle agent does not wake up
// to find nothing changed.
//
// A Watcher's Probe must not wait on anything but the kernel's answer
// about state it holds: the Runner arms no deadline timer for it, and
// counts a run that took longer than the timeout as timed out.
type Watcher interface {
	Prober
	// Watch starts watching from the network namespace of the calling
	// thread (the one Probe runs in) and returns a channel that receives
	// a value whenever a probe may find something new; one value stands
	// for every change since the last was received. The channel is closed
	// once watching has ended: when ctx is done, or when the watch broke
	// and could not be restarted. Its goroutines end with ctx.
	Watch(ctx context.Context) (<-chan struct{}, error)
}

var _ Watcher = (*ifaceProber)(nil)

// Every kind is a Prober.
var (
	_ Prober = (*execProber)(nil)
	_ Prober = (*processProber)(nil)
	_ Prober = (*tcpProber)(nil)
	_ Prober = (*httpProber)(nil)
	_ Prober = (*dnsProber)(nil)
	_ Prober = (*fileProber)(nil)
	_ Prober = (*ifaceProber)(nil)
)

// Result is the outcome of one probe.
type Result struct {
	// OK reports success. For file checks it says whether the value read,
	// with the check's own weight, keeps an instance out of FAULT.
	OK bool
	// Value is the integer read by a file check; 0 for other kinds.
	Value int
	// Output is what the probe has to show for the API: a script's last
	// MaxOutput bytes of combined stdout and stderr, the answers of a DNS
	// query, the status of an HTTP response. Valid UTF-8, at most
	// MaxOutput bytes.
	Output string
	// Err says why the probe failed; nil when OK. It wraps ErrTimeout
	// when the probe ran out of time.
	Err error
	// Duration is how long the probe took.
	Duration time.Duration
}

// ErrTimeout is wrapped by Result.Err when a probe did not finish within
// its timeout; such a run counts as a failure.
var ErrTimeout = errors.New("timed out")

// ConfigError reports a check that cannot be built from its configuration.
type ConfigError struct {
	// Check is the check's name.
	Check string
	// Kind is the check's kind.
	Kind Kind
	// Field names the offending setting as FieldError does
	// ("exec.command", "http.url", ...; "interval" for NewRunner).
	Field string
	// Err says what is wrong with it.
	Err error
}

// Error says which check and setting are wrong, and why.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("check %q (%s): %s: %v", e.Check, e.Kind, e.Field, e.Err)
}

// Unwrap returns the underlying reason.
func (e *ConfigError) Unwrap() error { return e.Err }

// Options are the settings NewProber takes from outside the check itself.
type Options struct {
	// User and Group run exec checks that name no user of their own
	// (the configuration's script user); empty User means the user vipd
	// runs as, empty Group the user's primary group. Whether a script is
	// safe to run is checked when the configuration loads (config's
	// script security), not here.
	User, Group string
	// Logger receives warnings found while building a check; nil
	// discards them.
	Logger *slog.Logger
	// Reload says the probers are built for a configuration reload, not a
	// first start: a file check's InitOverwrite then leaves an existing
	// file alone, as keepalived does.
	Reload bool
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// NewProber builds the prober of c's kind. It checks the kind's settings
// with the rules Validate applies, then what only this machine can tell
// (a program to run, a user), and returns a *ConfigError for the first
// problem. It does not check the settings all kinds share: NewRunner
// does. Building is cheap and has no lasting side effect except for a
// file check with InitValue, whose file is created if missing
// (keepalived's init_file).
func NewProber(c *Config, opts Options) (Prober, error) {
	if c == nil {
		return nil, &ConfigError{Field: "Check", Err: errors.New("nil check")}
	}
	if err := c.kindError(); err != nil {
		return nil, err
	}
	return kindOf(c.Kind).prober(c, opts)
}

// probeErr turns the error of an operation cut short by ctx into one that
// says so, so that every kind reports a timeout the same way: wrapping
// ErrTimeout. The deadline is judged by the clock too, and by the error's
// own account, since a socket deadline set from ctx may fire a moment
// before ctx notices.
func probeErr(ctx context.Context, err error) error {
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		timedOut = true
	}
	var ne net.Error
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())) {
		timedOut = true
	}
	switch {
	case timedOut && (err == nil || errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded)):
		return ErrTimeout
	case timedOut:
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	case err == nil:
		return ctx.Err()
	}
	return err
}

// bound keeps the last MaxOutput bytes of s (a script's verdict is usually
// at its end) and makes them valid UTF-8 for the API. Invalid sequences
// become '?', which never makes the string longer.
func bound(s string) string {
	if len(s) > MaxOutput {
		s = s[len(s)-MaxOutput:]
	}
	return strings.ToValidUTF8(s, "?")
}

// boundHead keeps the first MaxOutput bytes of s, for outputs whose start
// matters (a response body).
func boundHead(s string) string {
	if len(s) > MaxOutput {
		s = s[:MaxOutput]
	}
	return strings.ToValidUTF8(s, "?")
}
