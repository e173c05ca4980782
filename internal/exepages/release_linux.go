package exepages

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Release drops this process's mappings of its executable's read-only,
// unmodified segments. A read-only mapping holding private pages (a PIE
// binary's relocated read-only data, for one) is skipped: discarding
// those would lose the relocations. Writable segments are never touched.
func Release() (Stats, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return Stats{}, fmt.Errorf("exepages: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return Stats{}, fmt.Errorf("exepages: %w", err)
	}
	maps, err := parseSmaps(f)
	f.Close()
	if err != nil {
		return Stats{}, fmt.Errorf("exepages: /proc/self/smaps: %w", err)
	}
	var st Stats
	for _, m := range maps {
		if m.path != exe || m.writable || m.shared {
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
