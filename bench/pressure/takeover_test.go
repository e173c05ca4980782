package pressure

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/bench/internal/benchstat"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
	"golang.org/x/sys/unix"
)

// takeoverRecord is one first takeover: how much of it read the disk.
type takeoverRecord struct {
	Daemon      string  `json:"daemon"` // vipd or vipd+opts
	MajFaults   int64   `json:"backup_major_faults"`
	MinFaults   int64   `json:"backup_minor_faults"`
	TakeoverMs  float64 `json:"kill_to_first_advert_ms"`
	ResidentKB  int64   `json:"backup_rss_kb"` // before the takeover
	ExeEvicted  bool    `json:"exe_evicted"`
	LockedPages bool    `json:"locked"`
}

// BenchmarkFirstTakeover measures what a backup's first takeover reads
// from the disk: the backup runs a private copy of vipd; once it is ready
// (start-up pages released, unless memory is locked) the copy's page cache
// is dropped (POSIX_FADV_DONTNEED drops the pages no process maps), as
// memory pressure would, and the master is killed. Without lock_memory the
// takeover's code, never run before, comes back from the disk (major
// faults); with it, nothing does.
func BenchmarkFirstTakeover(b *testing.B) {
	lab.Require(b)
	bin := testbed.VipdBinary(b)
	vipdLogLevel = "debug" // "start-up pages released"
	defer func() { vipdLogLevel = "info" }()
	l := lab.New(b)
	sw := l.Switch("sw")
	na, nb := l.Node("a"), l.Node("b")
	l.Connect(na, sw, "eth0", addrA.String()+"/24")
	l.Connect(nb, sw, "eth0", addrB.String()+"/24")
	for i := 0; i < b.N; i++ {
		for _, opts := range []bool{false, true} {
			r, err := firstTakeover(b, na, nb, bin, opts)
			if err != nil {
				b.Fatal(err)
			}
			line, _ := json.Marshal(r)
			b.Logf("%s", line)
			benchio.Append(b, r)
		}
	}
}

func firstTakeover(b *testing.B, na, nb *lab.Node, bin string, opts bool) (takeoverRecord, error) {
	r := takeoverRecord{Daemon: "vipd", LockedPages: opts}
	if opts {
		r.Daemon = "vipd+opts"
	}
	w, err := watchAdverts(na, "eth0", vrid)
	if err != nil {
		return r, err
	}
	defer w.close()
	dir := b.TempDir()
	copyPath := filepath.Join(dir, "vipd")
	data, err := os.ReadFile(bin)
	if err != nil {
		return r, err
	}
	if err := writeSynced(copyPath, data); err != nil { // dirty pages could not be dropped
		return r, err
	}
	start := time.Now()
	master := startDaemon(b, na, "vipd", bin, b.TempDir(), "a", conf("a", prioMaster, addrA, addrB, false))
	defer master.Kill()
	wb, err := watchAdverts(nb, "eth0", vrid)
	if err != nil {
		return r, err
	}
	defer wb.close()
	if err := waitAdverts(wb, addrA, prioMaster, start, 5, 15*time.Second); err != nil {
		return r, err
	}
	backup := startDaemon(b, nb, "vipd", copyPath, dir, "b", conf("b", prioBackup, addrB, addrA, opts))
	defer backup.Kill()
	time.Sleep(3 * time.Second) // ready: start-up pages released (or locked)
	pids, err := nodePids(nb)
	if err != nil || len(pids) != 1 {
		return r, fmt.Errorf("backup pids %v: %v", pids, err)
	}
	pid := pids[0]
	// Drop the copy's page cache: what the backup has not mapped goes.
	f, err := os.Open(copyPath)
	if err != nil {
		return r, err
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		f.Close()
		return r, err
	}
	f.Close()
	r.ExeEvicted = true
	r.ResidentKB = rssKB(pid)
	maj0, min0 := faults(pid)
	kill := time.Now()
	_ = syscall.Kill(-master.Pid(), syscall.SIGKILL)
	if err := waitAdverts(w, addrB, prioBackup, kill, 1, 5*time.Second); err != nil {
		return r, err
	}
	as, _ := w.since(kill)
	for _, a := range as {
		if a.src == addrB && a.prio == prioBackup {
			r.TakeoverMs = benchstat.MS(a.at.Sub(kill))
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // the takeover's VIP and ARP work
	maj1, min1 := faults(pid)
	r.MajFaults, r.MinFaults = maj1-maj0, min1-min0
	if d := os.Getenv(envLogs); d != "" {
		_ = os.WriteFile(filepath.Join(d, "takeover-"+r.Daemon+"-backup.log"), []byte(backup.Output()), 0o644)
	}
	return r, nil
}

// faults returns a process's major and minor page faults (the 12th and
// 10th fields of /proc/PID/stat).
func faults(pid int) (maj, min int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) > 9 {
		min, _ = strconv.ParseInt(f[7], 10, 64)
		maj, _ = strconv.ParseInt(f[9], 10, 64)
	}
	return maj, min
}

// rssKB reads VmRSS from /proc/PID/status.
func rssKB(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// writeSynced writes a file and waits for it to reach the disk.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
