package footprint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 on every architecture it runs Go on (sysconf needs cgo).
const userHZ = 100

// procCPU returns the CPU time a process has used so far (utime + stime,
// in clock ticks). Its threads are included; children are not.
func procCPU(pid int) (ticks int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces or ')':
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return u + s, nil
}

// memory is what /proc says about a process's memory, in kB.
type memory struct {
	RSS     int64 `json:"rss_kb"`      // VmRSS: resident now
	HWM     int64 `json:"hwm_kb"`      // VmHWM: the peak of VmRSS
	Anon    int64 `json:"rss_anon_kb"` // RssAnon: heap, stacks (Go's heap is here)
	File    int64 `json:"rss_file_kb"` // RssFile: mapped files, the binary's text among them
	PSS     int64 `json:"pss_kb"`      // Pss: pages shared with others counted by share
	Threads int64 `json:"threads"`
}

func (m *memory) add(o memory) {
	m.RSS += o.RSS
	m.HWM += o.HWM
	m.Anon += o.Anon
	m.File += o.File
	m.PSS += o.PSS
	m.Threads += o.Threads
}

// procMemory reads a process's VmRSS, VmHWM, RssAnon, RssFile and Threads
// from /proc/PID/status and its Pss from /proc/PID/smaps_rollup.
func procMemory(pid int) (memory, error) {
	var m memory
	want := map[string]*int64{"VmRSS:": &m.RSS, "VmHWM:": &m.HWM, "RssAnon:": &m.Anon, "RssFile:": &m.File, "Threads:": &m.Threads}
	if err := readFields(fmt.Sprintf("/proc/%d/status", pid), want); err != nil {
		return m, err
	}
	if err := readFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid), map[string]*int64{"Pss:": &m.PSS}); err != nil {
		return m, err
	}
	return m, nil
}

// readFields fills want from the "Key: value [kB]" lines of a /proc file,
// failing if one of them is missing.
func readFields(path string, want map[string]*int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		p, ok := want[fs[0]]
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(fs[1], 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, fs[0], err)
		}
		*p = v
		found++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if found != len(want) {
		return fmt.Errorf("%s: found %d of the %d fields wanted", path, found, len(want))
	}
	return nil
}

// nsPids lists the processes whose network namespace is the named one
// (/run/netns/NAME), other than this test process (lab.Node.Do may have
// left one of our threads there, but the daemons are separate processes).
func nsPids(name string) ([]int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", name), &st); err != nil {
		return nil, err
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			continue // gone, or a kernel thread
		}
		if link == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// machineCPU returns the machine's busy and total CPU time so far, in
// clock ticks over all cores, from the first line of /proc/stat (busy is
// everything but idle and iowait).
func machineCPU() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		// guest and guest_nice (fields 9, 10) are already in user and nice.
		if i >= 8 {
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// ifPackets returns the packets an interface has received and sent, from
// /proc/PID/net/dev of a process in the interface's namespace.
func ifPackets(pid int, iface string) (rx, tx int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(name) != iface {
			continue
		}
		f := strings.Fields(rest)
		// receive: bytes packets errs drop fifo frame compressed multicast;
		// transmit: bytes packets ...
		if len(f) < 10 {
			return 0, 0, fmt.Errorf("/proc/%d/net/dev: %s: %d fields", pid, iface, len(f))
		}
		rx, err1 := strconv.ParseInt(f[1], 10, 64)
		tx, err2 := strconv.ParseInt(f[9], 10, 64)
		return rx, tx, errors.Join(err1, err2)
	}
	return 0, 0, fmt.Errorf("/proc/%d/net/dev: no %s", pid, iface)
}

// rawDrops sums the drops counters of the IPv4 raw sockets of one protocol
// in the namespace of process pid (/proc/PID/net/raw): packets the kernel
// threw away because a socket's receive buffer was full.
func rawDrops(pid int, proto int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/raw", pid))
	if err != nil {
		return 0, err
	}
	suffix := fmt.Sprintf(":%04X", proto)
	var sum int64
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 13 || !strings.HasSuffix(f[1], suffix) {
			continue
		}
		v, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/net/raw: drops %q: %w", pid, f[len(f)-1], err)
		}
		sum += v
	}
	return sum, nil
}

// procWakeups returns, summed over a process's threads, how often they
// blocked (voluntary_ctxt_switches in /proc/PID/task/TID/status: each is
// a later wake-up) and the CPU time they have run (the first field of
// their schedstat, in ns: finer than the 10 ms ticks of procCPU). A thread
// that ends takes its counts with it; Go's threads live as long as the
// process.
func procWakeups(pid int) (wakeups, cpuNs int64, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		var w int64
		if err := readFields(filepath.Join(dir, e.Name(), "status"), map[string]*int64{"voluntary_ctxt_switches:": &w}); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread ended meanwhile
			}
			return 0, 0, err
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return 0, 0, err
		}
		f := strings.Fields(string(raw))
		if len(f) < 1 {
			return 0, 0, fmt.Errorf("%s/%s/schedstat: %q", dir, e.Name(), raw)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s/%s/schedstat: %w", dir, e.Name(), err)
		}
		wakeups += w
		cpuNs += ns
	}
	return wakeups, cpuNs, nil
}
