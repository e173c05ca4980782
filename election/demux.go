package election

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
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
// and hands it to the instance that owns its VRID. Packets nobody can use are
// counted by reason and logged at debug level.
type Demux struct {
	conn  PacketReader
	log   *slog.Logger
	drops *DropCounter

	mu     sync.RWMutex
	byVRID map[uint8]*Instance
}

// NewDemux returns a demux for conn; drops may be shared with instances.
func NewDemux(conn PacketReader, log *slog.Logger, drops *DropCounter) *Demux {
	return &Demux{conn: conn, log: log, drops: drops, byVRID: map[uint8]*Instance{}}
}

// Register routes adverts for vrid to inst. Adverts are routed by VRID
// alone, so a second instance with the same VRID on one socket is refused
// (keepalived would tell unicast instances apart by their peers).
func (d *Demux) Register(vrid uint8, inst *Instance) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if other, ok := d.byVRID[vrid]; ok && other != inst {
		return fmt.Errorf("vrid %d is already used on this interface by instance %s", vrid, other.Name())
	}
	d.byVRID[vrid] = inst
	return nil
}

// Unregister stops routing vrid, if inst still owns it.
func (d *Demux) Unregister(vrid uint8, inst *Instance) {
	d.mu.Lock()
	if d.byVRID[vrid] == inst {
		delete(d.byVRID, vrid)
	}
	d.mu.Unlock()
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
		inst := d.byVRID[adv.VRID]
		d.mu.RUnlock()
		if inst == nil {
			// Normal on a shared segment: other clusters use other VRIDs.
			d.drops.Add(vrrp.DropUnknownVRID)
			d.log.Debug("packet dropped", "reason", vrrp.DropUnknownVRID.String(), "src", p.Src, "vrid", adv.VRID)
			continue
		}
		// Instances do not look at the address list (RFC 5798 lets a
		// mismatch pass), so adv.Addrs can be reused for the next packet.
		a := adv
		a.Addrs = nil
		inst.Deliver(a, p.Src, p.Dst, p.HopLimit)
	}
}
