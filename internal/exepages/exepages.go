// Package exepages gives back the page mappings of the running executable's
// read-only segments once start-up is over.
//
// Starting vipd runs the initialisation of some five hundred packages,
// parses configuration and sets up sockets: code and tables used once. The
// kernel maps file pages around every fault (fault-around, 64 kB by
// default), so those scattered first touches leave most of the 20 MB image
// mapped, and counted in the agent's RSS, for good. Release drops those
// mappings. The pages stay in the page cache; what the agent still uses
// faults back in at its next use (a minor fault, no disk read while cached),
// and the rest is left to the kernel to keep or reclaim like any cached file.
// Under memory pressure code not run since start-up (a backup's first
// takeover) may then be read back from disk: mapped file pages are
// reclaimable too, only later, so the difference is one of degree.
//
// With locked memory (node.lock_memory) it is the other way round: Lock
// reads the whole image in and locks it, so that the first takeover never
// waits on the disk, and Release leaves locked mappings alone (the kernel
// refuses to drop locked pages anyway).
package exepages

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Stats says what Release did.
type Stats struct {
	Mappings int    // read-only mappings of the executable released
	Bytes    uint64 // their size
	Resident uint64 // how much of them was mapped in before (smaps Rss)
	Skipped  int    // read-only mappings left alone: they held modified pages
	Locked   int    // read-only mappings left alone: locked in memory
}

// mapping is one entry of /proc/PID/smaps, the fields Release needs.
type mapping struct {
	start, end       uint64
	writable, shared bool
	path             string
	rss              uint64 // bytes
	anonymous        uint64 // bytes
	haveAnon         bool
	locked           bool // VmFlags has "lo" (mlock, mlockall)
}

// modified reports whether the mapping may hold pages that differ from the
// file: a private page written to (relocated, say) is an anonymous copy.
// One whose Anonymous line is missing counts as modified, so Release never
// guesses. (Private_Dirty says nothing here: it also counts page-cache
// pages not yet written back, as a freshly built binary's are.)
func (m mapping) modified() bool { return !m.haveAnon || m.anonymous != 0 }

// parseSmaps reads smaps.
func parseSmaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		if isHeader(b) {
			m, err := parseHeader(string(b))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			out = append(out, m)
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("line %d: a field before any mapping", line)
		}
		key, val, ok := bytes.Cut(b, []byte(":"))
		if !ok {
			continue
		}
		m := &out[len(out)-1]
		if string(key) == "VmFlags" {
			m.locked = hasFlag(string(val), "lo")
			continue
		}
		switch string(key) {
		case "Rss", "Anonymous":
			kb, err := parseKB(string(val))
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", line, key, err)
			}
			switch string(key) {
			case "Rss":
				m.rss = kb << 10
			case "Anonymous":
				m.anonymous, m.haveAnon = kb<<10, true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// hasFlag reports whether a VmFlags list ("rd ex mr mw me lo") holds f.
func hasFlag(list, f string) bool {
	for _, x := range strings.Fields(list) {
		if x == f {
			return true
		}
	}
	return false
}

// isHeader tells a mapping's first line ("start-end perms ...") from its
// "Key: value" lines: only the header starts with a hex range.
func isHeader(b []byte) bool {
	dash := bytes.IndexByte(b, '-')
	if dash <= 0 {
		return false
	}
	for _, c := range b[:dash] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func parseHeader(s string) (mapping, error) {
	// start-end perms offset dev inode [path]; the path may hold spaces.
	f := strings.Fields(s)
	if len(f) < 5 {
		return mapping{}, fmt.Errorf("mapping header %q: want at least 5 fields", s)
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	if !ok {
		return mapping{}, fmt.Errorf("mapping range %q", f[0])
	}
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || end < start {
		return mapping{}, fmt.Errorf("mapping range %q", f[0])
	}
	perms := f[1]
	if len(perms) != 4 {
		return mapping{}, fmt.Errorf("mapping permissions %q", perms)
	}
	m := mapping{start: start, end: end, writable: perms[1] == 'w', shared: perms[3] == 's'}
	// The path is everything after the inode, spaces kept
	// ("/usr/sbin/vipd (deleted)" once the file was replaced).
	rest := s
	for range 5 {
		rest = strings.TrimLeft(rest, " \t")
		if k := strings.IndexAny(rest, " \t"); k >= 0 {
			rest = rest[k:]
		} else {
			rest = ""
		}
	}
	m.path = strings.TrimSpace(rest)
	return m, nil
}

// parseKB reads "   1234 kB".
func parseKB(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("%q: want a number of kB", strings.TrimSpace(s))
	}
	return strconv.ParseUint(f[0], 10, 64)
}
