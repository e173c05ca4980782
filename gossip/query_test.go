package gossip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A query reaches the member asked and its handler's answer comes back
// (with the member's clock); a handler's error and an unknown member are
// errors; an unencrypted cluster refuses queries.
func TestQuery(t *testing.T) {
	cfg := testConfig(t, "queries")
	cfg.Keys = []string{b64(testKey(3))}
	a := startNode(t, "a", cfg)
	bn := newNode(t, "b", joining(t, *cfg, a))
	bn.c.SetQueryHandler(func(from string, req []byte) ([]byte, error) {
		if string(req) == "fail" {
			return nil, errors.New("no such thing")
		}
		return []byte(from + " asked " + string(req)), nil
	})
	bn.start(t)
	// Both views: b answers only members it sees alive, and the join reaches
	// a's view before b's.
	waitFor(t, 5*time.Second, "a and b to see each other", func() bool {
		return len(aliveNames(a.c)) == 2 && len(aliveNames(bn.c)) == 2
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := a.c.Query(ctx, "b", []byte("events"))
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if string(r.Payload) != "a asked events" || r.Node != "b" {
		t.Fatalf("reply %+v", r)
	}
	if r.RTT() < 0 || r.RTT() > 5*time.Second || r.Offset() > time.Second || r.Offset() < -time.Second {
		t.Fatalf("rtt %v offset %v on one machine", r.RTT(), r.Offset())
	}
	if _, err := a.c.Query(ctx, "b", []byte("fail")); err == nil || !strings.Contains(err.Error(), "no such thing") {
		t.Fatalf("handler error: %v", err)
	}
	// b asks a, which has no handler.
	if _, err := bn.c.Query(ctx, "a", []byte("x")); err == nil || !strings.Contains(err.Error(), "answers no queries") {
		t.Fatalf("no handler: %v", err)
	}
	if _, err := a.c.Query(ctx, "nobody", nil); err == nil {
		t.Fatal("query to an unknown member succeeded")
	}
	if _, err := a.c.Query(ctx, "b", make([]byte, MaxQueryRequest+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized query: %v", err)
	}
	// A member that does not answer in time: the asker's context ends.
	stuck := make(chan struct{})
	bn.c.SetQueryHandler(func(string, []byte) ([]byte, error) { <-stuck; return nil, nil })
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := a.c.Query(short, "b", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stuck member: %v", err)
	}
	close(stuck)

	plain := testConfig(t, "plainq")
	p := startNode(t, "p", plain)
	q := startNode(t, "q", joining(t, *plain, p))
	waitFor(t, 5*time.Second, "p to see q", func() bool { return len(aliveNames(p.c)) == 2 })
	if _, err := p.c.Query(ctx, "q", nil); !errors.Is(err, ErrUnencrypted) {
		t.Fatalf("unencrypted: %v", err)
	}
	// A forged query in the clear is dropped and counted.
	e := header(msgQuery)
	e.uvarint(1)
	e.str("p")
	e.str("")
	q.c.receive(e.b, false)
	if n := q.c.Stats().RejectedCommands; n != 1 {
		t.Fatalf("RejectedCommands = %d, want 1", n)
	}
}
