package proc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// sh builds the argv of a shell one-liner.
func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// testCtx bounds every run so a broken Run fails the test instead of
// hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		spec  Spec
		check func(t *testing.T, r Result)
	}{
		{"success with output", Spec{Argv: sh("echo hello")}, func(t *testing.T, r Result) {
			wantExit(t, r, 0, "hello\n")
		}},
		{"exit code is reported, not an error", Spec{Argv: sh("echo failing >&2; exit 3")}, func(t *testing.T, r Result) {
			wantExit(t, r, 3, "failing\n")
		}},
		{"stdout and stderr are combined in order", Spec{Argv: sh("echo a; echo b >&2; echo c; echo d >&2")}, func(t *testing.T, r Result) {
			wantExit(t, r, 0, "a\nb\nc\nd\n")
		}},
		{"arguments are passed without a shell", Spec{Argv: []string{"/bin/echo", "a b", "$HOME", "'c'"}}, func(t *testing.T, r Result) {
			wantExit(t, r, 0, "a b $HOME 'c'\n")
		}},
		{"environment is exactly the given one", Spec{Argv: sh(`echo "$FOO|$HOME"`), Env: []string{"FOO=bar"}}, func(t *testing.T, r Result) {
			wantExit(t, r, 0, "bar|\n")
		}},
		{"working directory", Spec{Argv: []string{"/bin/pwd"}, Dir: dir}, func(t *testing.T, r Result) {
			wantExit(t, r, 0, dir+"\n")
		}},
		{"empty argv", Spec{}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool { return errors.Is(err, ErrNoCommand) })
		}},
		{"empty program name", Spec{Argv: []string{""}}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool { return errors.Is(err, ErrNoCommand) })
		}},
		{"missing program by path", Spec{Argv: []string{"/nonexistent/vipd-test-prog", "x"}}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool {
				var se *StartError
				return errors.As(err, &se) && errors.Is(err, fs.ErrNotExist) && se.Path == "/nonexistent/vipd-test-prog"
			})
		}},
		{"missing program in PATH", Spec{Argv: []string{"vipd-no-such-program"}}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool {
				var se *StartError
				return errors.As(err, &se) && errors.Is(err, exec.ErrNotFound)
			})
		}},
		{"bad working directory", Spec{Argv: []string{"/bin/true"}, Dir: "/nonexistent/vipd-test-dir"}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool { var se *StartError; return errors.As(err, &se) })
		}},
		{"unknown user", Spec{Argv: []string{"/bin/true"}, User: "vipd-no-such-user"}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool {
				var ce *CredentialError
				return errors.As(err, &ce) && ce.User == "vipd-no-such-user" && strings.Contains(err.Error(), "vipd-no-such-user")
			})
		}},
		{"unknown group", Spec{Argv: []string{"/bin/true"}, Group: "vipd-no-such-group"}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool {
				var ce *CredentialError
				return errors.As(err, &ce) && ce.Group == "vipd-no-such-group"
			})
		}},
		{"killed by someone else", Spec{Argv: sh("echo dying; kill -9 $$")}, func(t *testing.T, r Result) {
			wantErr(t, r, func(err error) bool {
				var ke *KilledError
				return errors.As(err, &ke) && ke.Signal == syscall.SIGKILL && ke.Cause == nil
			})
			if r.TimedOut || r.Output != "dying\n" {
				t.Errorf("TimedOut %v Output %q, want false %q", r.TimedOut, r.Output, "dying\n")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(testCtx(t), tc.spec)
			tc.check(t, r)
		})
	}
}

func wantExit(t *testing.T, r Result, code int, output string) {
	t.Helper()
	if r.Err != nil || r.ExitCode != code || r.Output != output || r.TimedOut {
		t.Fatalf("got exit %d output %q timedOut %v err %v; want exit %d output %q", r.ExitCode, r.Output, r.TimedOut, r.Err, code, output)
	}
	if r.Duration <= 0 {
		t.Errorf("Duration %v, want > 0", r.Duration)
	}
}

func wantErr(t *testing.T, r Result, ok func(error) bool) {
	t.Helper()
	if r.Err == nil || !ok(r.Err) {
		t.Fatalf("Err = %v (%T), not the expected kind", r.Err, r.Err)
	}
	if r.ExitCode != -1 {
		t.Errorf("ExitCode = %d, want -1", r.ExitCode)
	}
}

func TestRunOutputBounded(t *testing.T) {
	// 2000 lines "0000\n".."1999\n": 10000 bytes in many small writes.
	const script = `i=0; while [ $i -lt 2000 ]; do printf '%04d\n' $i; i=$((i+1)); done`
	var full strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&full, "%04d\n", i)
	}
	all := full.String()
	tests := []struct {
		name  string
		argv  []string
		limit int
		want  string
	}{
		{"default keeps the last 4096 bytes", sh(script), 0, all[len(all)-DefaultOutputLimit:]},
		{"negative means default", sh(script), -5, all[len(all)-DefaultOutputLimit:]},
		{"small limit keeps the tail", sh(script), 100, all[len(all)-100:]},
		{"one byte", sh(script), 1, "\n"},
		{"output shorter than the limit is whole", sh("echo short"), 100, "short\n"},
		{"one big write larger than the limit", sh("head -c 20000 /dev/zero | tr '\\0' x; echo END"), 10, "xxxxxxEND\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(testCtx(t), Spec{Argv: tc.argv, OutputLimit: tc.limit})
			if r.Err != nil || r.ExitCode != 0 {
				t.Fatalf("exit %d err %v", r.ExitCode, r.Err)
			}
			if r.Output != tc.want {
				t.Fatalf("Output (%d bytes) = %.40q..., want (%d bytes) %.40q...", len(r.Output), r.Output, len(tc.want), tc.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{"under the limit", 10, []string{"ab", "cd"}, "abcd"},
		{"exactly the limit", 4, []string{"ab", "cd"}, "abcd"},
		{"drops the oldest bytes", 4, []string{"abc", "def"}, "cdef"},
		{"write longer than the limit", 3, []string{"ab", "cdefgh"}, "fgh"},
		{"many small writes", 3, []string{"a", "b", "c", "d", "e"}, "cde"},
		{"empty writes", 3, []string{"", "ab", ""}, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := &tail{limit: tc.limit}
			for _, w := range tc.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := tl.String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// running reports whether pid is a live process: kill -0 succeeds and it
// is not a zombie (an orphan waiting for init to reap it is dead).
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	state, _, ok := procStat(strconv.Itoa(pid))
	return ok && state != 'Z' && state != 'X'
}

// pids parses the numbers a script printed, one a line.
func pids(t *testing.T, out string) []int {
	t.Helper()
	var ps []int
	for _, f := range strings.Fields(out) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestRunTimeoutKillsWholeGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
		npids  int
	}{
		// $$ is the leader; $! the background children.
		{"background child", `echo $$; sleep 100 & echo $!; wait`, 2},
		{"grandchild in a nested shell", `echo $$; /bin/sh -c 'sleep 100 & echo $!; wait' & echo $!; wait`, 3},
		{"child ignoring SIGTERM and SIGINT", `echo $$; (trap '' TERM INT; sleep 100) & echo $!; wait`, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const timeout = 500 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			r := Run(ctx, Spec{Argv: sh(tc.script)})
			ps := pids(t, r.Output)
			t.Cleanup(func() {
				for _, p := range ps {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			})
			if !r.TimedOut || r.ExitCode != -1 {
				t.Fatalf("TimedOut %v ExitCode %d, want true -1 (err %v)", r.TimedOut, r.ExitCode, r.Err)
			}
			var ke *KilledError
			if !errors.As(r.Err, &ke) || !errors.Is(r.Err, context.DeadlineExceeded) || ke.Signal != syscall.SIGKILL {
				t.Fatalf("Err = %v, want a SIGKILL *KilledError caused by the deadline", r.Err)
			}
			if r.Duration < timeout || r.Duration > timeout+10*time.Second {
				t.Errorf("Duration %v, want just over %v", r.Duration, timeout)
			}
			if len(ps) != tc.npids {
				t.Fatalf("script printed pids %v, want %d of them", ps, tc.npids)
			}
			for _, p := range ps {
				if running(p) {
					t.Errorf("process %d still running after Run returned", p)
				}
			}
		})
	}
}

func TestRunCancelIsNotATimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(200*time.Millisecond, cancel)
	defer stop.Stop()
	r := Run(ctx, Spec{Argv: sh("exec sleep 100")})
	if r.TimedOut || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("TimedOut %v Err %v, want false and context.Canceled", r.TimedOut, r.Err)
	}
}

func TestRunDeadlineBeforeStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	r := Run(ctx, Spec{Argv: []string{"/bin/true"}})
	var se *StartError
	if !r.TimedOut || !errors.As(r.Err, &se) || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("TimedOut %v Err %v, want true and a *StartError for the deadline", r.TimedOut, r.Err)
	}
}

// TestRunReapsTheProgram checks no zombie of ours is left: the program is
// our child, so once reaped its pid is gone entirely, not even a zombie.
func TestRunReapsTheProgram(t *testing.T) {
	tests := []struct {
		name   string
		script string
		ctx    time.Duration
	}{
		{"normal exit", "echo $$", 30 * time.Second},
		{"failing exit", "echo $$; exit 1", 30 * time.Second},
		{"killed at the timeout", "echo $$; exec sleep 100", 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctx)
			defer cancel()
			r := Run(ctx, Spec{Argv: sh(tc.script)})
			ps := pids(t, r.Output)
			if len(ps) != 1 {
				t.Fatalf("output %q, want one pid", r.Output)
			}
			if err := syscall.Kill(ps[0], 0); !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("kill -0 %d = %v, want ESRCH: the program was not reaped", ps[0], err)
			}
		})
	}
}

// TestRunLeftoverChildDoesNotHoldRun: a program that exits but leaves a
// background child holding the output pipe returns after the grace period;
// the child is left alone, as keepalived leaves it.
func TestRunLeftoverChildDoesNotHoldRun(t *testing.T) {
	tests := []struct {
		name     string
		grace    time.Duration
		min, max time.Duration // bounds of Duration
	}{
		{"default grace", 0, DefaultOutputGrace, DefaultOutputGrace + 10*time.Second},
		{"short grace", 50 * time.Millisecond, 50 * time.Millisecond, DefaultOutputGrace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(testCtx(t), Spec{Argv: sh("sleep 100 & echo $!"), OutputGrace: tc.grace})
			ps := pids(t, r.Output)
			t.Cleanup(func() {
				for _, p := range ps {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			})
			if r.Err != nil || r.ExitCode != 0 {
				t.Fatalf("exit %d err %v, want 0 nil", r.ExitCode, r.Err)
			}
			if r.Duration < tc.min || r.Duration > tc.max {
				t.Fatalf("Duration %v, want between %v and %v: the grace period did not bound the wait", r.Duration, tc.min, tc.max)
			}
			if len(ps) != 1 || !running(ps[0]) {
				t.Fatalf("leftover child %v not running, want it left alone", ps)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		ok   func(error) bool
	}{
		{"nothing to check", Spec{Argv: []string{"/bin/true"}}, func(err error) bool { return err == nil }},
		{"no argv", Spec{}, func(err error) bool { return errors.Is(err, ErrNoCommand) }},
		{"empty program", Spec{Argv: []string{"", "x"}}, func(err error) bool { return errors.Is(err, ErrNoCommand) }},
		{"own user by number", Spec{Argv: []string{"x"}, User: strconv.Itoa(os.Geteuid()), Group: strconv.Itoa(os.Getegid())},
			func(err error) bool { return err == nil }},
		{"unknown user", Spec{Argv: []string{"x"}, User: "vipd-no-such-user"}, func(err error) bool {
			var ce *CredentialError
			return errors.As(err, &ce) && !ce.BadGroup && ce.User == "vipd-no-such-user"
		}},
		{"unknown group with a known user", Spec{Argv: []string{"x"}, User: strconv.Itoa(os.Geteuid()), Group: "vipd-no-such-group"},
			func(err error) bool {
				var ce *CredentialError
				return errors.As(err, &ce) && ce.BadGroup && strings.Contains(err.Error(), "vipd-no-such-group")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.spec.Validate(); !tc.ok(err) {
				t.Fatalf("Validate() = %v (%T), not the expected outcome", err, err)
			}
		})
	}
}

// TestCredentialWithoutRoot pretends vipd runs as nobody: only its own
// identity may be asked for, anything else is refused up front instead of
// failing at every run.
func TestCredentialWithoutRoot(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("this test needs a nobody user: %v", err)
	}
	uid, err := parseID(nobody.Uid)
	if err != nil {
		t.Fatal(err)
	}
	gid, err := parseID(nobody.Gid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, group string
		refused, badGroup bool
	}{
		{name: "nothing asked"},
		{name: "itself", user: "nobody"},
		{name: "itself by number, with its group", user: nobody.Uid, group: nobody.Gid},
		{name: "another user", user: "root", refused: true},
		{name: "another group", group: "0", refused: true, badGroup: true},
		{name: "itself with another group", user: "nobody", group: "0", refused: true, badGroup: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := credential(tc.user, tc.group, uid, gid)
			if !tc.refused {
				if err != nil || cred != nil {
					t.Fatalf("credential = %+v, %v; want nil, nil (nothing to change)", cred, err)
				}
				return
			}
			var ce *CredentialError
			if !errors.As(err, &ce) || !errors.Is(err, ErrNotRoot) || !strings.Contains(err.Error(), "needs vipd to run as root") {
				t.Fatalf("credential = %+v, %v; want a *CredentialError wrapping ErrNotRoot", cred, err)
			}
			if ce.BadGroup != tc.badGroup {
				t.Errorf("BadGroup %v, want %v", ce.BadGroup, tc.badGroup)
			}
		})
	}
}

// requireRoot skips the test on a laptop but fails it in CI, where a
// skipped privilege test would prove nothing.
func requireRoot(t *testing.T) {
	t.Helper()
	lab.RequireRoot(t)
}

func TestRunAsUser(t *testing.T) {
	requireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("this test needs a nobody user: %v", err)
	}
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatalf("nobody's group %s: %v", nobody.Gid, err)
	}
	const script = `echo "$(id -u) $(id -g) $(id -G)"`
	tests := []struct {
		name        string
		user, group string
		want        string
	}{
		{"user by name takes its primary group only", "nobody", "", nobody.Uid + " " + nobody.Gid + " " + nobody.Gid},
		{"user by number", nobody.Uid, "", nobody.Uid + " " + nobody.Gid + " " + nobody.Gid},
		{"user and group", "nobody", grp.Name, nobody.Uid + " " + nobody.Gid + " " + nobody.Gid},
		{"group only keeps our user", "", grp.Name, "0 " + nobody.Gid + " " + nobody.Gid},
		{"user and group by number", nobody.Uid, nobody.Gid, nobody.Uid + " " + nobody.Gid + " " + nobody.Gid},
		{"group by number drops our other groups", "", nobody.Gid, "0 " + nobody.Gid + " " + nobody.Gid},
		{"root explicitly", "root", "", "0 0 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Run(testCtx(t), Spec{Argv: sh(script), User: tc.user, Group: tc.group, Env: []string{"PATH=/usr/bin:/bin"}})
			wantExit(t, r, 0, tc.want+"\n")
		})
	}
}
