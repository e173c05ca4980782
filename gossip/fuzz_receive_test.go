package gossip

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/priority"
)

// FuzzReceive feeds arbitrary bytes to a cluster's receive path, as
// memberlist hands it a peer's message or push/pull view (whatever
// survived memberlist's own decryption and label check). It must never
// panic; garbage must be counted as one decode error and change nothing;
// what is accepted must leave only valid states and orders behind; and a
// decoded command must re-encode to the same bytes, which FuzzDecode does
// not check.
func FuzzReceive(f *testing.F) {
	cmd := Command{From: "b", To: "self", Kind: CommandResign, Instance: "vi", Order: &priority.Order{
		Instance: "vi", Nodes: []priority.OrderNode{{Name: "b"}, {Name: "self", Disabled: true}}, Version: 3, Origin: "b"}}
	for _, s := range [][]byte{
		encodeState(sampleState()),
		encodeState(NodeState{Node: "self", Incarnation: 7}),
		encodeOrder(sampleOrder()),
		encodePushPull(pushPull{Clock: 9, States: []NodeState{sampleState()}, Orders: []priority.Order{sampleOrder()}}),
		encodeLeave("b"),
		encodeCommand(cmd),
		encodeCommand(Command{From: "b", To: "other", Kind: CommandMaintenance, Enabled: true}),
		{byte(msgCommand), codecVersion, 1, 'b', 4, 's', 'e', 'l', 'f', 9},
		{},
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte, regossip bool) {
		cfg := &config.Gossip{
			ClusterName: "fuzz", BindAddr: netip.MustParseAddr("127.0.0.1"), Profile: ProfileLocal,
			StateFile: filepath.Join(dir, "state.json"), Keys: []string{b64(testKey(1))},
		}
		var commands []Command
		c, err := New(cfg, "self", Options{Log: discardLog(), OnCommand: func(cmd Command) { commands = append(commands, cmd) }})
		if err != nil {
			t.Fatal(err)
		}
		join(c, "b")
		in := bytes.Clone(b)
		before, states0, orders0 := c.Stats(), c.States(), c.Orders()
		if len(b) > 0 && (msgType(b[0]) == msgQuery || msgType(b[0]) == msgQueryReply) {
			// Queries have their own decoder (receiveQuery), which
			// decodeMessage does not know: here only no panic, input
			// untouched, and no state, order or command from a query.
			c.receive(b, regossip)
			if !bytes.Equal(in, b) {
				t.Fatal("receive modified its input")
			}
			if !reflect.DeepEqual(c.States(), states0) || !reflect.DeepEqual(c.Orders(), orders0) || len(commands) != 0 {
				t.Fatalf("a query changed the view: states %v, orders %v, commands %v", c.States(), c.Orders(), commands)
			}
			return
		}
		m, decErr := decodeMessage(b)
		c.receive(b, regossip)
		if !bytes.Equal(in, b) {
			t.Fatal("receive modified its input")
		}
		after := c.Stats()
		if decErr != nil {
			if after.DecodeErrors != before.DecodeErrors+1 {
				t.Fatalf("undecodable message (%v) counted %d times", decErr, after.DecodeErrors-before.DecodeErrors)
			}
			if !reflect.DeepEqual(c.States(), states0) || !reflect.DeepEqual(c.Orders(), orders0) || len(commands) != 0 {
				t.Fatalf("undecodable message changed the view: states %v, orders %v, commands %v", c.States(), c.Orders(), commands)
			}
			return
		}
		if after.DecodeErrors != before.DecodeErrors {
			t.Fatal("a message that decodes was counted as a decode error")
		}
		for name, s := range c.States() {
			if err := validateState(s); err != nil || s.Node != name {
				t.Fatalf("state kept for %q is invalid: %v (%+v)", name, err, s)
			}
		}
		for inst, o := range c.Orders() {
			if err := validateOrder(o); err != nil || o.Instance != inst {
				t.Fatalf("order kept for %q is invalid: %v (%+v)", inst, err, o)
			}
		}
		if m.Type == msgCommand {
			if again := encodeCommand(*m.Command); !bytes.Equal(again, b) {
				t.Fatalf("command re-encoding differs:\n in %x\nout %x", b, again)
			}
			handled := len(commands) + int(after.RejectedCommands-before.RejectedCommands)
			if handled != 1 || len(commands) == 1 && commands[0].To != "self" {
				t.Fatalf("command %+v: %d delivered, %d rejected", *m.Command, len(commands), after.RejectedCommands-before.RejectedCommands)
			}
		}
	})
}

// FuzzStateFile feeds arbitrary bytes to the state file reader, as a disk
// or an operator might corrupt the file: it must never panic, must refuse
// (with a *StateFileError) rather than half-load, and what it loads must
// be valid and survive a write and a second read unchanged.
func FuzzStateFile(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed.json")
	if err := writeStateFile(good, map[string]priority.Order{"vi": sampleOrder()}, []savedMember{{Name: "b", Addr: netip.MustParseAddrPort("198.51.100.2:7946")}}); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(good); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{"version":1,"orders":[]}`, `{"version":2}`, `{"version":1,"orders":[{"Instance":"vi"}]}`, `null`, ``, `{`,
		`{"version":1,"orders":[{"Instance":"vi","Version":1,"Origin":"a"},{"Instance":"vi","Version":2,"Origin":"a"}]}`,
		`{"version":1,"orders":[],"members":[{"name":"b","addr":"198.51.100.2:7946"},{"name":"","addr":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "state.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := readStateFile(path)
		orders := st.orders
		if err != nil {
			if _, ok := err.(*StateFileError); !ok {
				t.Fatalf("error %T %v is not a *StateFileError", err, err)
			}
			return
		}
		for _, m := range st.members {
			if checkName("member", m.Name) != nil || !m.Addr.IsValid() || m.Addr.Port() == 0 {
				t.Fatalf("loaded an unusable member %+v", m)
			}
		}
		for inst, o := range orders {
			if err := validateOrder(o); err != nil || o.Instance != inst {
				t.Fatalf("loaded an invalid order for %q: %v", inst, err)
			}
		}
		if err := writeStateFile(path, orders, st.members); err != nil {
			t.Fatalf("cannot write back what was read: %v", err)
		}
		read2, err := readStateFile(path)
		again := read2.orders
		if err != nil || len(again) != len(orders) || !slices.Equal(read2.members, st.members) {
			t.Fatalf("second read: %d orders, %d members, %v; first read had %d, %d", len(again), len(read2.members), err, len(orders), len(st.members))
		}
		for inst, o := range orders {
			if !bytes.Equal(encodeOrder(again[inst]), encodeOrder(o)) {
				t.Fatalf("order %q changed by a write and read: %+v, then %+v", inst, o, again[inst])
			}
		}
	})
}
