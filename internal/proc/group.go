package proc

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// waitGroupDead waits, up to limit, until no process of group pgid is still
// running. Zombies count as dead: the group's orphans are reparented to
// init (or a subreaper), whose job it is to reap them; the program itself
// has been reaped by then.
func waitGroupDead(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for groupRunning(pgid) && time.Now().Before(deadline) {
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// groupRunning reports whether some process of group pgid is alive and not
// a zombie. When /proc cannot be read it says no: Run must not hang on it.
func groupRunning(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		state, pg, ok := procStat(e.Name())
		if ok && pg == pgid && state != 'Z' && state != 'X' {
			return true
		}
	}
	return false
}

// procStat reads a process's state letter and process group from
// /proc/PID/stat. The command name may hold spaces and parentheses, so the
// fields are counted from the last ')'.
func procStat(pid string) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	// After ") ": state ppid pgrp ...
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pg, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pg, true
}
