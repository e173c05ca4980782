package gossip

import (
	"context"
	"net"

	"github.com/hashicorp/memberlist"
)

// broadcast is one queued delta. Its name ("state/NODE", "order/INSTANCE")
// makes a newer delta about the same thing replace an older one still in
// the queue, so the queue never carries stale versions.
type broadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

// Invalidates reports whether b replaces other: same name.
func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	nb, ok := other.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}

// Name is the broadcast's identity.
func (b *broadcast) Name() string { return b.name }

// Message is the encoded delta.
func (b *broadcast) Message() []byte { return b.msg }

// Finished is called when the delta is no longer sent; nothing waits.
func (b *broadcast) Finished() {}

// broadcastLimit is the largest delta that fits a gossip packet next to
// memberlist's framing: compound header and per-message overhead, the
// label header, the encryption envelope (version, nonce, padding and GCM
// tag at memberlist's default protocol version), the user-message type
// byte and the CRC newer protocol versions add. Larger deltas go over TCP
// (sendLoop) and push/pull.
func broadcastLimit(mc *memberlist.Config) int {
	const (
		compound   = 2 + 2 // header, and one message's length
		encryption = 1 + 12 + 16 + 16
		userType   = 1
		crc        = 5
		margin     = 16
	)
	label := 0
	if mc.Label != "" {
		label = 2 + len(mc.Label)
	}
	return mc.UDPBufferSize - compound - label - encryption - userType - crc - margin
}

// publish starts the dissemination of a local change: by gossip when it
// fits a packet, else by TCP to every alive member.
func (c *Cluster) publish(name string, msg []byte) {
	if len(msg) <= c.maxBroadcast {
		c.queue.QueueBroadcast(&broadcast{name: name, msg: msg})
		return
	}
	c.sendMu.Lock()
	c.large[name] = msg
	c.sendMu.Unlock()
	select {
	case c.sendWake <- struct{}{}:
	default:
	}
}

// publishDirect disseminates a rare change that matters (an order) both
// ways at once: by gossip, and by TCP to every alive member. Gossip alone
// reaches a given member only with high probability within its
// retransmits; a miss would wait for the next push/pull, tens of seconds.
func (c *Cluster) publishDirect(name string, msg []byte) {
	if len(msg) <= c.maxBroadcast {
		c.queue.QueueBroadcast(&broadcast{name: name, msg: msg})
	}
	c.sendMu.Lock()
	c.large[name] = msg
	c.sendMu.Unlock()
	select {
	case c.sendWake <- struct{}{}:
	default:
	}
}

// wakeSend wakes sendLoop without blocking.
func (c *Cluster) wakeSend() {
	select {
	case c.sendWake <- struct{}{}:
	default:
	}
}

// regossip passes on a delta learned from a peer, as serf does, so it
// spreads even if its origin's retransmits are used up. Large deltas are
// not passed on: their origin sends them to everyone itself.
func (c *Cluster) regossip(name string, msg []byte) {
	if len(msg) <= c.maxBroadcast {
		c.queue.QueueBroadcast(&broadcast{name: name, msg: append([]byte(nil), msg...)})
	}
}

// sendLoop sends deltas to every alive member over TCP (those too large
// for a gossip packet, orders, and this node's first state), and this
// node's state to each member that just joined; only the latest delta per
// name is kept.
func (c *Cluster) sendLoop(ctx context.Context, ml *memberlist.Memberlist) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.sendWake:
		}
		c.sendMu.Lock()
		pending, welcome, replyTo := c.large, c.welcome, c.replyTo
		c.large, c.welcome, c.replyTo = make(map[string][]byte), make(map[string]bool), make(map[string]bool)
		c.sendMu.Unlock()
		targets := c.aliveOthers()
		send := func(m Member, what string, msg []byte) bool {
			if ctx.Err() != nil {
				return false
			}
			to := &memberlist.Node{Name: m.Name, Addr: net.IP(m.Addr.Addr().AsSlice()), Port: m.Addr.Port()}
			if err := ml.SendReliable(to, msg); err != nil {
				c.log.Warn("gossip: cannot send update", "update", what, "peer", m.Name, "err", err)
			}
			return true
		}
		for name, msg := range pending {
			for _, m := range targets {
				if !send(m, name, msg) {
					return
				}
			}
		}
		// A member that learned of this node from a third one has not had
		// its state by push/pull, gossip may have spent this state's
		// retransmits before the member was known, and a member coming back
		// after being declared dead had its state dropped everywhere: say
		// hello (our state, asking for theirs) to each member that joined,
		// and answer each hello with our state.
		if len(welcome) == 0 && len(replyTo) == 0 {
			continue
		}
		c.mu.Lock()
		set, local := c.localSet, c.local
		c.mu.Unlock()
		if !set {
			continue // the first SetLocal sends it to everyone
		}
		hello, state := encodeHello(local), encodeState(local)
		for _, m := range targets {
			switch {
			case welcome[m.Name]:
				if !send(m, "hello", hello) {
					return
				}
			case replyTo[m.Name]:
				if !send(m, "state/"+c.name, state) {
					return
				}
			}
		}
	}
}
