package lab

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopWait is how long Stop lets a process exit on SIGTERM before killing it.
const stopWait = 10 * time.Second

// Process is a program started in a node whose standard output and error
// are collected line by line, so that a test can wait for a log line.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped and its output read

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line and at exit
	exited  bool
	waitErr error
}

// Start starts name inside the node, collecting its output. It is stopped
// (SIGTERM, then SIGKILL after 10 s) when the test ends, if not before.
func (n *Node) Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	cmd := n.Command(context.Background(), name, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("lab: %s: start %s: %v", n.short, name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{}), changed: make(chan struct{})}
	scanned := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.notifyLocked()
			p.mu.Unlock()
		}
		// Drain whatever a too-long line left, so the writer never blocks.
		_, _ = io.Copy(io.Discard, pr)
		close(scanned)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-scanned
		p.mu.Lock()
		p.exited, p.waitErr = true, err
		p.notifyLocked()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(p.Stop)
	return p
}

func (p *Process) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Mark returns the number of lines output so far, to wait only for lines
// that come later.
func (p *Process) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Output returns everything output so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// WaitFor waits until a line with index from (see Mark) or later contains
// substr, and returns that line. It fails the test, showing the output, if
// the process exits or timeout passes first.
func (p *Process) WaitFor(t testing.TB, from int, substr string, timeout time.Duration) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		var line string
		if from < len(p.lines) {
			if i := slices.IndexFunc(p.lines[from:], func(s string) bool { return strings.Contains(s, substr) }); i >= 0 {
				line = p.lines[from+i]
			}
		}
		changed, exited, werr := p.changed, p.exited, p.waitErr
		p.mu.Unlock()
		switch {
		case line != "":
			return line
		case exited:
			t.Fatalf("lab: %s exited (%v) before printing %q:\n%s", p.name, werr, substr, p.Output())
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("lab: %s did not print %q within %v:\n%s", p.name, substr, timeout, p.Output())
		}
	}
}

// Stop sends SIGTERM, waits up to 10 s for the process to exit, then kills
// its whole process group. It may be called more than once.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopWait):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Keepalived runs keepalived's VRRP process (-P) in the foreground inside
// the node, with conf as its configuration, logging in detail to the
// console, and with its own pid files under t.TempDir() so that several can
// run at once. It needs the keepalived binary: without it the test is
// skipped, or fails when CI=true.
func (n *Node) Keepalived(t testing.TB, conf string) *Process {
	t.Helper()
	RequireProgram(t, "keepalived")
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return n.Start(t, "keepalived",
		"--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file", path,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid", filepath.Join(dir, "checkers.pid"),
	)
}
