package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// eventually polls cond until it holds or timeout passes. It is for
// waiting on the operating system (a process dying, a daemon starting),
// never for logic under test, which runs on fake time.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probe builds c's prober and runs it once with timeout.
func probe(t *testing.T, c *Config, timeout time.Duration) Result {
	t.Helper()
	p, err := NewProber(c, Options{})
	if err != nil {
		t.Fatalf("NewProber: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Probe(ctx)
}

// probeLate builds c's prober and runs it once with a deadline already
// over, as a probe sees it when its timeout struck.
func probeLate(t *testing.T, c *Config) Result {
	t.Helper()
	return probe(t, c, -time.Second)
}

// wantResult checks a result's verdict and, when errHas is set, that its
// error mentions it.
func wantResult(t *testing.T, r Result, ok bool, errHas string) {
	t.Helper()
	if r.OK != ok {
		t.Fatalf("OK = %t, want %t (err %v, output %q)", r.OK, ok, r.Err, r.Output)
	}
	if ok && r.Err != nil {
		t.Fatalf("OK with error %v", r.Err)
	}
	if !ok && r.Err == nil {
		t.Fatalf("failed without an error")
	}
	if errHas != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), errHas)) {
		t.Fatalf("err = %v, want it to mention %q", r.Err, errHas)
	}
}

// wantConfigError checks that building c fails on field.
func wantConfigError(t *testing.T, c *Config, field string) {
	t.Helper()
	p, err := NewProber(c, Options{})
	if err == nil {
		t.Fatalf("NewProber = %T, want a ConfigError on %s", p, field)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
	}
	if ce.Field != field {
		t.Fatalf("error on field %q (%v), want %q", ce.Field, err, field)
	}
	if ce.Check != c.Name || ce.Kind != c.Kind {
		t.Fatalf("error names check %q kind %q, want %q %q", ce.Check, ce.Kind, c.Name, c.Kind)
	}
}

// contextWithDeadlinePassed returns a context whose deadline is already
// over, as a probe sees it when its timeout struck.
func contextWithDeadlinePassed() (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
