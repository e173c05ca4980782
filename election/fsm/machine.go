package fsm

import (
	"net/netip"
	"time"
)

// Advert is an already-validated advertisement received for our VRID.
type Advert struct {
	Priority uint8         // 0 means the sender resigns
	Interval time.Duration // the advert's interval field (v3: centiseconds; ignored for v2)
	Src      netip.Addr    // IP source address of the advert
}

// maxActions bounds what one call can return: MASTER→FAULT sends two
// priority-0 adverts and one Transition.
const maxActions = 4

// Machine is the VRRP state machine of one virtual router instance.
//
// Every method takes the current time and returns the actions to perform,
// in order. The returned slice aliases a buffer inside the Machine: it is
// valid only until the next method call on the same Machine, so the caller
// must act on it (or copy it) first. This keeps the hot paths free of
// allocations. After every call the caller re-reads [Machine.Deadline] and
// calls [Machine.Tick] once that time is reached.
//
// A Machine is not safe for concurrent use.
type Machine struct {
	p Params // normalised configuration

	state    State
	prio     uint8         // effective priority
	mai      time.Duration // Master_Adver_Interval
	deadline time.Time     // the single pending timer
	armed    bool          // whether deadline is pending
	fault    bool          // fault reported before Start
	faultWhy string        // its reason

	master netip.Addr // current master as far as we know

	// preempt_delay: when set, lower-priority adverts are accepted until
	// preemptAt, then discarded (keepalived's preempt_time).
	preemptAt  time.Time
	preemptSet bool

	// nextReason is why we would become master if the master-down timer
	// fired now (keepalived's next_master_reason).
	nextReason string

	// held keeps a BACKUP from taking over (a sync group member elsewhere
	// is yielding to a better master: see SetHold).
	held bool

	buf [maxActions]Action
	n   int

	// The last Reassert boxed, reused while the same rogue master repeats
	// itself so that answering it does not allocate each time.
	reassert    Reassert
	reassertBox Action
}

// New validates p and returns a Machine in [Init]. Call [Machine.Start] to
// begin. Invalid parameters yield a *ParamError.
func New(p Params) (*Machine, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.normalize()
	return &Machine{
		p:          p,
		state:      Init,
		prio:       p.Priority,
		mai:        p.AdvertInterval,
		nextReason: ReasonMasterDown,
	}, nil
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Deadline returns the one pending timer: the advert timer in MASTER, the
// master-down timer in BACKUP. It returns false in INIT, FAULT and STOP.
func (m *Machine) Deadline() (time.Time, bool) { return m.deadline, m.armed }

// Earliest returns the earliest time at which Tick acts on the pending
// timer. That is the deadline itself, except for a MASTER's advert timer,
// which may be served up to an eighth of the advert interval early (see
// AdvertSlack). Meaningless while Deadline returns false.
func (m *Machine) Earliest() time.Time {
	if m.state == Master {
		return m.deadline.Add(-AdvertSlack(m.p.AdvertInterval))
	}
	return m.deadline
}

// AdvertSlack is how early a master's advert may be sent: an eighth of its
// interval. A scheduler serving many instances sends every advert whose
// slack has begun together with the one that is due, so that a hundred
// instances wake the sender, and every backup that hears them, a few
// times per interval rather than a hundred: once sent together their next
// deadlines coincide, and they stay together. An early advert is harmless;
// backups wait three intervals for a missing one, and never hear one late.
func AdvertSlack(interval time.Duration) time.Duration { return interval / 8 }

// Priority returns the effective priority.
func (m *Machine) Priority() uint8 { return m.prio }

// FastTakeover reports whether Params.FastTakeover is on.
func (m *Machine) FastTakeover() bool { return m.p.FastTakeover }

// SetFastTakeover turns Params.FastTakeover on or off, as a reload asks.
// The setting is read at each advert received and each priority change, so
// it applies from the next one on; a takeover already brought forward
// stays so.
func (m *Machine) SetFastTakeover(on bool) { m.p.FastTakeover = on }

// MasterAdvertInterval returns Master_Adver_Interval: in a v3 backup the
// interval learned from the master's adverts, otherwise our own.
func (m *Machine) MasterAdvertInterval() time.Duration { return m.mai }

// SkewTime returns Skew_Time for the current priority and interval.
func (m *Machine) SkewTime() time.Duration {
	return skewTime(m.p.Version, m.prio, m.mai)
}

// MasterDownInterval returns Master_Down_Interval for the current priority
// and interval.
func (m *Machine) MasterDownInterval() time.Duration {
	return masterDownInterval(m.p.Version, m.prio, m.p.DownTimerAdverts, m.mai)
}

// Master returns the current master's address as far as we know: Self in
// MASTER, the source of the last advert heard in BACKUP, and the zero Addr
// when unknown (before any advert, after a priority-0 advert, in FAULT).
func (m *Machine) Master() netip.Addr { return m.master }

// Start leaves INIT. The address owner (priority 255) becomes MASTER at once
// and sends an advert. Anyone else, including a StartMaster instance (see
// Params.StartMaster), enters BACKUP with the master-down timer. If a fault
// was reported before Start, the machine enters FAULT instead. Start outside
// INIT does nothing.
func (m *Machine) Start(now time.Time) []Action {
	m.n = 0
	if m.state != Init {
		return nil
	}
	switch {
	case m.fault:
		m.enterFault(m.faultWhy)
	case m.prio == PriorityOwner:
		m.becomeMaster(now, ReasonOwnerStartup)
	default:
		m.enterBackup(now, ReasonStartup)
	}
	return m.out()
}

// Tick handles the expiry of the pending timer. Called before Earliest
// (or with none pending) it does nothing and returns nil.
func (m *Machine) Tick(now time.Time) []Action {
	m.n = 0
	if !m.armed || now.Before(m.Earliest()) {
		return nil
	}
	switch m.state {
	case Backup:
		if m.held {
			// No master heard for a whole interval, but our group is
			// held: stay, and stop claiming to yield to anyone.
			m.master = netip.Addr{}
			m.nextReason = ReasonMasterDown
			m.arm(now, m.MasterDownInterval())
			break
		}
		m.becomeMaster(now, m.nextReason)
	case Master:
		m.emit(boxedSendAdverts[m.prio])
		m.arm(now, m.p.AdvertInterval)
	}
	return m.out()
}

// Receive handles an advert for our VRID. It is ignored in INIT, FAULT and
// STOP, as keepalived ignores adverts in those states.
func (m *Machine) Receive(a Advert, now time.Time) []Action {
	m.n = 0
	switch m.state {
	case Backup:
		m.receiveBackup(a, now)
	case Master:
		m.receiveMaster(a, now)
	}
	return m.out()
}

// receiveBackup is RFC 5798 §6.4.2 with keepalived's preempt_delay
// (vrrp_state_backup) and, when enabled, vipd's fast takeover.
func (m *Machine) receiveBackup(a Advert, now time.Time) {
	if a.Priority == PriorityStop {
		// The master resigned: take over after only the skew, so the
		// highest-priority backup goes first.
		m.master = netip.Addr{}
		m.nextReason = ReasonMasterResigned
		m.arm(now, m.SkewTime())
		return
	}
	delaying := m.p.PreemptDelay > 0 && (!m.preemptSet || now.Before(m.preemptAt))
	if !m.p.Preempt || a.Priority >= m.prio || delaying {
		m.learnInterval(a)
		m.master = a.Src.Unmap()
		m.nextReason = ReasonMasterDown
		if m.p.PreemptDelay > 0 {
			if a.Priority >= m.prio {
				m.preemptSet = false // a proper master: forget any delay
			} else if !m.preemptSet {
				m.preemptAt = now.Add(m.p.PreemptDelay)
				m.preemptSet = true
			}
		}
		m.arm(now, m.MasterDownInterval())
		return
	}
	// Preempting: discard the advert, leaving the master-down timer to run
	// out. Keep the sender as the master we know of, as keepalived does.
	m.master = a.Src.Unmap()
	m.nextReason = ReasonPreempted
	if m.p.FastTakeover && !m.held {
		// Treat it like a resignation: take over after Skew_Time (see
		// Params.FastTakeover). Only ever bring the deadline forward, so
		// the lower master's later adverts cannot postpone the takeover.
		m.nextReason = ReasonFastTakeover
		if dl := now.Add(m.SkewTime()); dl.Before(m.deadline) {
			m.deadline = dl
		}
	}
}

// receiveMaster is RFC 5798 §6.4.3 with keepalived's reassertion against a
// lower-priority master (vrrp_state_master_rx).
func (m *Machine) receiveMaster(a Advert, now time.Time) {
	if a.Priority == PriorityStop {
		m.emit(boxedSendAdverts[m.prio])
		m.arm(now, m.p.AdvertInterval)
		return
	}
	cmp := compareAddr(a.Src, m.p.Self)
	if a.Priority > m.prio || (a.Priority == m.prio && cmp > 0) {
		reason := ReasonHigherPriority
		if a.Priority == m.prio {
			reason = ReasonHigherAddress
		}
		m.learnInterval(a)
		m.master = a.Src.Unmap()
		m.nextReason = ReasonMasterDown
		m.preemptSet = false
		m.state = Backup
		m.arm(now, m.MasterDownInterval())
		m.emit(boxTransition(Transition{From: Master, To: Backup, Reason: reason}))
		return
	}
	if a.Priority == m.prio && cmp == 0 {
		// Our own address (or another family): nothing to decide. Unlike
		// keepalived we leave the advert timer alone so such packets
		// cannot postpone our adverts.
		return
	}
	// A lower priority (or equal from a lower address) is acting as master:
	// answer at once so it steps down, and report it.
	m.emit(boxedSendAdverts[m.prio])
	m.emit(m.boxReassert(Reassert{From: a.Src.Unmap(), Priority: a.Priority}))
	m.arm(now, m.p.AdvertInterval)
}

// Yielding reports whether this BACKUP is deferring to a live master it
// accepted (one of higher or equal priority, or any while preempt is off or
// delayed) — as opposed to waiting for its timer, or about to preempt.
// Sync groups hold their other members while one of them yields.
func (m *Machine) Yielding() bool {
	return m.state == Backup && m.master.IsValid() && m.nextReason == ReasonMasterDown
}

// SetHold holds the machine in BACKUP, or releases it: keepalived's sync
// groups move as one, so while one member yields to a better master
// elsewhere, the others must not be (or become) master here. A held MASTER
// resigns with a priority-0 advert, so the node the group follows takes
// over after its skew time. A held BACKUP never takes over; once released
// it takes over after its skew time if it hears no master, and otherwise
// carries on as usual.
//
// reason is the Transition's reason when a master resigns; empty means
// ReasonSyncGroupHeld. (The split-brain guard holds with its own.)
func (m *Machine) SetHold(hold bool, reason string, now time.Time) []Action {
	m.n = 0
	if hold == m.held || m.state == Stopped {
		m.held = hold
		return nil
	}
	m.held = hold
	switch {
	case hold && m.state == Master:
		m.emit(boxedSendAdverts[PriorityStop])
		m.state = Backup
		m.master = netip.Addr{}
		m.nextReason = ReasonMasterDown
		m.arm(now, m.MasterDownInterval())
		if reason == "" {
			reason = ReasonSyncGroupHeld
		}
		m.emit(boxTransition(Transition{From: Master, To: Backup, Reason: reason}))
	case !hold && m.state == Backup && !m.master.IsValid():
		if dl := now.Add(m.SkewTime()); !m.armed || dl.Before(m.deadline) {
			m.nextReason = ReasonSyncGroupReleased
			m.arm(now, m.SkewTime())
		}
	}
	return m.out()
}

// Follow makes a BACKUP MASTER now because another member of its sync
// group just became MASTER: the group moves as one, as keepalived's
// vrrp_sync_master does, rather than each member waiting out a timer of
// its own (a master-down or skew time later, the group's addresses would
// sit on two nodes). It does nothing unless the machine is in BACKUP, not
// held, and not yielding to a live master: a member that still hears a
// better master keeps its group back instead (see SetHold). reason is the
// Transition's; empty means ReasonSyncGroupFollow.
func (m *Machine) Follow(reason string, now time.Time) []Action {
	m.n = 0
	if m.state != Backup || m.held || m.Yielding() {
		return nil
	}
	if reason == "" {
		reason = ReasonSyncGroupFollow
	}
	m.becomeMaster(now, reason)
	return m.out()
}

// SetPriority changes the effective priority, as keepalived's
// vrrp_set_effective_priority: the owner's priority (configured 255) never
// changes, and others are clamped to 1..254. In BACKUP the pending
// master-down deadline moves by the change in skew, keeping the time already
// waited. A MASTER uses the new priority from its next advert on; like
// keepalived it does not send one early, unless Params.FastTakeover is set
// and the priority dropped: then it sends one now and restarts its advert
// timer, so a better backup hears the drop at once.
func (m *Machine) SetPriority(p uint8, now time.Time) []Action {
	m.n = 0
	if m.state == Stopped || m.p.Priority == PriorityOwner {
		return nil
	}
	p = max(1, min(p, PriorityOwner-1))
	if p == m.prio {
		return nil
	}
	oldPrio, oldSkew := m.prio, m.SkewTime()
	m.prio = p
	switch {
	case m.state == Backup && m.armed:
		m.deadline = m.deadline.Add(m.SkewTime() - oldSkew)
	case m.state == Master && m.p.FastTakeover && p < oldPrio:
		m.emit(boxedSendAdverts[p])
		m.arm(now, m.p.AdvertInterval)
	}
	return m.out()
}

// SetFault reports whether the instance is faulty (interface down, failed
// check with no weight, ...); the caller aggregates fault sources.
//
// Entering FAULT from MASTER sends two priority-0 adverts, as keepalived
// 2.2.7 does (vrrp_state_leave_master sends one and vrrp_restore_interface
// another), then the Transition. Leaving FAULT enters BACKUP with our own
// advert interval and a full master-down timer, whatever our priority, as
// keepalived's try_up_instance does. Before Start the flag is only recorded.
// An empty reason becomes ReasonFault or ReasonFaultCleared.
func (m *Machine) SetFault(fault bool, reason string, now time.Time) []Action {
	m.n = 0
	if reason == "" {
		reason = ReasonFaultCleared
		if fault {
			reason = ReasonFault
		}
	}
	switch {
	case m.state == Stopped:
	case m.state == Init:
		m.fault, m.faultWhy = fault, reason
	case fault && m.state == Master:
		m.emit(boxedSendAdverts[PriorityStop])
		m.emit(boxedSendAdverts[PriorityStop])
		m.enterFault(reason)
	case fault && m.state == Backup:
		m.enterFault(reason)
	case !fault && m.state == Fault:
		m.enterBackup(now, reason)
	}
	return m.out()
}

// Shutdown stops the instance for good. A MASTER first sends a priority-0
// advert so the best backup takes over after only its skew time. Every later
// call on the Machine is a no-op.
func (m *Machine) Shutdown(now time.Time) []Action {
	m.n = 0
	if m.state == Stopped {
		return nil
	}
	if m.state == Master {
		m.emit(boxedSendAdverts[PriorityStop])
	}
	from := m.state
	m.state = Stopped
	m.armed = false
	m.master = netip.Addr{}
	m.emit(boxTransition(Transition{From: from, To: Stopped, Reason: ReasonShutdown}))
	return m.out()
}

// becomeMaster sends the first advert, then reports the transition, and arms
// the advert timer (keepalived vrrp_state_goto_master).
func (m *Machine) becomeMaster(now time.Time, reason string) {
	from := m.state
	m.state = Master
	m.mai = m.p.AdvertInterval
	m.master = m.p.Self
	m.emit(boxedSendAdverts[m.prio])
	m.emit(boxTransition(Transition{From: from, To: Master, Reason: reason}))
	m.arm(now, m.p.AdvertInterval)
}

// enterBackup enters BACKUP from INIT or FAULT with our own interval and a
// full master-down timer.
func (m *Machine) enterBackup(now time.Time, reason string) {
	from := m.state
	m.state = Backup
	m.mai = m.p.AdvertInterval
	m.preemptSet = false
	m.nextReason = ReasonMasterDown
	m.master = netip.Addr{}
	m.arm(now, m.MasterDownInterval())
	m.emit(boxTransition(Transition{From: from, To: Backup, Reason: reason}))
}

// enterFault enters FAULT: no timer, our own interval restored.
func (m *Machine) enterFault(reason string) {
	from := m.state
	m.state = Fault
	m.armed = false
	m.mai = m.p.AdvertInterval
	m.master = netip.Addr{}
	m.emit(boxTransition(Transition{From: from, To: Fault, Reason: reason}))
}

// learnInterval adopts a v3 master's advert interval (RFC 5798 §6.4.2).
// Version 2 has a fixed interval (mismatches are dropped by the caller), and
// a zero interval would make the master-down timer meaningless, so both
// leave Master_Adver_Interval alone.
func (m *Machine) learnInterval(a Advert) {
	if m.p.Version != 3 {
		return
	}
	cs := a.Interval / centisecond
	if cs <= 0 {
		return
	}
	m.mai = min(cs*centisecond, maxV3Interval)
}

func (m *Machine) arm(now time.Time, d time.Duration) {
	m.deadline = now.Add(d)
	m.armed = true
}

func (m *Machine) emit(a Action) {
	m.buf[m.n] = a
	m.n++
}

func (m *Machine) out() []Action {
	if m.n == 0 {
		return nil
	}
	return m.buf[:m.n:m.n]
}

func (m *Machine) boxReassert(r Reassert) Action {
	if m.reassertBox == nil || m.reassert != r {
		m.reassert, m.reassertBox = r, r
	}
	return m.reassertBox
}

// compareAddr compares two addresses as unsigned integers of the same family,
// as RFC 5798 §6.4.3 asks. Addresses of different families (or invalid ones)
// compare equal, as keepalived's vrrp_saddr_cmp does, so they never decide
// an election.
func compareAddr(a, b netip.Addr) int {
	a, b = a.Unmap(), b.Unmap()
	if !a.IsValid() || !b.IsValid() || a.BitLen() != b.BitLen() {
		return 0
	}
	return a.Compare(b)
}
