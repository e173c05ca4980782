package pressure

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stress is something run against the master for a cell; stop ends it.
type stress interface {
	stop()
}

// cpuHogs are busy loops at normal priority, one per CPU of the master's
// set, pinned there.
type cpuHogs struct{ cmds []*exec.Cmd }

func startCPUHogs(cpus []int, perCPU int) (*cpuHogs, error) {
	h := &cpuHogs{}
	for _, c := range cpus {
		for range perCPU {
			cmd := exec.Command("taskset", "-c", strconv.Itoa(c), "/bin/sh", "-c", "while :; do :; done")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				h.stop()
				return nil, fmt.Errorf("cpu hog: %w", err)
			}
			h.cmds = append(h.cmds, cmd)
		}
	}
	return h, nil
}

func (h *cpuHogs) stop() {
	for _, c := range h.cmds {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		_ = c.Wait()
	}
	h.cmds = nil
}

// memCgroup is a memory cgroup (v1 or v2) below this process's own, with
// a hard limit: the master's processes and the memory hog run in it, so
// the reclaim they cause stays theirs.
type memCgroup struct {
	dir string
	v2  bool
}

func newMemCgroup(name string, limit int64) (*memCgroup, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var cg *memCgroup
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			cg = &memCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", parts[2], name)}
		case parts[0] == "0" && cg == nil:
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				cg = &memCgroup{dir: filepath.Join("/sys/fs/cgroup", parts[2], name), v2: true}
			}
		}
	}
	if cg == nil {
		return nil, errors.New("no memory cgroup controller found")
	}
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		return nil, fmt.Errorf("memory cgroup: %w", err)
	}
	file, val := "memory.limit_in_bytes", strconv.FormatInt(limit, 10)
	if cg.v2 {
		file = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(val), 0o644); err != nil {
		cg.remove()
		return nil, fmt.Errorf("memory cgroup limit: %w", err)
	}
	return cg, nil
}

// add moves a process (all its threads) into the cgroup.
func (cg *memCgroup) add(pid int) error {
	return os.WriteFile(filepath.Join(cg.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// command returns a command that runs inside the cgroup from its first
// instruction (a shell moves itself in, then execs), so that even the
// pages it reads first are charged to the cgroup.
func (cg *memCgroup) command(name string, args ...string) *exec.Cmd {
	script := `echo $$ > "$0" && exec "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, filepath.Join(cg.dir, "cgroup.procs"), name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// remove deletes the cgroup once its processes are gone.
func (cg *memCgroup) remove() {
	for i := 0; i < 50; i++ {
		if err := os.Remove(cg.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// copyInto copies a binary to dst from inside the cgroup: the page cache
// of the copy is the cgroup's, so its reclaim can evict the daemon's code.
func (cg *memCgroup) copyInto(src, dst string) error {
	out, err := cg.command("cp", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp %s: %v: %s", src, err, out)
	}
	return nil
}

// memHog holds anonymous memory (most of the cgroup's limit, touched again
// on every pass so it stays active) and reads a file in a loop, so the
// cgroup reclaims file pages all the time: the daemon's code among them,
// unless locked. It is this test binary run in hog mode.
type memHog struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the hog has exited
}

const hogEnv = "VIPD_PRESSURE_HOG"

func startMemHog(cg *memCgroup, dir string, anon, file int64, rateMBs int) (*memHog, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := cg.command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), hogEnv+"="+strings.Join([]string{
		strconv.FormatInt(anon, 10), filepath.Join(dir, "churn"), strconv.FormatInt(file, 10), strconv.Itoa(rateMBs)}, ","))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// It says "ready" once its memory is held and its file written.
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("memory hog said %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			return nil, fmt.Errorf("memory hog: %w", err)
		}
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, errors.New("memory hog: not ready after 2 minutes")
	}
	h := &memHog{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(h.done) }()
	return h, nil
}

// alive reports whether the hog still runs (the cgroup's OOM killer did
// not take it: the limit was too tight for the daemon and the hog).
func (h *memHog) alive() bool {
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

func (h *memHog) stop() {
	_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	<-h.done
}

// runMemHog is the hog's body: "ANON,FILE,SIZE,RATE" from hogEnv.
func runMemHog(spec string) error {
	f := strings.Split(spec, ",")
	if len(f) != 4 {
		return fmt.Errorf("hog spec %q", spec)
	}
	anon, err1 := strconv.ParseInt(f[0], 10, 64)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	rate, err3 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	const page, chunk = 4096, 1 << 20
	held := make([]byte, anon)
	touch := func() {
		for i := 0; i < len(held); i += page {
			held[i]++
		}
	}
	touch()
	w, err := os.Create(f[1])
	if err != nil {
		return err
	}
	buf := make([]byte, chunk)
	for n := int64(0); n < size; n += chunk {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	fmt.Println("ready")
	ctx := context.Background()
	perChunk := time.Second / time.Duration(max(rate, 1))
	for ctx.Err() == nil {
		r, err := os.Open(f[1])
		if err != nil {
			return err
		}
		start := time.Now()
		for i := 0; ; i++ {
			if _, err := io.ReadFull(r, buf); err != nil {
				break
			}
			if d := time.Until(start.Add(time.Duration(i+1) * perChunk)); d > 0 {
				time.Sleep(d) // at most rate MB/s: pressure, not a disk benchmark
			}
		}
		r.Close()
		touch()
	}
	return nil
}
