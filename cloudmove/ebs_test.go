package cloudmove

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// fakeVolume is one volume as EC2 keeps it, on the bubble's clock:
// attach and detach take effect at once. Other EC2 calls are not expected.
type fakeVolume struct {
	EC2

	mu       sync.Mutex
	holder   string
	describe int
	forcedAt []time.Time // bubble times of forced detachments
	attached []time.Time
}

func (v *fakeVolume) DescribeVolumes(context.Context, *ec2.DescribeVolumesInput, ...func(*ec2.Options)) (*ec2.DescribeVolumesOutput, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.describe++
	vol := types.Volume{VolumeId: aws.String("vol-0123456789abcdef0"), State: types.VolumeStateAvailable, AvailabilityZone: aws.String("eu-west-1a")}
	if v.holder != "" {
		vol.State = types.VolumeStateInUse
		vol.Attachments = []types.VolumeAttachment{{InstanceId: aws.String(v.holder), State: types.VolumeAttachmentStateAttached, Device: aws.String("/dev/xvdf")}}
	}
	return &ec2.DescribeVolumesOutput{Volumes: []types.Volume{vol}}, nil
}

func (v *fakeVolume) AttachVolume(_ context.Context, in *ec2.AttachVolumeInput, _ ...func(*ec2.Options)) (*ec2.AttachVolumeOutput, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.holder != "" {
		return nil, &smithy.GenericAPIError{Code: "VolumeInUse", Message: "attached to " + v.holder}
	}
	v.holder = aws.ToString(in.InstanceId)
	v.attached = append(v.attached, time.Now())
	return &ec2.AttachVolumeOutput{}, nil
}

func (v *fakeVolume) DetachVolume(_ context.Context, in *ec2.DetachVolumeInput, _ ...func(*ec2.Options)) (*ec2.DetachVolumeOutput, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if aws.ToBool(in.Force) {
		v.forcedAt = append(v.forcedAt, time.Now())
	}
	v.holder = ""
	return &ec2.DetachVolumeOutput{}, nil
}

func (v *fakeVolume) set(holder string) {
	v.mu.Lock()
	v.holder = holder
	v.mu.Unlock()
}

func (v *fakeVolume) snapshot() (forced, attached []time.Time, describes int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]time.Time(nil), v.forcedAt...), append([]time.Time(nil), v.attached...), v.describe
}

// nodeMounter is a Mounter whose device exists once the volume is here.
type nodeMounter struct {
	mu      sync.Mutex
	mounted bool
}

func (m *nodeMounter) Mounted(string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mounted, nil
}
func (m *nodeMounter) Device(_, dev string) (string, bool) { return dev, true }
func (m *nodeMounter) Mount(context.Context, string, string, string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounted = true
	return nil
}
func (m *nodeMounter) Unmount(context.Context, string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounted = false
	return nil
}

// TestEBSForceTiming drives the EBS sequence in a synctest bubble: after
// a crash the new master forces the detachment exactly force_detach_after
// after becoming master (the polls in between do not push it later) and
// mounts at once; when a reconcile later finds the volume taken (a split
// brain), the wait starts then, not at the old round's start.
func TestEBSForceTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const force = 10 * time.Second
		start := time.Now()
		vol := &fakeVolume{holder: "i-dead"}
		a := newEBS(&VolumeConfig{VolumeID: "vol-0123456789abcdef0", Device: "/dev/xvdf", Mount: "/srv/data", ForceDetachAfter: force})
		s := testSet(t, cloudCfg(), a, nil)
		s.e.id.Store(&Identity{InstanceID: "i-me", AZ: "eu-west-1a"})
		s.e.ec2, s.e.mounter, s.e.budget = vol, &nodeMounter{}, time.Minute
		a.progress = s.rs[0].setDetail

		s.Master()
		if err := s.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		forced, attached, describes := vol.snapshot()
		if len(forced) != 1 || !forced[0].Equal(start.Add(force)) {
			t.Fatalf("forced at %v, want once at +%v", forced, force)
		}
		if len(attached) != 1 || !attached[0].Equal(start.Add(force)) {
			t.Errorf("attached at %v, want right after the force", attached)
		}
		if took := s.Status()[0].Took; took != force {
			t.Errorf("took %v, want %v", took, force)
		}
		// A look every 250 ms while waiting: about 40, not a backoff's few.
		if describes < 35 || describes > 50 {
			t.Errorf("%d DescribeVolumes while waiting %v", describes, force)
		}

		// Split brain: another node takes the volume; a reconcile finds it.
		vol.set("i-other")
		taken := time.Now()
		s.Reassert()
		waitUntil(t, 100*time.Millisecond, func() bool {
			f, at, _ := vol.snapshot()
			return len(f) == 2 && len(at) == 2
		})
		forced, attached, _ = vol.snapshot()
		if got := forced[1].Sub(taken); got != force {
			t.Errorf("re-forced %v after the reconcile found the volume taken, want %v", got, force)
		}
		if !attached[1].Equal(forced[1]) {
			t.Errorf("re-attached at %v, want right after the force at %v", attached[1], forced[1])
		}
	})
}

func TestVolumeConfigValidate(t *testing.T) {
	checkFields(t, []fieldCase{
		{"ebs device", func(o *Owner) { o.Cloud.Actions[3].EBS.Device = "sdf" },
			"actions[3].ebs.device", `"sdf" is not a device name EC2 accepts, such as /dev/sdf or /dev/xvdf`},
		{"ebs mount", func(o *Owner) { o.Cloud.Actions[3].EBS.Mount = "/srv/../data" },
			"actions[3].ebs.mount", `"/srv/../data" must be a clean absolute path other than /`},
		{"fstype without mount", func(o *Owner) { o.Cloud.Actions[3].EBS.Mount, o.Cloud.Actions[3].EBS.FSType = "", "xfs" },
			"actions[3].ebs.fstype", "needs mount"},
		{"negative force", func(o *Owner) { o.Cloud.Actions[3].EBS.ForceDetachAfter = -time.Second },
			"actions[3].ebs.force_detach_after", "-1s is negative"},
	})
}
