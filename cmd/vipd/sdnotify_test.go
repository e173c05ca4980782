package main

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket listens where systemd would, as a unixgram socket in a
// temporary directory, and points NOTIFY_SOCKET at it.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestSystemdNotifications(t *testing.T) {
	conn := notifySocket(t)
	var logs bytes.Buffer
	sd := systemd{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}

	sd.ready(runningStatus(2, "/etc/vipd/vipd.yaml"))
	if got := receive(t, conn); got != "READY=1\nSTATUS=running 2 instances from /etc/vipd/vipd.yaml" {
		t.Errorf("ready sent %q", got)
	}

	before := monotonicUsec()
	sd.reloading()
	got := receive(t, conn)
	m := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=reloading$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("reloading sent %q", got)
	}
	after := monotonicUsec()
	if v, err := strconv.ParseInt(m[1], 10, 64); err != nil || v < before || v > after || before <= 0 {
		t.Errorf("MONOTONIC_USEC %s not within CLOCK_MONOTONIC %d..%d", m[1], before, after)
	}

	sd.stopping()
	if got := receive(t, conn); !strings.HasPrefix(got, "STOPPING=1\n") {
		t.Errorf("stopping sent %q", got)
	}
	if !strings.Contains(logs.String(), "systemd notified") {
		t.Errorf("notifications not logged at debug:\n%s", logs.String())
	}
}

// Outside systemd nothing is sent and nothing is logged as a failure.
func TestSystemdWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	var logs bytes.Buffer
	sd := systemd{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	sd.ready("running")
	sd.stopping()
	if logs.Len() != 0 {
		t.Errorf("logged without a socket:\n%s", logs.String())
	}
}

// A socket that has gone away is a logged warning, not a crash.
func TestSystemdSocketGone(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	var logs bytes.Buffer
	sd := systemd{log: slog.New(slog.NewTextHandler(&logs, nil))}
	sd.ready("running")
	if !strings.Contains(logs.String(), "systemd notification failed") {
		t.Errorf("failure not logged:\n%s", logs.String())
	}
}
