package fsm

import "time"

// skewTime is RFC 5798's Skew_Time computed exactly as keepalived 2.2.7's
// VRRP_TIMER_SKEW does, in whole microseconds with truncating integer
// division, so that our backups time out at the same instant as a
// keepalived backup with the same priority would:
//
//	v3: ((256 − prio) × Master_Adver_Interval[centiseconds] × 625) / 16 µs
//	    (625/16 = 10000µs per centisecond / 256)
//	v2: ((256 − prio) × 1000000) / 256 µs
//
// prio is the effective priority; for v2 the interval plays no part.
func skewTime(version, prio uint8, masterAdverInt time.Duration) time.Duration {
	weight := int64(256 - int(prio))
	var us int64
	if version == 3 {
		cs := int64(masterAdverInt / centisecond)
		us = weight * cs * 625 / 16
	} else {
		us = weight * 1000000 / 256
	}
	return time.Duration(us) * time.Microsecond
}

// masterDownInterval is Master_Down_Interval: down_timer_adverts (3 by the
// RFC) intervals plus the skew, as keepalived's VRRP_MS_DOWN_TIMER.
func masterDownInterval(version, prio, downAdverts uint8, masterAdverInt time.Duration) time.Duration {
	return time.Duration(downAdverts)*masterAdverInt + skewTime(version, prio, masterAdverInt)
}
