package cloudmove

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Mounter mounts and unmounts the file system of an attached volume. The
// default runs mount(8) and umount(8); tests substitute their own.
type Mounter interface {
	// Mounted reports whether something is mounted on path.
	Mounted(path string) (bool, error)
	// Mount mounts the volume's block device on path.
	Mount(ctx context.Context, volumeID, device, path, fstype string) error
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

// blockDevice waits (up to the context) for the volume's block device to
// appear and returns it.
func blockDevice(ctx context.Context, volumeID, device string) (string, error) {
	nvme := "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_" + strings.ReplaceAll(volumeID, "-", "")
	xen := strings.Replace(device, "/dev/sd", "/dev/xvd", 1)
	for {
		for _, p := range []string{nvme, device, xen} {
			if _, err := os.Stat(p); err == nil {
				if r, err := filepath.EvalSymlinks(p); err == nil {
					return r, nil
				}
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no block device for %s (looked for %s, %s, %s): %w", volumeID, nvme, device, xen, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Mount waits up to 30 s for the device, then mounts it.
func (SystemMounter) Mount(ctx context.Context, volumeID, device, path, fstype string) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	dev, err := blockDevice(dctx, volumeID, device)
	cancel()
	if err != nil {
		return waitf("%v", err)
	}
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
