package fsm

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	self   = netip.MustParseAddr("198.51.100.10")
	lower  = netip.MustParseAddr("198.51.100.5")
	higher = netip.MustParseAddr("198.51.100.20")
)

// ms and us build offsets from t0 readably.
func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
func us(v int64) time.Duration   { return time.Duration(v) * time.Microsecond }

// event is one call on the Machine.
type event struct {
	name string
	do   func(m *Machine, now time.Time) []Action
}

func start() event {
	return event{"Start", func(m *Machine, now time.Time) []Action { return m.Start(now) }}
}

func tick() event {
	return event{"Tick", func(m *Machine, now time.Time) []Action { return m.Tick(now) }}
}

func recv(prio uint8, interval time.Duration, src netip.Addr) event {
	return event{"Receive", func(m *Machine, now time.Time) []Action {
		return m.Receive(Advert{Priority: prio, Interval: interval, Src: src}, now)
	}}
}

func setPrio(p uint8) event {
	return event{"SetPriority", func(m *Machine, now time.Time) []Action { return m.SetPriority(p, now) }}
}

func setFault(f bool, reason string) event {
	return event{"SetFault", func(m *Machine, now time.Time) []Action { return m.SetFault(f, reason, now) }}
}

func shutdown() event {
	return event{"Shutdown", func(m *Machine, now time.Time) []Action { return m.Shutdown(now) }}
}

const noDeadline = time.Duration(-1)

type step struct {
	at       time.Duration // offset from t0
	ev       event
	want     []Action // nil: expect no actions
	state    State
	deadline time.Duration // offset from t0, or noDeadline
	check    func(t *testing.T, m *Machine)
}

func v3(prio uint8) Params {
	return Params{Version: 3, Priority: prio, AdvertInterval: time.Second, Preempt: true, Self: self}
}

func v2(prio uint8) Params {
	return Params{Version: 2, Priority: prio, AdvertInterval: time.Second, Preempt: true, Self: self}
}

func with(p Params, f func(*Params)) Params { f(&p); return p }

// Timer values for priority 100 and a 1s interval, computed by keepalived's
// integer formulas: skew = 156*100*625/16 µs = 609375µs.
var (
	down100 = 3*time.Second + us(609375)
	skew100 = us(609375)
)

func TestMachine(t *testing.T) {
	sa := func(p uint8) Action { return SendAdvert{Priority: p} }
	tr := func(from, to State, r string) Action { return Transition{From: from, To: to, Reason: r} }
	ra := func(a netip.Addr, p uint8) Action { return Reassert{From: a, Priority: p} }
	wantMAI := func(d time.Duration) func(*testing.T, *Machine) {
		return func(t *testing.T, m *Machine) {
			t.Helper()
			if got := m.MasterAdvertInterval(); got != d {
				t.Errorf("MasterAdvertInterval = %v, want %v", got, d)
			}
		}
	}
	wantMaster := func(a netip.Addr) func(*testing.T, *Machine) {
		return func(t *testing.T, m *Machine) {
			t.Helper()
			if got := m.Master(); got != a {
				t.Errorf("Master = %v, want %v", got, a)
			}
		}
	}
	wantPrio := func(p uint8) func(*testing.T, *Machine) {
		return func(t *testing.T, m *Machine) {
			t.Helper()
			if got := m.Priority(); got != p {
				t.Errorf("Priority = %d, want %d", got, p)
			}
		}
	}
	// becomeMaster100 is the usual way for a priority-100 v3 machine to
	// reach MASTER: start, then let the master-down timer run out.
	becomeMaster100 := []step{
		{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
		{at: down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonMasterDown)}, state: Master, deadline: down100 + time.Second},
	}
	then := func(prefix []step, rest ...step) []step {
		return append(append([]step{}, prefix...), rest...)
	}

	tests := []struct {
		name   string
		params Params
		steps  []step
	}{
		{
			name:   "startup below 255 enters backup with master-down timer",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100,
					check: wantMaster(netip.Addr{})},
				{at: ms(1), ev: start(), state: Backup, deadline: down100},
			},
		},
		{
			name:   "owner starts master at once",
			params: v3(255),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second,
					check: wantMaster(self)},
			},
		},
		{
			name: "StartMaster below 255 starts backup and clears nopreempt and preempt_delay",
			params: with(v3(100), func(p *Params) {
				p.StartMaster, p.Preempt, p.PreemptDelay = true, false, 10*time.Second
			}),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				// Were nopreempt or preempt_delay kept, this lower advert
				// would be accepted and push the deadline out.
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: down100},
				{at: down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonPreempted)}, state: Master, deadline: down100 + time.Second},
			},
		},
		{
			name:   "backup tick before deadline is a no-op then expiry becomes master",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: down100 - time.Microsecond, ev: tick(), state: Backup, deadline: down100},
				{at: down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonMasterDown)}, state: Master, deadline: down100 + time.Second,
					check: wantMaster(self)},
			},
		},
		{
			name:   "master advert timer re-arms from the tick time",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: down100 + ms(500), ev: tick(), state: Master, deadline: down100 + time.Second},
				step{at: ms(5000), ev: tick(), want: []Action{sa(100)}, state: Master, deadline: ms(6000)},
				step{at: ms(6000), ev: tick(), want: []Action{sa(100)}, state: Master, deadline: ms(7000)},
			),
		},
		{
			name:   "v3 backup adopts the master's advert interval",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				// skew(100, 2s) = 156*200*625/16 µs = 1218750µs
				{at: time.Second, ev: recv(150, 2*time.Second, higher), state: Backup, deadline: time.Second + 6*time.Second + us(1218750),
					check: func(t *testing.T, m *Machine) {
						wantMAI(2*time.Second)(t, m)
						wantMaster(higher)(t, m)
						if got, want := m.SkewTime(), us(1218750); got != want {
							t.Errorf("SkewTime = %v, want %v", got, want)
						}
						if got, want := m.MasterDownInterval(), 6*time.Second+us(1218750); got != want {
							t.Errorf("MasterDownInterval = %v, want %v", got, want)
						}
					}},
			},
		},
		{
			name:   "v3 10ms interval skew truncates like keepalived",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				// 156*1*625/16 = 6093.75 → 6093µs
				{at: time.Second, ev: recv(150, 10*time.Millisecond, higher), state: Backup, deadline: time.Second + ms(30) + us(6093),
					check: wantMAI(10 * time.Millisecond)},
			},
		},
		{
			name:   "v3 zero interval advert keeps current interval",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(150, 0, higher), state: Backup, deadline: time.Second + down100, check: wantMAI(time.Second)},
			},
		},
		{
			name:   "v2 backup ignores the advert interval",
			params: v2(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(150, 5*time.Second, higher), state: Backup, deadline: time.Second + down100, check: wantMAI(time.Second)},
			},
		},
		{
			name:   "backup priority 0 advert sets timer to skew",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100},
				{at: 2 * time.Second, ev: recv(0, time.Second, higher), state: Backup, deadline: 2*time.Second + skew100,
					check: wantMaster(netip.Addr{})},
				{at: 2*time.Second + skew100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonMasterResigned)}, state: Master,
					deadline: 3*time.Second + skew100},
			},
		},
		{
			name:   "backup equal priority advert resets master-down",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(100, time.Second, lower), state: Backup, deadline: time.Second + down100},
			},
		},
		{
			name:   "backup with preempt discards lower priority and takes over",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100},
				{at: 2 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + down100,
					check: wantMaster(lower)},
				{at: 3 * time.Second, ev: recv(50, 2*time.Second, lower), state: Backup, deadline: time.Second + down100,
					check: wantMAI(time.Second)},
				{at: time.Second + down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonPreempted)}, state: Master,
					deadline: 2*time.Second + down100},
			},
		},
		{
			name:   "nopreempt backup accepts lower priority",
			params: with(v3(100), func(p *Params) { p.Preempt = false }),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + down100},
				{at: 4 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 4*time.Second + down100},
				{at: 4*time.Second + down100 - 1, ev: tick(), state: Backup, deadline: 4*time.Second + down100},
			},
		},
		{
			name:   "preempt_delay accepts lower adverts until the delay ends",
			params: with(v3(100), func(p *Params) { p.PreemptDelay = 5 * time.Second }),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				// The first lower advert starts the delay (until 6s).
				{at: 1 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 1*time.Second + down100},
				{at: 3 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 3*time.Second + down100},
				{at: 6*time.Second - 1, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second - 1 + down100},
				// From 6s on they are discarded: the deadline stays.
				{at: 6 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second - 1 + down100},
				{at: 7 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second - 1 + down100},
				{at: 6*time.Second - 1 + down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonPreempted)}, state: Master,
					deadline: 7*time.Second - 1 + down100},
			},
		},
		{
			name:   "preempt_delay is cancelled by a higher priority advert",
			params: with(v3(100), func(p *Params) { p.PreemptDelay = 5 * time.Second }),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: 1 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 1*time.Second + down100},
				{at: 2 * time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: 2*time.Second + down100},
				// A new delay starts at 7s (until 12s), not the old one at 6s.
				{at: 7 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 7*time.Second + down100},
				{at: 11 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 11*time.Second + down100},
				{at: 12 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 11*time.Second + down100},
			},
		},
		{
			name:   "preempt_delay restarts after leaving master",
			params: with(v3(100), func(p *Params) { p.PreemptDelay = 2 * time.Second }),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: 1 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 1*time.Second + down100},
				{at: 3 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 1*time.Second + down100},
				{at: 1*time.Second + down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonPreempted)}, state: Master,
					deadline: 2*time.Second + down100},
				{at: 5 * time.Second, ev: recv(200, time.Second, higher), want: []Action{tr(Master, Backup, ReasonHigherPriority)}, state: Backup,
					deadline: 5*time.Second + down100},
				// Back in BACKUP, a lower advert starts a fresh delay.
				{at: 10 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 10*time.Second + down100},
			},
		},
		{
			name:   "master answers priority 0 at once and re-arms",
			params: v3(255),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second},
				{at: ms(500), ev: recv(0, time.Second, lower), want: []Action{sa(255)}, state: Master, deadline: ms(1500)},
			},
		},
		{
			name:   "master steps down for higher priority and adopts its interval",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: recv(200, 2*time.Second, higher), want: []Action{tr(Master, Backup, ReasonHigherPriority)},
					state: Backup, deadline: 4*time.Second + 6*time.Second + us(1218750),
					check: func(t *testing.T, m *Machine) { wantMAI(2*time.Second)(t, m); wantMaster(higher)(t, m) }},
			),
		},
		{
			name:   "master steps down for equal priority from higher address",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: recv(100, time.Second, higher), want: []Action{tr(Master, Backup, ReasonHigherAddress)},
					state: Backup, deadline: 4*time.Second + down100},
			),
		},
		{
			name:   "master reasserts against equal priority from lower address",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: recv(100, time.Second, lower), want: []Action{sa(100), ra(lower, 100)},
					state: Master, deadline: 5 * time.Second},
			),
		},
		{
			name:   "master reasserts against lower priority",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: recv(50, time.Second, higher), want: []Action{sa(100), ra(higher, 50)},
					state: Master, deadline: 5 * time.Second},
				step{at: ms(4200), ev: recv(60, time.Second, lower), want: []Action{sa(100), ra(lower, 60)},
					state: Master, deadline: ms(5200)},
			),
		},
		{
			name:   "master ignores an equal priority advert from its own address",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: recv(100, time.Second, self), state: Master, deadline: down100 + time.Second},
			),
		},
		{
			name:   "owner is never preempted by a lower priority",
			params: v3(255),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second},
				{at: ms(500), ev: recv(254, time.Second, higher), want: []Action{sa(255), ra(higher, 254)}, state: Master, deadline: ms(1500)},
			},
		},
		{
			name:   "two owners tie-break by address",
			params: v3(255),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second},
				{at: ms(100), ev: recv(255, time.Second, lower), want: []Action{sa(255), ra(lower, 255)}, state: Master, deadline: ms(1100)},
				// skew(255, 1s) = 1*100*625/16 = 3906.25 → 3906µs
				{at: ms(200), ev: recv(255, time.Second, higher), want: []Action{tr(Master, Backup, ReasonHigherAddress)}, state: Backup,
					deadline: ms(200) + 3*time.Second + us(3906)},
				{at: ms(1200), ev: recv(255, time.Second, higher), state: Backup, deadline: ms(1200) + 3*time.Second + us(3906),
					check: wantPrio(255)},
			},
		},
		{
			name: "IPv6 tie-break compares addresses as 128-bit unsigned integers",
			params: with(v3(100), func(p *Params) {
				p.Self = netip.MustParseAddr("2001:db8::10")
			}),
			steps: then(becomeMaster100,
				// ::a (10) < ::10 (16): reassert.
				step{at: 4 * time.Second, ev: recv(100, time.Second, netip.MustParseAddr("2001:db8::a")),
					want: []Action{sa(100), ra(netip.MustParseAddr("2001:db8::a"), 100)}, state: Master, deadline: 5 * time.Second},
				// An IPv4 sender never wins or loses on address.
				step{at: ms(4500), ev: recv(100, time.Second, higher), state: Master, deadline: 5 * time.Second},
				step{at: 5 * time.Second, ev: recv(100, time.Second, netip.MustParseAddr("2001:db8::11")),
					want: []Action{tr(Master, Backup, ReasonHigherAddress)}, state: Backup, deadline: 5*time.Second + down100},
			),
		},
		{
			name:   "SetPriority in backup moves the deadline by the skew change",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				// skew(200, 1s) = 56*100*625/16 = 218750µs
				{at: time.Second, ev: setPrio(200), state: Backup, deadline: 3*time.Second + us(218750), check: wantPrio(200)},
				{at: 2 * time.Second, ev: setPrio(200), state: Backup, deadline: 3*time.Second + us(218750)},
				{at: 2 * time.Second, ev: setPrio(100), state: Backup, deadline: down100},
			},
		},
		{
			name:   "SetPriority after a priority 0 advert shifts the skew timer",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(0, time.Second, higher), state: Backup, deadline: time.Second + skew100},
				{at: ms(1100), ev: setPrio(200), state: Backup, deadline: time.Second + us(218750)},
			},
		},
		{
			name:   "SetPriority clamps to 1..254",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: 0, ev: setPrio(255), state: Backup, deadline: 3*time.Second + us(7812), check: wantPrio(254)},
				{at: 0, ev: setPrio(0), state: Backup, deadline: 3*time.Second + us(996093), check: wantPrio(1)},
			},
		},
		{
			name:   "SetPriority does not change the owner",
			params: v3(255),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second},
				{at: ms(10), ev: setPrio(10), state: Master, deadline: time.Second, check: wantPrio(255)},
			},
		},
		{
			name:   "master sends its new priority from the next advert on",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: setPrio(90), state: Master, deadline: down100 + time.Second, check: wantPrio(90)},
				step{at: down100 + time.Second, ev: tick(), want: []Action{sa(90)}, state: Master, deadline: down100 + 2*time.Second},
			),
		},
		{
			name:   "fault from master sends two priority 0 adverts and ignores adverts",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: setFault(true, "eth0 down"), want: []Action{sa(0), sa(0), tr(Master, Fault, "eth0 down")},
					state: Fault, deadline: noDeadline, check: wantMaster(netip.Addr{})},
				step{at: 5 * time.Second, ev: recv(50, time.Second, lower), state: Fault, deadline: noDeadline},
				step{at: 5 * time.Second, ev: tick(), state: Fault, deadline: noDeadline},
				step{at: 5 * time.Second, ev: setFault(true, "again"), state: Fault, deadline: noDeadline},
				step{at: 6 * time.Second, ev: setFault(false, "eth0 up"), want: []Action{tr(Fault, Backup, "eth0 up")},
					state: Backup, deadline: 6*time.Second + down100},
			),
		},
		{
			name:   "fault from backup restores our own interval on recovery",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: recv(150, 2*time.Second, higher), state: Backup, deadline: 7*time.Second + us(1218750)},
				{at: 2 * time.Second, ev: setFault(true, ""), want: []Action{tr(Backup, Fault, ReasonFault)}, state: Fault, deadline: noDeadline,
					check: wantMAI(time.Second)},
				{at: 3 * time.Second, ev: setFault(false, ""), want: []Action{tr(Fault, Backup, ReasonFaultCleared)}, state: Backup,
					deadline: 3*time.Second + down100},
				{at: 4 * time.Second, ev: setFault(false, ""), state: Backup, deadline: 3*time.Second + down100},
			},
		},
		{
			name:   "fault before start makes start enter fault",
			params: v3(100),
			steps: []step{
				{at: 0, ev: setFault(true, "no carrier"), state: Init, deadline: noDeadline},
				{at: ms(1), ev: start(), want: []Action{tr(Init, Fault, "no carrier")}, state: Fault, deadline: noDeadline},
			},
		},
		{
			name:   "fault cleared before start starts normally",
			params: v3(100),
			steps: []step{
				{at: 0, ev: setFault(true, "no carrier"), state: Init, deadline: noDeadline},
				{at: 0, ev: setFault(false, ""), state: Init, deadline: noDeadline},
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
			},
		},
		{
			name:   "owner leaving fault waits a full master-down interval",
			params: v3(255),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second},
				{at: ms(100), ev: setFault(true, "down"), want: []Action{sa(0), sa(0), tr(Master, Fault, "down")}, state: Fault, deadline: noDeadline},
				{at: time.Second, ev: setFault(false, "up"), want: []Action{tr(Fault, Backup, "up")}, state: Backup,
					deadline: 4*time.Second + us(3906)},
				{at: 2 * time.Second, ev: recv(100, time.Second, lower), state: Backup, deadline: 4*time.Second + us(3906)},
				{at: 4*time.Second + us(3906), ev: tick(), want: []Action{sa(255), tr(Backup, Master, ReasonPreempted)}, state: Master,
					deadline: 5*time.Second + us(3906)},
			},
		},
		{
			name:   "shutdown from master resigns then stops and everything after is a no-op",
			params: v3(100),
			steps: then(becomeMaster100,
				step{at: 4 * time.Second, ev: shutdown(), want: []Action{sa(0), tr(Master, Stopped, ReasonShutdown)}, state: Stopped, deadline: noDeadline},
				step{at: 5 * time.Second, ev: tick(), state: Stopped, deadline: noDeadline},
				step{at: 5 * time.Second, ev: recv(200, time.Second, higher), state: Stopped, deadline: noDeadline},
				step{at: 5 * time.Second, ev: setPrio(20), state: Stopped, deadline: noDeadline, check: wantPrio(100)},
				step{at: 5 * time.Second, ev: setFault(true, "x"), state: Stopped, deadline: noDeadline},
				step{at: 5 * time.Second, ev: setFault(false, "x"), state: Stopped, deadline: noDeadline},
				step{at: 5 * time.Second, ev: start(), state: Stopped, deadline: noDeadline},
				step{at: 5 * time.Second, ev: shutdown(), state: Stopped, deadline: noDeadline},
			),
		},
		{
			name:   "shutdown from backup stops without an advert",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: time.Second, ev: shutdown(), want: []Action{tr(Backup, Stopped, ReasonShutdown)}, state: Stopped, deadline: noDeadline},
			},
		},
		{
			name:   "shutdown from init",
			params: v3(100),
			steps: []step{
				{at: 0, ev: shutdown(), want: []Action{tr(Init, Stopped, ReasonShutdown)}, state: Stopped, deadline: noDeadline},
			},
		},
		{
			name:   "shutdown from fault",
			params: v3(100),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100},
				{at: 0, ev: setFault(true, "x"), want: []Action{tr(Backup, Fault, "x")}, state: Fault, deadline: noDeadline},
				{at: 0, ev: shutdown(), want: []Action{tr(Fault, Stopped, ReasonShutdown)}, state: Stopped, deadline: noDeadline},
			},
		},
		{
			name:   "adverts before start are ignored",
			params: v3(100),
			steps: []step{
				{at: 0, ev: recv(200, time.Second, higher), state: Init, deadline: noDeadline},
				{at: 0, ev: tick(), state: Init, deadline: noDeadline},
			},
		},
		{
			name: "down_timer_adverts changes the master-down interval",
			params: with(v3(100), func(p *Params) {
				p.DownTimerAdverts = 1
			}),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: time.Second + skew100},
			},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.params, tc.steps) })
	}
}

// runSteps feeds steps to a new Machine and checks each one's actions,
// state, deadline and extra check.
func runSteps(t *testing.T, params Params, steps []step) {
	t.Helper()
	m, err := New(params)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i, s := range steps {
		got := s.ev.do(m, t0.Add(s.at))
		if !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d %s at %v: actions\n got  %#v\n want %#v", i, s.ev.name, s.at, got, s.want)
		}
		if st := m.State(); st != s.state {
			t.Fatalf("step %d %s at %v: state %v, want %v", i, s.ev.name, s.at, st, s.state)
		}
		dl, ok := m.Deadline()
		switch {
		case s.deadline == noDeadline && ok:
			t.Fatalf("step %d %s at %v: deadline %v pending, want none", i, s.ev.name, s.at, dl.Sub(t0))
		case s.deadline != noDeadline && !ok:
			t.Fatalf("step %d %s at %v: no deadline, want %v", i, s.ev.name, s.at, s.deadline)
		case ok && !dl.Equal(t0.Add(s.deadline)):
			t.Fatalf("step %d %s at %v: deadline %v, want %v", i, s.ev.name, s.at, dl.Sub(t0), s.deadline)
		}
		if s.check != nil {
			s.check(t, m)
		}
	}
}

func TestTimers(t *testing.T) {
	// Expected values are keepalived 2.2.7's integer results (µs); where the
	// exact real-number formula differs it is shown in the comment.
	tests := []struct {
		name     string
		version  uint8
		prio     uint8
		interval time.Duration
		skew     time.Duration
		down     time.Duration
	}{
		{"v3 prio 100 1s", 3, 100, time.Second, us(609375), 3*time.Second + us(609375)},
		{"v3 prio 255 1s (3906.25µs)", 3, 255, time.Second, us(3906), 3*time.Second + us(3906)},
		{"v3 prio 1 3s (2988281.25µs)", 3, 1, 3 * time.Second, us(2988281), 9*time.Second + us(2988281)},
		{"v3 prio 100 10ms (6093.75µs)", 3, 100, 10 * time.Millisecond, us(6093), 30*time.Millisecond + us(6093)},
		{"v3 prio 254 40.95s", 3, 254, 4095 * centisecond, us(319921), 3*4095*centisecond + us(319921)},
		{"v2 prio 100 1s", 2, 100, time.Second, us(609375), 3*time.Second + us(609375)},
		{"v2 prio 1 (996093.75µs)", 2, 1, 5 * time.Second, us(996093), 15*time.Second + us(996093)},
		{"v2 prio 255 (3906.25µs)", 2, 255, 2 * time.Second, us(3906), 6*time.Second + us(3906)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := skewTime(tc.version, tc.prio, tc.interval); got != tc.skew {
				t.Errorf("skew = %v, want %v", got, tc.skew)
			}
			if got := masterDownInterval(tc.version, tc.prio, DefaultDownTimerAdverts, tc.interval); got != tc.down {
				t.Errorf("master down = %v, want %v", got, tc.down)
			}
			m, err := New(Params{Version: tc.version, Priority: tc.prio, AdvertInterval: tc.interval, Preempt: true, Self: self})
			if err != nil {
				t.Fatal(err)
			}
			if m.SkewTime() != tc.skew || m.MasterDownInterval() != tc.down {
				t.Errorf("Machine views skew %v down %v, want %v %v", m.SkewTime(), m.MasterDownInterval(), tc.skew, tc.down)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	ok := v3(100)
	tests := []struct {
		name  string
		p     Params
		field string // "" = valid
	}{
		{"valid v3", ok, ""},
		{"valid v2", v2(100), ""},
		{"valid v3 10ms", with(ok, func(p *Params) { p.AdvertInterval = 10 * time.Millisecond }), ""},
		{"version 1", with(ok, func(p *Params) { p.Version = 1 }), "Version"},
		{"version 0", with(ok, func(p *Params) { p.Version = 0 }), "Version"},
		{"priority 0", with(ok, func(p *Params) { p.Priority = 0 }), "Priority"},
		{"v3 zero interval", with(ok, func(p *Params) { p.AdvertInterval = 0 }), "AdvertInterval"},
		{"v3 interval not centiseconds", with(ok, func(p *Params) { p.AdvertInterval = 15 * time.Millisecond }), "AdvertInterval"},
		{"v3 interval too long", with(ok, func(p *Params) { p.AdvertInterval = 41 * time.Second }), "AdvertInterval"},
		{"v2 fractional interval", with(v2(100), func(p *Params) { p.AdvertInterval = 1500 * time.Millisecond }), "AdvertInterval"},
		{"v2 interval too long", with(v2(100), func(p *Params) { p.AdvertInterval = 256 * time.Second }), "AdvertInterval"},
		{"negative preempt delay", with(ok, func(p *Params) { p.PreemptDelay = -time.Second }), "PreemptDelay"},
		{"no self address", with(ok, func(p *Params) { p.Self = netip.Addr{} }), "Self"},
		{"down_timer_adverts 101", with(ok, func(p *Params) { p.DownTimerAdverts = 101 }), "DownTimerAdverts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			_, newErr := New(tc.p)
			if tc.field == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate = %v, New error = %v; want nil", err, newErr)
				}
				return
			}
			pe, isPE := err.(*ParamError)
			if !isPE {
				t.Fatalf("Validate = %v (%T), want *ParamError", err, err)
			}
			if pe.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", pe.Field, tc.field, err)
			}
			if newErr == nil || newErr.Error() != err.Error() {
				t.Errorf("New error = %v, want %v", newErr, err)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{Init, "INIT"}, {Backup, "BACKUP"}, {Master, "MASTER"}, {Fault, "FAULT"}, {Stopped, "STOP"}, {State(99), "UNKNOWN"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			// ParseState reads back every state's word and nothing else.
			got, ok := ParseState(tc.want)
			if known := tc.s < numStates; ok != known || (known && got != tc.s) {
				t.Errorf("ParseState(%q) = %v, %v", tc.want, got, ok)
			}
		})
	}
	for _, w := range []string{"", "master", "STOPPED"} {
		if s, ok := ParseState(w); ok {
			t.Errorf("ParseState(%q) = %v, want not ok", w, s)
		}
	}
}

func TestCompareAddr(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"v4 higher", "198.51.100.20", "198.51.100.10", 1},
		{"v4 lower", "198.51.100.9", "198.51.100.10", -1},
		{"v4 equal", "198.51.100.10", "198.51.100.10", 0},
		{"v4 numeric not lexical", "198.51.100.100", "198.51.100.20", 1},
		{"v4-mapped v6 against v4", "::ffff:198.51.100.20", "198.51.100.10", 1},
		{"v6 higher", "2001:db8::1:0", "2001:db8::ffff", 1},
		{"different families", "2001:db8::1", "198.51.100.10", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := compareAddr(netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)); got != tc.want {
				t.Errorf("compareAddr(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// TestHotPathsDoNotAllocate checks the aliasing contract pays off: the calls
// made on every advert and every timer expiry allocate nothing.
func TestHotPathsDoNotAllocate(t *testing.T) {
	fast := with(v3(100), func(p *Params) { p.FastTakeover = true })
	tests := []struct {
		name   string
		params Params
		setup  func(m *Machine) time.Time // returns the time to use
		call   func(m *Machine, now time.Time) []Action
		n      int // actions expected
	}{
		{"backup receives master advert", v3(100), func(m *Machine) time.Time { m.Start(t0); return t0 },
			func(m *Machine, now time.Time) []Action { return m.Receive(Advert{150, time.Second, higher}, now) }, 0},
		{"master receives lower advert", v3(100), func(m *Machine) time.Time { m.Start(t0); m.Tick(t0.Add(down100)); return t0.Add(down100) },
			func(m *Machine, now time.Time) []Action { return m.Receive(Advert{50, time.Second, lower}, now) }, 2},
		{"master advert tick", v3(100), func(m *Machine) time.Time { m.Start(t0); m.Tick(t0.Add(down100)); return t0.Add(time.Hour) },
			func(m *Machine, now time.Time) []Action { return m.Tick(now) }, 1},
		{"backup to master and back", v3(100), func(m *Machine) time.Time { m.Start(t0); return t0.Add(time.Hour) },
			func(m *Machine, now time.Time) []Action {
				m.Receive(Advert{200, time.Second, higher}, now)
				return m.Tick(now.Add(down100))
			}, 2},
		{"fast: master priority drop advertises", fast, func(m *Machine) time.Time { m.Start(t0); m.Tick(t0.Add(down100)); return t0.Add(down100) },
			func(m *Machine, now time.Time) []Action {
				m.SetPriority(100, now)
				return m.SetPriority(90, now)
			}, 1},
		{"fast: backup lower advert then takeover", fast, func(m *Machine) time.Time { m.Start(t0); return t0.Add(time.Hour) },
			func(m *Machine, now time.Time) []Action {
				m.Receive(Advert{200, time.Second, higher}, now)
				m.Receive(Advert{50, time.Second, lower}, now)
				return m.Tick(now.Add(skew100))
			}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.params)
			if err != nil {
				t.Fatal(err)
			}
			now := tc.setup(m)
			if got := len(tc.call(m, now)); got != tc.n {
				t.Fatalf("got %d actions, want %d", got, tc.n)
			}
			if allocs := testing.AllocsPerRun(100, func() { tc.call(m, now) }); allocs != 0 {
				t.Errorf("%v allocations per call, want 0", allocs)
			}
		})
	}
}

// TestAdvertWindow: a master's advert may be served from an eighth of the
// interval before its deadline, and the next one is due a whole interval
// after it was sent; a backup's master-down timer is never served early.
func TestAdvertWindow(t *testing.T) {
	m, err := New(v3(PriorityOwner)) // starts as master
	if err != nil {
		t.Fatal(err)
	}
	m.Start(t0)
	dl, ok := m.Deadline()
	if !ok || !dl.Equal(t0.Add(time.Second)) {
		t.Fatalf("master deadline %v, %v; want t0+1s", dl.Sub(t0), ok)
	}
	if got, want := m.Earliest(), t0.Add(time.Second-ms(125)); !got.Equal(want) {
		t.Fatalf("Earliest = t0+%v, want t0+%v", got.Sub(t0), want.Sub(t0))
	}
	if acts := m.Tick(m.Earliest().Add(-time.Nanosecond)); acts != nil {
		t.Fatalf("a tick before the window acted: %v", acts)
	}
	early := m.Earliest()
	acts := m.Tick(early)
	if len(acts) != 1 {
		t.Fatalf("a tick at the window's start did %v, want one advert", acts)
	}
	if _, ok := acts[0].(SendAdvert); !ok {
		t.Fatalf("a tick at the window's start did %v, want an advert", acts)
	}
	if dl, _ := m.Deadline(); !dl.Equal(early.Add(time.Second)) {
		t.Fatalf("after an early advert the deadline is t0+%v, want a whole interval after it", dl.Sub(t0))
	}

	b, err := New(v3(100))
	if err != nil {
		t.Fatal(err)
	}
	b.Start(t0)
	dl, _ = b.Deadline()
	if !b.Earliest().Equal(dl) {
		t.Fatalf("backup Earliest = t0+%v, deadline t0+%v: a master-down timer has no window", b.Earliest().Sub(t0), dl.Sub(t0))
	}
	if acts := b.Tick(dl.Add(-time.Nanosecond)); acts != nil || b.State() != Backup {
		t.Fatalf("a backup's tick 1 ns before master-down did %v (%v)", acts, b.State())
	}
	if b.Tick(dl); b.State() != Master {
		t.Fatalf("a backup at master-down is %v, want MASTER", b.State())
	}
}
