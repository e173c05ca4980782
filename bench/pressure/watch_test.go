package pressure

import (
	"net/netip"
	"sync"
	"time"

	"github.com/vipd/vipd/bench/internal/sockwatch"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/lab"
)

// arrival is one advert as the backup's namespace received it.
type arrival struct {
	at   time.Time // kernel receive timestamp (SO_TIMESTAMPNS)
	src  netip.Addr
	prio uint8
}

// advertWatch records every advert of one VRID that reaches a node, on a
// raw protocol-112 socket of its own: the kernel hands each raw socket its
// own copy, so it sees what the backup's daemon sees, timed by the kernel.
type advertWatch struct {
	r    *sockwatch.Reader
	vrid uint8

	mu   sync.Mutex
	seen []arrival
	adv  vrrp.Advert // used by the reader only
}

func watchAdverts(n *lab.Node, iface string, vrid uint8) (*advertWatch, error) {
	fd, err := sockwatch.OpenVRRP(n, iface, 0)
	if err != nil {
		return nil, err
	}
	w := &advertWatch{vrid: vrid}
	w.r = sockwatch.Start(fd, 2048, w.handle)
	return w, nil
}

func (w *advertWatch) handle(at time.Time, pkt []byte) {
	src, dst, payload, ok := sockwatch.ParseIPv4(pkt)
	if !ok || vrrp.UnmarshalInto(&w.adv, payload, src, dst) != nil || w.adv.VRID != w.vrid {
		return
	}
	w.mu.Lock()
	w.seen = append(w.seen, arrival{at: at, src: src, prio: w.adv.Priority})
	w.mu.Unlock()
}

// since returns the adverts that arrived at or after t.
func (w *advertWatch) since(t time.Time) ([]arrival, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []arrival
	for _, a := range w.seen {
		if !a.at.Before(t) {
			out = append(out, a)
		}
	}
	return out, w.r.Err()
}

// count returns how many adverts from src at prio arrived since t.
func (w *advertWatch) count(src netip.Addr, prio uint8, t time.Time) int {
	as, _ := w.since(t)
	n := 0
	for _, a := range as {
		if a.src == src && a.prio == prio {
			n++
		}
	}
	return n
}

// close stops the reader and waits for it; calling it again does nothing.
func (w *advertWatch) close() { w.r.Close() }
