package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/sched"
)

func TestSchedSettings(t *testing.T) {
	for _, tt := range []struct {
		in   config.Scheduling
		want sched.Settings
	}{
		{config.Scheduling{Policy: config.SchedRR, Priority: 50}, sched.Settings{Policy: sched.RR, Priority: 50}},
		{config.Scheduling{Policy: config.SchedFIFO, Priority: 1}, sched.Settings{Policy: sched.FIFO, Priority: 1}},
		{config.Scheduling{Nice: -7}, sched.Settings{Policy: sched.Other, Nice: -7}},
		{config.Scheduling{Policy: config.SchedOther, Nice: 3}, sched.Settings{Policy: sched.Other, Nice: 3}},
	} {
		if got := schedSettings(tt.in); got != tt.want {
			t.Errorf("schedSettings(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestBusyGuardReload: with nothing to apply the guard starts nothing, and
// a reloaded configuration that changes the settings is warned about (they
// apply at start only), one that keeps them is not.
func TestBusyGuardReload(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	g := startBusyGuard(ctx, log, config.Node{Name: "a"})
	cancel()
	g.wait()
	if g.locked || buf.Len() != 0 {
		t.Fatalf("nothing to apply, yet locked=%v, logged %q", g.locked, buf.String())
	}
	same := config.DefaultConfig()
	same.Node.Name = "renamed"
	g.reloaded(same)
	g.reloaded(nil)
	if buf.Len() != 0 {
		t.Fatalf("warned about an unchanged setting: %q", buf.String())
	}
	changed := config.DefaultConfig()
	changed.Node.LockMemory = true
	g.reloaded(changed)
	if !strings.Contains(buf.String(), "take effect at the next start") {
		t.Fatalf("no warning for a changed lock_memory: %q", buf.String())
	}
}
