package election

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
	stopped    bool // Run has shut the machine down
	buf        []byte

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

type received struct {
	adv      vrrp.Advert
	src, dst netip.Addr
	hopLimit int
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
		StartMaster:    cfg.InitialState == "MASTER",
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

// Deliver hands a decoded advert to the instance's goroutine. It never
// blocks and may be called with another instance's lock held (an
// in-memory segment that delivers from within a send): when the instance
// is too far behind the advert is dropped and counted, as a kernel socket
// buffer would.
func (i *Instance) Deliver(adv vrrp.Advert, src, dst netip.Addr, hopLimit int) {
	i.queued.Add(1)
	select {
	case i.in <- &received{adv: adv, src: src, dst: dst, hopLimit: hopLimit}:
	default:
		i.queued.Add(-1)
		i.drop(vrrp.DropQueueFull, src, "instance input queue full")
	}
}

// deliverNow handles an advert on the caller's goroutine, the demux's: one
// wake-up per advert instead of two. The demux serves every instance on
// its socket, so it never waits for one: before Start, behind adverts
// already queued, or while the instance is busy (a slow action under way,
// see finish), the advert is queued for Run's goroutine as Deliver does.
func (i *Instance) deliverNow(adv vrrp.Advert, src, dst netip.Addr, hopLimit int) {
	select {
	case <-i.started:
	default:
		i.Deliver(adv, src, dst, hopLimit)
		return
	}
	if i.queued.Load() > 0 || !i.mu.TryLock() {
		i.Deliver(adv, src, dst, hopLimit)
		return
	}
	if i.stopped {
		i.mu.Unlock()
		return
	}
	i.finish(i.receive(received{adv: adv, src: src, dst: dst, hopLimit: hopLimit}), false)
}

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

// SetPriority changes the effective priority. Like every command it waits
// for Run to have started the instance and returns once it has been
// applied (so one caller's commands apply in the order given); after the
// instance stopped it does nothing.
func (i *Instance) SetPriority(p uint8) {
	i.do(func(now time.Time) []fsm.Action { return i.m.SetPriority(p, now) })
}

// Apply sets the effective priority and fault state together, as computed
// from the instance's checks and order. Entering FAULT goes first so a failing
// master resigns with priority 0 rather than first advertising the lower
// priority; leaving it goes first so the new priority sets the backup's
// master-down timer.
func (i *Instance) Apply(prio uint8, fault bool, reason string) {
	i.do(func(now time.Time) []fsm.Action {
		// The machine's action slices are only valid until its next call:
		// copy the first before making the second.
		acts := append([]fsm.Action(nil), i.m.SetFault(fault, reason, now)...)
		return append(acts, i.m.SetPriority(prio, now)...)
	})
}

// Hold keeps the instance from being or becoming MASTER: while another
// member of its sync group yields to a better master elsewhere, or while
// the node is in maintenance (see fsm.Machine.SetHold). A MASTER resigns
// with a priority-0 advert, so that its best backup takes over at once.
func (i *Instance) Hold(hold bool, reason string) {
	i.do(func(now time.Time) []fsm.Action { return i.m.SetHold(hold, reason, now) })
}

// HoldQuietly is Hold without the priority-0 advert: for the split-brain
// guard, which holds an instance because gossip shows a better master
// whose adverts do not arrive. That master is already MASTER; a
// resignation would only make a backup on this side of the cut take over
// after its skew time (to be held in turn), and a backup that hears both
// masters start a takeover it must then abandon. The backups here go on
// waiting for their master-down interval instead.
func (i *Instance) HoldQuietly(hold bool, reason string) {
	i.do(func(now time.Time) []fsm.Action {
		var out []fsm.Action
		for _, a := range i.m.SetHold(hold, reason, now) {
			if s, ok := a.(fsm.SendAdvert); ok && s.Priority == fsm.PriorityStop {
				continue
			}
			out = append(out, a)
		}
		return out
	})
}

// Follow makes a BACKUP MASTER now because another member of its sync
// group became MASTER (see fsm.Machine.Follow); a no-op while it is held or
// yields to a live master, and in any other state.
func (i *Instance) Follow(reason string) {
	i.do(func(now time.Time) []fsm.Action { return i.m.Follow(reason, now) })
}

// SetPeers replaces the unicast peers (static ones plus those gossip
// found): adverts go to them, and only they are accepted. An instance that
// started multicast stays multicast.
func (i *Instance) SetPeers(peers []netip.Addr) {
	i.do(func(time.Time) []fsm.Action {
		if !i.unicast {
			return nil
		}
		old := i.peers
		i.peers = make(map[netip.Addr]bool, len(peers))
		i.dsts = i.dsts[:0]
		added := false
		for _, p := range peers {
			if p != i.src && !i.peers[p] {
				i.dsts = append(i.dsts, p)
				i.peers[p] = true
				added = added || !old[p]
			}
		}
		for dst := range i.sendFails {
			if !i.peers[dst] {
				delete(i.sendFails, dst) // a peer gone: its outage ends unreported
			}
		}
		view := i.peers
		i.peerView.Store(&view)
		// A master tells a new peer at once: the peer may itself have
		// become master while it was not in our list (our adverts did not
		// reach it, its adverts were refused as "not a peer"), and waiting
		// for the next advert interval would leave two masters that long.
		if added && i.m.State() == fsm.Master {
			return []fsm.Action{fsm.SendAdvert{Priority: i.m.Priority()}}
		}
		return nil
	})
}

// hasPeer reports whether src is one of the unicast peers; safe from any
// goroutine (the demux asks it to route a shared VRID).
func (i *Instance) hasPeer(src netip.Addr) bool {
	m := i.peerView.Load()
	return m != nil && (*m)[src]
}

// Peers returns the current unicast peers, for status.
func (i *Instance) Peers() []netip.Addr {
	var p []netip.Addr
	i.do(func(time.Time) []fsm.Action {
		p = append([]netip.Addr(nil), i.dsts...)
		return nil
	})
	return p
}

// Reannounce re-runs a master's announcements now (gratuitous ARP /
// unsolicited NA), when gossip shows another node acted as master for this
// instance; a no-op unless MASTER.
func (i *Instance) Reannounce(from netip.Addr) {
	i.do(func(time.Time) []fsm.Action {
		if i.m.State() == fsm.Master {
			i.log.Info("another node acted as master: re-asserting", "from", from)
			i.announce()
			if o := i.deps.Observer; o != nil {
				o.Reasserted(i, from, 0)
			}
		}
		return nil
	})
}

// Yielding reports whether the instance defers to a live, better master;
// safe from any goroutine.
func (i *Instance) Yielding() bool { return i.yielding.Load() }

// SetFault puts the instance into FAULT (true) or takes it out (false).
func (i *Instance) SetFault(fault bool, reason string) {
	i.do(func(now time.Time) []fsm.Action { return i.m.SetFault(fault, reason, now) })
}

func (i *Instance) do(f func(time.Time) []fsm.Action) {
	select {
	case <-i.started:
	case <-i.done:
		return
	}
	i.mu.Lock()
	if i.stopped {
		i.mu.Unlock()
		return
	}
	i.finish(f(i.deps.Clock.Now()), true)
}

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
	i.exec(i.m.Start(clk.Now()))
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
	i.finish(i.m.Tick(i.deps.Clock.Now()), inline)
}

// syncAlarm sets the alarm to the machine's deadline, if that changed;
// i.mu must be held.
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
		i.alarm.SetWindow(early, at)
		i.alarmAt, i.alarmEarly = at, early
	}
}

// receive applies the checks that need the instance's config, then hands a
// valid advert to the state machine.
func (i *Instance) receive(r received) []fsm.Action {
	a := r.adv
	switch {
	case r.src == i.src:
		i.drop(vrrp.DropOwnPacket, r.src, "advert from our own address")
		return nil
	case a.Version != i.cfg.Version:
		i.drop(vrrp.DropBadVersion, r.src, fmt.Sprintf("version %d, instance runs version %d", a.Version, i.cfg.Version))
		return nil
	case r.hopLimit != 255 && (r.dst.IsMulticast() || !i.unicast):
		// RFC 3768 §7.1, RFC 5798 §7.1: an advert that crossed a router is
		// forged or misrouted. A multicast instance talks on one link only,
		// so this holds for every advert it takes, even one sent to its
		// unicast address; unicast instances may cross routers on purpose
		// (as keepalived's unicast_peer does).
		i.drop(vrrp.DropBadTTL, r.src, fmt.Sprintf("advert to %v with hop limit %d", r.dst, r.hopLimit))
		return nil
	case i.unicast && !i.peers[r.src]:
		i.drop(vrrp.DropNotAPeer, r.src, "source is not a configured unicast peer")
		return nil
	}
	if a.Version == 2 {
		want := vrrp.AuthNone
		if i.cfg.AuthPass != "" {
			want = vrrp.AuthPass
		}
		if a.AuthType != want || (want == vrrp.AuthPass && a.AuthData != i.auth) {
			i.drop(vrrp.DropAuthMismatch, r.src, "authentication does not match")
			return nil
		}
		// RFC 3768 §7.1: v2 routers must agree on the interval; v3 backups
		// adopt the master's instead.
		if a.Interval != i.cfg.AdvertInterval {
			i.drop(vrrp.DropIntervalMismatch, r.src, fmt.Sprintf("advert interval %v, configured %v", a.Interval, i.cfg.AdvertInterval))
			return nil
		}
	}
	i.rcvd.Add(1)
	now := i.deps.Clock.Now()
	i.noteHeard(r.src.Unmap(), now)
	return i.m.Receive(fsm.Advert{Priority: a.Priority, Interval: a.Interval, Src: r.src}, now)
}

// maxHeard bounds the sources LastHeard remembers: a segment has a few
// routers per VRID, and forged sources must not grow the map.
const maxHeard = 16

// noteHeard records an accepted advert from src; i.mu is held. Updating a
// known source does not allocate.
func (i *Instance) noteHeard(src netip.Addr, now time.Time) {
	if _, ok := i.heard[src]; !ok && len(i.heard) >= maxHeard {
		var oldest netip.Addr
		for a, at := range i.heard {
			if !oldest.IsValid() || at.Before(i.heard[oldest]) {
				oldest = a
			}
		}
		delete(i.heard, oldest)
	}
	i.heard[src] = now
}

// LastHeard returns when an advert from src last passed the instance's
// checks (the zero time if never, as far as it remembers), whatever the
// state machine made of it: the split-brain guard tells a master whose
// adverts do not reach this node from one it hears.
func (i *Instance) LastHeard(src netip.Addr) time.Time {
	var at time.Time
	i.do(func(time.Time) []fsm.Action {
		at = i.heard[src.Unmap()]
		return nil
	})
	return at
}

func (i *Instance) drop(reason vrrp.DropReason, src netip.Addr, detail string) {
	if i.deps.Drops != nil {
		i.deps.Drops.Add(reason)
	}
	i.log.Debug("advert dropped", "reason", reason.String(), "src", src, "detail", detail)
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

func (i *Instance) sendAdvert(prio uint8) {
	adv := vrrp.Advert{
		Version:  i.cfg.Version,
		VRID:     i.cfg.VRID,
		Priority: prio,
		Interval: i.cfg.AdvertInterval,
		Addrs:    i.wireAddrs,
	}
	if i.cfg.Version == 2 && i.cfg.AuthPass != "" {
		adv.AuthType = vrrp.AuthPass
		adv.AuthData = i.auth
	}
	for _, dst := range i.dsts {
		var err error
		// The v3 checksum covers the pseudo-header, so each destination
		// needs its own encoding.
		i.buf, err = adv.AppendMarshal(i.buf[:0], i.src, dst)
		if err != nil {
			i.log.Error("cannot encode advert", "err", err)
			return
		}
		if err := i.send.WriteTo(i.buf, i.src, dst); err != nil {
			i.sendFailed(dst, err)
			continue
		}
		i.sent.Add(1)
		if i.sendFails != nil {
			i.sendWorks(dst)
		}
	}
}

// sendOutage is a run of failed sends to one destination.
type sendOutage struct {
	since  time.Time
	failed int
}

// sendFailed logs the first failure of an outage at warning and counts the
// rest: with a link down every advert fails alike, and saying so each
// interval would bury everything else in the log. i.mu is held.
func (i *Instance) sendFailed(dst netip.Addr, err error) {
	if o := i.sendFails[dst]; o != nil {
		o.failed++
		i.log.Debug("cannot send advert", "dst", dst, "err", err, "failed", o.failed)
		return
	}
	if i.sendFails == nil {
		i.sendFails = map[netip.Addr]*sendOutage{}
	}
	i.sendFails[dst] = &sendOutage{since: i.deps.Clock.Now(), failed: 1}
	i.log.Warn("cannot send advert (logged once until sending works again)", "dst", dst, "err", err)
}

// sendWorks ends dst's outage, if any, saying how long it was. i.mu is held.
func (i *Instance) sendWorks(dst netip.Addr) {
	o := i.sendFails[dst]
	if o == nil {
		return
	}
	delete(i.sendFails, dst)
	if len(i.sendFails) == 0 {
		i.sendFails = nil
	}
	i.log.Info("sending adverts works again", "dst", dst, "failed", o.failed,
		"for", i.deps.Clock.Now().Sub(o.since).Round(time.Millisecond))
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

func (i *Instance) vips() []vip.VIP {
	out := make([]vip.VIP, 0, len(i.cfg.VIPs))
	for _, v := range i.cfg.VIPs {
		iface := v.Interface
		if iface == "" {
			iface = i.cfg.Interface
		}
		out = append(out, vip.VIP{Interface: iface, Prefix: v.Prefix, Label: v.Label})
	}
	return out
}

func (i *Instance) bindVIPs() {
	for _, v := range i.vips() {
		if err := i.deps.Addrs.Add(v); err != nil {
			i.log.Error("cannot bind VIP", "vip", v.Prefix, "interface", v.Interface, "err", err)
		}
	}
}

func (i *Instance) releaseVIPs() {
	for _, v := range i.vips() {
		if err := i.deps.Addrs.Remove(v); err != nil {
			i.log.Error("cannot release VIP", "vip", v.Prefix, "interface", v.Interface, "err", err)
		}
	}
}

// announce sends one round of gratuitous ARP / unsolicited NA for every VIP,
// grouped by interface.
func (i *Instance) announce() {
	byIface := map[string][]netip.Addr{}
	var order []string
	for _, v := range i.vips() {
		if _, ok := byIface[v.Interface]; !ok {
			order = append(order, v.Interface)
		}
		byIface[v.Interface] = append(byIface[v.Interface], v.Prefix.Addr())
	}
	for _, iface := range order {
		if err := i.deps.Announcer.Announce(iface, byIface[iface]); err != nil {
			i.log.Warn("cannot announce VIPs", "interface", iface, "err", err)
		}
	}
}

// startGARP runs keepalived's announcement schedule for one term as master:
// garp_master_repeat rounds now, as many again after garp_master_delay, then
// garp_master_refresh_repeat rounds every garp_master_refresh.
func (i *Instance) startGARP() {
	i.stopGARP()
	ctx, cancel := context.WithCancel(context.Background())
	i.garpStop = cancel
	g := i.cfg.GARP
	i.garpWG.Add(1)
	go func() {
		defer i.garpWG.Done()
		s := garpSchedule{clk: i.deps.Clock, announce: i.announce, gap: g.Interval}
		if !s.rounds(ctx, int(g.MasterRepeat)) {
			return
		}
		if g.MasterDelay > 0 {
			if !s.wait(ctx, g.MasterDelay) || !s.rounds(ctx, int(g.MasterRepeat)) {
				return
			}
		}
		for g.MasterRefresh > 0 {
			if !s.wait(ctx, g.MasterRefresh) || !s.rounds(ctx, int(g.MasterRefreshRepeat)) {
				return
			}
		}
	}()
}

func (i *Instance) stopGARP() {
	if i.garpStop != nil {
		i.garpStop()
		i.garpStop = nil
	}
	i.garpWG.Wait()
}

type garpSchedule struct {
	clk      clock.Clock
	announce func()
	gap      time.Duration
}

// rounds announces n times, gap apart; false if cancelled.
func (s garpSchedule) rounds(ctx context.Context, n int) bool {
	for k := 0; k < max(n, 1); k++ {
		if k > 0 && s.gap > 0 && !s.wait(ctx, s.gap) {
			return false
		}
		if ctx.Err() != nil {
			return false
		}
		s.announce()
	}
	return true
}

func (s garpSchedule) wait(ctx context.Context, d time.Duration) bool {
	t := s.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}
