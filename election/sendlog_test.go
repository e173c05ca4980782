package election

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"golang.org/x/sys/unix"
)

// failingPort fails every send while down is set, as a socket on a link
// that is down does.
type failingPort struct {
	down  atomic.Bool
	tries atomic.Int32
}

func (p *failingPort) WriteTo([]byte, netip.Addr, netip.Addr) error {
	p.tries.Add(1)
	if p.down.Load() {
		return &sendError{unix.ENETUNREACH}
	}
	return nil
}

type sendError struct{ errno unix.Errno }

func (e *sendError) Error() string { return "sendmsg: " + e.errno.Error() }
func (e *sendError) Unwrap() error { return e.errno }

// records is a slog handler that keeps every record.
type records struct {
	mu  sync.Mutex
	all []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// find returns the records at level whose message starts with msg, and
// the value of attr in the last one.
func (r *records) find(level slog.Level, msg, attr string) (n int, last slog.Value) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.all {
		if rec.Level != level || len(rec.Message) < len(msg) || rec.Message[:len(msg)] != msg {
			continue
		}
		n++
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == attr {
				last = a.Value
			}
			return true
		})
	}
	return n, last
}

// TestAdvertSendFailuresLoggedOncePerOutage: with the link down every
// advert fails; that is one warning, then a line with the count when
// sending works again, and a new outage is a new warning.
func TestAdvertSendFailuresLoggedOncePerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &failingPort{}
		p.down.Store(true)
		logs := &records{}
		h := newHost()
		inst, err := NewInstance(instanceConfig("web", 100), addrA, p, Deps{
			Clock: clock.Real(), Log: slog.New(logs), Addrs: h, Announcer: h,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = inst.Run(ctx) }()

		// Master after 3 s + skew, then an advert a second: 6 failures.
		time.Sleep(3*time.Second + 156*time.Second/256 + 5*time.Second + time.Millisecond)
		synctest.Wait()
		if got := p.tries.Load(); got != 6 {
			t.Fatalf("%d sends tried, want 6", got)
		}
		if n, _ := logs.find(slog.LevelWarn, "cannot send advert", ""); n != 1 {
			t.Fatalf("%d warnings for 6 failed sends, want 1", n)
		}
		if n, _ := logs.find(slog.LevelInfo, "sending adverts works again", ""); n != 0 {
			t.Fatal("said sending works while it does not")
		}

		p.down.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		n, failed := logs.find(slog.LevelInfo, "sending adverts works again", "failed")
		if n != 1 || failed.Int64() != 6 {
			t.Fatalf("%d recovery lines, failed=%v; want 1 with failed=6", n, failed)
		}
		_, took := logs.find(slog.LevelInfo, "sending adverts works again", "for")
		if took.Duration() != 6*time.Second { // first failure to first success
			t.Fatalf("outage reported as %v, want 6s", took.Duration())
		}

		// A second outage is reported again.
		p.down.Store(true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n, _ := logs.find(slog.LevelWarn, "cannot send advert", ""); n != 2 {
			t.Fatalf("%d warnings after a second outage, want 2", n)
		}
		if n, _ := logs.find(slog.LevelInfo, "sending adverts works again", ""); n != 1 {
			t.Fatalf("%d recovery lines during the second outage, want 1", n)
		}
	})
}
