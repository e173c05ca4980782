package footprint

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/lab"
)

// The /proc readers are tested on this process, where the truth is known.

func TestProcCPUCountsWork(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Busy for 300 ms of CPU time on one thread: at least 30 ticks.
	runtime.LockOSThread()
	end := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(end) {
		x++
	}
	runtime.UnlockOSThread()
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Scheduling on a loaded machine may take some of the wall time away.
	if d := after - before; d < 10 || d > 200 {
		t.Fatalf("300 ms busy loop (%d rounds) counted as %d ticks", x, d)
	}
}

func TestProcMemorySeesAllocation(t *testing.T) {
	before, err := procMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.RSS <= 0 || before.HWM < before.RSS || before.Anon+before.File > before.RSS+before.RSS/10 || before.PSS <= 0 || before.Threads < 1 {
		t.Fatalf("implausible memory of this process: %+v", before)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	after, err := procMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(buf)
	if d := after.RSS - before.RSS; d < 48<<10 {
		t.Fatalf("touching 64 MiB raised VmRSS by %d kB", d)
	}
	if d := after.Anon - before.Anon; d < 48<<10 {
		t.Fatalf("touching 64 MiB raised RssAnon by %d kB", d)
	}
	if after.HWM < after.RSS {
		t.Fatalf("VmHWM %d kB below VmRSS %d kB", after.HWM, after.RSS)
	}
}

func TestMachineCPUAdvances(t *testing.T) {
	b1, t1, err := machineCPU()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	b2, t2, err := machineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if b1 > t1 || b2 > t2 || t2 <= t1 || b2 < b1 {
		t.Fatalf("busy/total %d/%d then %d/%d", b1, t1, b2, t2)
	}
}

func TestIfPacketsCountsLoopback(t *testing.T) {
	rx1, tx1, err := ifPackets(os.Getpid(), "lo")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 20 {
		if _, err := c.WriteTo([]byte("x"), c.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	rx2, tx2, err := ifPackets(os.Getpid(), "lo")
	if err != nil {
		t.Fatal(err)
	}
	if rx2-rx1 < 20 || tx2-tx1 < 20 {
		t.Fatalf("20 datagrams on lo counted rx %d, tx %d", rx2-rx1, tx2-tx1)
	}
	if _, _, err := ifPackets(os.Getpid(), "nosuchif0"); err == nil {
		t.Fatal("no error for a missing interface")
	}
}

func TestNsPidsMissingNamespace(t *testing.T) {
	if _, err := nsPids("vipd-footprint-no-such-namespace"); err == nil {
		t.Fatal("no error for a namespace that does not exist")
	}
}

func TestRawDropsCountsFullBuffer(t *testing.T) {
	lab.RequireRoot(t) // raw sockets
	// A raw socket of an unused protocol on loopback with the smallest
	// receive buffer, never read: sending to it overflows the buffer.
	const proto = 253 // RFC 3692 experimentation
	r, err := net.ListenPacket("ip4:253", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.(*net.IPConn).SetReadBuffer(1); err != nil {
		t.Fatal(err)
	}
	before, err := rawDrops(os.Getpid(), proto)
	if err != nil {
		t.Fatal(err)
	}
	w, err := net.Dial("ip4:253", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 200 {
		if _, err := w.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	after, err := rawDrops(os.Getpid(), proto)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 100 {
		t.Fatalf("200 packets of 1000 bytes to a full raw socket: %d drops counted", after-before)
	}
}

func TestProcWakeupsCountsSleeps(t *testing.T) {
	w0, cpu0, err := procWakeups(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// 50 sleeps of a thread of its own: each blocks it once.
	runtime.LockOSThread()
	for range 50 {
		ts := unix.NsecToTimespec(int64(time.Millisecond))
		if err := unix.Nanosleep(&ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) { // and 50 ms of CPU time
	}
	runtime.UnlockOSThread()
	w1, cpu1, err := procWakeups(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := w1 - w0; d < 50 {
		t.Errorf("50 sleeps counted as %d wake-ups", d)
	}
	// Scheduling on a loaded machine may take some of the wall time away.
	if d := time.Duration(cpu1 - cpu0); d < 10*time.Millisecond || d > 2*time.Second {
		t.Errorf("a 50 ms busy loop counted as %v of CPU time", d)
	}
}
