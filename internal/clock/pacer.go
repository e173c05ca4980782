package clock

import "time"

// Pacer is the one deadline a goroutine waits on between runs of periodic
// work (a check's next run, an order file's next look): a Timer of its
// Clock or, given a Scheduler, an Alarm of it, so that many such deadlines
// share the Scheduler's one timer and ride each other's wake-ups. Its
// owner selects on both TimerC and Due; only one of them is ever ready.
// A Pacer belongs to one goroutine.
type Pacer struct {
	clk   Clock
	timer Timer  // without a Scheduler; nil until first set
	alarm *Alarm // with one
	due   chan struct{}
}

// NewPacer returns a Pacer on clk, or on an Alarm of s when s is not nil.
func NewPacer(clk Clock, s *Scheduler) *Pacer {
	p := &Pacer{clk: clk}
	if s != nil {
		p.due = make(chan struct{}, 1)
		p.alarm = s.NewAlarm(func(time.Time) {
			select {
			case p.due <- struct{}{}:
			default:
			}
		})
	}
	return p
}

// Set arms the Pacer for at, replacing (and cancelling) what was set; an
// Alarm may fire from early on, a Timer fires at at.
func (p *Pacer) Set(early, at time.Time) {
	p.Cancel()
	if p.alarm != nil {
		p.alarm.SetWindow(early, at)
		return
	}
	d := at.Sub(p.clk.Now())
	if p.timer == nil {
		p.timer = p.clk.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
}

// TimerC is ready when the Timer fires; nil (never ready) with an Alarm or
// before the first Set.
func (p *Pacer) TimerC() <-chan time.Time {
	if p.timer == nil {
		return nil
	}
	return p.timer.C()
}

// Due is ready when the Alarm fires; nil (never ready) without a Scheduler.
func (p *Pacer) Due() <-chan struct{} { return p.due }

// Cancel disarms the Pacer and drops an expiry not received yet: a Timer
// may keep one that Stop came too late for, and it would start a run of
// its own.
func (p *Pacer) Cancel() {
	if p.alarm != nil {
		p.alarm.Stop()
		select {
		case <-p.due:
		default:
		}
		return
	}
	if p.timer != nil && !p.timer.Stop() {
		select {
		case <-p.timer.C():
		default:
		}
	}
}

// Close releases the Timer or the Alarm.
func (p *Pacer) Close() {
	if p.alarm != nil {
		p.alarm.Close()
	} else if p.timer != nil {
		p.timer.Stop()
	}
}
