package cloudmove

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Mounter mounts and unmounts the file system of an attached volume. The
// default runs mount(8) and umount(8); tests substitute their own.
type Mounter interface {
	// Mounted reports whether something is mounted on path.
	Mounted(path string) (bool, error)
	// Device returns the block device of an attached volume once it
	// exists (the EBS sequence polls it after the attachment), and false
	// while it does not.
	Device(volumeID, device string) (string, bool)
	// Mount mounts the block device dev (from Device) on path.
	Mount(ctx context.Context, dev, path, fstype string) error
	// Unmount unmounts path.
	Unmount(ctx context.Context, path string) error
}

// SystemMounter is the default Mounter: it finds the block device (Nitro
// instances show an EBS volume as an NVMe device named after the volume
// id, not as the device name given to AttachVolume) and runs mount(8).
type SystemMounter struct{}

// Mounted reads /proc/self/mountinfo.
func (SystemMounter) Mounted(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Field 5 is the mount point, with spaces escaped as \040.
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && strings.ReplaceAll(fs[4], `\040`, " ") == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

// deviceCandidates are the names a volume's block device may have: the
// Nitro NVMe link named after the volume id, the name given to
// AttachVolume, and its Xen spelling (sdX shows as xvdX).
func deviceCandidates(volumeID, device string) []string {
	nvme := "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + strings.ReplaceAll(volumeID, "-", "")
	return []string{nvme, device, strings.Replace(device, "/dev/sd", "/dev/xvd", 1)}
}

// Device looks for the volume's block device under each candidate name
// and returns the first that exists, links resolved.
func (SystemMounter) Device(volumeID, device string) (string, bool) {
	for _, p := range deviceCandidates(volumeID, device) {
		if _, err := os.Stat(p); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				return r, true
			}
			return p, true
		}
	}
	return "", false
}

// Mount runs mount(8).
func (SystemMounter) Mount(ctx context.Context, dev, path, fstype string) error {
	args := []string{}
	if fstype != "" {
		args = append(args, "-t", fstype)
	}
	args = append(args, dev, path)
	if out, err := exec.CommandContext(ctx, "mount", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Unmount runs umount(8).
func (SystemMounter) Unmount(ctx context.Context, path string) error {
	if out, err := exec.CommandContext(ctx, "umount", path).CombinedOutput(); err != nil {
		return fmt.Errorf("umount %s: %v: %s", path, err, strings.TrimSpace(string(out)))
	}
	return nil
}
