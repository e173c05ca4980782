package agent

import (
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/notify"
)

// TestNextWake checks each due time the cluster link wakes for when no
// event comes, and its window: nothing but the safety round when idle; the guard's
// interval ending; a held instance's next ping and not its old interval;
// a due time passed (a ping to start) after syncInterval, unless a ping is
// in flight; require_join's timeout and its settling after the join.
func TestNextWake(t *testing.T) {
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	ic := testInstance("web", 51, 100, notify.Config{})
	running := map[string]*running{"web": {cfg: ic}}
	fresh := func() (*clusterLink, *tracking) {
		tr := testTracking(baseConfig(ic), notify.New(notify.Options{Log: quietLog}))
		tr.begin(ic)
		return &clusterLink{log: quietLog, guardSince: map[string]time.Time{}, guardCheck: map[string]time.Time{},
			guardMiss: map[string]int{}, probes: map[string]*probe{}}, tr
	}
	exact := func(d time.Duration) due { return due{now.Add(d), now.Add(d)} }
	idle := due{now.Add(linkRecheck / 2), now.Add(linkRecheck)}
	tests := []struct {
		name string
		set  func(*clusterLink, *tracking)
		want due
	}{
		{"idle: the safety round, riding from its half on", func(*clusterLink, *tracking) {}, idle},
		{"guard interval ends", func(l *clusterLink, _ *tracking) {
			l.guardSince["web"] = now.Add(-time.Second)
		}, exact(guardInterval(ic) - time.Second)},
		{"held: next ping, not the interval", func(l *clusterLink, tr *tracking) {
			l.guardSince["web"] = now.Add(-time.Minute)
			l.guardCheck["web"] = now.Add(2 * time.Second)
			tr.setGuard("web", "held")
		}, exact(2 * time.Second)},
		{"due passed: a ping to start", func(l *clusterLink, tr *tracking) {
			l.guardCheck["web"] = now
			tr.setGuard("web", "held")
		}, exact(syncInterval)},
		{"due passed, ping in flight: its answer wakes", func(l *clusterLink, tr *tracking) {
			l.guardCheck["web"] = now
			tr.setGuard("web", "held")
			l.probes["n1"] = &probe{started: now}
		}, idle},
		{"an advert stops counting as heard", func(l *clusterLink, _ *tracking) {
			l.wake.at(now.Add(1500*time.Millisecond), now.Add(2500*time.Millisecond))
			l.wake.at(now.Add(2000*time.Millisecond), now.Add(3000*time.Millisecond))
		}, due{now.Add(1500 * time.Millisecond), now.Add(2500 * time.Millisecond)}},
		{"never sooner than syncInterval", func(l *clusterLink, _ *tracking) {
			l.wake.at(now.Add(-time.Second), now.Add(time.Millisecond))
		}, exact(syncInterval)},
		{"require_join timeout", func(l *clusterLink, _ *tracking) {
			l.join = joinWait{require: true, timeout: 3 * time.Second, started: now.Add(-time.Second)}
		}, exact(2 * time.Second)},
		{"require_join settling after the join", func(l *clusterLink, _ *tracking) {
			l.join = joinWait{require: true, timeout: time.Minute, started: now.Add(-time.Second), joinedAt: now}
		}, exact(syncInterval)},
		{"require_join done", func(l *clusterLink, _ *tracking) {
			l.join = joinWait{require: true, timeout: 3 * time.Second, started: now.Add(-time.Second), done: "joined"}
		}, idle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, tr := fresh()
			tc.set(l, tr)
			if early, at := l.nextWake(now, tr, running); !early.Equal(tc.want.early) || !at.Equal(tc.want.at) {
				t.Errorf("next wake from %v to %v, want from %v to %v", early.Sub(now), at.Sub(now), tc.want.early.Sub(now), tc.want.at.Sub(now))
			}
		})
	}
}

// A backup that hears the better master through VRRP and sees it in
// gossip wakes when that master's last advert stops counting as heard (or
// up to an advert before, with another alarm), so that the guard looks
// again even if nothing else happens.
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
		if early, at := g.l.nextWake(now, g.tr, g.run_); !at.Equal(want) || !early.Equal(want.Add(-time.Second)) {
			t.Errorf("next wake from %v to %v, want from %v to %v (n1's last advert + %v)",
				early.Sub(now), at.Sub(now), want.Add(-time.Second).Sub(now), want.Sub(now), heardWithin(g.r.cfg))
		}
	})
}
