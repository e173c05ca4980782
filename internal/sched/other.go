//go:build !linux

package sched

import (
	"context"
	"errors"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

var errUnsupported = errors.New("sched: not supported on this system")

// Threads is supported on Linux only.
type Threads struct{}

// NewThreads fails: Linux only.
func NewThreads(Settings) (*Threads, error) { return nil, errUnsupported }

// Apply does nothing.
func (*Threads) Apply() (int, error) { return 0, errUnsupported }

// Run returns at once.
func (*Threads) Run(context.Context, clock.Clock, time.Duration, func(error)) {}

// Kick does nothing.
func (*Threads) Kick() {}

// Locked says what LockMemory locked.
type Locked struct{ Executable uint64 }

// LockMemory fails: Linux only.
func LockMemory() (Locked, error) { return Locked{}, errUnsupported }
