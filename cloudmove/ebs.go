package cloudmove

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/vipd/vipd/config"
)

// ebs attaches a volume to this node (and mounts it if asked). The old
// holder detaches it when it leaves MASTER; a new master whose
// predecessor died waits ForceDetachAfter, then forces the detachment.
type ebs struct {
	cfg *config.EBSAction

	mu       sync.Mutex
	instance string
	last     observation
	vol      volState
	holder   string    // the other instance seen holding it this round
	holderAt time.Time // when that holder was first seen
	forced   bool
}

// volState is what DescribeVolumes said.
type volState struct {
	state      types.VolumeState // available, in-use, ...
	holder     string            // instance of the current attachment
	attachment types.VolumeAttachmentState
	device     string
	az         string
}

func newEBS(c *config.EBSAction) *ebs { return &ebs{cfg: c} }

func (a *ebs) kind() config.CloudActionKind { return config.CloudEBS }

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
	case vs.holder == me && vs.attachment == types.VolumeAttachmentStateAttaching:
		obs, detail = pending, fmt.Sprintf("%s attaching to %s", a.cfg.VolumeID, me)
	case vs.holder != "":
		detail = fmt.Sprintf("%s %s to %s", a.cfg.VolumeID, vs.attachment, vs.holder)
	default:
		detail = fmt.Sprintf("%s %s", a.cfg.VolumeID, vs.state)
	}
	a.mu.Lock()
	a.last, a.vol = obs, vs
	a.mu.Unlock()
	return obs, detail, nil
}

func (a *ebs) cached() observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func (a *ebs) lookFirst() bool { return true }

func (a *ebs) beginRound() {
	a.mu.Lock()
	a.holder, a.holderAt, a.forced = "", time.Time{}, false
	a.mu.Unlock()
}

func (a *ebs) change() string {
	a.mu.Lock()
	vs, me := a.vol, a.instance
	a.mu.Unlock()
	switch {
	case a.last == ours:
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

// apply takes one step towards holding the volume, from the state the
// last look found: attach it when free, mount it once attached, wait for
// (and after ForceDetachAfter force) the old holder's detachment.
func (a *ebs) apply(ctx context.Context, e *env) error {
	a.mu.Lock()
	vs, me := a.vol, a.instance
	a.mu.Unlock()
	switch {
	case vs.holder == me && vs.attachment == types.VolumeAttachmentStateAttached:
		if a.cfg.Mount == "" {
			return nil
		}
		return e.mounter.Mount(ctx, a.cfg.VolumeID, a.cfg.Device, a.cfg.Mount, a.cfg.FSType)
	case vs.holder == me:
		return waitf("%s is %s to this instance", a.cfg.VolumeID, vs.attachment)
	case vs.holder != "" && vs.attachment == types.VolumeAttachmentStateDetaching:
		return waitf("%s is detaching from %s", a.cfg.VolumeID, vs.holder)
	case vs.holder != "":
		now := e.clock.Now()
		a.mu.Lock()
		if a.holder != vs.holder {
			a.holder, a.holderAt, a.forced = vs.holder, now, false
		}
		waited, forced := now.Sub(a.holderAt), a.forced
		a.mu.Unlock()
		if a.cfg.ForceDetachAfter == 0 || waited < a.cfg.ForceDetachAfter || forced {
			return waitf("%s is still attached to %s (waited %v)", a.cfg.VolumeID, vs.holder, waited.Round(time.Millisecond))
		}
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
		return waitf("%s force-detached from %s", a.cfg.VolumeID, vs.holder)
	}
	if vs.state != "" && vs.state != types.VolumeStateAvailable {
		return waitf("%s is %s", a.cfg.VolumeID, vs.state)
	}
	_, err := call(ctx, e, func(ctx context.Context) (*ec2.AttachVolumeOutput, error) {
		return e.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
			InstanceId: aws.String(me), Device: aws.String(a.cfg.Device)})
	})
	if code := errorCode(err); code == "VolumeInUse" || code == "IncorrectState" {
		// Taken or changing since the last look: look again.
		return waitf("%s: %s", a.cfg.VolumeID, describeError(err))
	}
	return err
}

// release unmounts the volume and detaches it from this instance, then
// waits until it is free; a volume held by another instance (or none) is
// left alone.
func (a *ebs) release(ctx context.Context, e *env) error {
	if !a.resolved() {
		return a.resolve(ctx, e)
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
	vs, err := a.describe(ctx, e)
	if err != nil {
		return err
	}
	a.mu.Lock()
	me := a.instance
	a.vol, a.last = vs, notOurs
	a.mu.Unlock()
	if vs.holder != me {
		return nil
	}
	if vs.attachment == types.VolumeAttachmentStateDetaching {
		return waitf("%s is detaching", a.cfg.VolumeID)
	}
	_, err = call(ctx, e, func(ctx context.Context) (*ec2.DetachVolumeOutput, error) {
		return e.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(a.cfg.VolumeID),
			InstanceId: aws.String(me), Device: aws.String(vs.device)})
	})
	if err != nil && errorCode(err) != "IncorrectState" && errorCode(err) != "InvalidAttachment.NotFound" {
		return err
	}
	return waitf("%s detach requested", a.cfg.VolumeID)
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
