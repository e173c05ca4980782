package main

import (
	"fmt"
	"log/slog"
	"strconv"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// systemd tells the service manager what the agent is doing when vipd runs
// as a Type=notify unit (deploy/systemd/vipd.service): READY=1 once the
// agent runs, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1
// when a graceful stop begins. Without NOTIFY_SOCKET (not under systemd)
// every method does nothing. A failed notification is logged, never fatal:
// systemd then times the start out itself.
//
// NOTIFY_SOCKET stays in the environment, so notify scripts inherit it; the
// unit's NotifyAccess=main makes systemd ignore anything they send.
type systemd struct {
	log *slog.Logger
}

// ready says the agent is running; status is shown by systemctl status.
func (s systemd) ready(status string) {
	s.send(daemon.SdNotifyReady + "\nSTATUS=" + status)
}

// reloading says a reload has begun. MONOTONIC_USEC lets systemd (253 and
// later) match it with the reload it asked for; older versions ignore it.
func (s systemd) reloading() {
	s.send(daemon.SdNotifyReloading + "\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10) + "\nSTATUS=reloading")
}

// stopping says a graceful stop has begun (VIPs being released).
func (s systemd) stopping() {
	s.send(daemon.SdNotifyStopping + "\nSTATUS=stopping: releasing VIPs")
}

func (s systemd) send(state string) {
	sent, err := daemon.SdNotify(false, state)
	switch {
	case err != nil:
		s.log.Warn("systemd notification failed", "state", state, "err", err)
	case sent:
		s.log.Debug("systemd notified", "state", state)
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd
// compares reload requests against.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// runningStatus is the STATUS= text while the agent runs.
func runningStatus(instances int, path string) string {
	return fmt.Sprintf("running %d instances from %s", instances, path)
}
