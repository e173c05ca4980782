package agent

import (
	"testing"
	"time"
)

// The require_join hold: on until a join, the timeout or require_join off;
// once it ended because of a join or the timeout it never comes back (the
// last node of a cluster whose others failed must keep serving).
func TestJoinWaitReason(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	type step struct {
		at     time.Duration
		joined bool
		want   bool // held
	}
	tests := []struct {
		name    string
		w       joinWait
		steps   []step
		wantEnd string
	}{
		{"not required", joinWait{}, []step{{0, false, false}, {time.Hour, false, false}}, ""},
		{"held until joined and a master heard, then never again", joinWait{require: true, heard: true},
			[]step{{0, false, true}, {time.Minute, false, true}, {2 * time.Minute, true, false}, {3 * time.Minute, false, false}},
			"joined the gossip cluster"},
		{"no master heard: held a master-down interval after the join", joinWait{require: true, grace: 4 * time.Second},
			[]step{{0, false, true}, {time.Minute, true, true}, {time.Minute + 3*time.Second, true, true}, {time.Minute + 4*time.Second, true, false}},
			"joined the gossip cluster"},
		{"timeout ends it for good", joinWait{require: true, timeout: 30 * time.Second},
			[]step{{0, false, true}, {29 * time.Second, false, true}, {30 * time.Second, false, false}, {time.Hour, false, false}},
			"require_join_timeout passed without a join"},
		{"no timeout: held however long", joinWait{require: true},
			[]step{{0, false, true}, {24 * time.Hour, false, true}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			w.started = t0
			for _, s := range tt.steps {
				if got := w.reason(t0.Add(s.at), s.joined) != ""; got != s.want {
					t.Fatalf("at %v (joined %v): held %v, want %v", s.at, s.joined, got, s.want)
				}
			}
			if w.done != tt.wantEnd {
				t.Errorf("ended with %q, want %q", w.done, tt.wantEnd)
			}
		})
	}
	// Turned off by a reload while held: released, and back on again
	// if turned on before any join.
	w := joinWait{require: true, started: t0, heard: true}
	if w.reason(t0, false) == "" {
		t.Fatal("not held")
	}
	w.require = false
	if r := w.reason(t0.Add(time.Second), false); r != "" {
		t.Fatalf("held (%q) with require_join off", r)
	}
	w.require = true
	if w.reason(t0.Add(2*time.Second), false) != joinWaitReason {
		t.Fatal("not held again with require_join back on")
	}
}
