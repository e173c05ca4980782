package cloudmove

// A Set's lifecycle: building it (New resolves and looks once), the role
// changes (Master, Backup, PeerMaster's caller, Stop, Close) and what the
// agent reads (Status, Permissions, Faulted). The work each role starts is
// in converge.go, reconcile.go, release.go and refresh.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/vipd/vipd/internal/clock"
)

// Options are the run-time settings of a Set that do not come from the
// configuration. The zero value is ready for production use.
type Options struct {
	// Endpoint and Region, when set, override the section's (and, for the
	// region, instance metadata's).
	Endpoint, Region string
	// IMDSEndpoint is the instance metadata service; "" means the default.
	IMDSEndpoint string
	// Identity, when set, is used instead of asking instance metadata.
	Identity *Identity
	// Credentials, when set, replace the default chain (instance role
	// first, then environment and shared files).
	Credentials aws.CredentialsProvider
	// HTTPClient, when set, carries the EC2 calls.
	HTTPClient *http.Client
	// EC2, when set, is called instead of a client built from the above
	// (tests of the retry logic alone).
	EC2 EC2
	// InterfaceMAC returns a local interface's MAC address; nil means the
	// host's interfaces. In-process tests give each node its own.
	InterfaceMAC func(ifname string) (string, error)
	// Mounter mounts EBS volumes; nil means SystemMounter.
	Mounter Mounter
	// Clock drives backoffs, reconcile and refresh periods, the EBS force
	// timeout and the fault hold; nil means the wall clock. Per-call
	// timeouts are real time: they bound real I/O.
	Clock clock.Clock
	// Logger receives the actions' logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, is called when an action settles in a master
	// round, a reconcile changes something, or a release ends: owner is
	// "instance:NAME" or "sync_group:NAME", op the action's operation
	// (one of Operations, never a resource id), d the time since the
	// round began, err nil on success.
	Metrics func(owner, op string, d time.Duration, err error)
	// OnChange, when set, is called (without locks held; it must not
	// block) when an action's status or Faulted changes.
	OnChange func()
	// BackoffMin and BackoffMax bound the jittered retry waits; defaults
	// 200 ms and 5 s.
	BackoffMin, BackoffMax time.Duration
	// Seed seeds the jitter; 0 means random.
	Seed uint64
	// NoPermissionCheck skips the DryRun checks in New (the section's
	// skip_dry_run does the same).
	NoPermissionCheck bool
}

type role int

const (
	roleIdle role = iota
	roleMaster
	roleBackup
	roleStopped
)

// Set runs one owner's cloud actions: New resolves everything it can and
// checks permissions; Master moves the resources to this node, Backup and
// Stop give up what must be given up. All methods are safe for concurrent
// use.
type Set struct {
	owner Owner
	cl    *Config
	opts  Options
	e     *env
	rs    []*runner
	rnd   *rand.Rand
	rndMu sync.Mutex
	perms []PermissionCheck

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.Mutex
	role          role
	roundCancel   context.CancelFunc
	roundDone     chan struct{}
	releaseCancel context.CancelFunc
	releaseDone   chan struct{}
	settled       chan struct{}
	kick          chan struct{}
	refreshKick   chan struct{} // buffered: a refresh is due now
	following     bool          // a PeerMaster follow runs
	faultUntil    time.Time
	faultTimer    clock.Timer
}

// New builds the owner's actions, learns this node's identity from
// instance metadata, resolves ids, ENIs and route tables, checks the
// permissions of the mutating calls with DryRun, and starts the background
// refresh. Problems with single actions (an id not found, a permission
// missing) are logged and shown in Status rather than returned: the
// refresh and the first master round try again. The Set lives until ctx
// ends or Close.
func New(ctx context.Context, owner Owner, opts Options) (*Set, error) {
	s, err := build(ctx, owner, opts)
	if err != nil {
		return nil, err
	}
	s.prepare(ctx)
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go s.refresher()
	return s, nil
}

// build makes the Set without starting anything.
func build(ctx context.Context, owner Owner, opts Options) (*Set, error) {
	cl := owner.Cloud
	if cl == nil {
		return nil, fmt.Errorf("%s %s has no cloud section", owner.Kind, owner.Name)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Mounter == nil {
		opts.Mounter = SystemMounter{}
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = 200 * time.Millisecond
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = max(5*time.Second, opts.BackoffMin)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	callTimeout := orDefault(cl.CallTimeout, DefaultCallTimeout)
	budget := orDefault(cl.RetryBudget, DefaultRetryBudget)
	if cl.SkipDryRun {
		opts.NoPermissionCheck = true
	}
	e := &env{callTimeout: callTimeout, budget: budget, clock: opts.Clock, mac: opts.InterfaceMAC, mounter: opts.Mounter, owner: owner,
		log: opts.Logger.With("owner", owner.Kind+" "+owner.Name)}
	id := opts.Identity
	if id == nil {
		e.imds = newIMDS(opts.IMDSEndpoint)
		var err error
		if id, err = discoverIdentity(ctx, e.imds); err != nil {
			return nil, fmt.Errorf("cloud actions of %s %s: %w", owner.Kind, owner.Name, err)
		}
	}
	e.id.Store(id)
	if opts.EC2 != nil {
		e.ec2 = opts.EC2
	} else {
		region := firstNonEmpty(opts.Region, cl.Region, id.Region)
		endpoint := firstNonEmpty(opts.Endpoint, cl.Endpoint)
		c, err := newEC2(ctx, region, endpoint, opts.IMDSEndpoint, opts.Credentials, opts.HTTPClient)
		if err != nil {
			return nil, err
		}
		e.ec2 = c
	}
	s := &Set{owner: owner, cl: cl, opts: opts, e: e, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		kick: make(chan struct{}), refreshKick: make(chan struct{}, 1)}
	for _, ca := range cl.Actions {
		blocks := ca.blocks()
		if len(blocks) == 0 {
			return nil, fmt.Errorf("cloud action %q has no settings", ca.Kind)
		}
		a := blocks[0].newAction(owner)
		r := &runner{a: a, st: ActionStatus{Name: a.name(), Kind: a.kind(), State: StateIdle, Since: opts.Clock.Now()}}
		if v, ok := a.(*ebs); ok {
			v.progress = r.setDetail
		}
		s.rs = append(s.rs, r)
	}
	s.linkDeps()
	return s, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// linkDeps makes an Elastic IP that maps to an address a secondary_ip
// action of the same interface moves wait for that action: AWS refuses
// to associate with a private address the ENI does not have yet.
func (s *Set) linkDeps() {
	for _, r := range s.rs {
		eip, ok := r.a.(*elasticIP)
		if !ok || !eip.cfg.PrivateIP.IsValid() {
			continue
		}
		for _, o := range s.rs {
			sec, ok := o.a.(*secondaryIP)
			if ok && sec.cfg.ENI == eip.cfg.ENI && sec.ifname == eip.ifname && slices.Contains(sec.addrs, eip.cfg.PrivateIP) {
				r.deps = append(r.deps, o)
			}
		}
	}
}

// prepare resolves every action, takes a first look at each resource
// (so that the first master round can act without looking) and checks
// permissions, all in parallel.
func (s *Set) prepare(ctx context.Context) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, r := range s.rs {
		wg.Go(func() {
			err := r.a.resolve(ctx, s.e)
			if err == nil {
				_, detail, oerr := r.a.observe(ctx, s.e)
				r.mu.Lock()
				r.st.Detail = detail
				r.mu.Unlock()
				err = oerr
			}
			if err != nil {
				s.e.log.Error("cloud action not ready; retrying in the background", "action", r.a.name(), "err", describeError(err))
				r.setError(s.e.clock.Now(), err, fromLook)
			}
			for _, w := range r.a.warnings() {
				s.e.log.Warn("cloud action", "action", r.a.name(), "warning", w)
			}
			if s.opts.NoPermissionCheck || !r.a.resolved() {
				return
			}
			pcs := r.a.dryRun(ctx, s.e)
			mu.Lock()
			s.perms = append(s.perms, pcs...)
			mu.Unlock()
			for _, pc := range pcs {
				switch {
				case pc.Checked && !pc.Allowed:
					s.e.log.Error("missing IAM permission", "permission", pc.Permission, "action", pc.Action, "detail", pc.Note)
					r.setError(s.e.clock.Now(), fmt.Errorf("missing IAM permission %s (%s)", pc.Permission, pc.Note), fromRound)
				case !pc.Checked:
					s.e.log.Debug("permission not checked", "permission", pc.Permission, "action", pc.Action, "note", pc.Note)
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(s.perms, func(a, b PermissionCheck) int {
		return strings.Compare(a.Action+a.Permission, b.Action+b.Permission)
	})
}

// Permissions returns the outcome of New's DryRun checks.
func (s *Set) Permissions() []PermissionCheck { return slices.Clone(s.perms) }

// Status returns every action's status, in configuration order.
func (s *Set) Status() []ActionStatus {
	out := make([]ActionStatus, len(s.rs))
	for i, r := range s.rs {
		out[i] = r.status()
	}
	return out
}

// Faulted reports whether an action failed with on_failure: fault within
// the fault hold: the owner should be in FAULT so that another node takes
// over.
func (s *Set) Faulted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.faultUntil.IsZero() && s.e.clock.Now().Before(s.faultUntil)
}

func (s *Set) changed() {
	if s.opts.OnChange != nil {
		s.opts.OnChange()
	}
}

// Master starts moving every resource to this node, all actions at once.
// It returns at once; Wait waits for the outcome. While master, each
// action is re-checked every reconcile interval and re-asserted if moved
// away. Calling Master while master re-checks at once, like Reassert.
func (s *Set) Master() {
	s.mu.Lock()
	if s.ctx.Err() != nil || s.role == roleStopped {
		s.mu.Unlock()
		return
	}
	if s.role == roleMaster {
		s.mu.Unlock()
		s.Reassert()
		return
	}
	s.role = roleMaster
	if s.releaseCancel != nil {
		s.releaseCancel()
	}
	prevRound, prevRelease := s.roundDone, s.releaseDone
	ctx, cancel := context.WithCancel(s.ctx)
	done, settled := make(chan struct{}), make(chan struct{})
	s.roundCancel, s.roundDone, s.settled = cancel, done, settled
	start := s.e.clock.Now()
	for _, r := range s.rs {
		r.a.beginRound(start)
		r.mu.Lock()
		r.st.State, r.st.Since, r.st.Changed, r.st.Attempts, r.st.Took = StatePending, start, false, 0, 0
		r.verified = make(chan struct{})
		r.mu.Unlock()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		wait(ctx, prevRound)
		wait(ctx, prevRelease)
		s.masterRound(ctx, start, settled)
	}()
	s.mu.Unlock()
	s.e.log.Info("master: moving cloud resources here", "actions", len(s.rs))
	s.changed()
}

func wait(ctx context.Context, ch chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Reassert re-checks every action at once (while master), re-asserting
// what was moved away; the agent calls it on a re-assert event.
func (s *Set) Reassert() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.kick)
	s.kick = make(chan struct{})
}

func (s *Set) currentKick() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kick
}

// Backup stops acting and gives up what must be given up (an EBS volume
// is unmounted and detached). It returns at once; Wait waits for the
// release.
func (s *Set) Backup() { s.leave(roleBackup) }

// Stop gives up what must be given up, like Backup, waits for it (or
// ctx), then ends the Set's goroutines. The agent calls it on a graceful
// stop; a crash simply never calls it.
func (s *Set) Stop(ctx context.Context) error {
	s.leave(roleStopped)
	err := s.Wait(ctx)
	s.Close()
	return err
}

func (s *Set) leave(to role) {
	s.mu.Lock()
	// Already backup or stopped: a release runs or ran. Stopping then
	// only marks the role: the Stop that follows a MASTER→STOP transition
	// waits for the release that transition started instead of starting
	// a second one (which would unmount twice and detach twice). A Set
	// that was never master does release once (a restarted node may
	// still hold a volume: giving it up spares the new master the force
	// timeout).
	if s.ctx.Err() != nil || s.role == roleBackup || s.role == roleStopped {
		if to == roleStopped {
			s.role = roleStopped
		} else if s.role != roleStopped && s.ctx.Err() == nil {
			s.role = to
			s.refreshSoon()
		}
		s.mu.Unlock()
		return
	}
	s.role = to
	if s.roundCancel != nil {
		s.roundCancel()
	}
	prevRound := s.roundDone
	ctx, cancel := context.WithCancel(s.ctx)
	done, settled := make(chan struct{}), make(chan struct{})
	s.releaseCancel, s.releaseDone, s.settled = cancel, done, settled
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		defer close(settled)
		wait(ctx, prevRound)
		s.releaseAll(ctx)
		if to == roleBackup && ctx.Err() == nil {
			// A backup acts on its view at the next failover: look now,
			// not at the next refresh_interval.
			s.refresh(ctx)
		}
	}()
	s.mu.Unlock()
	s.changed()
}

// Close ends the Set's goroutines without giving anything up (what a
// crash does) and waits for them.
func (s *Set) Close() {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	if s.faultTimer != nil {
		s.faultTimer.Stop()
	}
	s.mu.Unlock()
}

// Wait waits until the current phase has settled: after Master, every
// action verified or failed; after Backup or Stop, every release done.
// It returns an error listing the failed actions, or ctx's error.
func (s *Set) Wait(ctx context.Context) error {
	s.mu.Lock()
	ch := s.settled
	s.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	var bad []string
	for _, st := range s.Status() {
		if st.State == StateFailed {
			bad = append(bad, st.Name+": "+st.Error)
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
