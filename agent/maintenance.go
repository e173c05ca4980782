package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vipd/vipd/config"
)

// maintenanceFile is where a node remembers that it is drained, so that a
// reboot or a restart during maintenance does not bring it back into
// service. It lives beside the gossip state file; without gossip there is
// no state directory and maintenance lasts until the agent stops.
func maintenanceFile(cfg *config.Config) string {
	if cfg.Gossip == nil || cfg.Gossip.StateFile == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(cfg.Gossip.StateFile), "maintenance")
}

// loadMaintenance reports whether the node was left in maintenance.
func loadMaintenance(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// saveMaintenance records (on) or forgets (off) the maintenance state.
func saveMaintenance(path string, on bool, by string, now time.Time) error {
	if path == "" {
		return nil
	}
	if !on {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	body := fmt.Sprintf("maintenance set by %s at %s; `vipd maintenance NODE off` releases it\n", by, now.UTC().Format(time.RFC3339))
	return os.WriteFile(path, []byte(body), 0o600)
}
