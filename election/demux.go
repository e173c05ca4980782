package election

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vipd/vipd/election/transport"
	"github.com/vipd/vipd/election/vrrp"
)

// PacketReader is the receive side of a raw VRRP socket; *transport.Conn
// satisfies it. ReadPacket must return net.ErrClosed once the socket is
// closed, which is how a Demux is stopped.
type PacketReader interface {
	ReadPacket(buf []byte) (transport.Packet, error)
}

// Demux reads one socket (one family on one interface), decodes each advert
// and has the instance that owns its VRID handle it on the demux's own
// goroutine, so an advert costs one goroutine wake-up. Packets nobody can use are
// counted by reason and logged at debug level.
type Demux struct {
	conn  PacketReader
	log   *slog.Logger
	drops *DropCounter

	mu     sync.RWMutex
	byVRID map[uint8][]*Instance
}

// NewDemux returns a demux for conn; drops may be shared with instances.
func NewDemux(conn PacketReader, log *slog.Logger, drops *DropCounter) *Demux {
	return &Demux{conn: conn, log: log, drops: drops, byVRID: map[uint8][]*Instance{}}
}

// Register routes adverts for vrid to inst. Several unicast instances may
// share a VRID on one socket, as keepalived allows when they have no
// common peer (the configuration refuses the rest): each advert goes to
// the one that lists its source as a peer. Multicast instances cannot be
// told apart, so a second one with the same VRID is refused.
func (d *Demux) Register(vrid uint8, inst *Instance) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	list := d.byVRID[vrid]
	for _, other := range list {
		if other == inst {
			return nil
		}
		if !other.unicast && !inst.unicast {
			return fmt.Errorf("vrid %d is already used on this interface by multicast instance %s", vrid, other.Name())
		}
	}
	// A new slice: Run reads the old one without the lock.
	d.byVRID[vrid] = append(list[:len(list):len(list)], inst)
	return nil
}

// Unregister stops routing vrid to inst.
func (d *Demux) Unregister(vrid uint8, inst *Instance) {
	d.mu.Lock()
	defer d.mu.Unlock()
	list := d.byVRID[vrid]
	k := slices.Index(list, inst)
	if k < 0 {
		return
	}
	if len(list) == 1 {
		delete(d.byVRID, vrid)
		return
	}
	d.byVRID[vrid] = slices.Delete(slices.Clone(list), k, k+1)
}

// route picks the instance for an advert of a shared VRID: a multicast
// advert goes to the multicast instance, a unicast one to the unicast
// instance that lists its source as a peer (the one it is addressed to
// first). With no match the first instance takes it, to count and log the
// drop.
func route(list []*Instance, src, dst netip.Addr) *Instance {
	if len(list) == 1 {
		return list[0]
	}
	if dst.IsMulticast() {
		for _, in := range list {
			if !in.unicast {
				return in
			}
		}
		return list[0]
	}
	var peerOnly *Instance // lists the source, sends from another address
	for _, in := range list {
		if in.unicast && in.hasPeer(src) {
			if in.src == dst {
				return in
			}
			if peerOnly == nil {
				peerOnly = in
			}
		}
	}
	if peerOnly != nil {
		return peerOnly
	}
	return list[0]
}

// Run reads until the socket is closed; its owner closes the socket to stop
// it. It returns nil on close and the error otherwise.
func (d *Demux) Run() error {
	buf := make([]byte, 65536)
	var adv vrrp.Advert
	for {
		p, err := d.conn.ReadPacket(buf)
		switch {
		case errors.Is(err, net.ErrClosed):
			return nil
		case errors.Is(err, transport.ErrTruncated), errors.Is(err, transport.ErrMalformed):
			// One bad packet: count it and keep reading.
			d.drops.Add(vrrp.DropBadLength)
			d.log.Debug("packet dropped", "reason", vrrp.DropBadLength.String(), "err", err)
			continue
		case err != nil:
			return err
		}
		if err := vrrp.UnmarshalInto(&adv, p.Payload, p.Src, p.Dst); err != nil {
			reason, _ := vrrp.ReasonOf(err)
			d.drops.Add(reason)
			d.log.Debug("packet dropped", "reason", reason.String(), "src", p.Src, "err", err)
			continue
		}
		d.mu.RLock()
		list := d.byVRID[adv.VRID]
		d.mu.RUnlock()
		if len(list) == 0 {
			// Normal on a shared segment: other clusters use other VRIDs.
			d.drops.Add(vrrp.DropUnknownVRID)
			d.log.Debug("packet dropped", "reason", vrrp.DropUnknownVRID.String(), "src", p.Src, "vrid", adv.VRID)
			continue
		}
		// Instances do not look at the address list (RFC 5798 lets a
		// mismatch pass), so adv.Addrs can be reused for the next packet.
		a := adv
		a.Addrs = nil
		in := route(list, p.Src, p.Dst)
		in.deliverNow(a, p.Src, p.Dst, p.HopLimit)
		// Awake anyway: alarms in their windows (a check's safety
		// re-read) ride this wake-up. A backup's timer has nothing else
		// to wake for while adverts come.
		if t := in.deps.Timers; t != nil {
			t.Ride()
		}
	}
}
