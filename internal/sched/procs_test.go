package sched

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestProcs(t *testing.T) {
	for _, tt := range []struct {
		instances int
		fastest   time.Duration
		want      int
	}{
		{1, time.Second, 1},
		{FewInstances, 3 * time.Second, 1},
		{FewInstances + 1, time.Second, 0},
		{1, 100 * time.Millisecond, 0},
		{100, 100 * time.Millisecond, 0},
	} {
		if got := Procs(tt.instances, tt.fastest); got != tt.want {
			t.Errorf("Procs(%d, %v) = %d, want %d", tt.instances, tt.fastest, got, tt.want)
		}
	}
}

// SetProcs sets one P, goes back to the runtime's default, and leaves a
// GOMAXPROCS chosen in the environment alone.
func TestSetProcs(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Skip("GOMAXPROCS is set in the environment; TestSetProcsEnvironment covers it")
	}
	def := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { SetProcs(0) })
	if got, changed := SetProcs(1); got != 1 || changed != (def != 1) {
		t.Fatalf("SetProcs(1) = %d, %v; want 1, %v", got, changed, def != 1)
	}
	if got, changed := SetProcs(1); got != 1 || changed {
		t.Fatalf("SetProcs(1) again = %d, %v; want 1, false", got, changed)
	}
	if got, _ := SetProcs(0); got != def {
		t.Fatalf("SetProcs(0) = %d, want the default %d", got, def)
	}
	if got, changed := SetProcs(0); got != def || changed {
		t.Fatalf("SetProcs(0) again = %d, %v; want %d, false", got, changed, def)
	}
}

func TestSetProcsEnvironment(t *testing.T) {
	t.Setenv("GOMAXPROCS", "3")
	before := runtime.GOMAXPROCS(0)
	if got, changed := SetProcs(1); got != before || changed || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("SetProcs(1) with GOMAXPROCS in the environment = %d, %v; want %d unchanged", got, changed, before)
	}
}
