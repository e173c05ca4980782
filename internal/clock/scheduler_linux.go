//go:build linux

package clock

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdWaker is a Scheduler's timer on a timerfd. Due alarms run in the
// callback the poller wakes for the expiry, so one expiry costs one
// goroutine wake-up, not two as with a PreciseTimer's channel.
type fdWaker struct {
	fd   int
	f    *os.File
	done chan struct{} // closed when the goroutine has ended
}

func startFdWaker(s *Scheduler) (*fdWaker, error) {
	fd, f, rc, err := openTimerfd()
	if err != nil {
		return nil, err
	}
	w := &fdWaker{fd: fd, f: f, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		// The callback never reports success: Read returns only when stop
		// closes the file, which evicts it from the poller.
		_ = rc.Read(func(fd uintptr) bool {
			if readExpiry(fd) {
				s.fire(w)
			}
			return false
		})
	}()
	return w, nil
}

// arm is called with the scheduler's mu held, and never after stop: the
// scheduler detaches a waker before stopping it, so the descriptor is open.
func (w *fdWaker) arm(d time.Duration) {
	// A zero it_value disarms a timerfd: 1 ns is the soonest expiry.
	v := unix.ItimerSpec{Value: unix.NsecToTimespec(max(d, time.Nanosecond).Nanoseconds())}
	// Settime fails only for a bad descriptor or an unnormalised value. A
	// raw call, as the expiry's read: it never blocks, and the ordinary
	// path (unix.TimerfdSettime) wakes the runtime's monitor thread
	// whenever it sleeps, which between adverts it does.
	_, _, _ = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(w.fd), 0, uintptr(unsafe.Pointer(&v)), 0, 0, 0)
}

func (w *fdWaker) stop() {
	// Close waits for a callback under way, then makes Read return.
	_ = w.f.Close()
	<-w.done
}
