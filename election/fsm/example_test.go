package fsm_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vipd/vipd/election/fsm"
)

// A runtime feeds events with the current time and performs the returned
// actions in order, before making its next call on the Machine.
func Example() {
	m, err := fsm.New(fsm.Params{
		Version:        3,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		Self:           netip.MustParseAddr("198.51.100.10"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	perform := func(acts []fsm.Action) {
		for _, a := range acts {
			switch a := a.(type) {
			case fsm.SendAdvert:
				fmt.Println("send advert, priority", a.Priority)
			case fsm.Transition:
				fmt.Printf("%v -> %v: %s\n", a.From, a.To, a.Reason)
			case fsm.Reassert:
				fmt.Println("lower master at", a.From)
			}
		}
	}
	perform(m.Start(now))
	deadline, _ := m.Deadline()
	fmt.Println("master down in", deadline.Sub(now))
	perform(m.Tick(deadline))
	perform(m.Shutdown(deadline.Add(time.Second)))
	// Output:
	// INIT -> BACKUP: startup
	// master down in 3.609375s
	// send advert, priority 100
	// BACKUP -> MASTER: master down timer expired
	// send advert, priority 0
	// MASTER -> STOP: shutdown
}
