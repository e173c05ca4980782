package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file reads the native format's api section. The parser checks what
// a YAML value can get wrong (types, address syntax); the rules that also
// apply to sections built in code, and those that look at files, are in
// validapi.go.

// api reads the top-level api section into a, which holds the defaults;
// every key left out keeps its default. k is the section's key.
func (p *yamlParser) api(k, n *yaml.Node, path string, a *API) {
	a.Pos, a.src = p.pos(k), NewSource(path)
	mark := func(key string, k *yaml.Node) { a.src.Set(key, p.pos(k), "") }
	closed, closedAt := false, (*yaml.Node)(nil)
	str := func(key string, dst *string) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			mark(key, k)
			if s, ok := p.str(v, path); ok {
				*dst = s
			}
		}
	}
	p.mappingKeys(n, path, map[string]func(k, v *yaml.Node, path string){
		"socket": str("socket", &a.Socket),
		"listen": func(k, v *yaml.Node, path string) {
			mark("listen", k)
			a.Listen = nil // an explicit list replaces the default, [] serves no TCP
			p.sequence(v, path, func(n *yaml.Node, path string, j int) {
				if ap, ok := p.listenAddr(n, path); ok {
					a.src.Set("listen["+strconv.Itoa(len(a.Listen))+"]", p.pos(n), "listen["+strconv.Itoa(j)+"]")
					a.Listen = append(a.Listen, ap)
				}
			})
		},
		"advertise": str("advertise", &a.Advertise),
		"tls": func(k, v *yaml.Node, path string) {
			mark("tls", k)
			t := &APITLS{}
			a.TLS = t
			p.mappingKeys(v, path, map[string]func(k, v *yaml.Node, path string){
				"cert": func(k, v *yaml.Node, path string) { mark("tls.cert", k); t.Cert, _ = p.str(v, path) },
				"key":  func(k, v *yaml.Node, path string) { mark("tls.key", k); t.Key, _ = p.str(v, path) },
				"client_ca": func(k, v *yaml.Node, path string) {
					mark("tls.client_ca", k)
					t.ClientCA, _ = p.str(v, path)
				},
			})
			if v.Kind != yaml.MappingNode && p.badFields[path] {
				p.badFields[path+".*"] = true
			}
		},
		"token_file":      str("token_file", &a.TokenFile),
		"read_token_file": str("read_token_file", &a.ReadTokenFile),
		"public_read": func(k, v *yaml.Node, path string) {
			mark("public_read", k)
			if b, ok := p.boolean(v, path); ok {
				a.PublicRead = b
				closed = !b
				closedAt = k
			}
		},
	})
	if closed && a.TokenFile == "" && a.ReadTokenFile == "" {
		// Configurations printed before read_token_file existed say
		// public_read: false everywhere: a warning, not an error.
		p.d.warn(p.pos(closedAt), path+".public_read", "false has no effect without token_file or read_token_file: "+
			"reads over TCP are open when there is no token to ask for (commands over TCP are refused)")
	}
	if n.Kind != yaml.MappingNode && p.badFields[path] {
		// Reported as not a mapping: nothing in it to validate.
		p.badFields[path+".*"] = true
	}
}

// listenAddr reads "IP:PORT" ("[IPv6]:PORT" for IPv6, quoted in YAML).
func (p *yamlParser) listenAddr(n *yaml.Node, path string) (netip.AddrPort, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		msg := fmt.Sprintf("%q is not an IP address and port such as 127.0.0.1:%d or \"[::1]:%d\"", s, DefaultAPIPort, DefaultAPIPort)
		if err == nil {
			msg = fmt.Sprintf("%q: zones are not supported", s)
		} else if !strings.Contains(s, ":") {
			msg += " (the port is required)"
		}
		p.fail(n, path, msg)
		return netip.AddrPort{}, false
	}
	if ap.Port() == 0 {
		p.fail(n, path, fmt.Sprintf("%q: port 0 is out of range 1-65535", s))
		return netip.AddrPort{}, false
	}
	return ap, true
}
