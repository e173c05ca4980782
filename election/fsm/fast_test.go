package fsm

import (
	"testing"
	"time"
)

// TestFastTakeover table-tests each rule of Params.FastTakeover with the
// switch on, and the same events with it off (RFC and keepalived timing).
func TestFastTakeover(t *testing.T) {
	sa := func(p uint8) Action { return SendAdvert{Priority: p} }
	tr := func(from, to State, r string) Action { return Transition{From: from, To: to, Reason: r} }
	fast := func(p Params) Params { return with(p, func(p *Params) { p.FastTakeover = true }) }
	started := step{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100}
	becomeMaster := []step{
		started,
		{at: down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonMasterDown)}, state: Master, deadline: down100 + time.Second},
	}
	then := func(prefix []step, rest ...step) []step {
		return append(append([]step{}, prefix...), rest...)
	}
	// skew(200, 1s) = 56*100*625/16 µs
	skew200 := us(218750)

	tests := []struct {
		name   string
		params Params
		steps  []step
	}{
		// Rule 1: a master whose priority drops advertises at once.
		{
			name:   "on/master priority drop sends an advert now and restarts the advert timer",
			params: fast(v3(100)),
			steps: then(becomeMaster,
				step{at: 4 * time.Second, ev: setPrio(90), want: []Action{sa(90)}, state: Master, deadline: 5 * time.Second},
				// The old tick time is gone: nothing happens there.
				step{at: down100 + time.Second, ev: tick(), state: Master, deadline: 5 * time.Second},
				step{at: 5 * time.Second, ev: tick(), want: []Action{sa(90)}, state: Master, deadline: 6 * time.Second},
			),
		},
		{
			name:   "off/master priority drop waits for the next advert tick",
			params: v3(100),
			steps: then(becomeMaster,
				step{at: 4 * time.Second, ev: setPrio(90), state: Master, deadline: down100 + time.Second},
				step{at: down100 + time.Second, ev: tick(), want: []Action{sa(90)}, state: Master, deadline: down100 + 2*time.Second},
			),
		},
		{
			name:   "on/master priority rise does not advertise early",
			params: fast(v3(100)),
			steps: then(becomeMaster,
				step{at: 4 * time.Second, ev: setPrio(120), state: Master, deadline: down100 + time.Second},
				step{at: down100 + time.Second, ev: tick(), want: []Action{sa(120)}, state: Master, deadline: down100 + 2*time.Second},
			),
		},
		{
			name:   "on/owner priority never changes so nothing is sent",
			params: fast(v3(255)),
			steps: []step{
				{at: 0, ev: start(), want: []Action{sa(255), tr(Init, Master, ReasonOwnerStartup)}, state: Master, deadline: time.Second},
				{at: ms(100), ev: setPrio(10), state: Master, deadline: time.Second},
			},
		},
		{
			name:   "on/backup priority drop sends nothing",
			params: fast(v3(100)),
			steps: []step{
				started,
				// skew(50, 1s) = 206*100*625/16 = 804687.5 → 804687µs
				{at: time.Second, ev: setPrio(50), state: Backup, deadline: 3*time.Second + us(804687)},
			},
		},

		// Rule 2: a preempting backup takes over from a lower master after
		// only its skew time.
		{
			name:   "on/backup hearing a lower priority takes over after skew",
			params: fast(v3(100)),
			steps: []step{
				started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100},
				{at: 2 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 2*time.Second + skew100},
				// Later lower adverts do not postpone it.
				{at: ms(2500), ev: recv(50, time.Second, lower), state: Backup, deadline: 2*time.Second + skew100},
				{at: 2*time.Second + skew100 - 1, ev: tick(), state: Backup, deadline: 2*time.Second + skew100},
				{at: 2*time.Second + skew100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonFastTakeover)}, state: Master,
					deadline: 3*time.Second + skew100},
			},
		},
		{
			name:   "off/backup hearing a lower priority waits for the master-down timer",
			params: v3(100),
			steps: []step{
				started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100},
				{at: 2 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + down100},
				{at: 2*time.Second + skew100, ev: tick(), state: Backup, deadline: time.Second + down100},
				{at: time.Second + down100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonPreempted)}, state: Master,
					deadline: 2*time.Second + down100},
			},
		},
		{
			name:   "on/a higher advert during the skew wait cancels the takeover",
			params: fast(v3(100)),
			steps: []step{
				started,
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + skew100},
				{at: ms(1500), ev: recv(150, time.Second, higher), state: Backup, deadline: ms(1500) + down100},
				{at: time.Second + skew100, ev: tick(), state: Backup, deadline: ms(1500) + down100},
			},
		},
		{
			name:   "on/the skew wait never postpones an earlier master-down deadline",
			params: fast(with(v3(100), func(p *Params) { p.DownTimerAdverts = 1 })),
			steps: []step{
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: time.Second + skew100},
				{at: ms(500), ev: recv(150, time.Second, higher), state: Backup, deadline: ms(1500) + skew100},
				// now+skew would be 2s+skew: later than the pending deadline.
				{at: 2 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: ms(1500) + skew100},
				{at: ms(1500) + skew100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonFastTakeover)}, state: Master,
					deadline: ms(2500) + skew100},
			},
		},
		{
			name:   "on/equal priority from a lower address is accepted as a master",
			params: fast(v3(100)),
			steps: []step{
				started,
				{at: time.Second, ev: recv(100, time.Second, lower), state: Backup, deadline: time.Second + down100},
			},
		},
		{
			name:   "on/priority 0 keeps its resignation handling",
			params: fast(v3(100)),
			steps: []step{
				started,
				{at: time.Second, ev: recv(0, time.Second, higher), state: Backup, deadline: time.Second + skew100},
				{at: time.Second + skew100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonMasterResigned)}, state: Master,
					deadline: 2*time.Second + skew100},
			},
		},
		{
			name:   "on/nopreempt still never takes over from a live master",
			params: fast(with(v3(100), func(p *Params) { p.Preempt = false })),
			steps: []step{
				started,
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + down100},
				{at: 4 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 4*time.Second + down100},
				{at: 4*time.Second + skew100, ev: tick(), state: Backup, deadline: 4*time.Second + down100},
			},
		},
		{
			name:   "on/preempt_delay accepts lower adverts until the delay ends, then the next one starts the skew wait",
			params: fast(with(v3(100), func(p *Params) { p.PreemptDelay = 5 * time.Second })),
			steps: []step{
				started,
				// The first lower advert starts the delay (until 6s).
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + down100},
				{at: 3 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 3*time.Second + down100},
				{at: 6*time.Second - 1, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second - 1 + down100},
				{at: 6 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second + skew100},
				{at: 6*time.Second + skew100, ev: tick(), want: []Action{sa(100), tr(Backup, Master, ReasonFastTakeover)}, state: Master,
					deadline: 7*time.Second + skew100},
			},
		},
		{
			name:   "off/preempt_delay then the master-down timer",
			params: with(v3(100), func(p *Params) { p.PreemptDelay = 5 * time.Second }),
			steps: []step{
				started,
				{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: time.Second + down100},
				{at: 6*time.Second - 1, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second - 1 + down100},
				{at: 6 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 6*time.Second - 1 + down100},
			},
		},

		// Rule 3: a backup whose own priority rises above the master's
		// takes over at the master's next advert.
		{
			name:   "on/backup priority rising above the master's takes over at its next advert",
			params: fast(v3(100)),
			steps: []step{
				started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100},
				{at: ms(1500), ev: setPrio(200), state: Backup, deadline: 4*time.Second + skew200},
				{at: 2 * time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: 2*time.Second + skew200},
				{at: 2*time.Second + skew200, ev: tick(), want: []Action{sa(200), tr(Backup, Master, ReasonFastTakeover)}, state: Master,
					deadline: 3*time.Second + skew200},
			},
		},
		{
			name:   "off/backup priority rising above the master's waits for the master-down timer",
			params: v3(100),
			steps: []step{
				started,
				{at: time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: time.Second + down100},
				{at: ms(1500), ev: setPrio(200), state: Backup, deadline: 4*time.Second + skew200},
				{at: 2 * time.Second, ev: recv(150, time.Second, higher), state: Backup, deadline: 4*time.Second + skew200},
				{at: 4*time.Second + skew200, ev: tick(), want: []Action{sa(200), tr(Backup, Master, ReasonPreempted)}, state: Master,
					deadline: 5*time.Second + skew200},
			},
		},
		{
			name:   "on/v2 backup uses the v2 skew",
			params: fast(v2(200)),
			steps: []step{
				// v2 skew(200) = 56*1000000/256 = 218750µs
				{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: 3*time.Second + skew200},
				{at: time.Second, ev: recv(100, time.Second, lower), state: Backup, deadline: time.Second + skew200},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.params, tc.steps) })
	}
}
