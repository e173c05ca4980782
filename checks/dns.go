package checks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsNoDeadline bounds a DNS exchange whose context has no deadline.
const dnsNoDeadline = 5 * time.Second

// dnsUDPSize is the EDNS0 buffer size advertised, dig's default.
const dnsUDPSize = 1232

// dnsProber asks one question, as `dig @SERVER +time=T +tries=1 NAME TYPE`
// would: recursion desired, EDNS0 with dig's buffer size, one try per
// server address, over TCP again when a UDP answer comes back truncated.
// When the server's name has several addresses they are tried in turn
// while an address fails outright (e.g. "localhost" whose ::1 refuses).
//
// It succeeds when the response code is the expected one and, if
// ExpectAnswer is set, when that regular expression matches the data of
// some answer record written as `dig +short` prints it: the record data
// alone, domain names fully qualified, TXT strings in double quotes with
// dig's escapes, several strings separated by a space. So a TXT answer is
// matched against `"v=spf1 -all"`, quotes included. The expression is not
// anchored; add ^ and $ to match a whole record.
type dnsProber struct {
	host, port string
	question   dns.Question
	proto      string
	rcode      int
	answer     *regexp.Regexp
}

// DNSConfig is healthy when a query to Server gets the expected answer.
// Its zero values are defaults (DefaultDNSConfig fills them in), and
// names of types, classes, response codes and protocols are read in any
// case.
type DNSConfig struct {
	// Server is host, host:port, IPv6 or [IPv6]:port; port 53 if omitted.
	Server string `yaml:"server"`
	// Name, Type ("A", "TXT", ...; default A) and Class (default IN) of
	// the question.
	Name  string `yaml:"name"`
	Type  string `yaml:"type"`
	Class string `yaml:"class"`
	// Protocol is "udp" (default) or "tcp".
	Protocol string `yaml:"protocol"`
	// ExpectRcode is the expected response code (default NOERROR).
	ExpectRcode string `yaml:"expect_rcode"`
	// ExpectAnswer, when not empty, is a regular expression that some
	// answer record's data (as `dig +short` prints it) must match.
	ExpectAnswer string `yaml:"expect_answer,omitempty"`
}

// DefaultDNSConfig returns d with its defaults filled in and its names
// spelled as a front end writes them back: type A, class IN, over UDP,
// expecting NOERROR; upper-case type, class and response code, lower-case
// protocol.
func DefaultDNSConfig(d DNSConfig) DNSConfig {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&d.Type, "A")
	def(&d.Class, "IN")
	def(&d.Protocol, "udp")
	def(&d.ExpectRcode, "NOERROR")
	d.Type, d.Class, d.ExpectRcode = strings.ToUpper(d.Type), strings.ToUpper(d.Class), strings.ToUpper(d.ExpectRcode)
	d.Protocol = strings.ToLower(d.Protocol)
	return d
}

var dnsKind = kindDef{
	kind:     KindDNS,
	settings: func(c *Config) bool { return c.DNS != nil },
	validate: func(c *Config, fail func(field, msg string)) { c.DNS.compile(fail) },
	same:     func(a, b *Config) bool { return *a.DNS == *b.DNS },
	prober: func(c *Config, _ Options) (Prober, error) {
		return c.DNS.compile(func(string, string) {}), nil
	},
	defaults: func(c *Config) { *c.DNS = DefaultDNSConfig(*c.DNS) },
}

// compile reads the settings into a prober, reporting each problem
// through fail: the one place the DNS check's rules are written.
func (d *DNSConfig) compile(fail func(field, msg string)) *dnsProber {
	dd := DefaultDNSConfig(*d)
	p := &dnsProber{proto: dd.Protocol}
	var err error
	if d.Server == "" {
		fail("dns.server", "is required (host or host:port)")
	} else if p.host, p.port, err = splitServer(d.Server); err != nil {
		fail("dns.server", err.Error())
	}
	if d.Name == "" {
		fail("dns.name", "is required")
	} else if _, ok := dns.IsDomainName(d.Name); !ok {
		fail("dns.name", fmt.Sprintf("%q is not a domain name", d.Name))
	}
	qtype, ok := dns.StringToType[dd.Type]
	if !ok {
		fail("dns.type", fmt.Sprintf("%q is not a DNS record type", d.Type))
	}
	qclass, ok := dns.StringToClass[dd.Class]
	if !ok {
		fail("dns.class", fmt.Sprintf("%q is not a DNS class", d.Class))
	}
	if p.proto != "udp" && p.proto != "tcp" {
		fail("dns.protocol", fmt.Sprintf("%q is not udp or tcp", d.Protocol))
	}
	if p.rcode, ok = dns.StringToRcode[dd.ExpectRcode]; !ok {
		fail("dns.expect_rcode", fmt.Sprintf("%q is not a DNS response code", d.ExpectRcode))
	}
	if d.ExpectAnswer != "" {
		if p.answer, err = regexp.Compile(d.ExpectAnswer); err != nil {
			fail("dns.expect_answer", fmt.Sprintf("%q does not compile: %v", d.ExpectAnswer, err))
		}
	}
	p.question = dns.Question{Name: dns.Fqdn(d.Name), Qtype: qtype, Qclass: qclass}
	return p
}

// splitServer accepts "host:port", "[v6]:port", "host", "v6" and "[v6]";
// the port defaults to 53.
func splitServer(s string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(s)
	if err != nil {
		// No port: a bare name or address, IPv6 possibly in brackets.
		bad := fmt.Errorf("%q is not host, host:port, IPv6 or [IPv6]:port", s)
		host, port = s, "53"
		if strings.HasPrefix(s, "[") || strings.HasSuffix(s, "]") {
			if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
				return "", "", bad
			}
			host = s[1 : len(s)-1]
			if !isIP(host) {
				return "", "", bad
			}
		} else if strings.Contains(host, ":") && !isIP(host) {
			return "", "", bad
		}
	}
	if host == "" {
		return "", "", fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", "", fmt.Errorf("%q: port %q is not a number in 1-65535", s, port)
	}
	return host, port, nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// Probe asks the question once.
func (p *dnsProber) Probe(ctx context.Context) Result {
	start := time.Now()
	res := p.ask(ctx)
	res.Duration = time.Since(start)
	return res
}

func (p *dnsProber) ask(ctx context.Context) Result {
	addrs := []string{p.host}
	if !isIP(p.host) {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", p.host)
		if err != nil {
			return Result{Err: probeErr(ctx, err)}
		}
		addrs = addrs[:0]
		for _, ip := range ips {
			addrs = append(addrs, ip.Unmap().String())
		}
	}
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	m.Question = []dns.Question{p.question}
	m.SetEdns0(dnsUDPSize, false)

	var resp *dns.Msg
	var err error
	for _, a := range addrs {
		server := net.JoinHostPort(a, p.port)
		resp, err = exchange(ctx, p.proto, server, m)
		if err == nil && resp.Truncated && p.proto == "udp" {
			resp, err = exchange(ctx, "tcp", server, m)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return Result{Err: probeErr(ctx, err)}
	}

	lines := make([]string, 0, len(resp.Answer))
	for _, rr := range resp.Answer {
		lines = append(lines, shortData(rr))
	}
	res := Result{Output: bound(strings.Join(lines, "\n"))}
	if resp.Rcode != p.rcode {
		res.Err = fmt.Errorf("response code %s, want %s", rcodeName(resp.Rcode), rcodeName(p.rcode))
		return res
	}
	if p.answer != nil {
		matched := false
		for _, l := range lines {
			if p.answer.MatchString(l) {
				matched = true
				break
			}
		}
		if !matched {
			res.Err = fmt.Errorf("no answer matches %q (%d answers)", p.answer, len(lines))
			return res
		}
	}
	res.OK = true
	return res
}

// exchange makes one query over one connection. The connection is closed
// when ctx is cancelled, since miekg/dns only honours its deadline.
func exchange(ctx context.Context, proto, server string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: proto, Timeout: dnsNoDeadline, UDPSize: dnsUDPSize}
	if dl, ok := ctx.Deadline(); ok {
		c.Timeout = time.Until(dl)
		if c.Timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// shortData returns a record's data as `dig +short` prints it: the record
// in presentation format without its owner name, TTL, class and type.
func shortData(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

func rcodeName(r int) string {
	if s, ok := dns.RcodeToString[r]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(r)
}
