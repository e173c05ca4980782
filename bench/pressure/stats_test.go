package pressure

import (
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/bench/internal/benchstat"
)

// episodeGap separates two takeovers by the backup: adverts from it closer
// than this belong to one spell as master.
const episodeGap = time.Second

// cellStats is what one cell measured from the adverts.
type cellStats struct {
	Adverts   int     `json:"adverts"`       // the master's adverts received
	P50ms     float64 `json:"p50_ms"`        // median spacing of the master's adverts
	P99ms     float64 `json:"p99_ms"`        // 99th percentile spacing
	MaxMs     float64 `json:"max_ms"`        // longest spacing
	JitterP99 float64 `json:"jitter_p99_ms"` // 99th percentile of |spacing - interval|
	Late      int     `json:"late"`          // spacings over twice the interval
	Spurious  int     `json:"spurious"`      // spells of the backup as master
	BackupAds int     `json:"backup_adverts"`
}

// analyse computes a cell's statistics from the adverts received in it:
// master's adverts at masterPrio, and any advert from backup (it sends
// none while it is a backup).
func analyse(as []arrival, master, backup netip.Addr, masterPrio uint8, interval time.Duration) cellStats {
	var st cellStats
	var last, lastB time.Time
	var gaps, dev []float64
	for _, a := range as {
		switch {
		case a.src == master && a.prio == masterPrio:
			st.Adverts++
			if !last.IsZero() {
				g := a.at.Sub(last)
				gaps = append(gaps, benchstat.MS(g))
				dev = append(dev, benchstat.MS(max(g-interval, interval-g)))
				if g > 2*interval {
					st.Late++
				}
			}
			last = a.at
		case a.src == backup && a.prio != 0:
			st.BackupAds++
			if lastB.IsZero() || a.at.Sub(lastB) > episodeGap {
				st.Spurious++
			}
			lastB = a.at
		}
	}
	st.P50ms, st.P99ms = quantile(gaps, 0.5), quantile(gaps, 0.99)
	st.JitterP99 = quantile(dev, 0.99)
	if len(gaps) > 0 {
		st.MaxMs = slices.Max(gaps)
	}
	return st
}

// quantile returns the q-quantile (nearest rank) of xs, 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
