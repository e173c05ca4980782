package cloudmove

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
	"github.com/vipd/vipd/config"
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

// Action states, as ActionStatus.State reports them.
const (
	StateIdle      = "idle"      // not master, nothing to do
	StatePending   = "pending"   // master, working on it
	StateDone      = "done"      // master, verified
	StateFailed    = "failed"    // master, failed (and retrying unless the error is permanent)
	StateReleasing = "releasing" // leaving master: giving the resource up
	StateReleased  = "released"  // given up (or nothing to give up)
)

// ActionStatus is the outcome of one action, for the API, logs and tests.
type ActionStatus struct {
	// Name identifies the action ("route 203.0.113.10/32 in rtb-...").
	Name string
	// Kind is the action's kind.
	Kind config.CloudActionKind
	// State is one of the State* constants.
	State string
	// Detail is what the cloud looked like at the last look.
	Detail string
	// Error is the action's last error. It is kept through a release
	// and a fault hold, until a later success: a verified master round;
	// for an error of a release, a release that succeeds; for a failed
	// look (start-up, refresh), the next good look.
	Error string
	// ErrorAt is when Error was last set; zero when Error is "".
	ErrorAt time.Time
	// Warnings are problems that do not stop the action (a source/dest
	// check left on).
	Warnings []string
	// Changed says the current round made a mutating call that succeeded.
	Changed bool
	// Attempts counts the mutating attempts of the current round.
	Attempts int
	// Took is the time from becoming master to verified (or failed).
	Took time.Duration
	// Since is when State last changed.
	Since time.Time
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
	owner config.CloudOwner
	cl    *config.Cloud
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

// runner holds one action and its status.
type runner struct {
	a    action
	deps []*runner

	mu       sync.Mutex
	st       ActionStatus
	errFrom  errSource     // what st.Error came from
	verified chan struct{} // closed when verified in the current round
}

func (r *runner) status() ActionStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Warnings = r.a.warnings()
	return st
}

// New builds the owner's actions, learns this node's identity from
// instance metadata, resolves ids, ENIs and route tables, checks the
// permissions of the mutating calls with DryRun, and starts the background
// refresh. Problems with single actions (an id not found, a permission
// missing) are logged and shown in Status rather than returned: the
// refresh and the first master round try again. The Set lives until ctx
// ends or Close.
func New(ctx context.Context, owner config.CloudOwner, opts Options) (*Set, error) {
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
func build(ctx context.Context, owner config.CloudOwner, opts Options) (*Set, error) {
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
	callTimeout := cl.CallTimeout
	if callTimeout <= 0 {
		callTimeout = config.DefaultCloudCallTimeout
	}
	budget := cl.RetryBudget
	if budget <= 0 {
		budget = config.DefaultCloudRetryBudget
	}
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
		var a action
		switch {
		case ca.SecondaryIP != nil:
			a = newSecondaryIP(ca.SecondaryIP, owner)
		case ca.ElasticIP != nil:
			a = newElasticIP(ca.ElasticIP, owner)
		case ca.Route != nil:
			a = newRoute(ca.Route, owner)
		case ca.EBS != nil:
			a = newEBS(ca.EBS)
		default:
			return nil, fmt.Errorf("cloud action %q has no settings", ca.Kind)
		}
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

// errSource says what an action's last error came from, and so which
// success clears it.
type errSource int

const (
	// fromRound: a master round or reconcile (or a permission DryRun
	// denied): only a verified round clears it.
	fromRound errSource = iota
	// fromRelease: giving the resource up; a release that succeeds (or
	// a verified round) clears it.
	fromRelease
	// fromLook: resolving or looking at the resource (start-up, refresh);
	// a later successful look (or a verified round) clears it.
	fromLook
)

// setError records err as the action's last error (a wait for the
// resource is progress, not an error: it goes to Detail instead).
func (r *runner) setError(now time.Time, err error, from errSource) {
	var we *waitError
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.As(err, &we) {
		r.st.Detail = we.msg
		return
	}
	if from == fromLook && r.st.Error != "" && r.errFrom != fromLook {
		// A failed round or release stays the error to answer: a good
		// look later must not clear it.
		return
	}
	r.st.Error, r.st.ErrorAt, r.errFrom = describeError(err), now, from
}

// clearError forgets the last error after a success of kind from: a
// verified round clears any error, a release or a look only its own kind.
// Called with r.mu held.
func (r *runner) clearError(from errSource) {
	if r.st.Error != "" && (from == fromRound || r.errFrom == from) {
		r.st.Error, r.st.ErrorAt, r.errFrom = "", time.Time{}, fromRound
	}
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

// masterRound runs each action to verified, then re-checks it every
// reconcile interval or on Reassert, until the round ends.
func (s *Set) masterRound(ctx context.Context, start time.Time, settled chan struct{}) {
	var left sync.WaitGroup
	left.Add(len(s.rs))
	var wg sync.WaitGroup
	for _, r := range s.rs {
		wg.Go(func() {
			var once sync.Once
			settle := func() { once.Do(left.Done) }
			defer settle()
			// Taken before converging: a Reassert meanwhile closes it, so
			// the re-check it asks for is not lost.
			kick := s.currentKick()
			if s.converge(ctx, r, start, false, settle) != nil && ctx.Err() != nil {
				return
			}
			settle()
			s.reconcileLoop(ctx, r, kick)
		})
	}
	go func() {
		left.Wait()
		close(settled)
	}()
	wg.Wait()
}

func (s *Set) reconcileLoop(ctx context.Context, r *runner, kick chan struct{}) {
	every := s.cl.ReconcileInterval
	if every <= 0 {
		every = config.DefaultCloudReconcileInterval
	}
	t := s.e.clock.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-kick:
		}
		kick = s.currentKick() // before converging, as in masterRound
		start := s.e.clock.Now()
		if err := s.converge(ctx, r, start, true, func() {}); err != nil && ctx.Err() != nil {
			return
		}
		if !t.Stop() {
			select {
			case <-t.C():
			default:
			}
		}
		t.Reset(every)
	}
}

func (s *Set) jitter(b *backoff) time.Duration {
	s.rndMu.Lock()
	defer s.rndMu.Unlock()
	return b.next()
}

// sleep waits d on the Set's clock, or until ctx ends.
func (s *Set) sleep(ctx context.Context, d time.Duration) bool {
	t := s.e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// converge brings one action to "points at this node": look (unless the
// last look, from the background refresh, already says it does not),
// act, look again to verify. Retryable errors are retried with jittered
// backoff until the round ends; after the retry budget the action is
// reported failed (and on_failure applies) but keeps trying. An error
// that cannot succeed is reported at once and ends this attempt (the
// reconcile loop tries again later). After an ambiguous failure of a
// mutating call it looks before it acts again, so that nothing is
// applied twice. settle is called once the action is verified or failed.
func (s *Set) converge(ctx context.Context, r *runner, start time.Time, reconcile bool, settle func()) error {
	e := s.e
	b := newBackoff(s.opts.BackoffMin, s.opts.BackoffMax, s.rnd)
	budget := s.cl.RetryBudget
	if budget <= 0 {
		budget = config.DefaultCloudRetryBudget
	}
	deadline := start.Add(budget)
	reported := false
	look := reconcile || r.a.cached() != notOurs || !r.a.resolved() || r.a.lookFirst()
	changed := false
	// unseen counts the looks since the last successful mutating call
	// that did not show its effect yet (EC2 is eventually consistent): a
	// few are waited out before acting again.
	unseen := -1
	var detail string

	// fail handles an error: false ends the attempt.
	fail := func(err error, what string) bool {
		if ctx.Err() != nil {
			return false
		}
		msg := describeError(err)
		if classify(err) == classPermanent {
			e.log.Error("cloud action failed", "action", r.a.name(), "during", what, "err", msg)
			s.markFailed(r, err, start)
			settle()
			return false
		}
		if !reported && !e.clock.Now().Before(deadline) {
			reported = true
			e.log.Error("cloud action still failing after its retry budget; retrying", "action", r.a.name(),
				"budget", budget, "err", msg)
			s.markFailed(r, err, start)
			settle()
		} else {
			e.log.Debug("cloud action retrying", "action", r.a.name(), "during", what, "err", msg)
			r.setError(e.clock.Now(), err, fromRound)
		}
		return s.sleep(ctx, s.jitter(b))
	}

	for ctx.Err() == nil {
		if !r.a.resolved() {
			if err := r.a.resolve(ctx, e); err != nil {
				if !fail(err, "resolve") {
					return err
				}
				continue
			}
		}
		if look {
			obs, d, err := r.a.observe(ctx, e)
			if err != nil {
				if !fail(err, "check") {
					return err
				}
				continue
			}
			detail = d
			switch obs {
			case ours:
				s.markDone(r, start, changed, detail, reconcile)
				settle()
				return nil
			case pending:
				r.setDetail(detail)
				if !fail(waitf("%s", detail), "wait") {
					return ctx.Err()
				}
				continue
			}
			if unseen >= 0 && unseen < maxUnseen {
				unseen++
				if !fail(waitf("applied, not visible yet: %s", detail), "verify") {
					return ctx.Err()
				}
				continue
			}
			if reconcile && !changed {
				e.log.Warn("cloud resource moved away while master: re-asserting", "action", r.a.name(), "state", detail)
			}
		}
		if !s.waitDeps(ctx, r, deadline) {
			return ctx.Err()
		}
		r.mu.Lock()
		r.st.Attempts++
		r.mu.Unlock()
		change := r.a.change()
		err := r.a.apply(ctx, e)
		look, unseen = true, -1
		if err != nil {
			if !fail(err, "act") {
				return err
			}
			continue
		}
		unseen = 0
		if change != "" {
			changed = true
			e.log.Info("cloud action applied", "action", r.a.name(), "change", change)
		}
	}
	return ctx.Err()
}

// maxUnseen is how many looks after a successful mutating call may miss
// its effect before the call is made again.
const maxUnseen = 3

// waitDeps waits for the actions r depends on to be verified in this
// round.
func (s *Set) waitDeps(ctx context.Context, r *runner, deadline time.Time) bool {
	for _, d := range r.deps {
		d.mu.Lock()
		ch := d.verified
		d.mu.Unlock()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (r *runner) setDetail(d string) {
	r.mu.Lock()
	r.st.Detail = d
	r.mu.Unlock()
}

func (s *Set) markDone(r *runner, start time.Time, changed bool, detail string, reconcile bool) {
	now := s.e.clock.Now()
	r.mu.Lock()
	was := r.st.State
	r.st.State, r.st.Detail = StateDone, detail
	r.clearError(fromRound)
	if changed {
		r.st.Changed = true
	}
	if !reconcile || changed {
		r.st.Took = now.Sub(start)
	}
	if was != StateDone {
		r.st.Since = now
	}
	if r.verified != nil {
		select {
		case <-r.verified:
		default:
			close(r.verified)
		}
	}
	r.mu.Unlock()
	if !reconcile || changed {
		if !reconcile {
			s.e.log.Info("cloud action verified", "action", r.a.name(), "took", now.Sub(start), "changed", changed)
		}
		s.observe(r, false, now.Sub(start), nil)
	}
	s.clearFault()
	if was != StateDone {
		s.changed()
	}
}

func (s *Set) markFailed(r *runner, err error, start time.Time) {
	now := s.e.clock.Now()
	r.mu.Lock()
	r.st.State, r.st.Since, r.st.Took = StateFailed, now, now.Sub(start)
	r.st.Error, r.st.ErrorAt, r.errFrom = describeError(err), now, fromRound
	r.mu.Unlock()
	s.observe(r, false, now.Sub(start), err)
	if s.cl.OnFailure == config.CloudFault {
		s.mu.Lock()
		hold := s.cl.FaultHold
		s.faultUntil = now.Add(hold)
		if s.faultTimer != nil {
			s.faultTimer.Stop()
		}
		t := s.e.clock.NewTimer(hold)
		s.faultTimer = t
		s.mu.Unlock()
		s.e.log.Error("cloud action failed: FAULT", "action", r.a.name(), "hold", hold)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-t.C():
				s.changed()
			case <-s.ctx.Done():
			}
		}()
	}
	s.changed()
}

// observe reports a settled action to Options.Metrics, labelled with its
// owner and operation (never its name, which carries resource ids).
func (s *Set) observe(r *runner, release bool, d time.Duration, err error) {
	if s.opts.Metrics == nil {
		return
	}
	op := Operation(r.a.kind(), release)
	if op == "" {
		// Only volumes are given up; other releases do nothing to time.
		return
	}
	s.opts.Metrics(s.owner.Kind+":"+s.owner.Name, op, d, err)
}

// clearFault ends a fault once no action of the round is failed.
func (s *Set) clearFault() {
	for _, r := range s.rs {
		r.mu.Lock()
		failed := r.st.State == StateFailed
		r.mu.Unlock()
		if failed {
			return
		}
	}
	s.mu.Lock()
	was := !s.faultUntil.IsZero()
	s.faultUntil = time.Time{}
	s.mu.Unlock()
	if was {
		s.changed()
	}
}

// releaseAll gives up every action's resource, in parallel, each with its
// retry budget.
func (s *Set) releaseAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range s.rs {
		wg.Go(func() { s.releaseOne(ctx, r) })
	}
	wg.Wait()
}

func (s *Set) releaseOne(ctx context.Context, r *runner) {
	e := s.e
	start := e.clock.Now()
	r.mu.Lock()
	r.st.State, r.st.Since = StateReleasing, start
	r.mu.Unlock()
	b := newBackoff(s.opts.BackoffMin, s.opts.BackoffMax, s.rnd)
	deadline := start.Add(e.budget)
	for ctx.Err() == nil {
		err := r.a.release(ctx, e)
		if err == nil {
			now := e.clock.Now()
			r.mu.Lock()
			r.st.State, r.st.Since = StateReleased, now
			r.clearError(fromRelease)
			r.mu.Unlock()
			s.observe(r, true, now.Sub(start), nil)
			s.changed()
			return
		}
		if ctx.Err() != nil {
			return // superseded (master again) or closed: not an error of the action
		}
		var we *waitError
		if !errors.As(err, &we) {
			e.log.Warn("cloud release retrying", "action", r.a.name(), "err", describeError(err))
		}
		if classify(err) == classPermanent || !e.clock.Now().Before(deadline) {
			e.log.Error("cloud release failed", "action", r.a.name(), "err", describeError(err))
			now := e.clock.Now()
			r.mu.Lock()
			r.st.State, r.st.Since = StateFailed, now
			r.st.Error, r.st.ErrorAt, r.errFrom = describeError(err), now, fromRelease
			r.mu.Unlock()
			s.observe(r, true, now.Sub(start), err)
			s.changed()
			return
		}
		r.setError(e.clock.Now(), err, fromRelease)
		if !s.sleep(ctx, s.jitter(b)) {
			return
		}
	}
}

// refresher re-resolves ids and re-reads the resources' state in the
// background every refresh interval, so that a failover needs nothing but
// the mutating calls.
func (s *Set) refresher() {
	defer s.wg.Done()
	every := s.cl.RefreshInterval
	if every <= 0 {
		every = config.DefaultCloudRefreshInterval
	}
	t := s.e.clock.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C():
		case <-s.refreshKick:
			if !t.Stop() {
				select {
				case <-t.C():
				default:
				}
			}
		}
		s.refresh(s.ctx)
		t.Reset(every)
	}
}

// followPoll is how soon a backup looks again while following another
// node's master round (PeerMaster); the wait doubles after each look, up
// to followPollMax, so that a master that never gets there (a permission
// it lacks) does not cost a describe storm.
const (
	followPoll    = 500 * time.Millisecond
	followPollMax = 8 * time.Second
)

// PeerMaster tells a backup that another node became master of this
// owner (the agent calls it when gossip says so): the backup refreshes its
// view now, and keeps looking (500 ms later, then less and less often,
// within the retry budget) until that master's resources are in place, so
// that the next failover
// acts on what the master made (ReplaceRoute) rather than on the view
// from before it (CreateRoute, refused). A master ignores it.
func (s *Set) PeerMaster() {
	s.mu.Lock()
	if s.ctx.Err() != nil || s.role == roleMaster || s.role == roleStopped || s.following {
		s.mu.Unlock()
		return
	}
	s.following = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.following = false
			s.mu.Unlock()
		}()
		deadline := s.e.clock.Now().Add(s.e.budget)
		wait := followPoll
		for {
			s.mu.Lock()
			master := s.role == roleMaster
			s.mu.Unlock()
			if master {
				return
			}
			s.refresh(s.ctx)
			if s.settledElsewhere() || !s.e.clock.Now().Before(deadline) {
				return
			}
			if !s.sleep(s.ctx, wait) {
				return
			}
			wait = min(2*wait, followPollMax)
		}
	}()
}

// settledElsewhere reports whether every action whose view can go stale
// saw its resource in place at the last look.
func (s *Set) settledElsewhere() bool {
	for _, r := range s.rs {
		if f, ok := r.a.(follower); ok && !f.settledElsewhere() {
			return false
		}
	}
	return true
}

// refreshSoon asks the refresher for a refresh now (at most one queued).
func (s *Set) refreshSoon() {
	select {
	case s.refreshKick <- struct{}{}:
	default:
	}
}

func (s *Set) refresh(ctx context.Context) {
	if s.e.imds != nil {
		if id, err := discoverIdentity(ctx, s.e.imds); err == nil {
			s.e.id.Store(id)
		} else {
			s.e.log.Warn("instance metadata refresh failed; keeping the last identity", "err", err)
		}
	}
	s.mu.Lock()
	master := s.role == roleMaster
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range s.rs {
		wg.Go(func() {
			err := r.a.resolve(ctx, s.e)
			if err == nil && !master {
				// While master the reconcile loop looks; otherwise keep
				// the cache fresh for the next failover.
				_, d, oerr := r.a.observe(ctx, s.e)
				if oerr == nil {
					r.mu.Lock()
					r.st.Detail = d
					r.clearError(fromLook)
					r.mu.Unlock()
				}
				err = oerr
			}
			if err != nil && ctx.Err() == nil {
				s.e.log.Warn("cloud refresh failed", "action", r.a.name(), "err", describeError(err))
				if !master {
					r.setError(s.e.clock.Now(), err, fromLook)
				}
			}
		})
	}
	wg.Wait()
}
