package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file holds the rules for the api section, shared by the native
// format and configurations built in code (keepalived input always has the
// defaults, which pass). The files it names are opened here, so that a
// missing certificate or a token file others can read stops the load with
// the line that names it, not the API server at start.

// api validates c.API.
func (v *validator) api(c *Config) {
	a := &c.API
	src := a.src
	if src == nil {
		src = NewSource("api")
	}
	at := func(key string) (Pos, string) { return src.nested(key, a.Pos) }
	fail := func(key, msg string) {
		pos, f := at(key)
		v.d.err(pos, f, msg)
	}

	if s := a.Socket; s != "" {
		switch {
		case !filepath.IsAbs(s):
			fail("socket", fmt.Sprintf("%q must be an absolute path (or \"\" for no socket)", s))
		case strings.HasSuffix(s, "/"):
			fail("socket", fmt.Sprintf("%q is a directory, not a socket path", s))
		case len(s) > maxUnixPath:
			fail("socket", fmt.Sprintf("is %d bytes, at most %d fit in a unix socket address", len(s), maxUnixPath))
		}
	}

	remote := ""
	seen := map[netip.AddrPort]int{}
	for j, ap := range a.Listen {
		key := "listen[" + strconv.Itoa(j) + "]"
		switch ad := ap.Addr(); {
		case !ad.IsValid():
			fail(key, "invalid address")
			continue
		case ad.Zone() != "":
			fail(key, fmt.Sprintf("%v: zones are not supported", ap))
		case ad.IsMulticast():
			fail(key, fmt.Sprintf("%v is a multicast address", ap))
		case ap.Port() == 0:
			fail(key, fmt.Sprintf("%v: port 0 is out of range 1-65535", ap))
		}
		if prev, dup := seen[ap]; dup {
			fail(key, fmt.Sprintf("%v is already listed (entry %d)", ap, prev))
		}
		seen[ap] = j
		if !IsLoopback(ap) {
			if remote == "" {
				remote = ap.String()
			}
			if a.TLS == nil {
				fail(key, fmt.Sprintf("%v is not a loopback address: it needs tls (cert and key)", ap))
			}
			if a.TokenFile == "" {
				fail(key, fmt.Sprintf("%v is not a loopback address: it needs token_file (commands over it must carry the token)", ap))
			}
		}
	}

	if a.Advertise != "" {
		if msg := checkAdvertise(a.Advertise); msg != "" {
			fail("advertise", msg)
		} else if remote == "" {
			fail("advertise", fmt.Sprintf("%q: no listen address other nodes can reach (all are loopback)", a.Advertise))
		}
	}

	if t := a.TLS; t != nil {
		v.apiTLS(t, fail)
	}
	var full string
	if a.TokenFile != "" {
		tok, err := ReadAPIToken(a.TokenFile)
		if err != nil {
			fail("token_file", err.Error())
		}
		full = tok
	}
	if a.ReadTokenFile != "" {
		tok, err := ReadAPIToken(a.ReadTokenFile)
		switch {
		case err != nil:
			fail("read_token_file", err.Error())
		case full != "" && tok == full:
			// The full token wins, so its holder could run commands.
			fail("read_token_file", fmt.Sprintf("%s holds the same token as token_file %s: a read-only token must differ from the command token", a.ReadTokenFile, a.TokenFile))
		}
	}
}

// apiTLS checks that the certificate files exist, parse, match and are
// not exposed.
func (v *validator) apiTLS(t *APITLS, fail func(key, msg string)) {
	files := []struct{ key, path string }{
		{"tls.cert", t.Cert}, {"tls.key", t.Key}, {"tls.client_ca", t.ClientCA},
	}
	ok := true
	for _, f := range files {
		switch {
		case f.path == "" && (f.key == "tls.cert" || f.key == "tls.key"):
			fail(f.key, "is required with tls")
			ok = false
		case f.path != "" && !filepath.IsAbs(f.path):
			fail(f.key, fmt.Sprintf("%q must be an absolute path", f.path))
			ok = false
		}
	}
	if !ok {
		return
	}
	certPEM, err := os.ReadFile(t.Cert)
	if err != nil {
		fail("tls.cert", fmt.Sprintf("%s: %s", t.Cert, ErrorText(err)))
	}
	keyPEM, kerr := os.ReadFile(t.Key)
	if kerr != nil {
		fail("tls.key", fmt.Sprintf("%s: %s", t.Key, ErrorText(kerr)))
	} else if st, err := os.Stat(t.Key); err == nil && st.Mode().Perm()&0o026 != 0 {
		fail("tls.key", fmt.Sprintf("%s has mode %04o: a private key must not be readable by others or writable by its group (chmod 640 or 600)", t.Key, st.Mode().Perm()))
	}
	if err == nil && kerr == nil {
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			fail("tls.cert", fmt.Sprintf("%s and %s do not make a certificate and key pair: %v", t.Cert, t.Key, err))
		}
	}
	for _, f := range files[2:] {
		if f.path == "" {
			continue
		}
		if _, err := LoadCertPool(f.path); err != nil {
			fail(f.key, err.Error())
		}
	}
}

// checkAdvertise checks "host:port": host an IP address (IPv6 in brackets)
// or a DNS name, port 1-65535. It returns "" when s is fine.
func checkAdvertise(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (IPv6 as [addr]:port)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > math.MaxUint16 {
		return fmt.Sprintf("%q: port %q is not a number in 1-65535", s, port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		switch ad := a.Unmap(); {
		case a.Zone() != "":
			return fmt.Sprintf("%q: zones are not supported", s)
		case ad.IsLoopback() || ad.IsUnspecified() || ad.IsMulticast():
			return fmt.Sprintf("%q is not an address other nodes can reach", s)
		}
		return ""
	}
	if !dnsName(host) {
		return fmt.Sprintf("%q: %q is not an IP address or DNS name", s, host)
	}
	return ""
}

// ReadAPIToken reads a bearer token file: a regular file, with no
// permission for group or others, holding one token of at least
// MinAPITokenLen visible ASCII characters (a final newline is allowed).
// Its errors never quote the token, so that they can be logged. The API
// server and the client commands read tokens with it.
func ReadAPIToken(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file %s: %s", path, ErrorText(err))
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %04o: it must not be accessible by group or others (chmod 600)", path, perm)
	}
	if st.Size() > 4096 {
		return "", fmt.Errorf("token file %s is %d bytes, more than one token", path, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file %s: %s", path, ErrorText(err))
	}
	tok := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if len(tok) < MinAPITokenLen {
		return "", fmt.Errorf("token file %s holds %d characters, at least %d are needed (e.g. openssl rand -hex 32)", path, len(tok), MinAPITokenLen)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c > '~' {
			return "", fmt.Errorf("token file %s: the token must be one line of visible ASCII characters (byte %d is not)", path, i+1)
		}
	}
	return tok, nil
}

// LoadCertPool reads a PEM file of CA certificates (at least one, nothing
// else in it).
func LoadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %s", path, ErrorText(err))
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if strings.TrimSpace(string(rest)) != "" {
				return nil, fmt.Errorf("CA file %s: text that is not a PEM block after %d certificates", path, n)
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA file %s: a %q PEM block, only CERTIFICATE blocks belong here", path, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: certificate %d: %v", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s holds no certificate", path)
	}
	return pool, nil
}
