//go:build !linux

package clock

import (
	"fmt"
	"time"
)

// fdWaker exists on Linux only; elsewhere startFdWaker always fails and the
// scheduler falls back to a Timer.
type fdWaker struct{}

func startFdWaker(*Scheduler) (*fdWaker, error) {
	return nil, fmt.Errorf("%w: no timerfd on this system", ErrNoPreciseTimer)
}

func (*fdWaker) arm(time.Duration) {}
func (*fdWaker) stop()             {}
