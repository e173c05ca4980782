package cloudmove

import (
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/vipd/vipd/internal/clock"
)

// observation is what a describe call found.
type observation int

const (
	// unknown: no look has succeeded yet (the start-up look failed or
	// timed out): a master round looks before it acts, since acting on
	// no view could move what this node already holds.
	unknown observation = iota
	// notOurs: the resource points elsewhere (or nowhere): act.
	notOurs
	// pending: it is on its way to us (a volume attaching): wait.
	pending
	// ours: the resource points at this node: nothing to do.
	ours
)

func (o observation) String() string {
	switch o {
	case ours:
		return "ours"
	case pending:
		return "pending"
	case unknown:
		return "unknown"
	}
	return "not ours"
}

// env is what actions share: the API, this node's identity, settings.
type env struct {
	ec2         EC2
	id          atomic.Pointer[Identity]
	imds        *imds.Client // nil when the identity was given
	callTimeout time.Duration
	budget      time.Duration // retry budget: bounds a release's wait
	clock       clock.Clock
	log         *slog.Logger
	mac         func(string) (string, error)
	mounter     Mounter
	owner       Owner
}

func (e *env) identity() *Identity { return e.id.Load() }

// eniOf returns the ENI an action targets: the configured one, else the
// one behind the interface (the owner's when none is named).
func (e *env) eniOf(eni, ifname string) (NetInterface, error) {
	id := e.identity()
	if eni != "" {
		if ni, ok := id.ByENI(eni); ok {
			return ni, nil
		}
		return NetInterface{ENI: eni}, nil
	}
	if ifname == "" {
		ifname = e.owner.Interface
	}
	return id.ENIFor(ifname, e.mac)
}

// call runs one API call with the per-call timeout.
func call[T any](ctx context.Context, e *env, fn func(ctx context.Context) (T, error)) (T, error) {
	return callWith(ctx, e.callTimeout, fn)
}

// action is one configured cloud action. Its methods other than name and
// kind may run concurrently (the refresher and a master round), so each
// guards its own state.
type action interface {
	// name identifies the action in status, logs and metrics.
	name() string
	kind() Kind
	// resolve finds ids, ENIs and route tables (describe calls).
	resolve(ctx context.Context, e *env) error
	// resolved reports whether resolve has succeeded once.
	resolved() bool
	// observe reads the resource's current state (describe calls) and
	// returns whether it points at this node, and what it looks like.
	observe(ctx context.Context, e *env) (observation, string, error)
	// cached returns the last observation without a call: unknown until
	// a look succeeds.
	cached() observation
	// change says what apply would do after the last observation.
	change() string
	// apply makes one attempt of the mutating call(s).
	apply(ctx context.Context, e *env) error
	// release gives the resource up on leaving MASTER (only volumes).
	release(ctx context.Context, e *env) error
	// beginRound resets per-round state at the moment the node became
	// master (a volume's wait for its old holder starts then).
	beginRound(start time.Time)
	// lookFirst says a master round must look before it acts, whatever
	// the cache says (a volume: attaching one held elsewhere is never
	// right).
	lookFirst() bool
	// permissions lists the IAM actions the action needs.
	permissions() []string
	// dryRun checks the mutating calls' permissions with DryRun.
	dryRun(ctx context.Context, e *env) []PermissionCheck
	// warnings are problems found by resolve that do not stop the action.
	warnings() []string
}

// follower is an action whose view can be stale in a way that costs the
// next failover calls: a route the master has not created yet when the
// backup looked is created again (refused), then replaced.
type follower interface {
	// settledElsewhere reports whether the last look saw the resource in
	// place for another node (every table has the route).
	settledElsewhere() bool
}

// PermissionCheck is the outcome of checking one IAM permission.
type PermissionCheck struct {
	// Permission is the IAM action, such as "ec2:ReplaceRoute".
	Permission string
	// Action is the cloud action that needs it.
	Action string
	// Checked is false when the permission could not be checked (the API
	// call has no DryRun, or DryRun failed for another reason: Note says).
	Checked bool
	// Allowed is the verdict when Checked.
	Allowed bool
	// Note explains an unchecked or denied permission.
	Note string
}

// dryRunResult turns the error of a DryRun call into a PermissionCheck.
func dryRunResult(perm, action string, err error) PermissionCheck {
	pc := PermissionCheck{Permission: perm, Action: action}
	code := errorCode(err)
	switch {
	case err == nil:
		// The endpoint ignored DryRun and made the call.
		pc.Note = "the endpoint did not honour DryRun"
	case code == "DryRunOperation":
		pc.Checked, pc.Allowed = true, true
	case isDenied(code):
		pc.Checked, pc.Note = true, "denied ("+code+")"
	default:
		pc.Note = "could not check: " + describeError(err)
	}
	return pc
}

// noAction is embedded by actions that give nothing up on leaving MASTER.
type noRelease struct{}

func (noRelease) release(context.Context, *env) error { return nil }
func (noRelease) beginRound(time.Time)                {}
func (noRelease) lookFirst() bool                     { return false }

// Metric operations: the label a cloud action's metrics carry, one per
// kind (what the action does on MASTER), plus the release of a volume.
// The set is fixed, so the number of series is bounded whatever the
// configuration names.
const (
	OpAssignPrivateIP  = "assign_private_ip"
	OpAssociateAddress = "associate_address"
	OpReplaceRoute     = "replace_route"
	OpAttachVolume     = "attach_volume"
	OpDetachVolume     = "detach_volume"
)

// Operations lists every value Operation returns (but "").
func Operations() []string {
	return []string{OpAssignPrivateIP, OpAssociateAddress, OpReplaceRoute, OpAttachVolume, OpDetachVolume}
}

// Operation is the metric label of an action of kind k when it moves the
// resource here, or when it gives it up (release; "" for kinds that give
// nothing up).
func Operation(k Kind, release bool) string {
	switch k {
	case KindSecondaryIP:
		if !release {
			return OpAssignPrivateIP
		}
	case KindElasticIP:
		if !release {
			return OpAssociateAddress
		}
	case KindRoute:
		if !release {
			return OpReplaceRoute
		}
	case KindEBS:
		if release {
			return OpDetachVolume
		}
		return OpAttachVolume
	}
	return ""
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
