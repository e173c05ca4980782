//go:build !linux

package exepages

import "errors"

// Release is supported on Linux only.
func Release() (Stats, error) { return Stats{}, errors.New("exepages: not supported on this system") }

// Lock is supported on Linux only.
func Lock() (Stats, error) { return Stats{}, errors.New("exepages: not supported on this system") }
