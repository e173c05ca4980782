package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// probe caches whether this process can create network namespaces: the
// answer cannot change while the test binary runs.
var probe struct {
	once sync.Once
	err  error
}

// Require stops the test unless it can build namespace labs: it must run as
// root with the ip tool installed, and creating a namespace must work. On a
// laptop the test is skipped; when CI=true it fails instead, because a CI run
// that skips every namespace test would prove nothing.
func Require(t testing.TB) {
	t.Helper()
	probe.once.Do(func() { probe.err = canCreateNamespaces() })
	if probe.err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab: network namespace tests cannot run: %v", probe.err)
	}
	t.Skipf("lab: skipping network namespace test: %v", probe.err)
}

func canCreateNamespaces() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root (euid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the ip tool (iproute2) is missing: %w", err)
	}
	// A root user inside an unprivileged container may still lack
	// CAP_SYS_ADMIN, so try the real thing once.
	name := fmt.Sprintf("%s%dx0-probe", namePrefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
