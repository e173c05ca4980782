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
	SkipOrFail(t, "lab: network namespace tests cannot run: %v", probe.err)
}

// InCI reports whether the tests run in CI (CI=true), where everything
// they need is installed and they run as root.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail stops a test that lacks something it needs (a program, root,
// a capability): on a laptop it is skipped, with the reason; when CI=true
// it fails, because a CI run that skips proves nothing. Every test with a
// prerequisite goes through here, so that none skips in CI by mistake.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot stops the test unless it runs as root (see SkipOrFail).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (euid %d)", os.Geteuid())
	}
}

// RequireProgram returns the path of an external program a test drives,
// looked up in PATH and then at the paths in also (where
// scripts/install-deps.sh may put it outside PATH, such as /root/go/bin);
// without it the test stops (see SkipOrFail).
func RequireProgram(t testing.TB, name string, also ...string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, a := range also {
		if _, e := os.Stat(a); e == nil {
			return a
		}
	}
	SkipOrFail(t, "%s is not installed (scripts/install-deps.sh installs it): %v", name, err)
	return ""
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
