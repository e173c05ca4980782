// Package configtest holds test helpers shared by the tests of config and
// its front ends (config/keepalived, config/load), which cannot share
// _test.go files.
package configtest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/machine"
)

// CheckResult asserts what a parser must return for any input: either a
// Config that passes validation and whose encoding loads back to the same
// settings (checkRoundTrip), or no Config and Diagnostics holding an
// error. Fuzzers call it on every input.
func CheckResult(t *testing.T, cfg *config.Config, err error) {
	if err == nil {
		if cfg == nil {
			t.Fatal("nil Config without an error")
		}
		// What loads must also pass validation on its own.
		if ds := cfg.Validate(nil); ds.HasErrors() {
			t.Fatalf("loaded config fails Validate:\n%s", Render(ds))
		}
		checkRoundTrip(t, cfg)
		return
	}
	if cfg != nil {
		t.Fatal("Config returned with an error")
	}
	ds, ok := err.(config.Diagnostics)
	if !ok || !ds.HasErrors() {
		t.Fatalf("error %T %v holds no error diagnostics", err, err)
	}
}

// checkRoundTrip asserts EncodeYAML's contract on a loaded configuration:
// the YAML it writes loads back to the same settings (Config.Differences
// finds nothing). The one documented exception is keepalived input that
// loaded thanks to keepalived's leniency: the native format refuses what
// keepalived.conf only gets a warning for (validator.problem), so the
// output may fail to load, but then every error must be one of the
// input's warnings: the same words up to the first "; ", where the
// warning goes on with what keepalived does and the error with why it is
// refused. Any other error is a bug of the encoder or of a parser.
func checkRoundTrip(t *testing.T, cfg *config.Config) {
	t.Helper()
	out, err := config.EncodeYAML(cfg)
	if err != nil {
		t.Fatalf("EncodeYAML: %v", err)
	}
	again, err := config.ParseYAML("converted.yaml", out, config.LoadOptions{Hostname: "h", System: machine.Root()})
	if err != nil {
		ds, ok := err.(config.Diagnostics)
		if !ok || cfg.Format != config.FormatKeepalived {
			t.Fatalf("the encoding of a loaded %v configuration does not load: %v\n%s", cfg.Format, err, out)
		}
		for _, e := range ds.Errors() {
			if !warned(cfg.Warnings, e.Message) {
				t.Fatalf("the encoding does not load, for a reason the keepalived input was not warned about: %v\n"+
					"input warnings:\n%s\nencoding:\n%s", e, Render(cfg.Warnings), out)
			}
		}
		return
	}
	if d := cfg.Differences(again); len(d) > 0 {
		t.Fatalf("the encoding loads to different settings:\n%s\nencoding:\n%s", strings.Join(d, "\n"), out)
	}
}

// warned reports whether ws holds a warning about the problem msg names.
func warned(ws config.Diagnostics, msg string) bool {
	problem, _, _ := strings.Cut(msg, "; ")
	for _, w := range ws {
		if p, _, _ := strings.Cut(w.Message, "; "); w.Severity == config.SeverityWarning && p == problem {
			return true
		}
	}
	return false
}

// Instance returns keepalived's defaults for an instance, with the fields
// every test sets filled in.
func Instance(name, ifname string, vrid uint8) *config.Instance {
	i := config.DefaultInstance()
	i.Name, i.Interface, i.VRID = name, ifname, vrid
	return i
}

// VIP returns the virtual address prefix on ifname.
func VIP(prefix, ifname string) config.VIP {
	return config.VIP{Prefix: netip.MustParsePrefix(prefix), Interface: ifname}
}

// FakeHost is a config.Host with fixed interface addresses.
type FakeHost map[string][]netip.Prefix

// InterfaceAddrs returns the addresses listed for name.
func (h FakeHost) InterfaceAddrs(name string) ([]netip.Prefix, error) {
	p, ok := h[name]
	if !ok {
		return nil, fmt.Errorf("no interface %s", name)
	}
	return p, nil
}

// WriteFiles creates files (name → content) under dir, making directories.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
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

// DiagnosticsOf returns every diagnostic of a load: the warnings of a
// successful one or the whole list of a failed one.
func DiagnosticsOf(t testing.TB, cfg *config.Config, err error) config.Diagnostics {
	t.Helper()
	if err == nil {
		return cfg.Warnings
	}
	var ds config.Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error is %T, not Diagnostics: %v", err, err)
	}
	return ds
}

// RequireDiag fails unless some diagnostic of the given severity renders
// with want as a substring.
func RequireDiag(t testing.TB, ds config.Diagnostics, sev config.Severity, want string) {
	t.Helper()
	for _, d := range ds {
		if d.Severity == sev && strings.Contains(d.String(), want) {
			return
		}
	}
	t.Errorf("no %v containing %q in:\n%s", sev, want, Render(ds))
}

// Render prints diagnostics one a line, for failure messages.
func Render(ds config.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

// SameInstances compares instances ignoring positions, reporting each
// difference.
func SameInstances(t testing.TB, got, want []*config.Instance) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d instances, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].SameSettings(want[i]) {
			t.Errorf("instance %d:\n got %s\nwant %s", i, Dump(got[i]), Dump(want[i]))
		}
	}
}

// Dump prints an instance's settings on one line, for failure messages.
func Dump(i *config.Instance) string {
	vips := make([]string, len(i.VIPs))
	for j, v := range i.VIPs {
		vips[j] = fmt.Sprintf("{%v dev=%s label=%q excl=%v}", v.Prefix, v.Interface, v.Label, v.Excluded)
	}
	return fmt.Sprintf("name=%s if=%s vrid=%d fam=%v v=%d prio=%d adv=%v state=%s preempt=%v delay=%v src=%v peers=%v auth=%q vips=%v garp=%+v",
		i.Name, i.Interface, i.VRID, i.Family, i.Version, i.Priority, i.AdvertInterval, i.InitialState,
		i.Preempt, i.PreemptDelay, i.UnicastSource, i.UnicastPeers, i.AuthPass, vips, i.GARP)
}

// SameConfig compares everything but positions, formats and warnings,
// the gossip section included.
func SameConfig(t testing.TB, got, want *config.Config) {
	t.Helper()
	SameInstances(t, got.Instances, want.Instances)
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
