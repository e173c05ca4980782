package history

import (
	"context"
	"testing"

	"github.com/vipd/vipd/internal/clock"
)

// BenchmarkRecord is what a transition pays for its history: Record with
// the writer running against a real file (appending and syncing batches
// on its own goroutine).
func BenchmarkRecord(b *testing.B) {
	l, err := Open(b.TempDir(), Options{}, clock.Real())
	if err != nil {
		b.Fatal(err)
	}
	r := NewRecorder("n1", l, clock.Real(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	e := Event{Kind: KindTransition, Instance: "dns", From: "BACKUP", To: "MASTER", Priority: 250, PrevPriority: 200,
		Reason: "master resigned (priority 0 advert)", Master: "198.51.100.3"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Record(e)
	}
	b.StopTimer()
	cancel()
	<-done
	if r.Dropped() != 0 {
		// Not a failure: Record never waits, so a benchmark loop can
		// outrun the disk; it only must not block.
		b.Logf("%d of %d events dropped while the writer caught up", r.Dropped(), b.N)
	}
}
