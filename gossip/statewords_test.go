package gossip

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/election/fsm"
)

// goldenStateHex is encodeState of goldenState as vipd encoded it when the
// states were strings in memory (before issue 16 typed them): typing them
// must not change a byte on the wire, or old and new nodes stop reading
// each other.
const goldenStateHex = "010103636e680703037669340a0403646e7304c6336401064d4153544552960e666972737420696e206f7264657204c6336401018080d0e2c6bfce972f037669360b060000054641554c54000000000376696e0c040000084c4541524e494e4700000000030364696701076865616c746879018080d0e2c6bfce972f026f6b037376630004696e69740000036e657700086465677261646564000001"

func goldenState() NodeState {
	return NodeState{Node: "cnh", Incarnation: 7,
		Instances: []InstanceState{
			{Name: "vi4", VRID: 10, Family: 4, Cluster: "dns", Src: netip.MustParseAddr("198.51.100.1"), State: fsm.Master, Priority: 150,
				Reason: "first in order", Master: netip.MustParseAddr("198.51.100.1"), Since: time.Unix(1700000000, 0).UTC()},
			{Name: "vi6", VRID: 11, Family: 6, State: fsm.Fault},
			{Name: "vin", VRID: 12, Family: 4, State: UnknownState, stateWord: "LEARNING"}, // a newer node's word
		},
		Checks: []CheckState{
			{Name: "dig", Healthy: true, State: checks.StateHealthy, Since: time.Unix(1700000000, 0).UTC(), Output: "ok"},
			{Name: "svc", State: checks.StateInit},
			{Name: "new", State: UnknownCheckState, stateWord: "degraded"},
		},
		Maintenance: true,
	}
}

func TestStateWordsOnTheWire(t *testing.T) {
	golden, err := hex.DecodeString(goldenStateHex)
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeState(goldenState()); !bytes.Equal(got, golden) {
		t.Fatalf("typed states encode differently from the string ones:\n got %x\nwant %x", got, golden)
	}
	m, err := decodeMessage(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*m.State, goldenState()) {
		t.Fatalf("decoded %+v\nwant %+v", *m.State, goldenState())
	}
	if again := encodeState(*m.State); !bytes.Equal(again, golden) {
		t.Fatalf("relaying changed the bytes:\n got %x\nwant %x", again, golden)
	}
}

func TestStateWords(t *testing.T) {
	for _, s := range []fsm.State{fsm.Init, fsm.Backup, fsm.Master, fsm.Fault, fsm.Stopped} {
		if got, w := instanceState(s.String()); got != s || w != "" {
			t.Errorf("instanceState(%q) = %v, %q", s.String(), got, w)
		}
	}
	for _, s := range checkStates {
		if got, w := checkState(s.String()); got != s || w != "" {
			t.Errorf("checkState(%q) = %v, %q", s.String(), got, w)
		}
	}
	// Words are case-sensitive, as they were when compared as strings; the
	// empty word is kept too.
	for _, w := range []string{"master", "", "UNKNOWN"} {
		if got, kept := instanceState(w); got != UnknownState || kept != w {
			t.Errorf("instanceState(%q) = %v, %q", w, got, kept)
		}
		if got, kept := checkState(w); got != UnknownCheckState || kept != w {
			t.Errorf("checkState(%q) = %v, %q", w, got, kept)
		}
	}
}
