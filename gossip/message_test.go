package gossip

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/priority"
)

func sampleState() NodeState {
	return NodeState{
		Node:        "cnh",
		Incarnation: 7,
		Instances: []InstanceState{
			{Name: "testdns0", VRID: 10, Family: 4, Cluster: "dns", Src: netip.MustParseAddr("198.51.100.1"),
				State: fsm.Master, Priority: 150, Reason: "first in order", Master: netip.MustParseAddr("198.51.100.1"),
				Since: time.Unix(1700000000, 123).UTC()},
			{Name: "testdns1", VRID: 11, Family: 6, Cluster: "dns", Src: netip.MustParseAddr("2001:db8::1"),
				State: fsm.Backup, Priority: 100},
			{Name: "testdns2", VRID: 12, Family: 4, State: UnknownState, stateWord: "LEARNING"},
		},
		Checks: []CheckState{
			{Name: "dig", Healthy: true, State: checks.StateHealthy, Since: time.Unix(1700000000, 0).UTC(), Output: "ok\n"},
			{Name: "svc", State: checks.StateFailed, Output: "connection refused"},
			// A newer node's word, relayed as it came.
			{Name: "new", State: UnknownCheckState, stateWord: "degraded"},
		},
	}
}

func sampleOrder() priority.Order {
	return priority.Order{Instance: "testdns0", Nodes: []priority.OrderNode{{Name: "cnh"}, {Name: "sby", Disabled: true}, {Name: "wcdc"}}, Version: 42, Origin: "sby"}
}

func TestDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want message
	}{
		{"state", encodeState(sampleState()), message{Type: msgState, State: ptr(sampleState())}},
		{"empty state", encodeState(NodeState{Node: "x"}), message{Type: msgState, State: &NodeState{Node: "x"}}},
		{"order", encodeOrder(sampleOrder()), message{Type: msgOrder, Order: ptr(sampleOrder())}},
		{"order without nodes", encodeOrder(priority.Order{Instance: "vi", Version: 1, Origin: "a"}), message{Type: msgOrder, Order: &priority.Order{Instance: "vi", Version: 1, Origin: "a"}}},
		{"push-pull", encodePushPull(pushPull{Clock: 42, States: []NodeState{sampleState(), {Node: "sby", Incarnation: 1}}, Orders: []priority.Order{sampleOrder()}}),
			message{Type: msgPushPull, PushPull: &pushPull{Clock: 42, States: []NodeState{sampleState(), {Node: "sby", Incarnation: 1}}, Orders: []priority.Order{sampleOrder()}}}},
		{"empty push-pull", encodePushPull(pushPull{}), message{Type: msgPushPull, PushPull: &pushPull{}}},
		{"push-pull with departed members", encodePushPull(pushPull{Clock: 3, Departed: []departedState{{State: sampleState(), Age: 1500 * time.Millisecond}, {State: NodeState{Node: "sby"}}}}),
			message{Type: msgPushPull, PushPull: &pushPull{Clock: 3, Departed: []departedState{{State: sampleState(), Age: 1500 * time.Millisecond}, {State: NodeState{Node: "sby"}}}}}},
		{"leave", encodeLeave("cnh"), message{Type: msgLeave, Leaving: "cnh"}},
		{"hello", encodeHello(sampleState()), message{Type: msgHello, State: ptr(sampleState())}},
		{"state in maintenance", encodeState(NodeState{Node: "x", Maintenance: true}), message{Type: msgState, State: &NodeState{Node: "x", Maintenance: true}}},
		{"resign with order", encodeCommand(Command{From: "a", To: "b", Kind: CommandResign, Instance: "testdns0", Order: ptr(sampleOrder())}),
			message{Type: msgCommand, Command: &Command{From: "a", To: "b", Kind: CommandResign, Instance: "testdns0", Order: ptr(sampleOrder())}}},
		{"maintenance", encodeCommand(Command{From: "a", To: "b", Kind: CommandMaintenance, Enabled: true}),
			message{Type: msgCommand, Command: &Command{From: "a", To: "b", Kind: CommandMaintenance, Enabled: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMessage(tt.msg)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decode:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecodeMalformed(t *testing.T) {
	state := encodeState(sampleState())
	order := encodeOrder(sampleOrder())
	// mutate returns a copy of b changed by f.
	mutate := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	tests := []struct {
		name    string
		msg     []byte
		wantErr error
		field   string
	}{
		{"empty", nil, ErrTruncated, "type"},
		{"type only", []byte{byte(msgState)}, ErrTruncated, "version"},
		{"version 2", []byte{byte(msgState), 2}, ErrVersion, "version"},
		{"version 0", []byte{byte(msgOrder), 0}, ErrVersion, "version"},
		{"unknown type", []byte{99, codecVersion}, ErrType, "type"},
		{"type 0", []byte{0, codecVersion}, ErrType, "type"},
		{"state header only", []byte{byte(msgState), codecVersion}, ErrTruncated, "node"},
		{"truncated state", state[:len(state)-3], ErrTruncated, ""},
		{"truncated order", order[:len(order)-1], ErrTruncated, ""},
		{"trailing byte", append(append([]byte(nil), order...), 0), ErrTrailing, "end"},
		{"departed list present but empty", append(encodePushPull(pushPull{}), 0), ErrBadValue, "departed"},
		{"departed past the retention", mutate(encodePushPull(pushPull{Departed: []departedState{{State: NodeState{Node: "x"}, Age: time.Second}}}), func(b []byte) []byte {
			return binary.AppendUvarint(b[:len(b)-2], uint64(departedWireAge/time.Millisecond)+1) // 1000 ms takes 2 bytes
		}), ErrBadValue, "departed.age"},
		{"departed entry truncated", encodePushPull(pushPull{Departed: []departedState{{State: NodeState{Node: "x"}, Age: time.Second}}})[:9], ErrTruncated, ""},
		{"name longer than its limit", append([]byte{byte(msgState), codecVersion, 0x80, 0x02}, make([]byte, 256)...), ErrTooLong, "node"},
		{"length overflows varint", []byte{byte(msgState), codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrBadValue, "node"},
		{"padded varint", []byte{byte(msgState), codecVersion, 0x81, 0x00, 'a'}, ErrBadValue, "node"},
		{"invalid UTF-8 name", []byte{byte(msgState), codecVersion, 2, 0xff, 0xfe, 0, 0, 0}, ErrBadValue, "node"},
		{"huge instance count", []byte{byte(msgState), codecVersion, 1, 'a', 0, 0x81, 0x08}, ErrTooLong, "instances"},
		{"instance count beyond the bytes", []byte{byte(msgState), codecVersion, 1, 'a', 0, 100, 0, 0}, ErrTruncated, "instances"},
		{"empty node name", encodeRaw(func(e *encoder) { e.nodeState(NodeState{}) }, msgState), ErrBadValue, "state"},
		{"family 5", encodeRaw(func(e *encoder) {
			e.nodeState(NodeState{Node: "a", Instances: []InstanceState{{Name: "vi", Family: 5}}})
		}, msgState), ErrBadValue, "state"},
		{"address of 5 bytes", mutate(encodeRaw(func(e *encoder) {
			e.nodeState(NodeState{Node: "a", Instances: []InstanceState{{Name: "vi", Family: 4, Src: netip.MustParseAddr("198.51.100.1")}}})
		}, msgState), func(b []byte) []byte {
			i := strings.Index(string(b), "\x04\xc6\x33\x64\x01") // len 4 + 198.51.100.1
			b[i] = 5
			return b
		}), ErrBadValue, "instance.src"},
		{"bool of 2", mutate(order, func(b []byte) []byte {
			i := strings.Index(string(b), "sby") + 3 // disabled flag of sby
			b[i] = 2
			return b
		}), ErrBadValue, "order.disabled"},
		{"check output over 512 bytes", encodeRaw(func(e *encoder) {
			e.nodeState(NodeState{Node: "a", Checks: []CheckState{{Name: "c", Output: strings.Repeat("x", 513)}}})
		}, msgState), ErrTooLong, "check.output"},
		{"order node twice", encodeRaw(func(e *encoder) {
			e.order(priority.Order{Instance: "vi", Nodes: []priority.OrderNode{{Name: "a"}, {Name: "a"}}, Version: 1, Origin: "a"})
		}, msgOrder), ErrBadValue, "order"},
		{"order without origin", encodeRaw(func(e *encoder) {
			e.order(priority.Order{Instance: "vi", Version: 1})
		}, msgOrder), ErrBadValue, "order"},
		{"leave without a name", []byte{byte(msgLeave), codecVersion, 0}, ErrBadValue, "node"},
		{"push-pull with too many states", []byte{byte(msgPushPull), codecVersion, 0, 0xff, 0xff, 0x01}, ErrTooLong, "states"},
		{"command of unknown kind", encodeRaw(func(e *encoder) {
			e.str("a")
			e.str("b")
			e.byte(9)
			e.str("")
			e.bool(false)
			e.bool(false)
		}, msgCommand), ErrBadValue, "command"},
		{"resign without instance", encodeRaw(func(e *encoder) {
			e.str("a")
			e.str("b")
			e.byte(byte(CommandResign))
			e.str("")
			e.bool(false)
			e.bool(false)
		}, msgCommand), ErrBadValue, "command"},
		{"truncated command", encodeCommand(Command{From: "a", To: "b", Kind: CommandMaintenance})[:5], ErrTruncated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeMessage(tt.msg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
			if tt.field != "" && de.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", de.Field, tt.field, err)
			}
		})
	}
}

// encodeRaw encodes a body without validation, to build invalid messages.
func encodeRaw(body func(*encoder), t msgType) []byte {
	e := header(t)
	body(&e)
	return e.b
}

func TestValidateState(t *testing.T) {
	long := strings.Repeat("n", maxName+1)
	tests := []struct {
		name string
		s    NodeState
		ok   bool
	}{
		{"sample", sampleState(), true},
		{"no node", NodeState{}, false},
		{"long node name", NodeState{Node: long}, false},
		{"instance without name", NodeState{Node: "a", Instances: []InstanceState{{Family: 4}}}, false},
		{"family 0", NodeState{Node: "a", Instances: []InstanceState{{Name: "vi"}}}, false},
		{"zoned source", NodeState{Node: "a", Instances: []InstanceState{{Name: "vi", Family: 6, Src: netip.MustParseAddr("fe80::1%eth0")}}}, false},
		{"long cluster", NodeState{Node: "a", Instances: []InstanceState{{Name: "vi", Family: 4, Cluster: long}}}, false},
		{"bad UTF-8 reason", NodeState{Node: "a", Instances: []InstanceState{{Name: "vi", Family: 4, Reason: "\xff"}}}, false},
		{"check without name", NodeState{Node: "a", Checks: []CheckState{{}}}, false},
		{"output at the limit", NodeState{Node: "a", Checks: []CheckState{{Name: "c", Output: strings.Repeat("x", MaxCheckOutput)}}}, true},
		{"output over the limit", NodeState{Node: "a", Checks: []CheckState{{Name: "c", Output: strings.Repeat("x", MaxCheckOutput+1)}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateState(tt.s)
			if (err == nil) != tt.ok {
				t.Fatalf("validateState = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}
