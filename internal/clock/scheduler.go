package clock

import (
	"container/heap"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Scheduler runs many deadlines on one timer and one goroutine. Each Alarm
// is a deadline and a function to call once it is reached. A hundred VRRP
// instances then cost one timer and one goroutine wake-up per distinct
// deadline, where a timer of their own each would cost a descriptor, a
// goroutine and a channel hand-off per expiry.
//
// Moving an alarm later mostly leaves the timer alone: a VRRP backup's
// master-down deadline moves later with every advert, and a timer system
// call for each would be most of the cost of receiving one at a hundred
// instances. The timer is moved only when it would otherwise wake for
// nothing before the next move can be expected to put it right (its
// wake-up is nearer than the time since the last move): a backup at 1 s
// adverts then re-arms it every third advert instead of waking for
// nothing every third second (a thread woken, a pass of the runtime's
// scheduler), and one with moves every millisecond about as rarely as it
// used to wake. Either way an alarm fires when it did: never before its
// deadline, unless it was given a window.
//
// An alarm set with a window (SetWindow) may fire early, from the window's
// start, when the timer wakes for another alarm anyway: the pass over due
// alarms goes on, in deadline order, while the next alarm's window has
// begun. Alarms whose deadlines fall close together then cost one wake-up.
//
// On the Linux real clock the timer is a timerfd (see PreciseClock) and
// the alarms' functions run in the goroutine its expiry wakes; on another
// PreciseClock, a PreciseTimer; on any other clock (a test's wrapper, or
// Real inside a testing/synctest bubble), a Timer from NewTimer. The goroutine runs while at
// least one alarm is open: the first NewAlarm starts it and the last
// Close stops it and waits for it, so it needs no owner of its own.
//
// A Scheduler is safe for concurrent use.
type Scheduler struct {
	clk Clock

	mu      sync.Mutex
	idle    sync.Cond // broadcast when an alarm's function returns
	q       alarmHeap
	open    int       // alarms made and not closed
	w       waker     // nil while no alarm is open
	wErr    error     // why w is not precise, when clk offers precise timers
	wakeAt  time.Time // when w will wake; zero when not armed
	running bool      // a pass over due alarms is under way: it re-arms at its end
	moved   time.Time // when an alarm was last set: moves to come are expected as often
	// nextRide is when Ride may look again, and lastNow the time of the
	// last move or pass (Unix ns): read without mu, so that a call of Ride
	// for every packet costs two atomic loads.
	nextRide, lastNow atomic.Int64
	wasted            int      // passes that found nothing to do (tests)
	firing            *Alarm   // whose function runs now, outside mu
	ride              []*Alarm // fire's list of alarms in their window, reused
}

// NewScheduler returns a scheduler on c. It starts nothing until the first
// NewAlarm.
func NewScheduler(c Clock) *Scheduler {
	s := &Scheduler{clk: c}
	s.idle.L = &s.mu
	return s
}

// Alarm is one deadline of a Scheduler. Its function runs on the
// scheduler's goroutine (or a Ride caller's), one alarm at a time: a slow
// function delays every other alarm of the scheduler, so it should do
// little and must not wait for another alarm to fire.
type Alarm struct {
	s         *Scheduler
	fn        func(now time.Time)
	at        time.Time // the deadline
	early     time.Time // when it may fire with another alarm; at most at
	idx       int       // position in s.q; -1 when not set
	closed    bool
	imprecise error
}

// NewAlarm registers fn, to be called with the current time whenever a
// deadline set by Alarm.Set is reached. The alarm starts unset.
func (s *Scheduler) NewAlarm(fn func(now time.Time)) *Alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		s.w, s.wErr = startWaker(s)
	}
	s.open++
	return &Alarm{s: s, fn: fn, idx: -1, imprecise: s.wErr}
}

// Imprecise returns why the alarm's timer is not precise although its
// clock is a PreciseClock (an error wrapping ErrNoPreciseTimer, for
// example inside a testing/synctest bubble), or nil. Its deadlines may
// then fire up to a millisecond late.
func (a *Alarm) Imprecise() error { return a.imprecise }

// Set makes the alarm fire at at (at once if at has passed), replacing a
// deadline set before. It does nothing after Close.
func (a *Alarm) Set(at time.Time) { a.SetWindow(at, at) }

// SetWindow makes the alarm fire at at, or from early on if the timer
// wakes for another alarm by then; early after at counts as at. It
// replaces a deadline set before and does nothing after Close.
func (a *Alarm) SetWindow(early, at time.Time) { a.SetWindowAt(early, at, a.s.clk.Now()) }

// SetWindowAt is SetWindow for a caller that has just read the clock: now
// is the current time on the scheduler's clock (a received advert's), and
// spares a second reading, per advert on a backup.
func (a *Alarm) SetWindowAt(early, at, now time.Time) {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.closed {
		return
	}
	if early.After(at) {
		early = at
	}
	if a.idx >= 0 && a.at.Equal(at) && a.early.Equal(early) {
		return
	}
	a.at, a.early = at, early
	if a.idx < 0 {
		heap.Push(&s.q, a)
	} else {
		heap.Fix(&s.q, a.idx)
	}
	// The timer never wakes later than the first deadline (wakeAt is at or
	// before every queued one), so an earlier deadline re-arms it. A later
	// one re-arms it only when the timer would wake for nothing before the
	// next move, going by the time since the last. A pass under way
	// re-arms once it is done.
	since := now.Sub(s.moved)
	s.moved = now
	s.lastNow.Store(now.UnixNano())
	switch {
	case s.running:
	case s.wakeAt.IsZero() || at.Before(s.wakeAt):
		s.armLocked(at)
	case s.wakeAt.Before(s.q[0].at) && s.wakeAt.Sub(now) <= since:
		s.armLocked(s.q[0].at)
	}
}

// Stop unsets the alarm; its function is not called until the next Set. A
// call of its function already under way is not waited for.
func (a *Alarm) Stop() {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.idx >= 0 {
		heap.Remove(&s.q, a.idx)
	}
}

// Close unsets the alarm for good and returns once no call of its function
// is under way; the scheduler's goroutine stops with the last open alarm.
// It must not be called from an alarm's function: the last Close waits for
// the goroutine those run on.
func (a *Alarm) Close() {
	s := a.s
	s.mu.Lock()
	if a.closed {
		s.mu.Unlock()
		return
	}
	a.closed = true
	if a.idx >= 0 {
		heap.Remove(&s.q, a.idx)
	}
	for s.firing == a {
		s.idle.Wait()
	}
	s.open--
	var w waker
	if s.open == 0 {
		w, s.w, s.wErr, s.wakeAt = s.w, nil, nil, time.Time{}
	}
	s.mu.Unlock()
	if w != nil {
		w.stop()
	}
}

// rideGap is the least time between two of Ride's looks at the alarms: a
// caller may call it for every packet it reads.
const rideGap = 500 * time.Millisecond

// Ride runs, on the caller's goroutine, the alarms that are due or whose
// windows have begun, as the timer's next pass would, for a caller that is
// awake anyway: the demux, having read an advert. An alarm with a window
// (an interface check's safety re-read) then rides that wake-up instead
// of costing the timer one of its own, where no other alarm fires (a
// backup's master-down deadline never comes while adverts do). It looks at
// most every rideGap, and not while a pass is under way. The functions run
// one at a time with those of the timer's passes, as ever.
//
// It reads no clock: "now" is the time of the last move or pass, which for
// the demux is the advert just handled (an advert that moved nothing
// leaves an older time, which at worst lets a window's alarm wait for the
// next advert).
func (s *Scheduler) Ride() {
	ns := s.lastNow.Load()
	if ns < s.nextRide.Load() {
		return
	}
	now := time.Unix(0, ns)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.w == nil {
		return
	}
	s.nextRide.Store(now.Add(rideGap).UnixNano())
	w := s.w
	s.running = true
	ran, ok := s.runWindows(w, now)
	if !ok {
		return
	}
	s.running = false
	s.idle.Broadcast() // a pass of the timer may wait for this one
	// An alarm that rode may have been what the timer was set for; and
	// one that was set meanwhile left the timer to this pass.
	if ran && len(s.q) > 0 && !s.wakeAt.Equal(s.q[0].at) {
		s.armLocked(s.q[0].at)
	}
}

// fire runs every alarm that is due, in deadline order, then those whose
// windows have begun, likewise, and arms the timer for the first deadline
// left. The waker calls it when its timer expires; a waker that was
// replaced meanwhile is ignored.
func (s *Scheduler) fire(w waker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.running && s.w == w { // a Ride under way
		s.idle.Wait()
	}
	if s.w != w {
		return
	}
	s.running = true
	s.wakeAt = time.Time{} // a one-shot timer that fired is disarmed
	ran := false
	for len(s.q) > 0 {
		now := s.clk.Now()
		s.lastNow.Store(now.UnixNano())
		if s.q[0].at.After(now) {
			break
		}
		ran = true
		if !s.call(w, heap.Pop(&s.q).(*Alarm), now) {
			return
		}
	}
	rode, ok := s.runWindows(w, s.clk.Now())
	if !ok {
		return
	}
	if !ran && !rode {
		s.wasted++
	}
	s.running = false
	if len(s.q) > 0 {
		s.armLocked(s.q[0].at)
	}
}

// runWindows runs, in deadline order, the alarms whose windows have begun
// by now; s.mu is held and s.running set. It reports whether it ran any,
// and false for ok if the last alarm closed meanwhile (the pass is over).
func (s *Scheduler) runWindows(w waker, now time.Time) (ran, ok bool) {
	// The heap is in deadline order, so an alarm in its window may sit
	// behind one that is not: look at them all. A function may have set
	// or stopped another alarm meanwhile, hence the check before each.
	s.ride = s.ride[:0]
	for _, a := range s.q {
		if !a.early.After(now) {
			s.ride = append(s.ride, a)
		}
	}
	slices.SortFunc(s.ride, func(a, b *Alarm) int { return a.at.Compare(b.at) })
	for k, a := range s.ride {
		s.ride[k] = nil
		if a.idx < 0 || a.early.After(now) {
			continue
		}
		heap.Remove(&s.q, a.idx)
		ran = true
		if !s.call(w, a, now) {
			clear(s.ride[k:])
			return ran, false
		}
	}
	return ran, true
}

// call runs a's function, which was taken off the queue, without s.mu; it
// reports false, and ends the pass, if the last alarm closed meanwhile.
func (s *Scheduler) call(w waker, a *Alarm, now time.Time) bool {
	s.firing = a
	s.mu.Unlock()
	a.fn(now)
	s.mu.Lock()
	s.firing = nil
	s.idle.Broadcast()
	if s.w != w {
		s.running = false
		return false
	}
	return true
}

// armLocked arms the timer for at; s.mu must be held and s.w set.
func (s *Scheduler) armLocked(at time.Time) {
	s.wakeAt = at
	s.w.arm(at.Sub(s.clk.Now()))
}

// waker is the one timer under a Scheduler and the goroutine that calls
// Scheduler.fire when it expires.
type waker interface {
	// arm (re-)arms the timer to expire after d, at once if d <= 0. It is
	// called with the scheduler's mu held.
	arm(d time.Duration)
	// stop ends the goroutine and returns once it has ended. It is called
	// without the scheduler's mu, after the waker was detached from it.
	stop()
}

// startWaker starts the most precise waker the clock allows, and says why
// it is not precise when the clock offers precise timers that failed.
func startWaker(s *Scheduler) (waker, error) {
	if _, ok := s.clk.(realClock); ok {
		w, err := startFdWaker(s)
		if err == nil {
			return w, nil
		}
		return startTimerWaker(s, s.clk.NewTimer(time.Hour)), err
	}
	if pc, ok := s.clk.(PreciseClock); ok {
		pt, err := pc.NewPreciseTimer(time.Hour)
		if err == nil {
			return startTimerWaker(s, pt), nil
		}
		return startTimerWaker(s, s.clk.NewTimer(time.Hour)), err
	}
	return startTimerWaker(s, s.clk.NewTimer(time.Hour)), nil
}

// timerWaker waits on a Timer's channel in a goroutine of its own.
type timerWaker struct {
	t          Timer
	quit, done chan struct{}
}

func startTimerWaker(s *Scheduler, t Timer) *timerWaker {
	t.Stop()
	w := &timerWaker{t: t, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-t.C():
				// A timer may deliver an expiry from before a Reset:
				// fire then finds nothing due and re-arms, which is all.
				s.fire(w)
			case <-w.quit:
				return
			}
		}
	}()
	return w
}

func (w *timerWaker) arm(d time.Duration) { w.t.Reset(max(d, 0)) }

func (w *timerWaker) stop() {
	close(w.quit)
	<-w.done
	if pt, ok := w.t.(PreciseTimer); ok {
		_ = pt.Close()
	} else {
		w.t.Stop()
	}
}

// alarmHeap orders alarms by deadline, for container/heap.
type alarmHeap []*Alarm

func (h alarmHeap) Len() int           { return len(h) }
func (h alarmHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h alarmHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h *alarmHeap) Push(x any) {
	a := x.(*Alarm)
	a.idx = len(*h)
	*h = append(*h, a)
}

func (h *alarmHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.idx = -1
	return a
}
