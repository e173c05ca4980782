package fsm

import (
	"testing"
	"time"
)

func setHold(h bool) event {
	return event{"SetHold", func(m *Machine, now time.Time) []Action { return m.SetHold(h, "", now) }}
}

func follow() event {
	return event{"Follow", func(m *Machine, now time.Time) []Action { return m.Follow("", now) }}
}

func yielding(want bool) func(t *testing.T, m *Machine) {
	return func(t *testing.T, m *Machine) {
		t.Helper()
		if got := m.Yielding(); got != want {
			t.Fatalf("Yielding() = %v, want %v", got, want)
		}
	}
}

// TestSyncGroupHold covers SetHold and Yielding, the two halves of sync
// groups: a member that yields to a better master holds the others.
func TestSyncGroupHold(t *testing.T) {
	sa := func(p uint8) Action { return SendAdvert{Priority: p} }
	tr := func(from, to State, r string) Action { return Transition{From: from, To: to, Reason: r} }
	started := step{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100, check: yielding(false)}
	master := []step{started, {at: down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonMasterDown)}, state: Master, deadline: down100 + time.Second}}
	then := func(prefix []step, rest ...step) []step { return append(append([]step{}, prefix...), rest...) }
	fast := with(v3(100), func(p *Params) { p.FastTakeover = true })

	tests := []struct {
		name   string
		params Params
		steps  []step
	}{
		{
			name: "a backup accepting a higher master yields; its resignation ends that", params: v3(100),
			steps: []step{started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100, check: yielding(true)},
				{at: 2 * time.Second, ev: recv(0, time.Second, higher), state: Backup, deadline: 2*time.Second + skew100, check: yielding(false)},
			},
		},
		{
			name: "a backup about to preempt a lower master does not yield", params: v3(100),
			steps: []step{started,
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: down100, check: yielding(false)},
			},
		},
		{
			name: "a master stepping down to a higher one yields", params: v3(100),
			steps: then(master,
				step{at: 4 * time.Second, ev: recv(150, time.Second, higher), want: []Action{tr(Master, Backup, ReasonHigherPriority)}, state: Backup, deadline: 4*time.Second + down100, check: yielding(true)},
			),
		},
		{
			name: "a held master resigns with priority 0 and stays backup while held", params: v3(100),
			steps: then(master,
				step{at: 4 * time.Second, ev: setHold(true), want: []Action{sa(0), tr(Master, Backup, ReasonSyncGroupHeld)}, state: Backup, deadline: 4*time.Second + down100, check: yielding(false)},
				// The timer runs out with nobody heard: still held, so stay.
				step{at: 4*time.Second + down100, ev: tick(), state: Backup, deadline: 4*time.Second + 2*down100},
			),
		},
		{
			name: "a held backup ignores fast takeover from a lower master", params: fast,
			steps: []step{started,
				{at: 0, ev: setHold(true), state: Backup, deadline: down100},
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: down100},
				{at: down100, ev: tick(), state: Backup, deadline: 2 * down100},
			},
		},
		{
			name: "released with no master heard: takes over after the skew time", params: v3(100),
			steps: []step{started,
				{at: 0, ev: setHold(true), state: Backup, deadline: down100},
				{at: time.Second, ev: setHold(false), state: Backup, deadline: time.Second + skew100},
				{at: time.Second + skew100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonSyncGroupReleased)}, state: Master, deadline: 2*time.Second + skew100},
			},
		},
		{
			name: "released while yielding to a live master: nothing changes", params: v3(100),
			steps: []step{started,
				{at: 0, ev: setHold(true), state: Backup, deadline: down100},
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100, check: yielding(true)},
				{at: 2 * time.Second, ev: setHold(false), state: Backup, deadline: time.Second + down100},
			},
		},
		{
			name: "a member became master: a backup with no master heard follows at once", params: v3(100),
			steps: []step{started,
				{at: time.Second, ev: follow(), want: []Action{sa(100), tr(Backup, Master, ReasonSyncGroupFollow)}, state: Master, deadline: 2 * time.Second},
			},
		},
		{
			name: "a backup whose master resigned follows before its skew time", params: v3(100),
			steps: []step{started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100, check: yielding(true)},
				{at: 2 * time.Second, ev: recv(0, time.Second, higher), state: Backup, deadline: 2*time.Second + skew100},
				{at: 2*time.Second + time.Millisecond, ev: follow(), want: []Action{sa(100), tr(Backup, Master, ReasonSyncGroupFollow)}, state: Master, deadline: 3*time.Second + time.Millisecond},
			},
		},
		{
			name: "a backup about to preempt a lower master follows", params: v3(100),
			steps: []step{started,
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: down100},
				{at: 2 * time.Second, ev: follow(), want: []Action{sa(100), tr(Backup, Master, ReasonSyncGroupFollow)}, state: Master, deadline: 3 * time.Second},
			},
		},
		{
			name: "a backup yielding to a live master does not follow", params: v3(100),
			steps: []step{started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100, check: yielding(true)},
				{at: 2 * time.Second, ev: follow(), state: Backup, deadline: time.Second + down100},
			},
		},
		{
			name: "a held backup does not follow; released, it does", params: v3(100),
			steps: []step{started,
				{at: 0, ev: setHold(true), state: Backup, deadline: down100},
				{at: time.Second, ev: follow(), state: Backup, deadline: down100},
				{at: 2 * time.Second, ev: setHold(false), state: Backup, deadline: 2*time.Second + skew100},
				{at: 2 * time.Second, ev: follow(), want: []Action{sa(100), tr(Backup, Master, ReasonSyncGroupFollow)}, state: Master, deadline: 3 * time.Second},
			},
		},
		{
			name: "a master or a faulted member ignores follow", params: v3(100),
			steps: then(master,
				step{at: 4 * time.Second, ev: follow(), state: Master, deadline: down100 + time.Second},
				step{at: 4 * time.Second, ev: event{"SetFault", func(m *Machine, now time.Time) []Action { return m.SetFault(true, "", now) }},
					want: []Action{sa(0), sa(0), tr(Master, Fault, ReasonFault)}, state: Fault, deadline: noDeadline},
				step{at: 5 * time.Second, ev: follow(), state: Fault, deadline: noDeadline},
			),
		},
		{
			name: "a hold with its own reason", params: v3(100),
			steps: then(master,
				step{at: 4 * time.Second, ev: event{"SetHold", func(m *Machine, now time.Time) []Action { return m.SetHold(true, "split-brain guard", now) }},
					want: []Action{sa(0), tr(Master, Backup, "split-brain guard")}, state: Backup, deadline: 4*time.Second + down100},
			),
		},
		{
			name: "holding twice is a no-op", params: v3(100),
			steps: then(master,
				step{at: 4 * time.Second, ev: setHold(true), want: []Action{sa(0), tr(Master, Backup, ReasonSyncGroupHeld)}, state: Backup, deadline: 4*time.Second + down100},
				step{at: 5 * time.Second, ev: setHold(true), state: Backup, deadline: 4*time.Second + down100},
			),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.params, tc.steps) })
	}
}
