// Package benchstat holds the arithmetic every benchmark reports its
// samples with, so that their tables agree on what a median or a
// millisecond is.
package benchstat

import (
	"slices"
	"time"
)

// Median returns the median of xs (the mean of the two middle values for
// an even count), 0 for none; xs is left as it was.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MS returns d in milliseconds, fractions kept: the unit of every table.
func MS(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
