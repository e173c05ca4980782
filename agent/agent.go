// Package agent turns a loaded configuration into running VRRP instances:
// it opens one raw socket per family and interface, starts a demux on each,
// runs every instance, reloads them when the configuration changes, and
// stops them gracefully.
//
// It sits between cmd/vipd (flags, signals) and election (the protocol); it
// must not depend on cmd.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/transport"
	"github.com/vipd/vipd/election/vip"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/metrics"
	"github.com/vipd/vipd/notify"
)

// Options are the agent's collaborators; zero values get real ones.
type Options struct {
	Log   *slog.Logger
	Clock clock.Clock
	// Version is vipd's version, advertised to the gossip cluster.
	Version string
	// LoadConfig reads the configuration again, for the API's Reload
	// (SIGHUP goes through cmd, which calls Reload itself). Nil means the
	// API cannot reload.
	LoadConfig func() (*config.Config, error)
	// Metrics, if set, gets the agent's events and reads its state at
	// every scrape.
	Metrics *metrics.Metrics
	// OnReady, if set, is called once the first configuration is applied
	// (instances started, first check results in).
	OnReady func()
}

// Agent owns the sockets and instances of one vipd process.
type Agent struct {
	log     *slog.Logger
	clock   clock.Clock
	version string
	drops   election.DropCounter
	timers  *clock.Scheduler // one timer and goroutine for every instance's deadlines

	reloads  chan reloadReq
	calls    chan func()         // API work to run on Run's goroutine
	commands chan gossip.Command // commands other nodes sent this one
	wake     waker               // pokes from instances, checks, orders, cloud actions, gossip
	stopped  chan struct{}       // closed when Run returns
	events   *hub                // watch events for the API
	link     atomic.Pointer[clusterLink]
	hist     atomic.Pointer[nodeHistory] // the event history (history.go)

	loadConfig func() (*config.Config, error)
	onReady    func()
	ready      atomic.Bool
	metrics    *metrics.Metrics
	cloud      *clouds
	// Set by Run before the API can reach the agent.
	started  time.Time
	nodeName string

	// Owned by Run's goroutine.
	cfg       *config.Config
	track     *tracking
	addrs     *vip.Manager
	announcer *vip.Announcer
	sockets   map[socketKey]*socket
	running   map[string]*running
}

type socketKey struct {
	family inet.Family
	iface  string
}

type socket struct {
	conn  *transport.Conn
	demux *election.Demux
	done  chan struct{}
	users int
}

type running struct {
	cfg    *config.Instance
	inst   *election.Instance
	sock   *socket
	cancel context.CancelFunc
	done   chan struct{}
}

type reloadReq struct {
	cfg   *config.Config
	reply chan reloadReply
}

type reloadReply struct {
	res ReloadResult
	err error
}

// ReloadResult says what a reload changed.
type ReloadResult struct {
	// Added are the instances started, Removed those stopped, Changed
	// those restarted with a new configuration; all others kept running.
	Added, Removed, Changed []string
	// Warnings name the settings the reload changed but could not apply
	// to the running node, and what applies them (a restart).
	Warnings []string
}

// New returns an agent; Run starts it.
func New(opts Options) *Agent {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	return &Agent{
		log:        opts.Log,
		clock:      opts.Clock,
		timers:     clock.NewScheduler(opts.Clock),
		version:    opts.Version,
		reloads:    make(chan reloadReq),
		calls:      make(chan func()),
		commands:   make(chan gossip.Command, 16),
		wake:       newWaker(),
		stopped:    make(chan struct{}),
		events:     newHub(),
		loadConfig: opts.LoadConfig,
		onReady:    opts.OnReady,
		metrics:    opts.Metrics,
		sockets:    map[socketKey]*socket{},
		running:    map[string]*running{},
	}
}

// Ready reports whether the agent has applied its first configuration and
// is running; the API's /readyz answers with it.
func (a *Agent) Ready() error {
	select {
	case <-a.stopped:
		return errors.New("stopped")
	default:
	}
	if !a.ready.Load() {
		return errors.New("starting: configuration not applied yet")
	}
	return nil
}

// Drops returns the counts of discarded packets by reason.
func (a *Agent) Drops() *election.DropCounter { return &a.drops }

// Run starts every instance of cfg and blocks until ctx is cancelled; then it
// stops every instance gracefully (priority-0 advert from a master, VIPs
// released) and closes its sockets.
func (a *Agent) Run(ctx context.Context, cfg *config.Config) error {
	defer close(a.stopped)
	a.started = a.clock.Now()
	a.nodeName = cfg.Node.Name
	// First in, last out: the history records the final transitions.
	defer a.startHistory(cfg)()
	var err error
	if a.addrs, err = vip.NewManager(); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer a.addrs.Close()
	a.announcer = vip.NewAnnouncer()
	defer a.announcer.Close()

	// Notify scripts outlive the instances by a drain period, so the STOP
	// scripts of a graceful shutdown still run.
	nopts := notify.Options{Log: a.log, User: cfg.Scripts.User, Group: cfg.Scripts.Group}
	if a.metrics != nil {
		// The metric's event label is the hook without keepalived's
		// prefix: master, backup, fault, stop, master_rx_lower_pri.
		nopts.OnRun = func(hook string, d time.Duration, err error) {
			a.metrics.ObserveNotify(strings.TrimPrefix(hook, "notify_"), d, err)
		}
	}
	notifier := notify.New(nopts)
	nctx, nstop := context.WithCancel(context.Background())
	ndone := make(chan struct{})
	go func() { defer close(ndone); notifier.Run(nctx) }()
	defer func() { nstop(); <-ndone }()

	var observeCloud func(string, string, time.Duration, error)
	if a.metrics != nil {
		observeCloud = a.metrics.ObserveCloudAction
	}
	a.cloud = newClouds(a.log, a.cloudObserver(observeCloud), a.wake.poke)
	defer a.cloud.stop()
	// A backup follows another node's master round (gossip), so that its
	// view of the cloud is fresh for the next failover.
	a.cloud.followPeers(a.events, cfg.Node.Name)
	// A node drained before a restart stays drained: its instances start
	// held in BACKUP.
	maint, err := loadMaintenance(maintenanceFile(cfg))
	if err != nil {
		a.log.Error("cannot read the maintenance state", "err", err)
	} else if maint {
		a.log.Warn("starting in maintenance: every instance stays BACKUP until released", "file", maintenanceFile(cfg))
	}

	// Gossip first, so instances with `peers: gossip` find peers early.
	var link *clusterLink
	var members func() []gossip.Member
	if cfg.Gossip != nil {
		if link, err = newClusterLink(cfg, a.version, a.log, a.wake.poke, a.events, a.command); err != nil {
			return fmt.Errorf("gossip: %w", err)
		}
		link.metrics = a.metrics
		link.c.SetQueryHandler(a.answerQuery) // other members read our history
		a.link.Store(link)
		members = link.c.Members // order lists name members
	}
	a.track = newTracking(trackingOptions{
		Log: a.log, Clock: a.clock, Notifier: notifier, Wake: a.wake, Node: cfg.Node.Name,
		Members: members, Cloud: a.cloud, Events: a.events, Metrics: a.metrics, Timers: a.timers,
		Maintenance: maint,
	})
	if a.metrics != nil {
		a.metrics.SetSource(a.snapshot)
	}
	defer a.track.stop()

	// The link's own due times (wake.go): an alarm of the instances'
	// Scheduler that signals linkDue.
	var linkAlarm *clock.Alarm
	var linkDue chan struct{}
	if link != nil {
		// Its own context: the agent's ends at SIGTERM, but the cluster
		// must live on until the instances have stopped and it has said
		// goodbye (Leave), not just vanish.
		gctx, gstop := context.WithCancel(context.Background())
		defer gstop()
		if err := link.start(gctx); err != nil {
			return fmt.Errorf("gossip: %w", err)
		}
		// Before any instance starts, so that require_join holds them
		// from the first moment.
		link.syncJoinWait(a.clock.Now(), a.track)
		// The cluster's orders (from the state file, and from members
		// joined so far) before any instance starts: a node whose local
		// order puts it first must not start with that priority when the
		// cluster says otherwise. Nothing is read locally yet, so nothing
		// is published.
		link.syncOrders(a.track)
		linkDue = make(chan struct{}, 1)
		linkAlarm = a.timers.NewAlarm(func(time.Time) {
			select {
			case linkDue <- struct{}{}:
			default:
			}
		})
		defer linkAlarm.Close()
		linkAlarm.Set(a.clock.Now().Add(syncInterval))
	}
	sync := func() {
		a.track.apply(a.running)
		if link != nil {
			now := a.clock.Now()
			link.sync(now, a.track, a.running)
			linkAlarm.SetWindow(link.nextWake(now, a.track, a.running))
		}
		a.observeHistory()
	}

	if _, err := a.apply(cfg); err != nil {
		a.stopAll()
		if link != nil {
			link.stop()
		}
		return err
	}
	a.log.Info("agent started", "instances", len(a.running), "checks", len(a.track.runners))
	a.ready.Store(true)
	if a.onReady != nil {
		a.onReady()
	}
	for {
		select {
		case <-ctx.Done():
			a.stopAll()
			if link != nil {
				// Tell the cluster our instances stopped, then leave.
				link.publish(a.track, a.running)
				link.stop()
			}
			a.log.Info("agent stopped")
			return nil
		case r := <-a.reloads:
			if link != nil {
				link.reload(r.cfg)
			}
			res, err := a.apply(r.cfg)
			a.noteReload(res, err)
			r.reply <- reloadReply{res, err}
		case f := <-a.calls:
			f()
		case cmd := <-a.commands:
			a.execute(cmd)
		case <-a.wake:
			sync()
		case <-linkDue:
			sync()
		}
	}
}

// Reload replaces the running configuration. Instances whose configuration
// is unchanged keep running untouched (a master stays master); changed ones
// are restarted, removed ones stopped gracefully, new ones started.
func (a *Agent) Reload(ctx context.Context, cfg *config.Config) error {
	_, err := a.ReloadDiff(ctx, cfg)
	return err
}

// ReloadDiff is Reload, also saying which instances it added, removed and
// restarted.
func (a *Agent) ReloadDiff(ctx context.Context, cfg *config.Config) (ReloadResult, error) {
	r := reloadReq{cfg: cfg, reply: make(chan reloadReply, 1)}
	select {
	case a.reloads <- r:
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	case <-a.stopped:
		return ReloadResult{}, errors.New("the agent has stopped")
	}
	rep := <-r.reply
	return rep.res, rep.err
}

// command queues a command from another node for Run's goroutine; it is
// called from memberlist's goroutines and must not block.
func (a *Agent) command(cmd gossip.Command) {
	select {
	case a.commands <- cmd:
	default:
		a.log.Warn("command dropped: too many pending", "from", cmd.From, "kind", cmd.Kind)
	}
}

// execute carries out a command from another node.
func (a *Agent) execute(cmd gossip.Command) {
	a.noteCommand(cmd)
	switch cmd.Kind {
	case gossip.CommandResign:
		a.resign(cmd.Instance, "failover requested on "+cmd.From)
	case gossip.CommandMaintenance:
		a.setMaintenance(cmd.Enabled, "command from "+cmd.From)
	}
}

// apply converges the running checks and instances on cfg.
func (a *Agent) apply(cfg *config.Config) (ReloadResult, error) {
	var res ReloadResult
	var errs []error
	prev := a.cfg // nil at the start
	if prev != nil {
		cfg, res.Warnings = a.keepName(cfg)
	}
	if err := a.track.configure(context.Background(), cfg); err != nil {
		errs = append(errs, err)
	}
	if err := a.cloud.configure(cfg); err != nil {
		errs = append(errs, fmt.Errorf("cloud actions: %w", err))
	}
	a.track.awaitFirstResults()
	a.cfg = cfg
	want := map[string]*config.Instance{}
	for _, ic := range cfg.Instances {
		want[ic.Name] = ic
	}
	restarted := map[string]bool{}
	for name, r := range a.running {
		if ic, ok := want[name]; !ok || !r.cfg.SameSettings(ic) {
			a.stop(name)
			if ok {
				restarted[name] = true
			} else {
				res.Removed = append(res.Removed, name)
			}
		}
	}
	if prev != nil && prev.FastTakeover != cfg.FastTakeover {
		// The instances kept running read it at each advert and priority
		// change: it applies to them from the next one on (those started
		// below get it at their start).
		for _, r := range a.running {
			r.inst.SetFastTakeover(cfg.FastTakeover)
		}
		a.log.Info("vrrp.fast_takeover reloaded: applied to the running instances", "fast_takeover", cfg.FastTakeover, "running", len(a.running))
	}
	for _, ic := range cfg.Instances {
		if _, ok := a.running[ic.Name]; ok {
			continue
		}
		if restarted[ic.Name] {
			res.Changed = append(res.Changed, ic.Name)
		} else {
			res.Added = append(res.Added, ic.Name)
		}
		if err := a.start(ic); err != nil {
			errs = append(errs, fmt.Errorf("instance %s: %w", ic.Name, err))
		}
	}
	slices.Sort(res.Removed)
	return res, errors.Join(errs...)
}

// keepName returns cfg with the name this node runs under, and a warning
// when cfg names it otherwise: node.name is the node's identity (its name
// in the gossip cluster, in its history and watch events, its place in
// order lists), which a running node cannot change without confusing its
// peers. A new name applies at the next start.
func (a *Agent) keepName(cfg *config.Config) (*config.Config, []string) {
	if cfg.Node.Name == a.nodeName {
		return cfg, nil
	}
	w := fmt.Sprintf("node.name changed from %q to %q: not applied, a running node keeps its name; restart vipd to rename it", a.nodeName, cfg.Node.Name)
	a.log.Warn(w)
	kept := *cfg
	kept.Node.Name = a.nodeName
	return &kept, []string{w}
}

func (a *Agent) start(ic *config.Instance) error {
	sock, err := a.socketFor(ic.Family, ic.Interface, ic.Multicast())
	if err != nil {
		return err
	}
	src := ic.UnicastSource
	if !src.IsValid() {
		// keepalived's default: the interface's primary address (for IPv6
		// the link-local one, as RFC 5798 §5.1.2.2 requires).
		var vips []netip.Addr
		for _, v := range ic.VIPs {
			vips = append(vips, v.Prefix.Addr())
		}
		// A /32 VIP outside the interface's subnets becomes a primary
		// address itself: never pick it.
		if src, err = transport.PrimaryAddr(ic.Interface, ic.Family, vips...); err != nil {
			a.release(sock)
			return err
		}
	}
	inst, err := newInstance(ic, src, sock.conn, election.Deps{
		Clock:     a.clock,
		Log:       a.log,
		Addrs:     a.addrs,
		Announcer: a.announcer,
		Drops:     &a.drops,
		Observer:  a.track,
		Timers:    a.timers,

		FastTakeover: a.cfg.FastTakeover,
	})
	if err != nil {
		a.release(sock)
		return err
	}
	init, held := a.track.begin(ic)
	inst.Prime(init.Priority, init.Fault, init.Reason, a.clock.Now())
	if held {
		inst.PrimeHold("maintenance", a.clock.Now())
	}
	if err := sock.demux.Register(ic.VRID, inst); err != nil {
		a.track.forget(ic.Name)
		a.release(sock)
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cfg: ic, inst: inst, sock: sock, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := inst.Run(ctx); err != nil {
			a.log.Error("instance failed", "instance", ic.Name, "err", err)
		}
	}()
	a.running[ic.Name] = r
	a.log.Info("instance started", "instance", ic.Name, "vrid", ic.VRID, "interface", ic.Interface,
		"version", ic.Version, "priority", ic.Priority, "source", src, "peers", peersString(ic))
	return nil
}

func peersString(ic *config.Instance) string {
	switch {
	case ic.Multicast():
		return "multicast"
	case ic.PeersFromGossip:
		return fmt.Sprintf("%v + gossip", ic.UnicastPeers)
	}
	return fmt.Sprint(ic.UnicastPeers)
}

func (a *Agent) stop(name string) {
	r := a.running[name]
	r.cancel()
	<-r.done
	r.sock.demux.Unregister(r.cfg.VRID, r.inst)
	a.release(r.sock)
	delete(a.running, name)
	a.track.forget(name)
}

// stopAll stops instances in parallel, so that every master's priority-0
// advert goes out at once rather than one after another.
func (a *Agent) stopAll() {
	var wg sync.WaitGroup
	for _, r := range a.running {
		r.cancel()
		wg.Add(1)
		go func() { defer wg.Done(); <-r.done }()
	}
	wg.Wait()
	for name := range a.running {
		a.stop(name)
	}
}

func (a *Agent) socketFor(fam inet.Family, iface string, multicast bool) (*socket, error) {
	k := socketKey{fam, iface}
	if s, ok := a.sockets[k]; ok {
		if multicast && !s.conn.Multicast() {
			if err := s.conn.JoinGroup(); err != nil {
				return nil, err
			}
		}
		s.users++
		return s, nil
	}
	conn, err := transport.Listen(transport.Config{Family: fam, Interface: iface, Multicast: multicast})
	if err != nil {
		return nil, err
	}
	s := &socket{conn: conn, demux: election.NewDemux(conn, a.log, &a.drops), done: make(chan struct{}), users: 1}
	go func() {
		defer close(s.done)
		if err := s.demux.Run(); err != nil {
			a.log.Error("socket read failed", "interface", iface, "err", err)
		}
	}()
	a.sockets[k] = s
	return s, nil
}

func (a *Agent) release(s *socket) {
	s.users--
	if s.users > 0 {
		return
	}
	s.conn.Close()
	<-s.done
	for k, v := range a.sockets {
		if v == s {
			delete(a.sockets, k)
		}
	}
}
