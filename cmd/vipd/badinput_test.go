package main

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
)

// TestConfigCheckBadFiles: `vipd config check` on a FIFO returns at once
// with an error; on an empty file it passes with a warning that a reload
// to it is refused; what it prints from the file has its control bytes
// escaped.
func TestConfigCheckBadFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "vipd.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() { out, err := run(t, "config", "check", "--config", fifo); done <- result{out, err} }()
	select {
	case r := <-done:
		if exitStatus(r.err) != 1 || !strings.Contains(r.out, fifo+" is not a regular file: a named pipe (FIFO)") {
			t.Errorf("config check of a FIFO: %v\n%s", r.err, r.out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("config check of a FIFO still blocked after 10 s")
	}

	empty := write(t, "empty.yaml", "")
	out, err := run(t, "config", "check", "--config", empty)
	if err != nil || !strings.Contains(out, empty+": warning: instances: no instances: nothing for vipd to run; the agent refuses a reload to this file") ||
		!strings.Contains(out, "OK (0 instances)") {
		t.Errorf("config check of an empty file: %v\n%s", err, out)
	}

	evil := write(t, "keepalived.conf", "\x1b]2;pwned\x07\x1b[2J bogus\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n")
	out, err = run(t, "config", "check", "--config", evil)
	if err != nil || strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `\x1b]2;pwned\x07\x1b[2J`) {
		t.Errorf("config check printed control bytes or not the escaped keyword: %v\n%q", err, out)
	}
}

// TestReloaderRefuses: a reload refuses a FIFO and a file without
// instances with an error naming the file, and a good file after them
// loads.
func TestReloaderRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	good := write(t, "ok.yaml", "node: {name: a}\ninstances:\n  - name: web\n    interface: eth0\n    vrid: 51\n    vips: [198.51.100.100/24]\n")
	for _, c := range []struct{ path, want string }{
		{fifo, fifo + ": " + fifo + " is not a regular file: a named pipe (FIFO)"},
		{write(t, "empty.yaml", ""), "empty.yaml: no instances: applying it would stop every running instance"},
		{write(t, "noinst.conf", "global_defs {\n  router_id a\n}\n"), "noinst.conf: no instances"},
	} {
		cfg, err := newReloader(c.path).Load()
		var ds config.Diagnostics
		if cfg != nil || !errors.As(err, &ds) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("reload of %s: %v, %v; want Diagnostics with %q", c.path, cfg, err, c.want)
		}
	}
	if cfg, err := newReloader(good).Load(); err != nil || len(cfg.Instances) != 1 {
		t.Errorf("reload of a good file: %v", err)
	}
}

// TestReloaderTimeBound: a read that does not return (a hung file system)
// fails the reload after the timeout, refuses the next one at once while
// it is still stuck, and once it returns reloads work again. It runs in a
// synctest bubble: the reloader's clock is the bubble's.
func TestReloaderTimeBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		calls := make(chan struct{}, 4)
		r := newReloader("stuck.yaml")
		r.load = func(string) (*config.Config, error) {
			calls <- struct{}{}
			<-release
			return &config.Config{Instances: []*config.Instance{config.DefaultInstance()}}, nil
		}
		start := time.Now()
		if _, err := r.Load(); err == nil || !strings.Contains(err.Error(), "stuck.yaml: not read within 30s") {
			t.Fatalf("stuck reload: %v", err)
		}
		if took := time.Since(start); took != reloadReadTimeout {
			t.Errorf("stuck reload failed after %v, want %v", took, reloadReadTimeout)
		}
		<-calls // the stuck read
		if _, err := r.Load(); err == nil || !strings.Contains(err.Error(), "the previous read of this file has not returned") {
			t.Fatalf("reload behind a stuck one: %v", err)
		}
		synctest.Wait() // a read started behind the stuck one would have called load by now
		select {
		case <-calls:
			t.Fatal("a second read was started behind the stuck one")
		default:
		}
		close(release) // the file system answers again
		synctest.Wait()
		r.mu.Lock()
		stuck := r.stuck
		r.mu.Unlock()
		if stuck {
			t.Fatal("still stuck after the read returned")
		}
		if cfg, err := r.Load(); err != nil || len(cfg.Instances) != 1 {
			t.Fatalf("reload after the read returned: %v", err)
		}
	})
}
