package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
	"github.com/vipd/vipd/internal/clock"
)

// reloadReadTimeout bounds reading and checking the configuration on a
// reload. A local file takes milliseconds; this is for a file system that
// stopped answering (a hung NFS mount), so that the reload loop, and later
// SIGHUPs, are never stuck behind it.
const reloadReadTimeout = 30 * time.Second

// reloader loads the configuration for a reload, SIGHUP or API: bounded in
// time, and refusing a file with no instance, which would stop every
// running one without a word. It is safe for concurrent use.
type reloader struct {
	path    string
	clock   clock.Clock
	timeout time.Duration
	load    func(path string) (*config.Config, error) // load.File in the agent

	mu sync.Mutex
	// stuck is set while a load that timed out is still running: its read
	// cannot be cancelled, so no second one is started behind it.
	stuck bool
}

func newReloader(path string) *reloader {
	return &reloader{
		path: path, clock: clock.Real(), timeout: reloadReadTimeout,
		load: func(path string) (*config.Config, error) {
			return load.File(path, config.LoadOptions{Host: localHost{}})
		},
	}
}

// Load returns the configuration to apply, or the reason not to: errors
// of the file itself are config.Diagnostics naming the file.
func (r *reloader) Load() (*config.Config, error) {
	r.mu.Lock()
	if r.stuck {
		r.mu.Unlock()
		return nil, r.fail(fmt.Sprintf("the previous read of this file has not returned after %v (a file system that does not answer?); not read again until it does", r.timeout))
	}
	r.mu.Unlock()

	type result struct {
		cfg *config.Config
		err error
	}
	done := make(chan result, 1)
	var timedOut bool // guarded by r.mu
	// The goroutine ends when the read returns; if it never does, the
	// process exits with it blocked in the kernel, which nothing can
	// interrupt. stuck keeps it the only one.
	go func() {
		cfg, err := r.load(r.path)
		done <- result{cfg, err}
		r.mu.Lock()
		if timedOut {
			r.stuck = false
		}
		r.mu.Unlock()
	}()
	t := r.clock.NewTimer(r.timeout)
	defer t.Stop()
	var res result
	select {
	case res = <-done:
	case <-t.C():
		r.mu.Lock()
		select {
		case res = <-done: // returned just now: use it
		default:
			timedOut, r.stuck = true, true
		}
		r.mu.Unlock()
		if timedOut {
			return nil, r.fail(fmt.Sprintf("not read within %v (a file system that does not answer?)", r.timeout))
		}
	}
	if res.err != nil {
		return nil, res.err
	}
	if len(res.cfg.Instances) == 0 {
		return nil, r.fail("no instances: applying it would stop every running instance; stop the agent instead if that is what you want")
	}
	return res.cfg, nil
}

func (r *reloader) fail(msg string) error {
	return config.Diagnostics{{Pos: config.Pos{File: r.path}, Severity: config.SeverityError, Message: msg}}
}

// reload re-reads the configuration on SIGHUP. A configuration with errors is
// reported and not applied, so a typo never takes a running cluster down.
func reload(ctx context.Context, log *slog.Logger, a *agent.Agent, r *reloader) {
	log.Info("reloading configuration", "path", r.path)
	cfg, err := r.Load()
	if cfg != nil {
		for _, w := range cfg.Warnings {
			log.Warn(w.String())
		}
	}
	if err != nil {
		log.Error("configuration not reloaded: keeping the running one", "err", err)
		return
	}
	if err := a.Reload(ctx, cfg); err != nil {
		log.Error("reload incomplete", "err", err)
		return
	}
	log.Info("configuration reloaded")
}
