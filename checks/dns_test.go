package checks

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vipd/vipd/internal/lab"
)

func dnsCheck(server, name, qtype string) *Config {
	return &Config{Name: "dns-test", Kind: KindDNS,
		DNS: &DNSConfig{Server: server, Name: name, Type: qtype}}
}

// dnsServer is a miekg/dns server on 127.0.0.1 (UDP and TCP, one port)
// with a fixed zone; it counts queries per transport.
type dnsServer struct {
	addr     string
	udp, tcp atomic.Int64
}

const testSPF = "v=spf1 ip4:192.0.2.0/24 -all"

func (s *dnsServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	overUDP := w.LocalAddr().Network() == "udp"
	if overUDP {
		s.udp.Add(1)
	} else {
		s.tcp.Add(1)
	}
	q := req.Question[0]
	m := new(dns.Msg)
	m.SetReply(req)
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	switch {
	case q.Name == "slow.test.":
		return // never answers
	case q.Name == "version.bind." && q.Qclass == dns.ClassCHAOS && q.Qtype == dns.TypeTXT:
		// Only a CHAOS-class question gets the server's version, as
		// BIND, dnsmasq and unbound answer it.
		m.Answer = append(m.Answer, rr(`version.bind. 0 CH TXT "vipd-test-1.0"`))
	case q.Name == "version.bind.":
		m.Rcode = dns.RcodeRefused
	case q.Name == "cam.ac.uk." && q.Qtype == dns.TypeTXT:
		m.Answer = append(m.Answer, rr(`cam.ac.uk. 60 IN TXT "`+testSPF+`"`))
	case q.Name == "multi.test." && q.Qtype == dns.TypeTXT:
		m.Answer = append(m.Answer, rr(`multi.test. 60 IN TXT "part one" "part two"`))
	case q.Name == "www.test." && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, rr("www.test. 60 IN A 192.0.2.10"))
	case q.Name == "alias.test." && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, rr("alias.test. 60 IN CNAME www.test."), rr("www.test. 60 IN A 192.0.2.10"))
	case q.Name == "mx.test." && q.Qtype == dns.TypeMX:
		m.Answer = append(m.Answer, rr("mx.test. 60 IN MX 10 mail.test."))
	case q.Name == "big.test." && overUDP:
		m.Truncated = true // only TCP gets the answer
	case q.Name == "big.test.":
		m.Answer = append(m.Answer, rr(`big.test. 60 IN TXT "complete"`))
	case q.Name == "empty.test.":
		// NOERROR, no data
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func startDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	s := &dnsServer{}
	var pc net.PacketConn
	var tl net.Listener
	for range 20 {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if tl, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close() // the TCP port was taken: try another
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	s.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: tl, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return s
}

func TestDNSProbe(t *testing.T) {
	s := startDNSServer(t)
	_, port, _ := net.SplitHostPort(s.addr)
	tests := []struct {
		name         string
		server       string
		qname, qtype string
		protocol     string
		class        string
		rcode        string
		answer       string
		ok           bool
		errHas       string
		output       string
		wantTCP      bool
	}{
		{name: "TXT as dig +short prints it, quotes included", qname: "cam.ac.uk", qtype: "TXT",
			answer: `^"v=spf1 .* -all"$`, ok: true, output: `"` + testSPF + `"`},
		{name: "TXT without quotes does not match anchored", qname: "cam.ac.uk", qtype: "TXT",
			answer: `^v=spf1`, errHas: "no answer matches", output: `"` + testSPF + `"`},
		{name: "TXT unanchored substring", qname: "cam.ac.uk.", qtype: "txt", answer: `ip4:192\.0\.2\.0/24`, ok: true},
		{name: "TXT with several strings", qname: "multi.test", qtype: "TXT",
			answer: `^"part one" "part two"$`, ok: true, output: `"part one" "part two"`},
		{name: "A record", qname: "www.test", qtype: "A", answer: `^192\.0\.2\.10$`, ok: true, output: "192.0.2.10"},
		{name: "default type is A", qname: "www.test", answer: `^192\.0\.2\.10$`, ok: true},
		{name: "CNAME chain, each record matched", qname: "alias.test", qtype: "A", answer: `^www\.test\.$`, ok: true,
			output: "www.test.\n192.0.2.10"},
		{name: "MX", qname: "mx.test", qtype: "MX", answer: `^10 mail\.test\.$`, ok: true, output: "10 mail.test."},
		{name: "NOERROR alone is enough without ExpectAnswer", qname: "empty.test", qtype: "A", ok: true},
		{name: "answer expected but none", qname: "empty.test", qtype: "A", answer: ".", errHas: "0 answers"},
		{name: "NXDOMAIN fails by default", qname: "nothing.test", qtype: "A", errHas: "NXDOMAIN"},
		{name: "NXDOMAIN expected", qname: "nothing.test", qtype: "A", rcode: "nxdomain", ok: true},
		{name: "NOERROR when NXDOMAIN expected", qname: "www.test", qtype: "A", rcode: "NXDOMAIN", errHas: "want NXDOMAIN"},
		{name: "answer mismatch", qname: "www.test", qtype: "A", answer: `^192\.0\.2\.99$`, errHas: "no answer matches"},
		{name: "over TCP", qname: "www.test", qtype: "A", protocol: "tcp", ok: true, wantTCP: true},
		{name: "truncated UDP answer retried over TCP", qname: "big.test", qtype: "TXT", answer: "complete", ok: true,
			wantTCP: true},
		{name: "CH class question", qname: "version.bind", qtype: "TXT", class: "CH",
			answer: `^"vipd-test-1\.0"$`, ok: true, output: `"vipd-test-1.0"`},
		{name: "class in lower case", qname: "version.bind", qtype: "TXT", class: "ch",
			answer: `vipd-test`, ok: true},
		{name: "same question in class IN is refused", qname: "version.bind", qtype: "TXT", class: "IN",
			errHas: "REFUSED"},
		{name: "default class is IN", qname: "version.bind", qtype: "TXT", errHas: "REFUSED"},
		{name: "server by name, every address tried", server: net.JoinHostPort("localhost", port), qname: "www.test",
			qtype: "A", ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			server := s.addr
			if tc.server != "" {
				server = tc.server
			}
			c := dnsCheck(server, tc.qname, tc.qtype)
			c.DNS.Protocol, c.DNS.ExpectRcode, c.DNS.ExpectAnswer = tc.protocol, tc.rcode, tc.answer
			c.DNS.Class = tc.class
			tcpBefore := s.tcp.Load()
			r := probe(t, c, 3*time.Second)
			wantResult(t, r, tc.ok, tc.errHas)
			if tc.output != "" && r.Output != tc.output {
				t.Errorf("output %q, want %q", r.Output, tc.output)
			}
			if got := s.tcp.Load() > tcpBefore; got != tc.wantTCP {
				t.Errorf("asked over TCP: %t, want %t", got, tc.wantTCP)
			}
		})
	}
}

func TestDNSProbeTimeout(t *testing.T) {
	s := startDNSServer(t)
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			c := dnsCheck(s.addr, "slow.test", "A")
			c.DNS.Protocol = proto
			start := time.Now()
			r := probe(t, c, 300*time.Millisecond)
			wantResult(t, r, false, "timed out")
			if !errors.Is(r.Err, ErrTimeout) {
				t.Errorf("err %v does not wrap ErrTimeout", r.Err)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("probe took %s, want about the 300ms timeout", el)
			}
		})
	}
}

func TestDNSProbeCancel(t *testing.T) {
	s := startDNSServer(t)
	p, err := NewProber(dnsCheck(s.addr, "slow.test", "A"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithTimeout(time.Minute)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	r := p.Probe(ctx)
	if r.OK || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled probe: OK %t after %s, want a failure soon after the cancel", r.OK, time.Since(start))
	}
}

func TestDNSConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*DNSConfig)
		field string
	}{
		{name: "no server", mod: func(d *DNSConfig) { d.Server = "" }, field: "dns.server"},
		{name: "unbalanced bracket", mod: func(d *DNSConfig) { d.Server = "[::1" }, field: "dns.server"},
		{name: "port zero", mod: func(d *DNSConfig) { d.Server = "127.0.0.1:0" }, field: "dns.server"},
		{name: "port not a number", mod: func(d *DNSConfig) { d.Server = "127.0.0.1:dns" }, field: "dns.server"},
		{name: "colons but no address", mod: func(d *DNSConfig) { d.Server = "a:b:c" }, field: "dns.server"},
		{name: "no name", mod: func(d *DNSConfig) { d.Name = "" }, field: "dns.name"},
		{name: "bad name", mod: func(d *DNSConfig) { d.Name = "a..b" }, field: "dns.name"},
		{name: "bad type", mod: func(d *DNSConfig) { d.Type = "AAAAX" }, field: "dns.type"},
		{name: "bad class", mod: func(d *DNSConfig) { d.Class = "XX" }, field: "dns.class"},
		{name: "bad protocol", mod: func(d *DNSConfig) { d.Protocol = "sctp" }, field: "dns.protocol"},
		{name: "bad rcode", mod: func(d *DNSConfig) { d.ExpectRcode = "FINE" }, field: "dns.expect_rcode"},
		{name: "bad regexp", mod: func(d *DNSConfig) { d.ExpectAnswer = "[" }, field: "dns.expect_answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dnsCheck("127.0.0.1:53", "cam.ac.uk", "TXT")
			tc.mod(c.DNS)
			wantConfigError(t, c, tc.field)
		})
	}
	wantConfigError(t, &Config{Name: "d", Kind: KindDNS}, "dns")
}

func TestSplitServer(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"127.0.0.1:5353", "127.0.0.1", "5353"},
		{"127.0.0.1", "127.0.0.1", "53"},
		{"localhost", "localhost", "53"},
		{"::1", "::1", "53"},
		{"[::1]", "::1", "53"},
		{"[2001:db8::1]:5353", "2001:db8::1", "5353"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			h, p, err := splitServer(tc.in)
			if err != nil || h != tc.host || p != tc.port {
				t.Fatalf("splitServer(%q) = %q, %q, %v; want %q, %q", tc.in, h, p, err, tc.host, tc.port)
			}
		})
	}
}

// TestDNSProbeDnsmasq runs the scenario's health check against a real
// dnsmasq and compares the probe's answers with what `dig +short` prints
// for the same questions.
func TestDNSProbeDnsmasq(t *testing.T) {
	dnsmasq := lab.RequireProgram(t, "dnsmasq")
	dig := lab.RequireProgram(t, "dig")
	const spf = "v=spf1 ip4:131.111.0.0/16 include:spf.example.net -all"
	records := []string{
		"--txt-record=cam.ac.uk," + spf,
		"--txt-record=multi.test,one,two words",
		`--txt-record=quote.test,say "hi" \ back`,
		"--host-record=www.test,192.0.2.10,2001:db8::10",
	}
	port := startDnsmasq(t, dnsmasq, records)
	server := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	t.Run("scenario health check", func(t *testing.T) {
		c := dnsCheck(server, "cam.ac.uk", "TXT")
		c.DNS.ExpectAnswer = `^"v=spf1 ip4:131\.111\.0\.0/16 .*-all"$`
		r := probe(t, c, time.Second) // dig +time=1 +tries=1
		wantResult(t, r, true, "")
	})
	t.Run("unknown name is refused without upstream", func(t *testing.T) {
		c := dnsCheck(server, "nothing.test", "A")
		c.DNS.ExpectRcode = "REFUSED"
		wantResult(t, probe(t, c, time.Second), true, "")
	})
	for _, q := range []struct{ name, qtype string }{
		{"cam.ac.uk", "TXT"}, {"multi.test", "TXT"}, {"quote.test", "TXT"}, {"www.test", "A"}, {"www.test", "AAAA"},
	} {
		t.Run("same as dig +short "+q.name+" "+q.qtype, func(t *testing.T) {
			out, err := exec.Command(dig, "@127.0.0.1", "-p", strconv.Itoa(port), "+time=1", "+tries=1", "+short",
				q.name, q.qtype).Output()
			if err != nil {
				t.Fatalf("dig: %v", err)
			}
			want := strings.TrimRight(string(out), "\n")
			if want == "" {
				t.Fatalf("dig printed nothing for %s %s", q.name, q.qtype)
			}
			r := probe(t, dnsCheck(server, q.name, q.qtype), time.Second)
			wantResult(t, r, true, "")
			if r.Output != want {
				t.Errorf("probe answers %q, dig +short prints %q", r.Output, want)
			}
		})
	}
}

// startDnsmasq runs dnsmasq on a free loopback port with only the given
// records, and returns the port once it answers.
func startDnsmasq(t *testing.T, bin string, records []string) int {
	t.Helper()
	for range 5 {
		if port, ok := tryDnsmasq(t, bin, freeUDPTCPPort(t), records); ok {
			return port
		}
	}
	t.Fatal("no free port for dnsmasq after 5 attempts")
	return 0
}

// tryDnsmasq starts dnsmasq on port; ok is false when it lost the port to
// someone else and should be tried on another.
func tryDnsmasq(t *testing.T, bin string, port int, records []string) (int, bool) {
	t.Helper()
	args := append([]string{"--no-daemon", "--conf-file=/dev/null", "--pid-file=",
		"--port=" + strconv.Itoa(port), "--listen-address=127.0.0.1", "--bind-interfaces",
		"--no-resolv", "--no-hosts"}, records...)
	cmd := exec.Command(bin, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("dnsmasq: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("cam.ac.uk.", dns.TypeTXT)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			if strings.Contains(log.String(), "in use") {
				return 0, false
			}
			t.Fatalf("dnsmasq exited: %v\n%s", err, log.String())
		default:
		}
		if _, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			t.Cleanup(stop)
			return port, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	t.Fatalf("dnsmasq did not answer within 10s\n%s", log.String())
	return 0, false
}

func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}
