package keepalived

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/config/internal/machine"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

// The made-up machine of the script checks, under the names these tests
// use.
type fakeSys = machine.Fake

func newFakeSys(uid, gid uint32) *fakeSys { return machine.NewFake(uid, gid) }

// rootSys is a machine where vipd runs as root.
func rootSys() *fakeSys { return machine.Root() }

// loadFile reads a file as config/load.File does (which these tests
// cannot import: it imports this package).
func loadFile(path string, opts config.LoadOptions) (*config.Config, error) {
	data, err := config.ReadFileFS(opts.Files(), path)
	if err != nil {
		return nil, config.Diagnostics{{Pos: config.Pos{File: path}, Severity: config.SeverityError, Message: config.ErrorText(err)}}
	}
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		return config.ParseYAML(path, data, opts)
	}
	return Parse(path, data, opts)
}

// parseWarned parses conf as keepalived.conf on sys (host h1) and fails the
// test unless it loads with exactly len(warns) warnings, one holding each
// of warns.
func parseWarned(t *testing.T, conf string, sys *fakeSys, warns []string) *config.Config {
	t.Helper()
	cfg, err := Parse(kc, []byte(conf), config.LoadOptions{Hostname: "h1", System: sys})
	if err != nil {
		t.Fatalf("Parse: %v\nwarnings:\n%s", err, configtest.Render(configtest.DiagnosticsOf(t, cfg, err).Warnings()))
	}
	for _, w := range warns {
		configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, w)
	}
	if len(cfg.Warnings) != len(warns) {
		t.Errorf("%d warnings, want %d:\n%s", len(cfg.Warnings), len(warns), configtest.Render(cfg.Warnings))
	}
	return cfg
}
