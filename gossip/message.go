package gossip

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/priority"
)

// codecVersion is the version of the message format. A node drops (and
// counts) messages of another version; a future change that must keep
// old nodes working adds fields only in a new version and sends both
// during an upgrade.
const codecVersion = 1

// msgType is the first byte of every vipd gossip message.
type msgType uint8

const (
	// msgState carries one NodeState (delta broadcast).
	msgState msgType = iota + 1
	// msgOrder carries one order (delta broadcast).
	msgOrder
	// msgPushPull carries the full view (push/pull and join).
	msgPushPull
	// msgLeave announces that its sender is leaving on purpose, so peers
	// can tell a departure from a failure (memberlist's events do not).
	msgLeave
	// msgCommand carries one Command to the node that must act on it.
	msgCommand
	// msgHello carries its sender's NodeState to a member that just
	// (re)joined, and asks for that member's state in return.
	msgHello
)

// String names the type for logs.
func (t msgType) String() string {
	switch t {
	case msgState:
		return "state"
	case msgOrder:
		return "order"
	case msgPushPull:
		return "push-pull"
	case msgLeave:
		return "leave"
	case msgCommand:
		return "command"
	case msgHello:
		return "hello"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// pushPull is the full view exchanged by push/pull: every live node's
// state this node knows, every order, the Lamport clock, and the last
// states of members that died recently.
type pushPull struct {
	Clock    uint64
	States   []NodeState
	Orders   []priority.Order
	Departed []departedState
}

// departedState is a member that died Age ago, as one push/pull carries
// it. A node that starts while a member is cut off learns of that member
// only this way: it must keep it as a unicast peer (see Peers),
// or the two will not hear each other when the cut heals.
type departedState struct {
	State NodeState
	Age   time.Duration // whole milliseconds on the wire
}

// message is one decoded message: exactly one of the pointers (or, for
// msgLeave, Leaving) is set, matching Type.
type message struct {
	Type     msgType
	State    *NodeState
	Order    *priority.Order
	PushPull *pushPull
	Leaving  string // the departing node
	Command  *Command
}

// Minimum encoded sizes, used to bound list lengths against the bytes
// left (see decoder.count).
const (
	minInstanceSize = 12 // name, vrid, family, cluster, src, state, prio, reason, master, since
	minCheckSize    = 5  // name, healthy, state, since, output
	minOrderNode    = 2  // name, disabled
	minStateSize    = 5  // node, incarnation, two counts, maintenance
	minOrderSize    = 4  // instance, count, version, origin
)

func header(t msgType) encoder {
	return encoder{b: []byte{byte(t), codecVersion}}
}

// encodeState encodes a state message. s must be valid (validateState).
func encodeState(s NodeState) []byte {
	e := header(msgState)
	e.nodeState(s)
	return e.b
}

// encodeHello encodes a hello: the sender's state, and a request for the
// receiver's.
func encodeHello(s NodeState) []byte {
	e := header(msgHello)
	e.nodeState(s)
	return e.b
}

// encodeOrder encodes an order message. o must be valid (validateOrder).
func encodeOrder(o priority.Order) []byte {
	e := header(msgOrder)
	e.order(o)
	return e.b
}

// encodePushPull encodes the full view; its parts must be valid.
func encodePushPull(p pushPull) []byte {
	e := header(msgPushPull)
	e.uvarint(p.Clock)
	e.uvarint(uint64(len(p.States)))
	for _, s := range p.States {
		e.nodeState(s)
	}
	e.uvarint(uint64(len(p.Orders)))
	for _, o := range p.Orders {
		e.order(o)
	}
	// The departed list is a trailing section, absent when empty, so that a
	// view without it has one encoding and older views still decode.
	if len(p.Departed) > 0 {
		e.uvarint(uint64(len(p.Departed)))
		for _, dp := range p.Departed {
			e.nodeState(dp.State)
			e.uvarint(uint64(dp.Age / time.Millisecond))
		}
	}
	return e.b
}

// encodeCommand encodes a command; cmd must be valid (validateCommand).
func encodeCommand(cmd Command) []byte {
	e := header(msgCommand)
	e.str(cmd.From)
	e.str(cmd.To)
	e.byte(byte(cmd.Kind))
	e.str(cmd.Instance)
	e.bool(cmd.Enabled)
	e.bool(cmd.Order != nil)
	if cmd.Order != nil {
		e.order(*cmd.Order)
	}
	return e.b
}

// encodeLeave encodes a leave announcement for node (a valid name).
func encodeLeave(node string) []byte {
	e := header(msgLeave)
	e.str(node)
	return e.b
}

func (e *encoder) nodeState(s NodeState) {
	e.str(s.Node)
	e.uvarint(s.Incarnation)
	e.uvarint(uint64(len(s.Instances)))
	for _, in := range s.Instances {
		e.str(in.Name)
		e.byte(in.VRID)
		e.byte(uint8(in.Family))
		e.str(in.Cluster)
		e.addr(in.Src)
		e.str(in.StateWord())
		e.byte(in.Priority)
		e.str(in.Reason)
		e.addr(in.Master)
		e.time(in.Since)
	}
	e.uvarint(uint64(len(s.Checks)))
	for _, c := range s.Checks {
		e.str(c.Name)
		e.bool(c.Healthy)
		e.str(c.StateWord())
		e.time(c.Since)
		e.str(c.Output)
	}
	e.bool(s.Maintenance)
}

func (e *encoder) order(o priority.Order) {
	e.str(o.Instance)
	e.uvarint(uint64(len(o.Nodes)))
	for _, n := range o.Nodes {
		e.str(n.Name)
		e.bool(n.Disabled)
	}
	e.uvarint(o.Version)
	e.str(o.Origin)
}

// decodeMessage decodes one message. It never panics and never keeps a
// reference to b (memberlist reuses the buffer after NotifyMsg returns).
// What decodes is valid: decodeMessage runs the same checks as SetLocal
// and SetOrder.
func decodeMessage(b []byte) (message, error) {
	d := decoder{what: "message", b: b}
	t := msgType(d.byte("type"))
	v := d.byte("version")
	if d.err != nil {
		return message{}, d.error()
	}
	if v != codecVersion {
		d.off--
		d.fail("version", ErrVersion)
		return message{}, d.error()
	}
	m := message{Type: t}
	switch t {
	case msgState, msgHello:
		s := d.nodeState()
		m.State = &s
	case msgOrder:
		o := d.order()
		m.Order = &o
	case msgPushPull:
		var p pushPull
		p.Clock = d.uvarint("clock")
		n := d.count("states", maxEntries, minStateSize)
		for i := 0; i < n && d.err == nil; i++ {
			p.States = append(p.States, d.nodeState())
		}
		n = d.count("orders", maxEntries, minOrderSize)
		for i := 0; i < n && d.err == nil; i++ {
			p.Orders = append(p.Orders, d.order())
		}
		if d.err == nil && d.off < len(d.b) {
			n = d.count("departed", maxEntries, minStateSize+1)
			if d.err == nil && n == 0 {
				d.fail("departed", fmt.Errorf("%w: empty departed list is encoded by omission", ErrBadValue))
			}
			for i := 0; i < n && d.err == nil; i++ {
				st := d.nodeState()
				age := d.uvarint("departed.age")
				if d.err == nil && age > uint64(departedWireAge/time.Millisecond) {
					d.fail("departed.age", fmt.Errorf("%w: %d ms is past the peer retention", ErrBadValue, age))
				}
				p.Departed = append(p.Departed, departedState{State: st, Age: time.Duration(age) * time.Millisecond})
			}
		}
		m.PushPull = &p
	case msgCommand:
		cmd := d.command()
		m.Command = &cmd
	case msgLeave:
		m.Leaving = d.str("node", maxName)
		if d.err == nil && m.Leaving == "" {
			d.fail("node", fmt.Errorf("%w: empty node name", ErrBadValue))
		}
	default:
		d.off -= 2
		d.fail("type", ErrType)
	}
	d.end()
	if d.err != nil {
		return message{}, d.error()
	}
	return m, nil
}

func (d *decoder) nodeState() NodeState {
	start := d.off
	var s NodeState
	s.Node = d.str("node", maxName)
	s.Incarnation = d.uvarint("incarnation")
	n := d.count("instances", maxItems, minInstanceSize)
	for i := 0; i < n && d.err == nil; i++ {
		var in InstanceState
		in.Name = d.str("instance.name", maxName)
		in.VRID = d.byte("instance.vrid")
		in.Family = inet.Family(d.byte("instance.family"))
		in.Cluster = d.str("instance.cluster", maxName)
		in.Src = d.addr("instance.src")
		in.State, in.stateWord = instanceState(d.str("instance.state", maxText))
		in.Priority = d.byte("instance.priority")
		in.Reason = d.str("instance.reason", maxText)
		in.Master = d.addr("instance.master")
		in.Since = d.time("instance.since")
		s.Instances = append(s.Instances, in)
	}
	n = d.count("checks", maxItems, minCheckSize)
	for i := 0; i < n && d.err == nil; i++ {
		var c CheckState
		c.Name = d.str("check.name", maxName)
		c.Healthy = d.bool("check.healthy")
		c.State, c.stateWord = checkState(d.str("check.state", maxText))
		c.Since = d.time("check.since")
		c.Output = d.str("check.output", MaxCheckOutput)
		s.Checks = append(s.Checks, c)
	}
	s.Maintenance = d.bool("maintenance")
	if d.err == nil {
		if err := validateState(s); err != nil {
			d.off = start
			d.fail("state", fmt.Errorf("%w: %v", ErrBadValue, err))
		}
	}
	return s
}

func (d *decoder) command() Command {
	start := d.off
	var c Command
	c.From = d.str("command.from", maxName)
	c.To = d.str("command.to", maxName)
	c.Kind = CommandKind(d.byte("command.kind"))
	c.Instance = d.str("command.instance", maxName)
	c.Enabled = d.bool("command.enabled")
	if d.bool("command.order") && d.err == nil {
		o := d.order()
		c.Order = &o
	}
	if d.err == nil {
		if err := validateCommand(c); err != nil {
			d.off = start
			d.fail("command", fmt.Errorf("%w: %v", ErrBadValue, err))
		}
	}
	return c
}

func (d *decoder) order() priority.Order {
	start := d.off
	var o priority.Order
	o.Instance = d.str("order.instance", maxName)
	n := d.count("order.nodes", maxItems, minOrderNode)
	for i := 0; i < n && d.err == nil; i++ {
		var on priority.OrderNode
		on.Name = d.str("order.node", maxName)
		on.Disabled = d.bool("order.disabled")
		o.Nodes = append(o.Nodes, on)
	}
	o.Version = d.uvarint("order.version")
	o.Origin = d.str("order.origin", maxName)
	if d.err == nil {
		if err := validateOrder(o); err != nil {
			d.off = start
			d.fail("order", fmt.Errorf("%w: %v", ErrBadValue, err))
		}
	}
	return o
}

// validateState checks what the wire format and the receivers require
// of a NodeState. The returned error wraps ErrInvalid.
func validateState(s NodeState) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: node state of %q: %s", ErrInvalid, s.Node, fmt.Sprintf(format, a...))
	}
	if err := checkName("node", s.Node); err != nil {
		return bad("%v", err)
	}
	if len(s.Instances) > maxItems {
		return bad("%d instances, at most %d", len(s.Instances), maxItems)
	}
	if len(s.Checks) > maxItems {
		return bad("%d checks, at most %d", len(s.Checks), maxItems)
	}
	for i, in := range s.Instances {
		if err := checkName("instance name", in.Name); err != nil {
			return bad("instance %d: %v", i, err)
		}
		if !in.Family.Valid() {
			return bad("instance %q: family %d, want 4 or 6", in.Name, in.Family)
		}
		if err := checkText("cluster", in.Cluster, maxName); err != nil {
			return bad("instance %q: %v", in.Name, err)
		}
		if err := checkText("state", in.StateWord(), maxText); err != nil {
			return bad("instance %q: %v", in.Name, err)
		}
		if err := checkText("reason", in.Reason, maxText); err != nil {
			return bad("instance %q: %v", in.Name, err)
		}
		if in.Src.Zone() != "" || in.Master.Zone() != "" {
			return bad("instance %q: addresses with a zone cannot be shared", in.Name)
		}
	}
	for i, c := range s.Checks {
		if err := checkName("check name", c.Name); err != nil {
			return bad("check %d: %v", i, err)
		}
		if err := checkText("state", c.StateWord(), maxText); err != nil {
			return bad("check %q: %v", c.Name, err)
		}
		if err := checkText("output", c.Output, MaxCheckOutput); err != nil {
			return bad("check %q: %v", c.Name, err)
		}
	}
	return nil
}

// validateOrder checks an order entry; the error wraps ErrInvalid.
func validateOrder(o priority.Order) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: order of %q: %s", ErrInvalid, o.Instance, fmt.Sprintf(format, a...))
	}
	if err := checkName("instance", o.Instance); err != nil {
		return bad("%v", err)
	}
	if err := checkName("origin", o.Origin); err != nil {
		return bad("%v", err)
	}
	if len(o.Nodes) > maxItems {
		return bad("%d nodes, at most %d", len(o.Nodes), maxItems)
	}
	seen := make(map[string]bool, len(o.Nodes))
	for i, n := range o.Nodes {
		if err := checkName("node", n.Name); err != nil {
			return bad("node %d: %v", i, err)
		}
		if seen[n.Name] {
			return bad("node %q listed twice", n.Name)
		}
		seen[n.Name] = true
	}
	return nil
}

// checkName requires a non-empty name of at most maxName bytes of UTF-8.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	return checkText(what, s, maxName)
}

// checkText requires at most max bytes of valid UTF-8 (the decoder
// refuses anything else, so the sender must too).
func checkText(what, s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%s longer than %d bytes", what, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}
