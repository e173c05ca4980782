package gossip

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vipd/vipd/priority"
)

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	orders := map[string]priority.Order{
		"testdns0": {Instance: "testdns0", Nodes: []priority.OrderNode{{Name: "cnh"}, {Name: "sby", Disabled: true}}, Version: 4, Origin: "cnh"},
		"testdns1": {Instance: "testdns1", Nodes: []priority.OrderNode{{Name: "wcdc"}}, Version: 9, Origin: "sby"},
	}
	members := []savedMember{
		{Name: "sby", Addr: netip.MustParseAddrPort("198.51.100.2:7946")},
		{Name: "wcdc", Addr: netip.MustParseAddrPort("[2001:db8::3]:7000")},
	}
	if err := writeStateFile(path, orders, members); err != nil {
		t.Fatal(err)
	}
	got, err := readStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.orders, orders) || !reflect.DeepEqual(got.members, members) {
		t.Errorf("read %+v, want %+v and %+v", got, orders, members)
	}
	// Overwrite: only the file remains, no temporary files.
	orders["testdns0"] = priority.Order{Instance: "testdns0", Nodes: []priority.OrderNode{{Name: "sby"}}, Version: 10, Origin: "wcdc"}
	if err := writeStateFile(path, orders, nil); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "state.json" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only state.json", names)
	}
	if got, _ := readStateFile(path); got.orders["testdns0"].Version != 10 || len(got.members) != 0 {
		t.Errorf("after overwrite read %+v", got)
	}
}

// The state file's bytes are a file format: a node upgraded in place
// reads what the old version wrote, and the reverse. Orders are written
// from priority.Order through the file's own structs; this pins what that
// gives, field order and omitted fields included.
func TestStateFileBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	orders := map[string]priority.Order{
		"vi": {Instance: "vi", Nodes: []priority.OrderNode{{Name: "b", Line: 3}, {Name: "a", Disabled: true}},
			Version: 9, Origin: "a", Source: "not saved", Digest: "not saved"},
	}
	members := []savedMember{{Name: "b", Addr: netip.MustParseAddrPort("198.51.100.2:7946")}}
	if err := writeStateFile(path, orders, members); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{
  "version": 1,
  "orders": [
    {
      "instance": "vi",
      "nodes": [
        {
          "name": "b"
        },
        {
          "name": "a",
          "disabled": true
        }
      ],
      "version": 9,
      "origin": "a"
    }
  ],
  "members": [
    {
      "name": "b",
      "addr": "198.51.100.2:7946"
    }
  ]
}
`
	if string(got) != want {
		t.Errorf("state file:\n%s\nwant:\n%s", got, want)
	}
	if err := writeStateFile(path, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "{\n  \"version\": 1,\n  \"orders\": null\n}\n" {
		t.Errorf("empty state file: %q", got)
	}
}

func TestReadStateFile(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" with missing=true: no file
		missing bool
		want    int
		members []string // name@addr of the members loaded
		wantErr bool
	}{
		{"missing file is empty", "", true, 0, nil, false},
		{"empty list", `{"version":1,"orders":[]}`, false, 0, nil, false},
		// Files written before members were saved, and with fields of
		// later versions, load as they are.
		{"one order", `{"version":1,"orders":[{"instance":"vi","nodes":[{"name":"a"}],"version":2,"origin":"a"}]}`, false, 1, nil, false},
		{"unknown fields", `{"version":1,"orders":[{"instance":"vi","nodes":[{"name":"a"}],"version":2,"origin":"a","later":true}],"later":[1]}`, false, 1, nil, false},
		{"members", `{"version":1,"orders":[],"members":[{"name":"b","addr":"198.51.100.2:7946"},{"name":"c","addr":"[::ffff:198.51.100.3]:7946"}]}`, false, 0,
			[]string{"b@198.51.100.2:7946", "c@198.51.100.3:7946"}, false},
		{"unusable members skipped", `{"version":1,"orders":[],"members":[{"name":"","addr":"198.51.100.2:7946"},{"name":"c","addr":"nowhere"},{"name":"d","addr":"198.51.100.4:0"},{"name":"e","addr":"198.51.100.5:7946"}]}`, false, 0,
			[]string{"e@198.51.100.5:7946"}, false},
		{"not JSON", `{"version":1,`, false, 0, nil, true},
		{"other version", `{"version":2,"orders":[]}`, false, 0, nil, true},
		{"invalid entry", `{"version":1,"orders":[{"instance":"","version":2,"origin":"a"}]}`, false, 0, nil, true},
		{"duplicate instance", `{"version":1,"orders":[{"instance":"vi","version":2,"origin":"a"},{"instance":"vi","version":3,"origin":"b"}]}`, false, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readStateFile(path)
			if tt.wantErr {
				var se *StateFileError
				if !errors.As(err, &se) || se.Path != path {
					t.Fatalf("error = %v, want a *StateFileError for %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.orders) != tt.want {
				t.Errorf("read %d orders, want %d", len(got.orders), tt.want)
			}
			var ms []string
			for _, m := range got.members {
				ms = append(ms, m.Name+"@"+m.Addr.String())
			}
			if !reflect.DeepEqual(ms, tt.members) {
				t.Errorf("read members %v, want %v", ms, tt.members)
			}
		})
	}
}

func TestNewRefusesCorruptStateFile(t *testing.T) {
	cfg := testConfig(t, "sf")
	if err := os.WriteFile(cfg.StateFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	var se *StateFileError
	if _, err := New(cfg, "a", Options{Log: discardLog()}); !errors.As(err, &se) {
		t.Fatalf("New error = %v, want *StateFileError", err)
	}
}

func TestSetOrderPersistError(t *testing.T) {
	cfg := testConfig(t, "sf")
	sub := filepath.Join(filepath.Dir(cfg.StateFile), "sub")
	cfg.StateFile = filepath.Join(sub, "state.json")
	c, err := New(cfg, "a", Options{Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	// A file where the state directory should be: the write fails.
	if err := os.WriteFile(sub, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := c.SetOrder("vi", []priority.OrderNode{{Name: "a"}})
	if !errors.Is(err, ErrPersist) {
		t.Fatalf("SetOrder error = %v, want ErrPersist", err)
	}
	if e.Version != 1 || c.Orders()["vi"].Version != 1 {
		t.Errorf("order not in effect after a persist failure: %+v", c.Orders())
	}
}
