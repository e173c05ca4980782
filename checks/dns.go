package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/vipd/vipd/config"
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

func newDNSProber(c *config.Check) (*dnsProber, error) {
	d := c.DNS
	cfgErr := func(field string, err error) error {
		return &ConfigError{Check: c.Name, Kind: c.Kind, Field: field, Err: err}
	}
	host, port, err := splitServer(d.Server)
	if err != nil {
		return nil, cfgErr("Server", err)
	}
	if d.Name == "" {
		return nil, cfgErr("Name", errors.New("no name to ask for"))
	}
	if _, ok := dns.IsDomainName(d.Name); !ok {
		return nil, cfgErr("Name", fmt.Errorf("%q is not a domain name", d.Name))
	}
	qtype := dns.TypeA
	if d.Type != "" {
		t, ok := dns.StringToType[strings.ToUpper(d.Type)]
		if !ok {
			return nil, cfgErr("Type", fmt.Errorf("unknown record type %q", d.Type))
		}
		qtype = t
	}
	qclass := uint16(dns.ClassINET)
	if d.Class != "" {
		cl, ok := dns.StringToClass[strings.ToUpper(d.Class)]
		if !ok {
			return nil, cfgErr("Class", fmt.Errorf("unknown class %q", d.Class))
		}
		qclass = cl
	}
	proto := strings.ToLower(d.Protocol)
	switch proto {
	case "":
		proto = "udp"
	case "udp", "tcp":
	default:
		return nil, cfgErr("Protocol", fmt.Errorf("%q: want udp or tcp", d.Protocol))
	}
	rcode := dns.RcodeSuccess
	if d.ExpectRcode != "" {
		r, ok := dns.StringToRcode[strings.ToUpper(d.ExpectRcode)]
		if !ok {
			return nil, cfgErr("ExpectRcode", fmt.Errorf("unknown response code %q", d.ExpectRcode))
		}
		rcode = r
	}
	p := &dnsProber{
		host: host, port: port, proto: proto, rcode: rcode,
		question: dns.Question{Name: dns.Fqdn(d.Name), Qtype: qtype, Qclass: qclass},
	}
	if d.ExpectAnswer != "" {
		if p.answer, err = regexp.Compile(d.ExpectAnswer); err != nil {
			return nil, cfgErr("ExpectAnswer", err)
		}
	}
	return p, nil
}

// splitServer accepts "host:port", "[v6]:port", "host", "v6" and "[v6]";
// the port defaults to 53.
func splitServer(s string) (host, port string, err error) {
	if s == "" {
		return "", "", errors.New("no server given")
	}
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
		return "", "", fmt.Errorf("%q: no host", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", "", fmt.Errorf("%q: port %q is not a number in 1..65535", s, port)
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
