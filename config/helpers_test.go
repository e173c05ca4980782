package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/config/internal/machine"
)

// fakeHost is a Host with fixed interface addresses.
type fakeHost map[string][]netip.Prefix

func (h fakeHost) InterfaceAddrs(name string) ([]netip.Prefix, error) {
	p, ok := h[name]
	if !ok {
		return nil, fmt.Errorf("no interface %s", name)
	}
	return p, nil
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

// writeFiles creates files (name → content) under dir, making directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// diagnosticsOf returns every diagnostic of a load: the warnings of a
// successful one or the whole list of a failed one.
func diagnosticsOf(t *testing.T, cfg *Config, err error) Diagnostics {
	t.Helper()
	if err == nil {
		return cfg.Warnings
	}
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error is %T, not Diagnostics: %v", err, err)
	}
	return ds
}

// requireDiag fails unless some diagnostic of the given severity renders
// with want as a substring.
func requireDiag(t *testing.T, ds Diagnostics, sev Severity, want string) {
	t.Helper()
	for _, d := range ds {
		if d.Severity == sev && strings.Contains(d.String(), want) {
			return
		}
	}
	t.Errorf("no %v containing %q in:\n%s", sev, want, render(ds))
}

func render(ds Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

// baseInstance returns keepalived's defaults for an instance, with the
// fields every test sets filled in.
func baseInstance(name, ifname string, vrid uint8) *Instance {
	i := DefaultInstance()
	i.Name, i.Interface, i.VRID = name, ifname, vrid
	return i
}

func vip(prefix, ifname string) VIP {
	return VIP{Prefix: mustPrefix(prefix), Interface: ifname}
}

// sameInstances compares instances ignoring positions, reporting each
// difference.
func sameInstances(t *testing.T, got, want []*Instance) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d instances, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].SameSettings(want[i]) {
			t.Errorf("instance %d:\n got %s\nwant %s", i, dump(got[i]), dump(want[i]))
		}
	}
}

func dump(i *Instance) string {
	vips := make([]string, len(i.VIPs))
	for j, v := range i.VIPs {
		vips[j] = fmt.Sprintf("{%v dev=%s label=%q excl=%v}", v.Prefix, v.Interface, v.Label, v.Excluded)
	}
	return fmt.Sprintf("name=%s if=%s vrid=%d fam=%v v=%d prio=%d adv=%v state=%s preempt=%v delay=%v src=%v peers=%v auth=%q vips=%v garp=%+v",
		i.Name, i.Interface, i.VRID, i.Family, i.Version, i.Priority, i.AdvertInterval, i.InitialState,
		i.Preempt, i.PreemptDelay, i.UnicastSource, i.UnicastPeers, i.AuthPass, vips, i.GARP)
}

// The made-up machine of the script checks, under the names these tests
// use.
type (
	fakeSys  = machine.Fake
	fileMeta = machine.FileMeta
)

const (
	dirMode  = machine.DirMode
	execMode = machine.ExecMode
)

func newFakeSys(uid, gid uint32) *fakeSys { return machine.NewFake(uid, gid) }

// rootSys is a machine where vipd runs as root.
func rootSys() *fakeSys { return machine.Root() }

// loadYAML reads a native-format file as config/load.File does.
func loadYAML(path string, opts LoadOptions) (*Config, error) {
	data, err := ReadFileFS(opts.Files(), path)
	if err != nil {
		return nil, err
	}
	return ParseYAML(path, data, opts)
}

// sameConfig compares everything but positions, formats and warnings,
// the gossip section included.
func sameConfig(t *testing.T, got, want *Config) {
	t.Helper()
	sameInstances(t, got.Instances, want.Instances)
	if !got.Gossip.SameSettings(want.Gossip) {
		t.Errorf("gossip:\n got %+v\nwant %+v", got.Gossip, want.Gossip)
	}
	if got.FastTakeover != want.FastTakeover || got.Scripts != want.Scripts {
		t.Errorf("globals: fast takeover %v scripts %+v, want %v %+v", got.FastTakeover, got.Scripts, want.FastTakeover, want.Scripts)
	}
	if len(got.Checks) != len(want.Checks) {
		t.Fatalf("%d checks, want %d", len(got.Checks), len(want.Checks))
	}
	for i := range want.Checks {
		if !got.Checks[i].SameSettings(want.Checks[i]) {
			t.Errorf("check %d:\n got %+v\nwant %+v", i, *got.Checks[i], *want.Checks[i])
		}
	}
	if len(got.SyncGroups) != len(want.SyncGroups) {
		t.Fatalf("%d sync groups, want %d", len(got.SyncGroups), len(want.SyncGroups))
	}
	for i := range want.SyncGroups {
		if !got.SyncGroups[i].SameSettings(want.SyncGroups[i]) {
			t.Errorf("sync group %d:\n got %+v\nwant %+v", i, *got.SyncGroups[i], *want.SyncGroups[i])
		}
	}
}
