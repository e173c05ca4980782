package checks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func processCheck(name, pidFile string) *Config {
	return &Config{Name: "proc-test", Kind: KindProcess,
		Process: &ProcessConfig{Name: name, PIDFile: pidFile}}
}

// startNamed starts /bin/sleep through a symlink called name, so that the
// kernel names the process name (comm comes from the executed file name).
// argv0, when set, replaces argv[0].
func startNamed(t *testing.T, name, argv0 string) *exec.Cmd {
	t.Helper()
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink("/bin/sleep", link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "100")
	if argv0 != "" {
		cmd.Args[0] = argv0
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// startZombie starts a program that exits at once and is not reaped until
// the test ends, and waits until it is a zombie.
func startZombie(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink("/bin/true", link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Wait() })
	eventually(t, 5*time.Second, "child never became a zombie", func() bool {
		info, err := readProc(context.Background(), cmd.Process.Pid)
		return err == nil && info.state == 'Z'
	})
	return cmd
}

func writePIDFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.pid")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, rand.IntN(1000000))
}

func TestProcessProbe(t *testing.T) {
	alive := uniqueName("vipdpa") // 12 characters: fits comm
	aliveCmd := startNamed(t, alive, "")
	long := uniqueName("vipd-long-process-") // longer than comm holds
	startNamed(t, long, "")
	renamed := uniqueName("vipdrn")
	renamedCmd := startNamed(t, uniqueName("vipdrx"), "/opt/somewhere/"+renamed)
	zombie := uniqueName("vipdpz")
	zombieCmd := startZombie(t, zombie)
	killed := uniqueName("vipdpk")
	killedCmd := startNamed(t, killed, "")
	killedCmd.Process.Kill()
	killedCmd.Wait()

	pid := func(c *exec.Cmd) string { return strconv.Itoa(c.Process.Pid) }
	tests := []struct {
		name    string
		check   *Config
		ok      bool
		errHas  string
		outHave string
	}{
		{name: "by name", check: processCheck(alive, ""), ok: true, outHave: pid(aliveCmd)},
		{name: "long name by argv[0]", check: processCheck(long, ""), ok: true},
		{name: "by argv[0] base name", check: processCheck(renamed, ""), ok: true, outHave: pid(renamedCmd)},
		{name: "the kernel's truncated name matches, as with killall", check: processCheck(long[:commLen], ""), ok: true},
		{name: "no such name", check: processCheck(uniqueName("vipdnone"), ""), errHas: "no process"},
		{name: "killed process", check: processCheck(killed, ""), errHas: "no process"},
		{name: "zombie by name does not count", check: processCheck(zombie, ""), errHas: "zombie"},
		{name: "by pid file", check: processCheck("", writePIDFile(t, pid(aliveCmd)+"\n")), ok: true},
		{name: "pid file with name", check: processCheck(alive, writePIDFile(t, " "+pid(aliveCmd)+" ")), ok: true},
		{name: "pid file naming another process", check: processCheck(uniqueName("vipdother"), writePIDFile(t, pid(aliveCmd))),
			errHas: "not"},
		{name: "pid file of a zombie", check: processCheck("", writePIDFile(t, pid(zombieCmd))), errHas: "zombie"},
		{name: "pid file of a dead process", check: processCheck("", writePIDFile(t, pid(killedCmd))), errHas: "no such process"},
		{name: "missing pid file", check: processCheck("", filepath.Join(t.TempDir(), "none.pid")), errHas: "no such file"},
		{name: "empty pid file", check: processCheck("", writePIDFile(t, "")), errHas: "empty"},
		{name: "garbage pid file", check: processCheck("", writePIDFile(t, "twelve")), errHas: "not a pid"},
		{name: "negative pid", check: processCheck("", writePIDFile(t, "-1")), errHas: "not a pid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, tc.check, 5*time.Second)
			wantResult(t, r, tc.ok, tc.errHas)
			if tc.outHave != "" && !strings.Contains(r.Output, tc.outHave) {
				t.Errorf("output %q, want it to mention %q", r.Output, tc.outHave)
			}
		})
	}
}

func TestProcessProbeHonoursContext(t *testing.T) {
	wantResult(t, probeLate(t, processCheck(uniqueName("vipdnone"), "")), false, "timed out")
}

func TestProcessConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		check *Config
		field string
	}{
		{name: "no process section", check: &Config{Name: "p", Kind: KindProcess}, field: "process"},
		{name: "neither name nor pid file", check: processCheck("", ""), field: "process"},
		{name: "name with a slash", check: processCheck("/usr/sbin/haproxy", ""), field: "process.name"},
		{name: "relative pid file", check: processCheck("", "run/x.pid"), field: "process.pidfile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantConfigError(t, tc.check, tc.field)
		})
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		comm  string
		state byte
		bad   bool
	}{
		{name: "plain", line: "123 (haproxy) S 1 123 123 0", comm: "haproxy", state: 'S'},
		{name: "spaces and parentheses in name", line: "7 (a) (b c) Z 1 7", comm: "a) (b c", state: 'Z'},
		{name: "no parentheses", line: "123 haproxy S", bad: true},
		{name: "truncated after name", line: "123 (x)", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := parseStat([]byte(tc.line))
			if tc.bad {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", info)
				}
				return
			}
			if err != nil || info.comm != tc.comm || info.state != tc.state {
				t.Fatalf("got %+v, %v; want comm %q state %c", info, err, tc.comm, tc.state)
			}
		})
	}
}
