package cloudmove

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/vipd/vipd/internal/clock"
)

// DefaultForceDetachAfter is how long a new master waits for the old
// holder of a volume to detach it before forcing the detachment.
const DefaultForceDetachAfter = 30 * time.Second

// VolumeConfig attaches an EBS volume to this node, optionally mounting
// it; the node detaches it when it leaves MASTER.
type VolumeConfig struct {
	// VolumeID is the volume (vol-...).
	VolumeID string `yaml:"volume_id"`
	// Device is the device name given to AttachVolume (/dev/sdf,
	// /dev/xvdf); Nitro instances show the volume as an NVMe device, found
	// by the volume id.
	Device string `yaml:"device"`
	// Mount, if set, is the absolute path the volume is mounted on.
	Mount string `yaml:"mount,omitempty"`
	// FSType is the file system type for mount; empty lets mount probe.
	FSType string `yaml:"fstype,omitempty"`
	// ForceDetachAfter is how long to wait for the old holder to detach
	// before forcing it; 0 means never force. Always written back: its
	// absence means the default, and 0s must survive the round trip.
	ForceDetachAfter time.Duration `yaml:"force_detach_after"`
}

// DefaultVolumeConfig returns an ebs action's defaults.
func DefaultVolumeConfig() *VolumeConfig {
	return &VolumeConfig{ForceDetachAfter: DefaultForceDetachAfter}
}

// setDefaults makes NewSettings start an ebs action from its defaults.
func (e *VolumeConfig) setDefaults() { *e = *DefaultVolumeConfig() }

var (
	volRE = awsIDRE("vol")
	// deviceRE matches the device names EC2 accepts for EBS attachments
	// on Linux.
	deviceRE = regexp.MustCompile(`^/dev/(sd[b-z][1-9]?|xvd[a-z]{1,2})$`)
)

func (e *VolumeConfig) kind() Kind { return KindEBS }

func (e *VolumeConfig) same(o kindConfig) bool {
	x, ok := o.(*VolumeConfig)
	return ok && *e == *x
}

func (e *VolumeConfig) grant(region string) grant {
	// The instances a volume is attached to are known only at run time.
	return grant{describe: []string{"ec2:DescribeVolumes"}, sid: "VipdEBS", actions: []string{"ec2:AttachVolume", "ec2:DetachVolume"},
		resources: []string{ec2ARN(region, "volume", e.VolumeID), ec2ARN(region, "instance", "")}}
}

func (e *VolumeConfig) newAction(Owner) action { return newEBS(e) }

func (e *VolumeConfig) validate(v *validation, _ Owner, k string) {
	switch {
	case e.VolumeID == "":
		v.fail(k+".volume_id", "is required")
	case v.id(k+".volume_id", e.VolumeID, volRE, "vol-0123456789abcdef0"):
		v.claim(k+".volume_id", "volume "+e.VolumeID)
	}
	switch {
	case e.Device == "":
		v.fail(k+".device", "is required (such as /dev/xvdf)")
	case !deviceRE.MatchString(e.Device):
		v.fail(k+".device", fmt.Sprintf("%q is not a device name EC2 accepts, such as /dev/sdf or /dev/xvdf", e.Device))
	}
	if e.Mount != "" && (!filepath.IsAbs(e.Mount) || filepath.Clean(e.Mount) != e.Mount || e.Mount == "/") {
		v.fail(k+".mount", fmt.Sprintf("%q must be a clean absolute path other than /", e.Mount))
	}
	if e.FSType != "" && e.Mount == "" {
		v.fail(k+".fstype", "needs mount")
	}
	if e.ForceDetachAfter < 0 {
		v.fail(k+".force_detach_after", fmt.Sprintf("%v is negative", e.ForceDetachAfter))
	}
}

// ebsPoll is how often the EBS sequence looks at the volume (and the
// device node) while it waits: for the old holder's detachment, for the
// attachment, for the block device. Short, so that a graceful handover
// costs well under a second on top of the calls; DescribeVolumes is
// cheap and its rate limit far above four calls a second.
const ebsPoll = 250 * time.Millisecond

// deviceWait bounds the wait for the block device once the volume is
// attached (udev names it within a second or two on EC2).
const deviceWait = 30 * time.Second

// ebs attaches a volume to this node (and mounts it if asked). The old
// holder detaches it when it leaves MASTER; a new master whose
// predecessor died waits ForceDetachAfter from becoming master, then
// forces the detachment. apply and release are explicit sequences that
// poll the volume at ebsPoll, not single steps of the generic retry loop:
// a backoff grown while waiting for a dead holder would overshoot the
// force time, and "attached, not mounted yet" is progress, not a failure.
type ebs struct {
	cfg *VolumeConfig
	// progress, when set, receives what the sequence waits for (status).
	progress func(string)

	mu       sync.Mutex
	instance string
	last     observation
	vol      volState
	holder   string    // the other instance being waited for
	waitFrom time.Time // when the wait for that holder began (round start)
	forced   bool      // DetachVolume with force was sent to holder
}

// volState is what DescribeVolumes said.
type volState struct {
	state      types.VolumeState // available, in-use, ...
	holder     string            // instance of the current attachment
	attachment types.VolumeAttachmentState
	device     string
	az         string
}

func newEBS(c *VolumeConfig) *ebs { return &ebs{cfg: c} }

func (a *ebs) kind() Kind { return KindEBS }

func (a *ebs) name() string {
	n := "ebs " + a.cfg.VolumeID + " at " + a.cfg.Device
	if a.cfg.Mount != "" {
		n += " on " + a.cfg.Mount
	}
	return n
}

func (a *ebs) resolve(ctx context.Context, e *env) error {
	id := e.identity()
	vs, err := a.describe(ctx, e)
	if err != nil {
		return err
	}
	if vs.az != "" && id.AZ != "" && vs.az != id.AZ {
		return fmt.Errorf("volume %s is in %s, this instance in %s: a volume attaches only within its zone", a.cfg.VolumeID, vs.az, id.AZ)
	}
	a.mu.Lock()
	a.instance = id.InstanceID
	a.mu.Unlock()
	return nil
}

func (a *ebs) resolved() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.instance != ""
}

func (a *ebs) describe(ctx context.Context, e *env) (volState, error) {
	out, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeVolumesOutput, error) {
		return e.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{a.cfg.VolumeID}})
	})
	if err != nil {
		return volState{}, err
	}
	if len(out.Volumes) != 1 {
		return volState{}, fmt.Errorf("DescribeVolumes %s returned %d volumes", a.cfg.VolumeID, len(out.Volumes))
	}
	v := out.Volumes[0]
	vs := volState{state: v.State, az: aws.ToString(v.AvailabilityZone)}
	for _, at := range v.Attachments {
		if at.State == types.VolumeAttachmentStateDetached {
			continue
		}
		vs.holder, vs.attachment, vs.device = aws.ToString(at.InstanceId), at.State, aws.ToString(at.Device)
	}
	return vs, nil
}

func (a *ebs) mounted(e *env) (bool, error) {
	if a.cfg.Mount == "" {
		return true, nil
	}
	return e.mounter.Mounted(a.cfg.Mount)
}

// observe says ours only when the volume is attached here and mounted;
// everything short of that (attaching, attached but not mounted) is for
// apply's sequence to finish.
func (a *ebs) observe(ctx context.Context, e *env) (observation, string, error) {
	vs, err := a.describe(ctx, e)
	if err != nil {
		return notOurs, "", err
	}
	a.mu.Lock()
	me := a.instance
	a.mu.Unlock()
	obs := notOurs
	var detail string
	switch {
	case vs.holder == me && vs.attachment == types.VolumeAttachmentStateAttached:
		m, err := a.mounted(e)
		if err != nil {
			return notOurs, "", err
		}
		obs, detail = ours, fmt.Sprintf("%s attached to %s at %s", a.cfg.VolumeID, me, vs.device)
		if !m {
			obs, detail = notOurs, detail+", not mounted on "+a.cfg.Mount
		}
	case vs.holder == me:
		detail = fmt.Sprintf("%s %s to %s", a.cfg.VolumeID, vs.attachment, me)
	case vs.holder != "":
		detail = fmt.Sprintf("%s %s to %s", a.cfg.VolumeID, vs.attachment, vs.holder)
	default:
		detail = fmt.Sprintf("%s %s", a.cfg.VolumeID, vs.state)
	}
	a.mu.Lock()
	a.last, a.vol = obs, vs
	a.mu.Unlock()
	if obs == ours {
		a.held()
	}
	return obs, detail, nil
}

func (a *ebs) cached() observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func (a *ebs) lookFirst() bool { return true }

// beginRound starts the wait for an old holder at the moment this node
// became master: the force comes force_detach_after later, whatever the
// looks in between cost.
func (a *ebs) beginRound(start time.Time) {
	a.mu.Lock()
	a.holder, a.waitFrom, a.forced = "", start, false
	a.mu.Unlock()
}

func (a *ebs) change() string {
	a.mu.Lock()
	vs, me, last := a.vol, a.instance, a.last
	a.mu.Unlock()
	switch {
	case last == ours:
		return ""
	case vs.holder == me:
		if a.cfg.Mount != "" {
			return "mount " + a.cfg.Device + " on " + a.cfg.Mount
		}
		return ""
	case vs.holder != "":
		s := fmt.Sprintf("wait for %s to detach %s", vs.holder, a.cfg.VolumeID)
		if a.cfg.ForceDetachAfter > 0 {
			s += fmt.Sprintf(" (DetachVolume with force after %v)", a.cfg.ForceDetachAfter)
		}
		return s + ", then AttachVolume to " + me + " at " + a.cfg.Device
	}
	return "AttachVolume " + a.cfg.VolumeID + " to " + me + " at " + a.cfg.Device
}

func (a *ebs) report(format string, args ...any) {
	if a.progress != nil {
		a.progress(fmt.Sprintf(format, args...))
	}
}

// poll waits ebsPoll (or until at, if sooner and not zero) on the clock.
func poll(ctx context.Context, e *env, at time.Time) error {
	d := ebsPoll
	if !at.IsZero() {
		d = min(d, at.Sub(e.clock.Now()))
	}
	if !clock.Sleep(ctx, e.clock, d) {
		return ctx.Err()
	}
	return nil
}

// apply runs the whole sequence to a mounted volume: wait for the old
// holder to detach it (polling); at exactly force_detach_after from
// becoming master, force the detachment; attach; poll the attachment and
// the block device; mount. It returns nil once mounted (converge then
// verifies with one look), or an error for converge to classify: a
// failed call, or a wait that outlived its bound.
func (a *ebs) apply(ctx context.Context, e *env) error {
	a.mu.Lock()
	me := a.instance
	if a.waitFrom.IsZero() {
		a.waitFrom = e.clock.Now()
	}
	a.mu.Unlock()
	var attachedAt time.Time // when the volume was first seen attached here
	for {
		vs, err := a.describe(ctx, e)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.vol = vs
		a.mu.Unlock()
		now := e.clock.Now()
		var wakeAt time.Time
		switch {
		case vs.holder == me && vs.attachment == types.VolumeAttachmentStateAttached:
			if a.cfg.Mount == "" {
				a.held()
				return nil
			}
			if m, err := e.mounter.Mounted(a.cfg.Mount); err != nil {
				return err
			} else if m {
				a.held()
				return nil
			}
			if attachedAt.IsZero() {
				attachedAt = now
			}
			if dev, ok := e.mounter.Device(a.cfg.VolumeID, a.cfg.Device); ok {
				a.report("mounting %s on %s", dev, a.cfg.Mount)
				if err := e.mounter.Mount(ctx, dev, a.cfg.Mount, a.cfg.FSType); err != nil {
					return err
				}
				a.held()
				return nil
			}
			if now.Sub(attachedAt) >= deviceWait {
				return fmt.Errorf("%s is attached but no block device appeared within %v (looked for %s)",
					a.cfg.VolumeID, deviceWait, strings.Join(deviceCandidates(a.cfg.VolumeID, a.cfg.Device), ", "))
			}
			a.report("%s attached, waiting for its block device", a.cfg.VolumeID)
		case vs.holder == me:
			a.report("%s %s to this instance", a.cfg.VolumeID, vs.attachment)
		case vs.holder != "" && vs.attachment == types.VolumeAttachmentStateDetaching:
			a.report("%s detaching from %s", a.cfg.VolumeID, vs.holder)
		case vs.holder != "":
			a.mu.Lock()
			if a.holder != vs.holder {
				if a.holder != "" {
					// Another instance took it meanwhile: its wait starts now.
					a.waitFrom = now
				}
				a.holder, a.forced = vs.holder, false
			}
			waited, forced := now.Sub(a.waitFrom), a.forced
			forceAt := a.waitFrom.Add(a.cfg.ForceDetachAfter)
			a.mu.Unlock()
			switch {
			case forced:
				a.report("%s force-detach requested from %s", a.cfg.VolumeID, vs.holder)
			case a.cfg.ForceDetachAfter == 0:
				a.report("%s still attached to %s (waited %v; no force)", a.cfg.VolumeID, vs.holder, waited.Round(time.Millisecond))
			case waited < a.cfg.ForceDetachAfter:
				a.report("%s still attached to %s (force in %v)", a.cfg.VolumeID, vs.holder, (a.cfg.ForceDetachAfter - waited).Round(time.Millisecond))
				wakeAt = forceAt
			default:
				e.log.Warn("force-detaching volume from its old holder", "volume", a.cfg.VolumeID, "holder", vs.holder, "waited", waited)
				_, err := call(ctx, e, func(ctx context.Context) (*ec2.DetachVolumeOutput, error) {
					return e.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
						InstanceId: aws.String(vs.holder), Force: aws.Bool(true)})
				})
				if err != nil && errorCode(err) != "IncorrectState" && errorCode(err) != "InvalidAttachment.NotFound" {
					return err
				}
				a.mu.Lock()
				a.forced = true
				a.mu.Unlock()
				continue // look at once: moto and a fast EC2 are done already
			}
		case vs.state != "" && vs.state != types.VolumeStateAvailable:
			if vs.state == types.VolumeStateError || vs.state == types.VolumeStateDeleting || vs.state == types.VolumeStateDeleted {
				return fmt.Errorf("volume %s is %s", a.cfg.VolumeID, vs.state)
			}
			a.report("%s is %s", a.cfg.VolumeID, vs.state)
		default:
			a.report("attaching %s to %s at %s", a.cfg.VolumeID, me, a.cfg.Device)
			_, err := call(ctx, e, func(ctx context.Context) (*ec2.AttachVolumeOutput, error) {
				return e.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
					InstanceId: aws.String(me), Device: aws.String(a.cfg.Device)})
			})
			switch code := errorCode(err); {
			case err == nil:
				e.log.Info("volume attach requested", "volume", a.cfg.VolumeID, "device", a.cfg.Device)
				continue // moto attaches at once; EC2 says "attaching" for a few seconds
			case code == "VolumeInUse" || code == "IncorrectState":
				// Taken or changing since the look: look again.
				e.log.Info("volume changed under us; looking again", "volume", a.cfg.VolumeID, "err", describeError(err))
			default:
				return err
			}
		}
		if err := poll(ctx, e, wakeAt); err != nil {
			return err
		}
	}
}

// held ends a wait for an old holder once the volume is here: a later
// apply in the same round (a reconcile found it taken: a split brain)
// waits force_detach_after from then, not from becoming master.
func (a *ebs) held() {
	a.mu.Lock()
	a.holder, a.waitFrom, a.forced = "", time.Time{}, false
	a.mu.Unlock()
}

// release unmounts the volume, detaches it from this instance and polls
// until it is free (bounded by the retry budget, then a wait error for
// the caller's budget check); a volume held by another instance (or none)
// is left alone.
func (a *ebs) release(ctx context.Context, e *env) error {
	if !a.resolved() {
		if err := a.resolve(ctx, e); err != nil {
			return err
		}
	}
	if a.cfg.Mount != "" {
		if m, err := e.mounter.Mounted(a.cfg.Mount); err != nil {
			return err
		} else if m {
			if err := e.mounter.Unmount(ctx, a.cfg.Mount); err != nil {
				return err
			}
		}
	}
	a.mu.Lock()
	me := a.instance
	a.last = notOurs
	a.mu.Unlock()
	start := e.clock.Now()
	requested := false
	for {
		vs, err := a.describe(ctx, e)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.vol = vs
		a.mu.Unlock()
		if vs.holder != me {
			return nil
		}
		if !requested && vs.attachment != types.VolumeAttachmentStateDetaching {
			_, err = call(ctx, e, func(ctx context.Context) (*ec2.DetachVolumeOutput, error) {
				return e.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
					InstanceId: aws.String(me), Device: aws.String(vs.device)})
			})
			switch code := errorCode(err); {
			case err == nil:
				requested = true
				e.log.Info("volume detach requested", "volume", a.cfg.VolumeID)
				continue
			case code == "InvalidAttachment.NotFound":
				continue // gone meanwhile: the next look says so
			case code == "IncorrectState":
				// Still attaching (the round ended mid-attach): ask again
				// at the next look.
			default:
				// Unknown outcome (a reset) or refused: the caller retries,
				// looking first.
				return err
			}
		}
		if e.clock.Now().Sub(start) >= e.budget {
			return waitf("%s still %s after %v", a.cfg.VolumeID, vs.attachment, e.budget)
		}
		if err := poll(ctx, e, time.Time{}); err != nil {
			return err
		}
	}
}

func (a *ebs) permissions() []string {
	return []string{"ec2:AttachVolume", "ec2:DetachVolume", "ec2:DescribeVolumes"}
}

func (a *ebs) dryRun(ctx context.Context, e *env) []PermissionCheck {
	a.mu.Lock()
	me := a.instance
	a.mu.Unlock()
	_, err := call(ctx, e, func(ctx context.Context) (*ec2.AttachVolumeOutput, error) {
		return e.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
			InstanceId: aws.String(me), Device: aws.String(a.cfg.Device), DryRun: aws.Bool(true)})
	})
	attach := dryRunResult("ec2:AttachVolume", a.name(), err)
	_, err = call(ctx, e, func(ctx context.Context) (*ec2.DetachVolumeOutput, error) {
		return e.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
			InstanceId: aws.String(me), DryRun: aws.Bool(true)})
	})
	return []PermissionCheck{attach, dryRunResult("ec2:DetachVolume", a.name(), err)}
}

func (a *ebs) warnings() []string { return nil }
