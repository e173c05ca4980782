package gossip

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/priority"
)

// Options are the parts of a Cluster that do not come from the config.
type Options struct {
	// Log receives vipd's and memberlist's messages; nil means
	// slog.Default().
	Log *slog.Logger
	// Meta is what this node advertises. Name defaults to the node name,
	// AZ to config.Gossip.AZ.
	Meta NodeMeta
	// OnChange, if set, is told about every change. It is called from
	// memberlist's goroutines (sometimes with memberlist's node lock held),
	// so it must not block and must not call Leave; it may call the other
	// methods of Cluster.
	OnChange func(Event)
	// OnCommand, if set, receives the commands other nodes send this one
	// (Send). Like OnChange it must not block.
	OnCommand func(Command)
	// Clock paces the rejoin loop and dates departures (how long a failed
	// member is still tried and kept as a peer); nil means the real clock.
	Clock clock.Clock
}

// minStateRetransmitMult is the least retransmit multiplier of vipd's own
// broadcasts (state and order deltas), whatever the profile says: under
// load, 4 still lost about one delta in a hundred in a 5-node cluster.
const minStateRetransmitMult = 8

// leftRetention is how long Members keeps showing a member that left on
// purpose before forgetting it. A failed member stays until the reconnect
// timeout reaps it.
const leftRetention = time.Hour

// Join backoff defaults: the first retry after about a second, then
// doubling up to half a minute.
const (
	joinBackoffMin = time.Second
	joinBackoffMax = 30 * time.Second
)

// Cluster is this node's membership in a gossip cluster. Create it with
// New, register nothing more, then Start; Leave ends it. Its methods are
// safe for concurrent use.
type Cluster struct {
	name      string
	log       *slog.Logger
	onChange  func(Event)
	onCommand func(Command)
	queries   queries // query.go
	mc        *memberlist.Config
	meta      []byte
	keyring   *memberlist.Keyring
	keyMu     sync.Mutex
	joins     []joinTarget
	stateFile string
	stats     counters
	clk       clock.Clock

	// Rejoining (reconnect.go): how often, and for how long after a
	// member failed; the members the state file remembered.
	reconnectInterval time.Duration
	reconnectTimeout  time.Duration
	remembered        []savedMember
	startedAt         time.Time
	// joined is set once another member has been alive in this node's
	// view since it started: require_join's condition.
	joined atomic.Bool

	queue        *memberlist.TransmitLimitedQueue
	maxBroadcast int
	numAlive     atomic.Int64

	// mu guards the cluster view.
	mu       sync.Mutex
	members  map[string]Member
	states   map[string]NodeState // other nodes' states
	departed map[string]departed  // states of members that died or left, for Peers
	local    NodeState
	localSet bool
	orders   map[string]priority.Order
	clock    uint64               // Lamport clock of orders: the highest version seen
	leaving  map[string]time.Time // peers that announced their departure

	// Large deltas waiting for sendLoop, latest per name.
	sendMu   sync.Mutex
	large    map[string][]byte
	welcome  map[string]bool // members that joined since the last send: hello
	replyTo  map[string]bool // members that said hello: our state
	sendWake chan struct{}

	persistMu   sync.Mutex
	dirty       atomic.Bool
	persistWake chan struct{}

	// Join backoff bounds (tests shorten them).
	joinMin, joinMax time.Duration

	// lifeMu guards the lifecycle below.
	lifeMu  sync.Mutex
	ml      *memberlist.Memberlist
	started bool
	down    bool // memberlist shut down
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// counters back Stats.
type counters struct {
	decodeErrors    atomic.Uint64
	rejectedKey     atomic.Uint64
	rejectedCluster atomic.Uint64
	joinFailures    atomic.Uint64

	rejectedCommands atomic.Uint64
}

// Stats are counters for monitoring.
type Stats struct {
	// DecodeErrors counts vipd messages and node metas that did not decode.
	DecodeErrors uint64
	// RejectedKey counts packets and streams memberlist refused because
	// they were encrypted with another key (or not encrypted, or
	// encrypted when this node is not).
	RejectedKey uint64
	// RejectedCluster counts packets and streams refused because they
	// carried another cluster name.
	RejectedCluster uint64
	// JoinFailures counts join attempts in which no peer could be joined.
	JoinFailures uint64
	// RejectedCommands counts commands dropped: for another node, or
	// received in an unencrypted cluster.
	RejectedCommands uint64
}

// New prepares this node's membership: it builds memberlist's config from
// cfg's profile (lan, wan or local) and timing overrides, labels every
// packet with the cluster name, loads the keys (the first encrypts), checks
// the node meta fits and reads the saved orders. Nothing is sent or bound
// until Start.
func New(cfg *config.Gossip, nodeName string, opts Options) (*Cluster, error) {
	if cfg == nil {
		return nil, &ConfigError{Field: "gossip", Err: fmt.Errorf("no gossip section")}
	}
	l := opts.Log
	if l == nil {
		l = slog.Default()
	}
	mc, err := memberlistConfig(cfg, nodeName)
	if err != nil {
		return nil, err
	}

	meta := opts.Meta
	if meta.Name == "" {
		meta.Name = nodeName
	}
	if meta.AZ == "" {
		meta.AZ = cfg.AZ
	}
	metaBytes, err := encodeMeta(meta)
	if err != nil {
		return nil, err
	}

	keys, err := LoadKeys(cfg)
	if err != nil {
		return nil, err
	}
	kr, err := newKeyring(keys)
	if err != nil {
		return nil, err
	}
	if kr == nil {
		l.Warn("gossip: no encryption keys configured: gossip traffic is neither encrypted nor authenticated", "cluster", cfg.ClusterName)
	}

	joins := make([]joinTarget, 0, len(cfg.Join))
	for _, s := range cfg.Join {
		t, err := parseJoinTarget(s)
		if err != nil {
			return nil, &ConfigError{Field: "join", Err: err}
		}
		joins = append(joins, t)
	}

	stateFile := cfg.StateFile
	if stateFile == "" {
		stateFile = config.DefaultGossipStateFile
	}
	saved, err := readStateFile(stateFile)
	if err != nil {
		return nil, err
	}
	orders := saved.orders
	var lamport uint64
	for _, e := range orders {
		lamport = max(lamport, e.Version)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real()
	}
	var remembered []savedMember
	for _, m := range saved.members {
		if m.Name != nodeName {
			remembered = append(remembered, m)
		}
	}

	c := &Cluster{
		name:        nodeName,
		log:         l,
		onChange:    opts.OnChange,
		onCommand:   opts.OnCommand,
		mc:          mc,
		meta:        metaBytes,
		keyring:     kr,
		joins:       joins,
		stateFile:   stateFile,
		members:     make(map[string]Member),
		states:      make(map[string]NodeState),
		departed:    make(map[string]departed),
		local:       NodeState{Node: nodeName},
		orders:      orders,
		clock:       lamport,
		leaving:     make(map[string]time.Time),
		large:       make(map[string][]byte),
		welcome:     make(map[string]bool),
		replyTo:     make(map[string]bool),
		sendWake:    make(chan struct{}, 1),
		persistWake: make(chan struct{}, 1),
		joinMin:     joinBackoffMin,
		joinMax:     joinBackoffMax,
		clk:         clk,

		reconnectInterval: cmp.Or(cfg.ReconnectInterval, config.DefaultGossipReconnectInterval),
		reconnectTimeout:  cmp.Or(cfg.ReconnectTimeout, config.DefaultGossipReconnectTimeout),
		remembered:        remembered,
	}
	c.queue = &memberlist.TransmitLimitedQueue{
		NumNodes: func() int { return max(1, int(c.numAlive.Load())) },
		// vipd's deltas (states, orders) are few and matter: with the
		// local profile's 2 a delta often missed a member until the next
		// push/pull, tens of seconds later.
		RetransmitMult: max(mc.RetransmitMult, minStateRetransmitMult),
	}
	c.maxBroadcast = broadcastLimit(mc)
	mc.Keyring = kr
	mc.Delegate = &delegate{c: c}
	mc.Events = &events{c: c}
	mc.Logger, _ = newMemberlistLogger(l, &c.stats)
	return c, nil
}

// Start binds the gossip ports and starts memberlist, then joins the
// configured members, and those the state file remembers, in the
// background: every address is tried (DNS names resolved again each time)
// until one answers, with jittered exponential backoff between rounds,
// each failure logged. After that it keeps trying failed members and join
// addresses that are not live members (see rejoinLoop). The background work, and
// memberlist, stop when ctx ends (without a leave message: call Leave for
// a graceful exit) or on Leave.
func (c *Cluster) Start(ctx context.Context) error {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	switch {
	case c.down:
		return ErrStopped
	case c.started:
		return ErrAlreadyStarted
	}
	ml, err := memberlist.Create(c.mc)
	if err != nil {
		return fmt.Errorf("gossip: start: %w", err)
	}
	c.ml = ml
	c.started = true
	c.startedAt = c.clk.Now()
	run, cancel := context.WithCancel(ctx)
	c.cancel = cancel

	c.wg.Go(func() { c.sendLoop(run, ml) })
	c.wg.Go(func() { c.persistLoop(run.Done()) })
	c.wg.Go(func() { c.rejoinLoop(run, ml) })
	c.wg.Go(func() { c.queryLoop(run, ml) })
	c.wg.Go(func() {
		<-run.Done()
		c.lifeMu.Lock()
		defer c.lifeMu.Unlock()
		if !c.down {
			c.down = true
			c.log.Warn("gossip: stopping without a leave message (context ended); peers will detect the failure")
			_ = ml.Shutdown()
		}
	})
	c.log.Info("gossip: started", "node", c.name, "cluster", c.mc.Label,
		"addr", c.LocalAddr(), "encrypted", c.keyring != nil, "probe_interval", c.mc.ProbeInterval)
	return nil
}

// Leave tells the cluster this node is leaving (waiting at most timeout
// for the message to go out), shuts memberlist down and stops every
// goroutine of the Cluster, saving unsaved orders. Calling it again, or
// after the context given to Start ended, only waits for the goroutines.
func (c *Cluster) Leave(timeout time.Duration) error {
	c.lifeMu.Lock()
	if !c.started {
		c.down = true
		c.lifeMu.Unlock()
		return nil
	}
	var err error
	if !c.down {
		c.down = true
		c.announceLeave()
		if lerr := c.ml.Leave(timeout); lerr != nil {
			err = fmt.Errorf("gossip: leave: %w", lerr)
		}
		if serr := c.ml.Shutdown(); serr != nil && err == nil {
			err = fmt.Errorf("gossip: shutdown: %w", serr)
		}
		c.log.Info("gossip: left the cluster", "node", c.name)
	}
	cancel := c.cancel
	c.lifeMu.Unlock()
	cancel()
	c.wg.Wait()
	return err
}

// announceLeave tells every alive member, by one UDP message each, that
// this node is leaving on purpose (see handleLeaving). memberlist's dead
// message follows; if the announcement is lost the node shows as dead.
func (c *Cluster) announceLeave() {
	msg := encodeLeave(c.name)
	for _, m := range c.aliveOthers() {
		to := &memberlist.Node{Name: m.Name, Addr: net.IP(m.Addr.Addr().AsSlice()), Port: m.Addr.Port()}
		if err := c.ml.SendBestEffort(to, msg); err != nil {
			c.log.Debug("gossip: cannot announce leave", "peer", m.Name, "err", err)
		}
	}
}

// Members returns every member this node knows, itself included, sorted
// by name; a member that left stays listed for an hour, a failed one until
// the reconnect timeout gives up on it.
func (c *Cluster) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reapLocked(c.clk.Now())
	out := make([]Member, 0, len(c.members))
	for _, m := range c.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// aliveOthers returns the alive members other than this node.
func (c *Cluster) aliveOthers() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Member
	for _, m := range c.members {
		if m.Name != c.name && m.Status == StatusAlive {
			out = append(out, m)
		}
	}
	return out
}

// LocalAddr is the address peers reach this node's gossip at (valid once
// started).
func (c *Cluster) LocalAddr() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[c.name].Addr
}

// Name is this node's name in the cluster.
func (c *Cluster) Name() string { return c.name }

// Joined reports whether another member has been alive in this node's
// view at some point since it started: the node found its cluster (it
// joined one, or one joined it). It stays true when the others fail
// later.
func (c *Cluster) Joined() bool { return c.joined.Load() }

// DetectionTime bounds, for the profile's timings and the current number
// of members, how long after a member fails every node has declared it
// dead and dropped its state:
//
//	2 × probe interval                                   (probed, probe fails)
//	+ suspicion mult × max(1, log10 n) × probe interval   (suspicion timeout)
//	  × suspicion max-timeout mult (6) once n ≥ suspicion mult
//	    (memberlist's ceiling when peers' confirmations are missing)
//	+ retransmit mult × ceil(log10(n+1)) × gossip interval (dead message spreads)
//
// With the lan profile and 3 nodes: 2 s + 4 s + 0.8 s = 6.8 s (4 nodes or
// more: up to 2 s + 24 s + 0.8 s; confirmations normally cut that to a few
// seconds). A graceful Leave is seen within the last term.
func (c *Cluster) DetectionTime() time.Duration {
	return detectionTime(c.mc, int(c.numAlive.Load()))
}

// Stats returns the counters.
func (c *Cluster) Stats() Stats {
	return Stats{
		DecodeErrors:    c.stats.decodeErrors.Load(),
		RejectedKey:     c.stats.rejectedKey.Load(),
		RejectedCluster: c.stats.rejectedCluster.Load(),
		JoinFailures:    c.stats.joinFailures.Load(),

		RejectedCommands: c.stats.rejectedCommands.Load(),
	}
}

// emit calls OnChange; never with c.mu held, so OnChange may read the
// view.
func (c *Cluster) emit(ev Event) {
	if c.onChange != nil {
		c.onChange(ev)
	}
}

// Ping sends one direct UDP ping, over the gossip port, to the named
// member and waits for its ack up to the probe timeout. It tells the
// split-brain guard whether a member whose published state it is about
// to act on is alive now, which memberlist's own failure detection only
// establishes seconds later.
func (c *Cluster) Ping(name string) (time.Duration, error) {
	c.lifeMu.Lock()
	ml, up := c.ml, c.started && !c.down
	c.lifeMu.Unlock()
	if !up {
		return 0, ErrStopped
	}
	c.mu.Lock()
	m, ok := c.members[name]
	c.mu.Unlock()
	if !ok || m.Status != StatusAlive {
		return 0, fmt.Errorf("gossip: ping %s: not an alive member", name)
	}
	return ml.Ping(name, net.UDPAddrFromAddrPort(m.Addr))
}

// HealthScore is memberlist's awareness score of this node: 0 is healthy,
// higher means it answers probes slowly (overloaded, losing packets).
func (c *Cluster) HealthScore() int {
	c.lifeMu.Lock()
	ml, up := c.ml, c.started && !c.down
	c.lifeMu.Unlock()
	if !up {
		return 0
	}
	return ml.GetHealthScore()
}
