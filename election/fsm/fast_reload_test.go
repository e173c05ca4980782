package fsm

import (
	"testing"
	"time"
)

func setFastTakeover(on bool) event {
	return event{"SetFastTakeover", func(m *Machine, _ time.Time) []Action { m.SetFastTakeover(on); return nil }}
}

// Fast takeover turned on or off while the machine runs (a reload) applies
// from the next advert on: a backup that waited out its master-down timer
// for a lower master takes over after its skew once turned on, and one
// turned off waits for the timer again.
func TestSetFastTakeover(t *testing.T) {
	tr := func(from, to State, r string) Action { return Transition{From: from, To: to, Reason: r} }
	started := step{at: 0, ev: start(), want: []Action{tr(Init, Backup, ReasonStartup)}, state: Backup, deadline: down100}
	t.Run("on", func(t *testing.T) {
		runSteps(t, v3(100), []step{
			started,
			{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: down100},
			{at: ms(1500), ev: setFastTakeover(true), state: Backup, deadline: down100,
				check: func(t *testing.T, m *Machine) {
					if !m.FastTakeover() {
						t.Error("FastTakeover() false after SetFastTakeover(true)")
					}
				}},
			{at: 2 * time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: 2*time.Second + skew100},
			{at: 2*time.Second + skew100, ev: tick(), want: []Action{SendAdvert{Priority: 100}, tr(Backup, Master, ReasonFastTakeover)},
				state: Master, deadline: 3*time.Second + skew100},
		})
	})
	t.Run("off", func(t *testing.T) {
		runSteps(t, with(v3(100), func(p *Params) { p.FastTakeover = true }), []step{
			started,
			{at: ms(500), ev: setFastTakeover(false), state: Backup, deadline: down100},
			{at: time.Second, ev: recv(50, time.Second, lower), state: Backup, deadline: down100},
			{at: down100, ev: tick(), want: []Action{SendAdvert{Priority: 100}, tr(Backup, Master, ReasonPreempted)},
				state: Master, deadline: down100 + time.Second},
		})
	})
}
