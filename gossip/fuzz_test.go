package gossip

import (
	"bytes"
	"testing"
	"time"

	"github.com/vipd/vipd/priority"
)

// FuzzDecode feeds arbitrary bytes to the message and meta decoders: they
// must never panic, and whatever decodes must re-encode to the same bytes
// (the codec is canonical) and pass validation.
func FuzzDecode(f *testing.F) {
	seeds := [][]byte{
		encodeState(sampleState()),
		encodeState(NodeState{Node: "x"}),
		encodeOrder(sampleOrder()),
		encodePushPull(pushPull{Clock: 9, States: []NodeState{sampleState()}, Orders: []priority.Order{sampleOrder()}}),
		encodePushPull(pushPull{}),
		encodePushPull(pushPull{Clock: 2, Departed: []departedState{{State: sampleState(), Age: 2 * time.Second}}}),
		encodeLeave("cnh"),
		encodeHello(sampleState()),
		encodeCommand(Command{From: "a", To: "b", Kind: CommandResign, Instance: "vi", Order: ptr(sampleOrder())}),
		encodeCommand(Command{From: "a", To: "b", Kind: CommandMaintenance, Enabled: true}),
		{},
		{byte(msgState)},
		{byte(msgState), codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		{byte(msgPushPull), codecVersion, 0, 0xff, 0xff, 0x03},
		{99, codecVersion},
	}
	if m, err := encodeMeta(NodeMeta{Name: "cnh", AZ: "eu-west-2a", Version: "1.0", APIAddr: "198.51.100.1:9100"}); err == nil {
		seeds = append(seeds, m)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		m, err := decodeMessage(b)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeMessage modified its input")
		}
		if err == nil {
			var again []byte
			switch m.Type {
			case msgState:
				if err := validateState(*m.State); err != nil {
					t.Fatalf("decoded an invalid state: %v", err)
				}
				again = encodeState(*m.State)
			case msgOrder:
				if err := validateOrder(*m.Order); err != nil {
					t.Fatalf("decoded an invalid order: %v", err)
				}
				again = encodeOrder(*m.Order)
			case msgPushPull:
				again = encodePushPull(*m.PushPull)
			case msgLeave:
				again = encodeLeave(m.Leaving)
			case msgHello:
				if err := validateState(*m.State); err != nil {
					t.Fatalf("decoded an invalid hello: %v", err)
				}
				again = encodeHello(*m.State)
			case msgCommand:
				if err := validateCommand(*m.Command); err != nil {
					t.Fatalf("decoded an invalid command: %v", err)
				}
				again = encodeCommand(*m.Command)
			default:
				t.Fatalf("decoded unknown type %v", m.Type)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
			}
		}
		if meta, err := decodeMeta(b); err == nil && len(b) > 0 {
			again, err := encodeMeta(meta)
			if err != nil {
				t.Fatalf("decoded meta does not encode: %v", err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("meta re-encoding differs:\n in %x\nout %x", b, again)
			}
		}
	})
}
