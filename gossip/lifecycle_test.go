package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/vipd/vipd/election/fsm"
)

func TestLifecycle(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, n *node)
	}{
		{"leave before start", func(t *testing.T, n *node) {
			if err := n.c.Leave(time.Second); err != nil {
				t.Fatalf("Leave: %v", err)
			}
			if err := n.c.Start(context.Background()); !errors.Is(err, ErrStopped) {
				t.Fatalf("Start after Leave = %v, want ErrStopped", err)
			}
		}},
		{"start twice", func(t *testing.T, n *node) {
			n.start(t)
			if err := n.c.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
				t.Fatalf("second Start = %v, want ErrAlreadyStarted", err)
			}
		}},
		{"leave twice", func(t *testing.T, n *node) {
			n.start(t)
			if err := n.c.Leave(time.Second); err != nil {
				t.Fatalf("Leave: %v", err)
			}
			if err := n.c.Leave(time.Second); err != nil {
				t.Fatalf("second Leave: %v", err)
			}
		}},
		{"context end stops everything, even a join that never succeeds", func(t *testing.T, n *node) {
			// A join address where nothing listens: the join loop retries.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			dead := l.Addr().String()
			l.Close()
			n.c.joins = []joinTarget{mustTarget(t, dead)}
			n.start(t)
			waitFor(t, 5*time.Second, "two failed join rounds", func() bool { return n.c.Stats().JoinFailures >= 2 })
			n.cancel()
			waitFor(t, 5*time.Second, "memberlist to stop", func() bool { return n.rec.has(slogWarn, "without a leave message") })
			done := make(chan error, 1)
			go func() { done <- n.c.Leave(time.Second) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Leave after the context ended: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("goroutines still running 5 s after the context ended")
			}
			if n.rec.has(slog.LevelInfo, "left the cluster") {
				t.Error("Leave after the context ended sent a leave message")
			}
			if !n.rec.has(slogWarn, "join failed") {
				t.Error("join failures not logged")
			}
		}},
		{"own address in the join list is skipped", func(t *testing.T, n *node) {
			n.start(t)
			self := []joinTarget{mustTarget(t, n.c.LocalAddr().String())}
			if got := n.c.joinOnce(context.Background(), n.c.ml, self); got != 0 {
				t.Errorf("joinOnce with only this node's address joined %d", got)
			}
			if n.rec.has(slogWarn, "join failed") {
				t.Error("joining itself was attempted")
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newNode(t, "a", testConfig(t, fmt.Sprintf("life-%d", i))))
		})
	}
}

// A state too large for a gossip packet must still spread quickly, by
// TCP, without waiting for a push/pull.
func TestLargeStateSentOverTCP(t *testing.T) {
	cfg := testConfig(t, "large")
	cfg.Timings.PushPullInterval = time.Hour
	a := startNode(t, "a", cfg)
	b := startNode(t, "b", joining(t, *cfg, a))
	c := startNode(t, "c", joining(t, *cfg, a))
	waitFor(t, 10*time.Second, "three members", func() bool {
		return len(aliveNames(a.c)) == 3 && len(aliveNames(b.c)) == 3 && len(aliveNames(c.c)) == 3
	})
	var s NodeState
	for i := range 60 {
		s.Instances = append(s.Instances, InstanceState{Name: fmt.Sprintf("vi-%02d", i), VRID: uint8(i + 1), Family: 4, State: fsm.Backup, Reason: "waiting for the master"})
	}
	if size := len(encodeState(normalize(s, "a"))); size <= a.c.maxBroadcast {
		t.Fatalf("state of %d bytes fits a packet (%d)", size, a.c.maxBroadcast)
	}
	if err := a.c.SetLocal(s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the large state on b and c", func() bool {
		return len(b.c.States()["a"].Instances) == 60 && len(c.c.States()["a"].Instances) == 60
	})
}
