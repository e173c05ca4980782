package exepages

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Release drops this process's mappings of its executable's read-only,
// unmodified segments. A read-only mapping holding private pages (a PIE
// binary's relocated read-only data, for one) is skipped: discarding
// those would lose the relocations. Writable segments are never touched,
// nor are locked ones (Lock, mlockall): locking asked for them to stay.
func Release() (Stats, error) {
	exe, maps, err := ownMappings()
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	for _, m := range maps {
		if m.path != exe || m.writable || m.shared {
			continue
		}
		if m.locked {
			st.Locked++
			continue
		}
		if m.modified() {
			st.Skipped++
			continue
		}
		// MADV_DONTNEED on a private file mapping only unmaps: nothing
		// was written to these pages, so nothing is lost.
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), unix.MADV_DONTNEED); e != 0 {
			return st, fmt.Errorf("exepages: madvise %x-%x: %w", m.start, m.end, e)
		}
		st.Mappings++
		st.Bytes += m.end - m.start
		st.Resident += m.rss
	}
	return st, nil
}

// Lock reads every mapping of the executable in and locks it in memory
// (mlock), so that code and data no run has touched yet, such as a
// backup's first takeover, are resident when needed. Stats.Bytes is the
// size locked; Resident is how much was mapped in before.
func Lock() (Stats, error) {
	exe, maps, err := ownMappings()
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	for _, m := range maps {
		if m.path != exe {
			continue
		}
		// mlock faults every page in; it also turns a lock-on-fault
		// mapping (mlockall with MCL_ONFAULT) into a fully locked one.
		if _, _, e := unix.Syscall(unix.SYS_MLOCK, uintptr(m.start), uintptr(m.end-m.start), 0); e != 0 {
			return st, fmt.Errorf("exepages: mlock %x-%x: %w", m.start, m.end, e)
		}
		st.Mappings++
		st.Bytes += m.end - m.start
		st.Resident += m.rss
	}
	if st.Mappings == 0 {
		return st, fmt.Errorf("exepages: no mapping of %s found", exe)
	}
	return st, nil
}

// ownMappings returns the executable's path and this process's mappings.
func ownMappings() (string, []mapping, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", nil, fmt.Errorf("exepages: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", nil, fmt.Errorf("exepages: %w", err)
	}
	maps, err := parseSmaps(f)
	f.Close()
	if err != nil {
		return "", nil, fmt.Errorf("exepages: /proc/self/smaps: %w", err)
	}
	return exe, maps, nil
}
