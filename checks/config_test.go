package checks

import (
	"errors"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/fielderr/fielderrtest"
)

// TestValidate checks that Validate names each bad setting by its native
// key, with the message a front end prints after PATH:LINE.
func TestValidate(t *testing.T) {
	dnsCheck := func(mod func(*Config)) *Config {
		c := DefaultConfig("d", KindDNS)
		c.DNS = &DNSConfig{Server: "127.0.0.1", Name: "cam.ac.uk"}
		mod(&c)
		return &c
	}
	tests := []struct {
		name string
		c    *Config
		want []string // "field: message" prefixes, in order
	}{
		{"defaults and zero values", dnsCheck(func(*Config) {}), nil},
		{"lower-case names", dnsCheck(func(c *Config) { c.DNS.Type, c.DNS.Class, c.DNS.Protocol = "txt", "in", "TCP" }), nil},
		{"no name", dnsCheck(func(c *Config) { c.Name = " " }), []string{"name: is required"}},
		{"schedule", dnsCheck(func(c *Config) { c.Interval, c.Timeout, c.Fall, c.Rise = 0, -time.Second, 0, 0 }),
			[]string{"interval: 0s must be greater than 0", "timeout: -1s must be greater than 0", "fall: 0 must be at least 1", "rise: 0 must be at least 1"}},
		{"weight", dnsCheck(func(c *Config) { c.Weight = 254 }), []string{"weight: 254 is out of range -253..253"}},
		{"file weight", &Config{Name: "f", Kind: KindFile, Interval: 1, Timeout: 1, Fall: 1, Rise: 1, Weight: 254, File: &FileConfig{Path: "/f"}}, nil},
		{"unknown kind", &Config{Name: "x", Kind: "ping", Interval: 1, Timeout: 1, Fall: 1, Rise: 1}, []string{`kind: "ping" is not a check kind`}},
		{"two kinds", dnsCheck(func(c *Config) { c.TCP = &TCPConfig{Address: "h:1"} }), []string{"dns: a dns check needs its dns settings and no other kind's"}},
		{"dns", dnsCheck(func(c *Config) {
			*c.DNS = DNSConfig{Server: "h:0", Name: "a..b", Type: "TXTT", Class: "INN", Protocol: "quic", ExpectRcode: "FINE", ExpectAnswer: "["}
		}), []string{`dns.server: "h:0": port "0" is not a number in 1-65535`, `dns.name: "a..b" is not a domain name`,
			`dns.type: "TXTT" is not a DNS record type`, `dns.class: "INN" is not a DNS class`, `dns.protocol: "quic" is not udp or tcp`,
			`dns.expect_rcode: "FINE" is not a DNS response code`, `dns.expect_answer: "[" does not compile`}},
		{"exec", &Config{Name: "e", Kind: KindExec, Interval: 1, Timeout: 1, Fall: 1, Rise: 1, Exec: &ExecConfig{Group: "g"}},
			[]string{"exec.command: is required", "exec.group: needs user"}},
		{"interface", &Config{Name: "i", Kind: KindInterface, Interval: 1, Timeout: 1, Fall: 1, Rise: 1, Interface: &InterfaceConfig{Name: "eth0:1"}},
			[]string{`interface.name: "eth0:1" contains a character`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fielderrtest.Require(t, tc.c.Validate(), tc.want...)
		})
	}
}

// TestDefaultDNSConfig checks the DNS defaults a front end fills in and
// writes back.
func TestDefaultDNSConfig(t *testing.T) {
	got := DefaultDNSConfig(DNSConfig{Server: "h", Name: "n", Type: "txt", Protocol: "TCP"})
	want := DNSConfig{Server: "h", Name: "n", Type: "TXT", Class: "IN", Protocol: "tcp", ExpectRcode: "NOERROR"}
	if got != want {
		t.Fatalf("DefaultDNSConfig = %+v, want %+v", got, want)
	}
}

// TestProberFollowsValidate checks that a check Validate accepts builds,
// and one whose kind settings it refuses does not, with the same field.
func TestProberFollowsValidate(t *testing.T) {
	good := DefaultConfig("t", KindTCP)
	good.TCP = &TCPConfig{Address: "127.0.0.1:1"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewProber(&good, Options{}); err != nil {
		t.Fatalf("NewProber of a valid check: %v", err)
	}
	bad := good
	bad.TCP = &TCPConfig{Address: "127.0.0.1:http"}
	var ve ValidationError
	if err := bad.Validate(); !errors.As(err, &ve) || ve[0].Field != "tcp.address" {
		t.Fatalf("Validate = %v, want a problem with tcp.address", err)
	}
	wantConfigError(t, &bad, "tcp.address")
}

// TestSameSettings checks that every kind's own settings count.
func TestSameSettings(t *testing.T) {
	base := func() *Config {
		c := DefaultConfig("h", KindHTTP)
		c.HTTP = &HTTPConfig{URL: "http://h/", ExpectStatus: []int{200}}
		return &c
	}
	if !base().SameSettings(base()) {
		t.Error("equal checks differ")
	}
	other := base()
	other.HTTP.ExpectStatus = []int{204}
	if base().SameSettings(other) {
		t.Error("a different expect_status is the same")
	}
	other = base()
	other.Kind, other.HTTP, other.TCP = KindTCP, nil, &TCPConfig{Address: "h:1"}
	if base().SameSettings(other) {
		t.Error("a different kind is the same")
	}
}
