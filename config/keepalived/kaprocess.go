package keepalived

import (
	"fmt"
	"math"

	"github.com/vipd/vipd/config"
)

// kaProcess reads global_defs' vrrp_rt_priority, vrrp_priority and
// vrrp_no_swap into the node's scheduling and lock_memory (process.go),
// with keepalived 2.2.7's reading of each (global_parser.c): a bad value
// is reported and the daemon carries on, so each problem here is a warning.
type kaProcess struct {
	rt      int // vrrp_rt_priority; 0 = not set
	rtPos   config.Pos
	nice    int // vrrp_priority
	nicePos config.Pos
}

// processKeyword handles kw if it is one of the three; it reports whether
// it was.
func (p *kaParser) processKeyword(l kaLine, field string) bool {
	kp := &p.process
	switch l.words[0] {
	case "vrrp_rt_priority": // get_realtime_priority: clamped to 1-99
		if len(l.words) < 2 {
			p.d.warn(l.pos, field, "no real-time priority given; ignored, as keepalived does")
			return true
		}
		v, ok, msg := readInt(l.words[1], math.MinInt32, math.MaxInt32, true)
		if !ok {
			p.d.warn(l.pos, field, fmt.Sprintf("real-time priority %q invalid (%s); ignored, as keepalived does", l.words[1], msg))
			return true
		}
		if msg != "" { // keepalived reads "x" as 0 and "5x" as 5
			p.d.warn(l.pos, field, msg+"; used anyway, as keepalived does")
		}
		switch {
		case v < config.MinRTPriority:
			p.d.warn(l.pos, field, fmt.Sprintf("real-time priority %d less than minimum %d; set to %d, as keepalived does", v, config.MinRTPriority, config.MinRTPriority))
			v = config.MinRTPriority
		case v > config.MaxRTPriority:
			p.d.warn(l.pos, field, fmt.Sprintf("real-time priority %d greater than maximum %d; set to %d, as keepalived does", v, config.MaxRTPriority, config.MaxRTPriority))
			v = config.MaxRTPriority
		}
		kp.rt, kp.rtPos = int(v), l.pos
		p.src.Set("node.scheduling.priority", l.pos, field)
		p.src.Set("node.scheduling.policy", l.pos, field)
	case "vrrp_priority": // get_priority: -20 to 19, anything else is 0
		kp.nice, kp.nicePos = 0, l.pos
		p.src.Set("node.scheduling.nice", l.pos, field)
		if len(l.words) < 2 {
			p.d.warn(l.pos, field, "no process priority given; 0 used, as keepalived does")
			return true
		}
		v, ok, msg := readInt(l.words[1], config.MinNice, config.MaxNice, true)
		if !ok {
			p.d.warn(l.pos, field, fmt.Sprintf("invalid process priority %q (%s, want %d to %d); 0 used, as keepalived does", l.words[1], msg, config.MinNice, config.MaxNice))
			return true
		}
		if msg != "" {
			p.d.warn(l.pos, field, msg+"; used anyway, as keepalived does")
		}
		kp.nice = int(v)
	case "vrrp_no_swap": // takes no value
		p.cfg.Node.LockMemory = true
		p.src.Set("node.lock_memory", l.pos, field)
	default:
		return false
	}
	return true
}

// processDone settles the node's scheduling once global_defs is read:
// keepalived runs SCHED_RR at vrrp_rt_priority when it is set and then
// ignores vrrp_priority; otherwise the nice value applies.
func (p *kaParser) processDone() {
	kp := &p.process
	s := &p.cfg.Node.Scheduling
	switch {
	case kp.rt != 0:
		s.Policy, s.Priority = config.SchedRR, kp.rt
		if kp.nice != 0 {
			p.d.warn(kp.nicePos, "global_defs.vrrp_priority", "ignored with vrrp_rt_priority, as keepalived does (a real-time policy has no nice value)")
		}
	case kp.nice != 0:
		s.Nice = kp.nice
	}
}
