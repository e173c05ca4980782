package gossip

import (
	"errors"
	"fmt"
	"net"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/priority"
)

// CommandKind says what a Command asks of its node.
type CommandKind uint8

// Command kinds.
const (
	// CommandResign asks the master of Instance to hand it over: send a
	// priority-0 advert and go BACKUP, so the best backup takes over at
	// once (a forced failover). Order, if set, is the order that makes
	// the new master the best, applied before resigning.
	CommandResign CommandKind = iota + 1
	// CommandMaintenance asks the node to enter (Enabled) or leave
	// maintenance.
	CommandMaintenance
)

// String names the kind for logs.
func (k CommandKind) String() string {
	switch k {
	case CommandResign:
		return "resign"
	case CommandMaintenance:
		return "maintenance"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Command is an API command forwarded to the node that must carry it
// out. It travels over memberlist's TCP stream, so it is encrypted and
// labelled like all gossip; nodes refuse commands in a cluster without
// encryption, where anyone who reaches the gossip port could send one.
type Command struct {
	// From is the node that accepted the command.
	From string
	// To is the node that must act.
	To string
	// Kind is what to do.
	Kind CommandKind
	// Instance is the instance concerned (CommandResign).
	Instance string
	// Enabled is the maintenance state wanted (CommandMaintenance).
	Enabled bool
	// Order is an order to apply first (CommandResign), or nil.
	Order *priority.Order
}

// ErrUnencrypted: commands need gossip encryption.
var ErrUnencrypted = errors.New("gossip: commands between nodes need gossip encryption (gossip.keys)")

func validateCommand(c Command) error {
	if err := checkName("command sender", c.From); err != nil {
		return err
	}
	if err := checkName("command target", c.To); err != nil {
		return err
	}
	switch c.Kind {
	case CommandResign:
		if err := checkName("instance name", c.Instance); err != nil {
			return err
		}
	case CommandMaintenance:
	default:
		return fmt.Errorf("unknown command kind %d", uint8(c.Kind))
	}
	if c.Order != nil {
		if err := validateOrder(*c.Order); err != nil {
			return err
		}
	}
	return nil
}

// Send delivers cmd to the alive member cmd.To over TCP; cmd.From is set
// to this node. It returns once the member has the bytes, not once it
// has acted: watch its state for that.
func (c *Cluster) Send(cmd Command) error {
	if c.keyring == nil {
		return ErrUnencrypted
	}
	cmd.From = c.name
	if err := validateCommand(cmd); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c.lifeMu.Lock()
	ml, up := c.ml, c.started && !c.down
	c.lifeMu.Unlock()
	if !up {
		return ErrStopped
	}
	c.mu.Lock()
	m, ok := c.members[cmd.To]
	c.mu.Unlock()
	if !ok || m.Status != StatusAlive {
		return fmt.Errorf("gossip: %s is not an alive member", cmd.To)
	}
	to := &memberlist.Node{Name: m.Name, Addr: net.IP(m.Addr.Addr().AsSlice()), Port: m.Addr.Port()}
	if err := ml.SendReliable(to, encodeCommand(cmd)); err != nil {
		return fmt.Errorf("gossip: send %s command to %s: %w", cmd.Kind, cmd.To, err)
	}
	return nil
}

// handleCommand applies a command's order, then hands it to OnCommand.
// Commands for another node, or in an unencrypted cluster, are dropped.
func (c *Cluster) handleCommand(cmd Command) {
	switch {
	case c.keyring == nil:
		c.stats.rejectedCommands.Add(1)
		c.log.Warn("gossip: dropped a command: the cluster is not encrypted", "from", cmd.From, "kind", cmd.Kind)
		return
	case cmd.To != c.name:
		c.stats.rejectedCommands.Add(1)
		c.log.Warn("gossip: dropped a command for another node", "from", cmd.From, "to", cmd.To, "kind", cmd.Kind)
		return
	}
	if cmd.Order != nil {
		c.handleOrders(true, *cmd.Order)
	}
	c.log.Info("gossip: command received", "from", cmd.From, "kind", cmd.Kind, "instance", cmd.Instance, "enabled", cmd.Enabled)
	if c.onCommand != nil {
		c.onCommand(cmd)
	}
}
