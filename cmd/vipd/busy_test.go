package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

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

// TestSetProcs: a few instances at 1 s run on one P, logged once; a
// configuration with a fast instance, or with many, goes back to the
// runtime's default.
func TestSetProcs(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment, which wins")
	}
	def := runtime.GOMAXPROCS(0)
	if def == 1 {
		t.Skip("one CPU: the default is one P already")
	}
	t.Cleanup(func() { sched.SetProcs(0) })
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := func(intervals ...time.Duration) *config.Config {
		c := config.DefaultConfig()
		for k, d := range intervals {
			c.Instances = append(c.Instances, &config.Instance{Name: fmt.Sprintf("vi%d", k), AdvertInterval: d})
		}
		return c
	}
	setProcs(log, cfg(time.Second, 2*time.Second))
	if n := runtime.GOMAXPROCS(0); n != 1 || strings.Count(buf.String(), "GOMAXPROCS set") != 1 {
		t.Fatalf("two instances at 1 s: GOMAXPROCS %d, log %q; want 1, logged", n, buf.String())
	}
	setProcs(log, cfg(time.Second))
	if strings.Count(buf.String(), "GOMAXPROCS set") != 1 {
		t.Fatalf("logged again without a change: %q", buf.String())
	}
	setProcs(log, cfg(time.Second, 100*time.Millisecond))
	if n := runtime.GOMAXPROCS(0); n != def {
		t.Fatalf("an instance at 100 ms: GOMAXPROCS %d, want the default %d", n, def)
	}
}
