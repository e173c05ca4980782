package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vipd/vipd/config/internal/machine"
)

// The helpers of the tests still inside package config. The other tests
// are package config_test and use configtest's (helpers_ext_test.go);
// these go once every test is.

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

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

func newFakeSys(uid, gid uint32) *machine.Fake { return machine.NewFake(uid, gid) }
