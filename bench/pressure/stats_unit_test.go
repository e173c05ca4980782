package pressure

import (
	"net/netip"
	"testing"
	"time"
)

func TestAnalyse(t *testing.T) {
	m, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	t0 := time.Unix(1000, 0)
	var as []arrival
	at := t0
	// 100 adverts 100 ms apart, one of them 450 ms late.
	for i := range 100 {
		d := 100 * time.Millisecond
		if i == 50 {
			d = 450 * time.Millisecond
		}
		at = at.Add(d)
		as = append(as, arrival{at: at, src: m, prio: 150})
	}
	// The backup takes over twice: two adverts 100 ms apart, then one
	// more 3 s later; its priority-0 advert is not a takeover.
	as = append(as,
		arrival{at: t0.Add(5 * time.Second), src: b, prio: 100},
		arrival{at: t0.Add(5100 * time.Millisecond), src: b, prio: 100},
		arrival{at: t0.Add(8 * time.Second), src: b, prio: 100},
		arrival{at: t0.Add(9 * time.Second), src: b, prio: 0},
		arrival{at: t0.Add(9 * time.Second), src: m, prio: 0})
	st := analyse(as, m, b, 150, 100*time.Millisecond)
	if st.Adverts != 100 || st.Late != 1 || st.MaxMs != 450 || st.P50ms != 100 || st.Spurious != 2 || st.BackupAds != 3 {
		t.Fatalf("analyse = %+v", st)
	}
	if st.JitterP99 != 0 { // one deviation in 99 is above the 99th percentile's rank
		t.Errorf("jitter p99 = %v, want 0", st.JitterP99)
	}
	if q := quantile([]float64{5, 1, 3, 2, 4}, 0.5); q != 3 {
		t.Errorf("median of 1..5 = %v", q)
	}
	if q := quantile(nil, 0.99); q != 0 {
		t.Errorf("quantile of nothing = %v", q)
	}
}
