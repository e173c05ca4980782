package election

// The instance's life: its shared parts (Deps), construction, the getters
// that are safe from any goroutine, Run and the deadline it keeps, and
// acting on the state machine's output.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vip"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/clock"
)

// Sender writes one VRRP message; *transport.Conn satisfies it. It must be
// safe for concurrent use, since instances on one interface share a socket.
type Sender interface {
	WriteTo(payload []byte, src, dst netip.Addr) error
}

// Addresser binds and unbinds VIPs; *vip.Manager satisfies it. Both calls
// must be idempotent.
type Addresser interface {
	Add(v vip.VIP) error
	Remove(v vip.VIP) error
}

// Announcer tells the segment that addresses moved here (gratuitous ARP,
// unsolicited NA); *vip.Announcer satisfies it.
type Announcer interface {
	Announce(iface string, addrs []netip.Addr) error
}

// Observer hears about an instance's life. Calls for one instance are made
// one at a time, in order, with the instance's lock held, from one of its
// own goroutines or a command's caller: implementations must not block and
// must not call back into the instance synchronously, except for its
// lock-free getters (State, Priority, Master, Yielding, Name, Config,
// Source, Counters).
type Observer interface {
	// Transitioned reports a state change.
	Transitioned(inst *Instance, from, to fsm.State, reason string)
	// Reasserted reports that this master heard a lower-priority advert
	// (someone else acted as master) and re-announced its VIPs.
	Reasserted(inst *Instance, from netip.Addr, priority uint8)
	// YieldingChanged reports that the instance started or stopped
	// deferring to a live, better master (fsm.Machine.Yielding): sync
	// groups hold their other members meanwhile.
	YieldingChanged(inst *Instance, yielding bool)
}

// Deps are what every instance of an agent shares.
type Deps struct {
	Clock     clock.Clock
	Log       *slog.Logger
	Addrs     Addresser
	Announcer Announcer
	Observer  Observer // may be nil
	Drops     *DropCounter
	// Timers runs the instances' deadlines; sharing one among an agent's
	// instances gives them one timer and one goroutine between them. Nil:
	// each instance makes its own.
	Timers *clock.Scheduler
	// FastTakeover turns on vipd's deviation from RFC 5798 §6.4.2 (see
	// fsm.Params.FastTakeover).
	FastTakeover bool
}

// Instance runs one VRRP router: its state machine, adverts and VIPs.
type Instance struct {
	cfg  *config.Instance
	deps Deps
	log  *slog.Logger
	send Sender
	src  netip.Addr   // source address of our adverts
	dsts []netip.Addr // where adverts go: the group, or each unicast peer
	// unicast instances accept adverts only from peers: the set a unicast
	// advert must come from (static peers plus gossip's).
	unicast bool
	peers   map[netip.Addr]bool
	// peerView is peers for the demux's goroutine: SetPeers replaces the
	// map rather than changing it, so a published one is never written.
	peerView atomic.Pointer[map[netip.Addr]bool]
	// wireAddrs are the VIPs carried in adverts: the instance's own family,
	// not excluded.
	wireAddrs []netip.Addr
	auth      [8]byte

	// mu serialises everything that touches the machine and acts on its
	// output: adverts read by the demux, timer expiries, commands. Holding
	// it while acting keeps actions (and so observers) in the machine's
	// order, whichever goroutine produced them.
	mu      sync.Mutex
	m       *fsm.Machine
	alarm   *clock.Alarm // the machine's deadline; set while running
	alarmAt time.Time    // what alarm is set to; zero when unset
	// alarmEarly is when alarm may fire with another instance's
	alarmEarly time.Time
	// now is when the machine was last told the time: syncAlarm passes it
	// on, which spares the scheduler a clock reading per advert.
	now     time.Time
	stopped bool // Run has shut the machine down
	buf     []byte

	in      chan *received // adverts for the goroutine of Run (pointers: the queue is rarely used, its buffer is always there)
	queued  atomic.Int32   // adverts sent on in and not yet handled
	tick    chan struct{}  // a deadline the scheduler left to Run's goroutine
	started chan struct{}  // closed once Start has run
	slow    sync.WaitGroup // goroutines finishing slow actions, holding mu

	state      atomic.Uint32 // fsm.State, for readers outside the goroutine
	prio       atomic.Uint32 // effective priority, likewise
	yielding   atomic.Bool   // fsm.Machine.Yielding, likewise
	master     atomic.Value  // netip.Addr: fsm.Machine.Master, likewise
	lastMaster netip.Addr    // what master holds; under mu
	// sendFails are the destinations adverts cannot currently be sent to
	// (a link down, no route): the first failure is logged, the rest only
	// counted until a send works again. Under mu; nil while all is well.
	sendFails  map[netip.Addr]*sendOutage
	sent, rcvd atomic.Uint64
	// heard is when an advert from each source was last accepted (under
	// mu): the split-brain guard asks whether a master gossip names is
	// heard here (LastHeard). At most maxHeard sources.
	heard map[netip.Addr]time.Time

	garpStop context.CancelFunc
	garpWG   sync.WaitGroup
	done     chan struct{}
}

// NewInstance prepares an instance; src is the address its adverts are sent
// from (the unicast source, or the interface's primary address). Nothing is
// sent and no VIP is touched until Run.
func NewInstance(cfg *config.Instance, src netip.Addr, send Sender, deps Deps) (*Instance, error) {
	if !src.IsValid() {
		return nil, fmt.Errorf("instance %s: no source address for adverts on %s", cfg.Name, cfg.Interface)
	}
	i := &Instance{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Log.With("instance", cfg.Name, "vrid", cfg.VRID),
		send:    send,
		src:     src,
		peers:   map[netip.Addr]bool{},
		heard:   map[netip.Addr]time.Time{},
		in:      make(chan *received, 64),
		tick:    make(chan struct{}, 1),
		started: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if len(cfg.UnicastPeers) > 0 || cfg.PeersFromGossip {
		i.unicast = true
		for _, p := range cfg.UnicastPeers {
			i.dsts = append(i.dsts, p)
			i.peers[p] = true
		}
	} else if src.Is4() {
		i.dsts = []netip.Addr{vrrp.MulticastIPv4}
	} else {
		i.dsts = []netip.Addr{vrrp.MulticastIPv6}
	}
	view := i.peers
	i.peerView.Store(&view)
	i.wireAddrs = cfg.AdvertisedVIPs()
	i.auth = vrrp.PassAuthData(cfg.AuthPass)
	m, err := fsm.New(fsm.Params{
		Version:        cfg.Version,
		Priority:       cfg.Priority,
		AdvertInterval: cfg.AdvertInterval,
		Preempt:        cfg.Preempt,
		PreemptDelay:   cfg.PreemptDelay,
		StartMaster:    cfg.InitialState == fsm.Master,
		Self:           src,
		FastTakeover:   deps.FastTakeover,
	})
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", cfg.Name, err)
	}
	i.m = m
	i.state.Store(uint32(i.m.State()))
	i.prio.Store(uint32(i.m.Priority()))
	return i, nil
}

// Prime sets the effective priority and fault state the instance starts
// with (from its checks and order), so that its first advert already
// carries them. It must be called before Run.
func (i *Instance) Prime(prio uint8, fault bool, reason string, now time.Time) {
	i.m.SetPriority(prio, now)
	if fault {
		i.m.SetFault(true, reason, now)
	}
	i.prio.Store(uint32(i.m.Priority()))
}

// PrimeHold makes the instance start held in BACKUP (a node in
// maintenance): it never takes over until Hold(false). Like Prime, it must
// be called before Run.
func (i *Instance) PrimeHold(reason string, now time.Time) {
	i.m.SetHold(true, reason, now)
}

// Priority returns the effective priority; safe from any goroutine.
func (i *Instance) Priority() uint8 { return uint8(i.prio.Load()) }

// Name returns the instance's configured name.
func (i *Instance) Name() string { return i.cfg.Name }

// Config returns the configuration the instance runs with; callers must not
// modify it.
func (i *Instance) Config() *config.Instance { return i.cfg }

// State returns the current state; safe from any goroutine.
func (i *Instance) State() fsm.State { return fsm.State(i.state.Load()) }

// Counters returns how many adverts were sent and accepted.
func (i *Instance) Counters() (sent, received uint64) { return i.sent.Load(), i.rcvd.Load() }

// finish performs the machine's actions and sets the alarm to its new
// deadline, then releases i.mu, which the caller holds. Sending adverts is
// quick and is done at once. Anything else (a transition: VIPs bound or
// released over netlink, announcements, observers) takes a millisecond or
// more, which the demux's or the scheduler's goroutine must not spend, as
// every other instance waits for them: unless inline, a goroutine of the
// instance's own does it, and unlocks i.mu when done, so the actions still
// run in the machine's order, before anything else touches the instance.
func (i *Instance) finish(acts []fsm.Action, inline bool) {
	if !inline && slow(acts) {
		i.slow.Add(1)
		go func() {
			defer i.slow.Done()
			i.exec(acts) // valid until the machine's next call: not before Unlock
			// The actions took a while: the alarm is set from the time now.
			i.now = i.deps.Clock.Now()
			i.syncAlarm()
			i.mu.Unlock()
		}()
		return
	}
	i.exec(acts)
	i.syncAlarm()
	i.mu.Unlock()
}

// slow reports whether acts hold more than sending adverts.
func slow(acts []fsm.Action) bool {
	for _, a := range acts {
		if _, ok := a.(fsm.SendAdvert); !ok {
			return true
		}
	}
	return false
}

// Yielding reports whether the instance defers to a live, better master;
// safe from any goroutine.
func (i *Instance) Yielding() bool { return i.yielding.Load() }

// Run drives the instance until ctx is cancelled, then stops it gracefully:
// a MASTER sends a priority-0 advert so a backup takes over after its skew
// time, and every VIP is released.
//
// Work runs where it comes from: deadlines on the scheduler's goroutine
// (Deps.Timers), adverts from the demux on the demux's, commands on their
// caller's. Run's goroutine takes what those leave to it: adverts from
// Deliver or that found the instance busy, and deadlines likewise.
func (i *Instance) Run(ctx context.Context) error {
	defer close(i.done)
	clk := i.deps.Clock
	timers := i.deps.Timers
	if timers == nil {
		timers = clock.NewScheduler(clk)
	}
	// The master-down deadline is what failover time is made of: the
	// scheduler's timer is precise when the clock allows, firing well
	// within a millisecond of it where a time.Timer can be ~1 ms late.
	alarm := timers.NewAlarm(i.onAlarm)
	defer alarm.Close() // after the shutdown below, without mu: onAlarm may wait for it
	if err := alarm.Imprecise(); err != nil {
		i.log.Warn("precise timer unavailable, deadlines may fire up to 1 ms late", "err", err)
	}

	i.mu.Lock()
	i.alarm = alarm
	// A VIP still bound from a crashed run would answer for an address
	// another node may now own. An address owner's VIPs are its real
	// addresses and stay.
	if i.cfg.Priority != 255 {
		i.releaseVIPs()
	}
	i.now = clk.Now()
	i.exec(i.m.Start(i.now))
	i.syncAlarm()
	i.mu.Unlock()
	close(i.started)

	for {
		select {
		case <-ctx.Done():
			i.mu.Lock() // after slow actions under way
			i.exec(i.m.Shutdown(clk.Now()))
			i.stopGARP()
			i.stopped = true
			alarm.Stop()
			i.mu.Unlock()
			i.slow.Wait()
			return nil
		case r := <-i.in:
			i.mu.Lock()
			if i.stopped {
				i.mu.Unlock()
			} else {
				i.finish(i.receive(*r), true)
			}
			i.queued.Add(-1) // after handling: the demux queues behind it till then
		case <-i.tick:
			i.mu.Lock()
			i.ticked(true)
		}
	}
}

// onAlarm runs on the scheduler's goroutine when the machine's deadline
// may have come: the deadline it was set for can have moved later since
// (a backup's moves with every advert, without re-arming the timer), in
// which case Tick does nothing and the alarm is set again.
//
// A busy instance (a slow action under way) leaves the deadline to Run's
// goroutine rather than hold up every other instance's.
func (i *Instance) onAlarm(time.Time) {
	if !i.mu.TryLock() {
		select {
		case i.tick <- struct{}{}:
		default: // one is pending already
		}
		return
	}
	i.ticked(false)
}

// ticked handles the alarm's expiry; i.mu is held, and finish releases it.
func (i *Instance) ticked(inline bool) {
	i.alarmAt = time.Time{} // fired: the scheduler has unset it
	if i.stopped {
		i.mu.Unlock()
		return
	}
	i.now = i.deps.Clock.Now()
	i.finish(i.m.Tick(i.now), inline)
}

// syncAlarm sets the alarm to the machine's deadline, if that changed;
// i.mu must be held, and i.now the time the machine last had.
func (i *Instance) syncAlarm() {
	at, ok := i.m.Deadline()
	if !ok {
		if !i.alarmAt.IsZero() {
			i.alarm.Stop()
			i.alarmAt = time.Time{}
		}
		return
	}
	// A master's adverts may leave a little early, with other instances'
	// (fsm.AdvertSlack): fewer wake-ups here and at every backup.
	if early := i.m.Earliest(); !at.Equal(i.alarmAt) || !early.Equal(i.alarmEarly) {
		i.alarm.SetWindowAt(early, at, i.now)
		i.alarmAt, i.alarmEarly = at, early
	}
}

func (i *Instance) exec(acts []fsm.Action) {
	i.prio.Store(uint32(i.m.Priority()))
	defer i.noteYielding() // after the transitions, so observers see them first
	for _, a := range acts {
		switch a := a.(type) {
		case fsm.SendAdvert:
			i.sendAdvert(a.Priority)
		case fsm.Transition:
			i.transition(a)
		case fsm.Reassert:
			i.log.Info("lower-priority advert while master: re-asserting", "from", a.From, "priority", a.Priority)
			i.announce()
			if o := i.deps.Observer; o != nil {
				o.Reasserted(i, a.From, a.Priority)
			}
		}
	}
}

// Master returns the address of the master as far as the instance knows
// (its own source address while MASTER); safe from any goroutine.
func (i *Instance) Master() netip.Addr {
	a, _ := i.master.Load().(netip.Addr)
	return a
}

// Source returns the address the instance's adverts come from.
func (i *Instance) Source() netip.Addr { return i.src }

func (i *Instance) noteYielding() {
	i.noteMaster()
	y := i.m.Yielding()
	if i.yielding.Swap(y) != y && i.deps.Observer != nil {
		i.deps.Observer.YieldingChanged(i, y)
	}
}

// noteMaster publishes the machine's master for Master(); i.mu is held.
func (i *Instance) noteMaster() {
	// Storing boxes the address, an allocation: only on a change, not
	// for every advert from the same master.
	if m := i.m.Master(); m != i.lastMaster || i.master.Load() == nil {
		i.master.Store(m)
		i.lastMaster = m
	}
}

func (i *Instance) transition(t fsm.Transition) {
	i.state.Store(uint32(t.To))
	// Observers read Master() as believed after the transition (a watch
	// event, the state gossip publishes), not the one before it.
	i.noteMaster()
	i.log.Info("state change", "from", t.From.String(), "to", t.To.String(), "reason", t.Reason)
	if t.To == fsm.Master {
		i.bindVIPs()
		i.startGARP()
	} else if t.From == fsm.Master || t.To == fsm.Stopped {
		i.stopGARP()
		if i.cfg.Priority != 255 {
			i.releaseVIPs()
		}
	}
	if o := i.deps.Observer; o != nil {
		o.Transitioned(i, t.From, t.To, t.Reason)
	}
}
