package config_test

import (
	"net/netip"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/machine"
)

// The helpers shared with config/keepalived and config/load are
// configtest's; these are config's own.

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func ptr[T any](v T) *T { return &v }

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
func loadYAML(path string, opts config.LoadOptions) (*config.Config, error) {
	data, err := config.ReadFileFS(opts.Files(), path)
	if err != nil {
		return nil, err
	}
	return config.ParseYAML(path, data, opts)
}
