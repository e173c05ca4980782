package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vipd/vipd/internal/lab"
)

func execCheck(cmd ...string) *Config {
	return &Config{Name: "exec-test", Kind: KindExec, Exec: &ExecConfig{Command: cmd}}
}

func TestExecProbe(t *testing.T) {
	t.Setenv("VIPD_LEAK_MARKER", "leaked")
	// Where a bare "sh" must be found: the same search, done by os/exec.
	t.Setenv("PATH", ExecPath)
	shPath, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh in %s: %v", ExecPath, err)
	}
	// One case leaves a background sleep running, as keepalived would.
	t.Cleanup(func() { killStray(t, "sleep 29.125") })
	tests := []struct {
		name    string
		cmd     []string
		ok      bool
		errHas  string
		output  string // exact
		outHave string // substring
	}{
		{name: "exit 0 succeeds", cmd: []string{"true"}, ok: true},
		{name: "absolute path", cmd: []string{"/bin/true"}, ok: true},
		{name: "exit 1 fails", cmd: []string{"false"}, errHas: "exit status 1"},
		{name: "status and combined output", cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"},
			errHas: "exit status 3", output: "out\nerr\n"},
		{name: "killed by a signal fails", cmd: []string{"sh", "-c", "kill -TERM $$"}, errHas: "signal: terminated"},
		{name: "no shell: metacharacters are arguments", cmd: []string{"echo", "a;", "$HOME", "|", "b"}, ok: true,
			output: "a; $HOME | b\n"},
		{name: "argv[0] is the absolute path", cmd: []string{"/bin/sh", "-c", "echo $0"}, ok: true, output: "/bin/sh\n"},
		{name: "bare name: argv[0] is the path found in ExecPath", cmd: []string{"sh", "-c", "echo $0"}, ok: true,
			output: shPath + "\n"},
		{name: "environment is PATH only", cmd: []string{"env"}, ok: true, output: "PATH=" + ExecPath + "\n"},
		{name: "working directory is /", cmd: []string{"pwd"}, ok: true, output: "/\n"},
		{name: "stdin is empty", cmd: []string{"cat"}, ok: true, output: ""},
		{name: "background child holding stdout does not hold the probe", cmd: []string{"sh", "-c", "sleep 29.125 & echo started"},
			ok: true, outHave: "started"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, execCheck(tc.cmd...), 10*time.Second)
			wantResult(t, r, tc.ok, tc.errHas)
			if tc.outHave == "" && r.Output != tc.output {
				t.Errorf("output %q, want %q", r.Output, tc.output)
			}
			if tc.outHave != "" && !strings.Contains(r.Output, tc.outHave) {
				t.Errorf("output %q, want it to contain %q", r.Output, tc.outHave)
			}
			if r.Duration <= 0 || r.Duration > 5*time.Second {
				t.Errorf("duration %s", r.Duration)
			}
		})
	}
}

// TestExecShellThroughSymlinkedBin is the regression test of a refusal at
// agent start: with merged /usr, /bin is a symbolic link to usr/bin, and
// every keepalived.conf vrrp_script "/bin/sh -c ..." must still build and
// run as root, whatever the script security setting (config enforces it
// at load; checks does not second-guess it).
func TestExecShellThroughSymlinkedBin(t *testing.T) {
	lab.RequireRoot(t)
	tests := []struct {
		name    string
		cmd     []string
		scripts Options
	}{
		{name: "/bin/sh, security enforced", cmd: []string{"/bin/sh", "-c", "exit 0"}, scripts: Options{}},
		{name: "/bin/sh, not enforced", cmd: []string{"/bin/sh", "-c", "exit 0"}},
		{name: "bare sh, security enforced", cmd: []string{"sh", "-c", "exit 0"}, scripts: Options{}},
		{name: "as root explicitly", cmd: []string{"/bin/sh", "-c", "exit 0"}, scripts: Options{User: "root"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProber(execCheck(tc.cmd...), tc.scripts)
			if err != nil {
				t.Fatalf("NewProber: %v", err)
			}
			ctx, cancel := contextWithTimeout(10 * time.Second)
			defer cancel()
			wantResult(t, p.Probe(ctx), true, "")
		})
	}
}

// killStray kills processes of ours left running with that command line.
func killStray(t *testing.T, cmdline string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == cmdline {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func TestExecOutputBounded(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		wantLen int
		suffix  string
	}{
		{name: "keeps the last bytes", script: "head -c 10000 /dev/zero | tr '\\000' a; echo END",
			wantLen: MaxOutput, suffix: "aaEND\n"},
		// A run of invalid bytes becomes one '?'.
		{name: "invalid UTF-8 made valid", script: "printf 'ok '; head -c 3000 /dev/zero | tr '\\000' '\\377'; echo END",
			wantLen: len("ok ?END\n"), suffix: "ok ?END\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, execCheck("sh", "-c", tc.script), 10*time.Second)
			wantResult(t, r, true, "")
			if len(r.Output) != tc.wantLen {
				t.Errorf("output is %d bytes, want %d", len(r.Output), tc.wantLen)
			}
			if !strings.HasSuffix(r.Output, tc.suffix) {
				t.Errorf("output ends %q, want %q", r.Output[max(0, len(r.Output)-10):], tc.suffix)
			}
			if !utf8.ValidString(r.Output) {
				t.Errorf("output is not valid UTF-8")
			}
		})
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The shell starts a child, says which, and hangs; both must die at
	// the timeout.
	script := fmt.Sprintf("sleep 100 & echo $! > %s; echo waiting; sleep 100", pidFile)
	start := time.Now()
	r := probe(t, execCheck("sh", "-c", script), 500*time.Millisecond)
	elapsed := time.Since(start)

	wantResult(t, r, false, "timed out")
	if !errors.Is(r.Err, ErrTimeout) {
		t.Errorf("err %v does not wrap ErrTimeout", r.Err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("probe returned after %s, want about the 500ms timeout", elapsed)
	}
	if r.Output != "waiting\n" {
		t.Errorf("output %q, want what the script printed before it was killed", r.Output)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the script did not record its child: %v", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("child pid %q: %v", b, err)
	}
	// The orphan is reaped by init; until then it may show as a zombie.
	eventually(t, 5*time.Second, fmt.Sprintf("child %d of the timed-out script still running", child), func() bool {
		info, err := readProc(context.Background(), child)
		return err != nil || info.dead()
	})
}

// zombieChildren lists this process's children that exited and were never
// reaped.
func zombieChildren(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var zs []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(rest) > 1 && rest[0] == "Z" && rest[1] == strconv.Itoa(os.Getpid()) {
			zs = append(zs, pid)
		}
	}
	return zs
}

func TestExecLeavesNoZombies(t *testing.T) {
	before := len(zombieChildren(t))
	for i, cmd := range [][]string{
		{"true"}, {"false"}, {"sh", "-c", "exit 7"}, {"sh", "-c", "sleep 100"}, {"sh", "-c", "kill -KILL $$"},
	} {
		r := probe(t, execCheck(cmd...), 300*time.Millisecond)
		if i == 0 != r.OK {
			t.Fatalf("%q: OK %t", cmd, r.OK)
		}
	}
	if zs := zombieChildren(t); len(zs) > before {
		t.Fatalf("zombie children left: %v", zs)
	}
}

func TestExecCredentials(t *testing.T) {
	lab.RequireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		lab.SkipOrFail(t, "no user nobody: %v", err)
	}
	nogroup, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatalf("group of nobody: %v", err)
	}
	tests := []struct {
		name       string
		user, grp  string
		defaults   Options
		wantUID    string
		wantGID    string
		wantGroups string
	}{
		{name: "check user", user: "nobody", wantUID: nobody.Uid, wantGID: nobody.Gid},
		{name: "numeric user", user: nobody.Uid, wantUID: nobody.Uid, wantGID: nobody.Gid},
		{name: "global script user", defaults: Options{User: "nobody"}, wantUID: nobody.Uid, wantGID: nobody.Gid},
		{name: "check user beats global", user: "nobody", defaults: Options{User: "root"},
			wantUID: nobody.Uid, wantGID: nobody.Gid},
		// A check's own group needs its user (Validate); the default
		// group alone applies to the user vipd runs as.
		{name: "group only keeps root, drops other groups", defaults: Options{Group: nogroup.Name}, wantUID: "0", wantGID: nobody.Gid,
			wantGroups: nobody.Gid},
		{name: "none runs as vipd", wantUID: "0", wantGID: strconv.Itoa(os.Getegid())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := execCheck("sh", "-c", "id -u; id -g")
			c.Exec.User, c.Exec.Group = tc.user, tc.grp
			p, err := NewProber(c, tc.defaults)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Probe(t.Context())
			wantResult(t, r, true, "")
			if want := tc.wantUID + "\n" + tc.wantGID + "\n"; r.Output != want {
				t.Errorf("id -u; id -g printed %q, want %q", r.Output, want)
			}
			if tc.wantGroups != "" {
				c.Exec.Command = []string{"id", "-G"}
				p, _ := NewProber(c, tc.defaults)
				if r := p.Probe(t.Context()); strings.TrimSpace(r.Output) != tc.wantGroups {
					t.Errorf("id -G printed %q, want %q", r.Output, tc.wantGroups)
				}
			}
		})
	}
}

func TestExecConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		check *Config
		field string
	}{
		{name: "no exec section", check: &Config{Name: "x", Kind: KindExec}, field: "exec"},
		{name: "empty command", check: execCheck(), field: "exec.command"},
		{name: "empty program", check: execCheck("", "a"), field: "exec.command"},
		{name: "program not in ExecPath", check: execCheck("vipd-no-such-program"), field: "exec.command"},
		{name: "relative path", check: execCheck("./script"), field: "exec.command"},
		{name: "missing absolute path", check: execCheck(filepath.Join(dir, "missing")), field: "exec.command"},
		{name: "directory", check: execCheck(dir), field: "exec.command"},
		{name: "not executable", check: execCheck(notExec), field: "exec.command"},
		{name: "NUL in an argument", check: execCheck("echo", "a\x00b"), field: "exec.command"},
		{name: "unknown user", check: func() *Config {
			c := execCheck("true")
			c.Exec.User = "vipd-no-such-user"
			return c
		}(), field: "exec.user"},
		{name: "unknown group", check: func() *Config {
			c := execCheck("true")
			c.Exec.User, c.Exec.Group = "root", "vipd-no-such-group"
			return c
		}(), field: "exec.group"},
		{name: "unknown kind", check: &Config{Name: "x", Kind: "smoke-signal"}, field: "kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantConfigError(t, tc.check, tc.field)
		})
	}
}

func TestExecCannotStart(t *testing.T) {
	script := filepath.Join(t.TempDir(), "check")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := NewProber(execCheck(script), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("deadline already passed", func(t *testing.T) {
		ctx, cancel := contextWithDeadlinePassed()
		defer cancel()
		wantResult(t, p.Probe(ctx), false, "timed out")
	})
	t.Run("program removed after configuration", func(t *testing.T) {
		if err := os.Remove(script); err != nil {
			t.Fatal(err)
		}
		wantResult(t, p.Probe(t.Context()), false, "no such file")
	})
}

// TestExecUnderRunner runs a real script on a real clock: a script that
// hangs past its timeout makes the check fail after Fall runs, and one that
// passes heals it after Rise runs.
func TestExecUnderRunner(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "healthy")
	c := execCheck("sh", "-c", "test -e "+flag+" || sleep 10")
	c.Interval, c.Timeout, c.Fall, c.Rise = 200*time.Millisecond, 100*time.Millisecond, 2, 2
	p, err := NewProber(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	changes := NewChanges()
	r, err := NewRunner(c, p, RunnerOptions{OnChange: changes.Publish})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(time.Minute)
	defer cancel()
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	next := func(want State) Status {
		t.Helper()
		for {
			select {
			case <-changes.Ready():
				for _, s := range changes.Take() {
					if s.State == want {
						return s
					}
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no change to %s within 10s; status %+v", want, r.Status())
			}
		}
	}
	failed := next(StateFailed)
	if !errors.Is(failed.LastResult.Err, ErrTimeout) {
		t.Errorf("failed with %v, want a timeout", failed.LastResult.Err)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	healed := next(StateHealthy)
	if healed.Consecutive != 2 || healed.Transitions != 2 {
		t.Errorf("healed after %d successes, %d transitions; want 2 and 2", healed.Consecutive, healed.Transitions)
	}
}
