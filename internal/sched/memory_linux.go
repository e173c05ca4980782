package sched

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vipd/vipd/internal/exepages"
	"golang.org/x/sys/unix"
)

// capIPCLock is CAP_IPC_LOCK's bit in the capability sets.
const capIPCLock = 14

// Locked says what LockMemory locked.
type Locked struct {
	// Executable is how much of the executable's image was read in and
	// locked (exepages.Lock).
	Executable uint64
}

// LockMemory locks the process's memory, now and for every later mapping,
// so that nothing the agent has touched is swapped out or dropped.
//
// It locks on fault (MCL_ONFAULT): a page is locked once used. Locking
// every mapping at once (plain MCL_CURRENT|MCL_FUTURE) would also fill
// the Go runtime's heap arenas, 64 MB mapped at a time, as they are
// mapped: some 45 MB more resident for nothing. The executable's image is
// the exception: it is read in whole and locked (exepages.Lock), because
// the code a backup runs on its first takeover has not been touched yet
// and must not wait on the disk then.
//
// The kernel counts the full size of every locked mapping, touched or
// not, against RLIMIT_MEMLOCK; the Go runtime reserves more than a
// gigabyte of address space, so a finite limit would make a later
// allocation fail and the process die. LockMemory therefore refuses to
// lock unless the process has CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK.
func LockMemory() (Locked, error) {
	if err := canLockAll(); err != nil {
		return Locked{}, err
	}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		return Locked{}, &Error{What: "mlockall", Err: err, Hint: memlockHint}
	}
	st, err := exepages.Lock()
	if err != nil {
		return Locked{}, &Error{What: "lock the executable", Err: err}
	}
	return Locked{Executable: st.Bytes}, nil
}

const memlockHint = "locking memory needs CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK (systemd: LimitMEMLOCK=infinity)"

// canLockAll checks that locking everything cannot hit RLIMIT_MEMLOCK.
func canLockAll() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return &Error{What: "read RLIMIT_MEMLOCK", Err: err}
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	ok, err := hasCapability(capIPCLock)
	if err != nil {
		return &Error{What: "read capabilities", Err: err}
	}
	if !ok {
		return &Error{What: "lock memory", Err: fmt.Errorf("RLIMIT_MEMLOCK is %d bytes and the process lacks CAP_IPC_LOCK", lim.Cur),
			Hint: memlockHint + "; a finite limit would make the Go runtime's later allocations fail"}
	}
	return nil
}

// hasCapability reads the effective set from /proc/self/status.
func hasCapability(bit uint) (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	return capEff(b, bit)
}

func capEff(status []byte, bit uint) (bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return mask&(1<<bit) != 0, nil
		}
	}
	return false, errors.New("no CapEff line in /proc/self/status")
}
