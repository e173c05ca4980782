package gossip

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestParseJoinTarget(t *testing.T) {
	tests := []struct {
		in      string
		host    string
		addr    string // "" when a name
		port    uint16
		wantErr bool
	}{
		{"198.51.100.1", "198.51.100.1", "198.51.100.1", 0, false},
		{"198.51.100.1:8301", "198.51.100.1", "198.51.100.1", 8301, false},
		{"2001:db8::1", "2001:db8::1", "2001:db8::1", 0, false},
		{"[2001:db8::1]", "2001:db8::1", "2001:db8::1", 0, false},
		{"[2001:db8::1]:8301", "2001:db8::1", "2001:db8::1", 8301, false},
		{"gossip.example.net", "gossip.example.net", "", 0, false},
		{"gossip.example.net:8301", "gossip.example.net", "", 8301, false},
		{" node-b ", "node-b", "", 0, false},
		{"", "", "", 0, true},
		{"host:0", "", "", 0, true},
		{"198.51.100.1:0", "", "", 0, true},
		{"host:99999", "", "", 0, true},
		{"host:http", "", "", 0, true},
		{"a:b:c", "", "", 0, true},
		{"bad host/name", "", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseJoinTarget(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseJoinTarget(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var wantAddr netip.Addr
			if tt.addr != "" {
				wantAddr = netip.MustParseAddr(tt.addr)
			}
			if got.host != tt.host || got.addr != wantAddr || got.port != tt.port {
				t.Errorf("got host %q addr %v port %d, want %q %v %d", got.host, got.addr, got.port, tt.host, wantAddr, tt.port)
			}
		})
	}
}

func TestResolveLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"198.51.100.1", "198.51.100.1:7946"},
		{"198.51.100.1:8301", "198.51.100.1:8301"},
		{"[2001:db8::1]:8301", "[2001:db8::1]:8301"},
		{"localhost:8301", "127.0.0.1:8301"}, // a name, through the resolver
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			jt, err := parseJoinTarget(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := resolve(context.Background(), jt, 7946)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ap := range got {
				found = found || ap.String() == tt.want
			}
			if !found {
				t.Errorf("resolve(%q) = %v, want it to include %s", tt.in, got, tt.want)
			}
		})
	}
}

type multi []error

func (m multi) Error() string          { return "2 errors occurred:\n\t* x\n\t* y\n\n" }
func (m multi) WrappedErrors() []error { return m }

func TestJoinErrText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("dial tcp: connection refused"), "dial tcp: connection refused"},
		{"multi-line", errors.New("1 error occurred:\n\t* failed to join x: EOF\n\n"), "1 error occurred: * failed to join x: EOF"},
		{"memberlist multi-error", multi{errors.New("failed to join a: EOF"), errors.New("failed to join b: EOF")}, "failed to join a: EOF; failed to join b: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := joinErrText(tt.err); got != tt.want {
				t.Errorf("joinErrText = %q, want %q", got, tt.want)
			}
		})
	}
}
