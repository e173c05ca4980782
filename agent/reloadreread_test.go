package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/notify"
)

// A reload is not a first start: a file check re-created by a reload (its
// settings changed) leaves the value an operator wrote in its file, even
// with "init_file VALUE overwrite", which only a first start applies.
// Otherwise a reload would undo a hand-made move of the VIP.
func TestReloadKeepsTrackFileValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weight")
	if err := os.WriteFile(path, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zero := 0
	cfg := func(interval time.Duration) *config.Config {
		c := baseConfig(testInstance("web", 51, 100, notify.Config{}, "weight"))
		c.Checks = []*config.Check{{Config: checks.Config{
			Name: "weight", Kind: checks.KindFile, Interval: interval, Fall: 1, Rise: 1, Weight: 1,
			File: &checks.FileConfig{Path: path, InitValue: &zero, InitOverwrite: true},
		}}}
		return c
	}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	tr, _ := startTracking(t, cfg(time.Second), nil)
	if got := read(); got != "0" {
		t.Fatalf("first start: the file holds %q, want the init value 0 (overwrite)", got)
	}

	// The operator moves the VIP by hand, then a reload changes the check.
	if err := os.WriteFile(path, []byte("-50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := tr.configure(ctx, cfg(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := tr.runners["weight"]; r == nil || r.cfg.Interval != 2*time.Second {
		t.Fatal("the changed check was not re-created")
	}
	if got := read(); got != "-50" {
		t.Errorf("after a reload the file holds %q, want the operator's -50", got)
	}
}
