package agent

import (
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/notify"
)

// TestNextWake checks each due time the cluster link wakes for when no
// event comes: nothing but the safety round when idle; the guard's
// interval ending; a held instance's next ping and not its old interval;
// a due time passed (a ping to start) after syncInterval, unless a ping is
// in flight; require_join's timeout and its settling after the join.
func TestNextWake(t *testing.T) {
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	ic := testInstance("web", 51, 100, config.Notify{})
	running := map[string]*running{"web": {cfg: ic}}
	fresh := func() (*clusterLink, *tracking) {
		tr := newTracking(quietLog, clock.Real(), notify.New(notify.Options{Log: quietLog}))
		return &clusterLink{log: quietLog, guardSince: map[string]time.Time{}, guardCheck: map[string]time.Time{},
			guardMiss: map[string]int{}, probes: map[string]*probe{}}, tr
	}
	tests := []struct {
		name string
		set  func(*clusterLink, *tracking)
		want time.Time
	}{
		{"idle", func(*clusterLink, *tracking) {}, now.Add(linkRecheck)},
		{"guard interval ends", func(l *clusterLink, _ *tracking) {
			l.guardSince["web"] = now.Add(-time.Second)
		}, now.Add(-time.Second).Add(guardInterval(ic))},
		{"held: next ping, not the interval", func(l *clusterLink, tr *tracking) {
			l.guardSince["web"] = now.Add(-time.Minute)
			l.guardCheck["web"] = now.Add(2 * time.Second)
			tr.guard["web"] = "held"
		}, now.Add(2 * time.Second)},
		{"due passed: a ping to start", func(l *clusterLink, tr *tracking) {
			l.guardCheck["web"] = now
			tr.guard["web"] = "held"
		}, now.Add(syncInterval)},
		{"due passed, ping in flight: its answer wakes", func(l *clusterLink, tr *tracking) {
			l.guardCheck["web"] = now
			tr.guard["web"] = "held"
			l.probes["n1"] = &probe{started: now}
		}, now.Add(linkRecheck)},
		{"an advert stops counting as heard", func(l *clusterLink, _ *tracking) {
			l.wake.at(now.Add(1500 * time.Millisecond))
			l.wake.at(now.Add(2500 * time.Millisecond))
		}, now.Add(1500 * time.Millisecond)},
		{"never sooner than syncInterval", func(l *clusterLink, _ *tracking) {
			l.wake.at(now.Add(time.Millisecond))
		}, now.Add(syncInterval)},
		{"require_join timeout", func(l *clusterLink, _ *tracking) {
			l.join = joinWait{require: true, timeout: 3 * time.Second, started: now.Add(-time.Second)}
		}, now.Add(2 * time.Second)},
		{"require_join settling after the join", func(l *clusterLink, _ *tracking) {
			l.join = joinWait{require: true, timeout: time.Minute, started: now.Add(-time.Second), joinedAt: now}
		}, now.Add(syncInterval)},
		{"require_join done", func(l *clusterLink, _ *tracking) {
			l.join = joinWait{require: true, timeout: 3 * time.Second, started: now.Add(-time.Second), done: "joined"}
		}, now.Add(linkRecheck)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, tr := fresh()
			tc.set(l, tr)
			if got := l.nextWake(now, tr, running); !got.Equal(tc.want) {
				t.Errorf("next wake in %v, want in %v", got.Sub(now), tc.want.Sub(now))
			}
		})
	}
}

// A backup that hears the better master through VRRP and sees it in
// gossip wakes when that master's last advert stops counting as heard,
// so that the guard looks again even if nothing else happens.
func TestNextWakeHeardMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, stop := newGuardRig(t)
		defer stop()
		g.run(5*time.Second, n1)
		now := time.Now()
		g.l.wake = linkWake{} // as sync starts a round
		g.l.guard(now, g.tr, "web", g.r, g.view)
		last := g.r.inst.LastHeard(n1.src)
		if last.IsZero() {
			t.Fatal("n1 never heard")
		}
		want := last.Add(heardWithin(g.r.cfg))
		if got := g.l.nextWake(now, g.tr, g.run_); !got.Equal(want) {
			t.Errorf("next wake in %v, want in %v (n1's last advert + %v)", got.Sub(now), want.Sub(now), heardWithin(g.r.cfg))
		}
	})
}
