//go:build linux

package clock

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var _ PreciseClock = realClock{}

// NewPreciseTimer returns a timer backed by a timerfd on CLOCK_MONOTONIC,
// registered with the runtime poller: its expiry wakes epoll at once, where
// a time.Timer waits for an epoll_wait timeout in whole milliseconds. A
// goroutine per timer waits on the descriptor without holding a thread.
//
// It fails inside a testing/synctest bubble, whose time.Now and time.Timer
// run on a fake clock that a kernel timer would not follow.
func (realClock) NewPreciseTimer(d time.Duration) (PreciseTimer, error) {
	fd, f, rc, err := openTimerfd()
	if err != nil {
		return nil, err
	}
	t := &fdTimer{
		c:    make(chan time.Time, 1),
		f:    f,
		rc:   rc,
		done: make(chan struct{}),
		fd:   fd,
	}
	t.Reset(d)
	go t.wait()
	return t, nil
}

// openTimerfd returns a disarmed timerfd on CLOCK_MONOTONIC, registered
// with the runtime poller, or an error wrapping ErrNoPreciseTimer.
func openTimerfd() (int, *os.File, syscall.RawConn, error) {
	if err := sameClockAsKernel(); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %w", ErrNoPreciseTimer, err)
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %w", ErrNoPreciseTimer, os.NewSyscallError("timerfd_create", err))
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	// NewFile quietly keeps a descriptor the poller refuses; only a
	// pollable file accepts a deadline, and only it can be waited on
	// without a thread.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return 0, nil, nil, fmt.Errorf("%w: timerfd not pollable: %w", ErrNoPreciseTimer, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return 0, nil, nil, fmt.Errorf("%w: %w", ErrNoPreciseTimer, err)
	}
	return fd, f, rc, nil
}

// readExpiry consumes a timerfd's expiry count and reports whether there
// was one: false when the poller woke us for an expiry that a re-arm has
// since cleared.
//
// The read is a raw system call: a timerfd opened non-blocking never
// blocks, and a system call made through the runtime's entersyscall wakes
// the runtime's sysmon thread when it sleeps, a futex round trip per
// expiry for nothing.
func readExpiry(fd uintptr) bool {
	var n [8]byte // expiry count, native byte order; only its presence matters
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&n[0])), uintptr(len(n)))
		if errno == unix.EINTR {
			continue
		}
		return errno == 0
	}
}

// fdTimer is a PreciseTimer on a timerfd. Its invariant, which makes an
// expiry never stale: the expiry count is read, and the timerfd re-armed
// (which zeroes the count), only with mu held, and C is drained with mu
// held too. So an expiry read belongs to the current arming, and at most
// one expiry per arming ever reaches C.
type fdTimer struct {
	c    chan time.Time
	f    *os.File
	rc   syscall.RawConn
	done chan struct{} // closed when wait returns

	mu     sync.Mutex
	fd     int  // the timerfd; never used once closed is set
	armed  bool // armed and its expiry not yet delivered to c
	closed bool
}

// wait runs in the timer's own goroutine until Close. RawConn.Read calls
// onReadable once, then again each time the poller reports the descriptor
// readable; since onReadable never reports success, Read returns only when
// Close evicts the file from the poller.
func (t *fdTimer) wait() {
	defer close(t.done)
	_ = t.rc.Read(t.onReadable)
}

func (t *fdTimer) onReadable(fd uintptr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !readExpiry(fd) {
		// Woken for an expiry a Reset or Stop has since cleared, or
		// before the first one. Wait again.
		return false
	}
	if t.armed {
		t.armed = false
		select {
		case t.c <- time.Now():
		default: // cannot happen: Reset drains c before re-arming
		}
	}
	return false
}

func (t *fdTimer) C() <-chan time.Time { return t.c }

// Stop disarms the timer; see PreciseTimer for what it returns.
func (t *fdTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.set(0, false)
}

// Reset re-arms the timer to fire after d, at once if d <= 0; see
// PreciseTimer for what it returns.
func (t *fdTimer) Reset(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	// A zero it_value disarms a timerfd: 1 ns is the soonest expiry.
	return t.set(max(d, time.Nanosecond), true)
}

// set arms the timerfd for d, or disarms it, and reports whether the
// previous arming was still pending: not fired, or fired and not received
// (that expiry is dropped). t.mu must be held.
func (t *fdTimer) set(d time.Duration, arm bool) bool {
	pending := t.armed
	select {
	case <-t.c:
		pending = true
	default:
	}
	t.armed = false
	if t.closed {
		return false
	}
	var v unix.ItimerSpec
	if arm {
		v.Value = unix.NsecToTimespec(d.Nanoseconds())
	}
	// Settime fails only for a bad descriptor or an unnormalised value;
	// the descriptor is open until closed is set and NsecToTimespec
	// normalises.
	_ = unix.TimerfdSettime(t.fd, 0, &v, nil)
	t.armed = arm
	return pending
}

// Close stops the timer, closes the timerfd and waits for the goroutine.
func (t *fdTimer) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.set(0, false)
	t.closed = true
	t.mu.Unlock()
	// Without mu: File.Close waits for onReadable, which takes mu, to
	// return.
	err := t.f.Close()
	<-t.done
	return err
}

// sameClockAsKernel fails when time.Now is not the kernel's realtime clock,
// which happens only under a fake clock such as a testing/synctest bubble
// (its time starts at 2000-01-01 and moves only when the bubble idles).
// There is no public way to ask whether one is in a bubble; a second of
// slack covers a clock step between the two reads.
func sameClockAsKernel() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return os.NewSyscallError("clock_gettime", err)
	}
	kernel := time.Unix(ts.Unix())
	if off := time.Since(kernel); off > time.Second || off < -time.Second {
		return fmt.Errorf("time.Now is %v off the kernel's clock: a fake clock (testing/synctest?)", off.Round(time.Second))
	}
	return nil
}
