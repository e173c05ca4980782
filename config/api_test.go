package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// apiFiles writes a self-signed certificate and its key (mode 0600), a
// second, unrelated key, a token file and a read-only token file (mode
// 0600) into a temporary directory, and returns their paths.
type apiFiles struct{ dir, cert, key, otherKey, ca, token, readToken string }

func writeAPIFiles(t *testing.T) apiFiles {
	t.Helper()
	dir := t.TempDir()
	f := apiFiles{
		dir: dir, cert: filepath.Join(dir, "api.crt"), key: filepath.Join(dir, "api.key"),
		otherKey: filepath.Join(dir, "other.key"), ca: filepath.Join(dir, "ca.crt"), token: filepath.Join(dir, "token"),
		readToken: filepath.Join(dir, "read-token"),
	}
	newKey := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	k, keyPEM := newKey()
	_, otherPEM := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vipd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{mustAddr("198.51.100.1").AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for path, data := range map[string][]byte{
		f.cert: certPEM, f.ca: certPEM, f.key: keyPEM, f.otherKey: otherPEM,
		f.token:     []byte("0123456789abcdef0123456789abcdef\n"),
		f.readToken: []byte("read-only-0123456789abcdef\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestAPIDefaults(t *testing.T) {
	want := config.DefaultAPI()
	if want.Socket != "/run/vipd/vipd.sock" || len(want.Listen) != 1 || want.Listen[0].String() != "127.0.0.1:9746" {
		t.Fatalf("DefaultAPI() = %+v", want)
	}
	if want.Remote() || want.AdvertiseAddr() != "" {
		t.Errorf("defaults are remote (%v) or advertised (%q)", want.Remote(), want.AdvertiseAddr())
	}

	y, err := config.ParseYAML("d.yaml", []byte("node: {name: a}\n"), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	// keepalived.conf input gets them too: config/keepalived's TestAPIDefaults.
	for name, c := range map[string]*config.Config{"yaml": y, "DefaultConfig": config.DefaultConfig()} {
		if !c.API.SameSettings(&want) {
			t.Errorf("%s: API %+v, want the defaults %+v", name, c.API, want)
		}
	}
}

func TestLoadAPIYAML(t *testing.T) {
	f := writeAPIFiles(t)
	text := `node: {name: a}
api:
  socket: /run/vipd-test/api.sock
  listen: ["127.0.0.1:9800", "198.51.100.1:9746", "[2001:db8::1]:9746"]
  tls: {cert: CERT, key: KEY, client_ca: CA}
  token_file: TOKEN
  public_read: true
`
	text = strings.NewReplacer("CERT", f.cert, "KEY", f.key, "CA", f.ca, "TOKEN", f.token).Replace(text)
	cfg, err := config.ParseYAML("api.yaml", []byte(text), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatalf("ParseYAML: %v", err)
	}
	want := config.API{
		Socket: "/run/vipd-test/api.sock",
		Listen: []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:9800"), netip.MustParseAddrPort("198.51.100.1:9746"),
			netip.MustParseAddrPort("[2001:db8::1]:9746"),
		},
		TLS:        &config.APITLS{Cert: f.cert, Key: f.key, ClientCA: f.ca},
		TokenFile:  f.token,
		PublicRead: true,
	}
	if !cfg.API.SameSettings(&want) {
		t.Errorf("API:\n got %+v %+v\nwant %+v %+v", cfg.API, cfg.API.TLS, want, want.TLS)
	}
	if cfg.API.Pos != (config.Pos{File: "api.yaml", Line: 2}) {
		t.Errorf("api at %v, want api.yaml:2", cfg.API.Pos)
	}
	if !cfg.API.Remote() || cfg.API.AdvertiseAddr() != "198.51.100.1:9746" {
		t.Errorf("Remote %v, AdvertiseAddr %q; want true, 198.51.100.1:9746", cfg.API.Remote(), cfg.API.AdvertiseAddr())
	}
	tok, err := config.ReadAPIToken(f.token)
	if err != nil || tok != "0123456789abcdef0123456789abcdef" {
		t.Errorf("ReadAPIToken = %q, %v", tok, err)
	}

	// Explicitly empty: no socket, no TCP; an advertise address wins.
	off, err := config.ParseYAML("off.yaml", []byte("api: {socket: \"\", listen: []}\n"), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if off.API.Socket != "" || len(off.API.Listen) != 0 {
		t.Errorf("api off: %+v", off.API)
	}
	a := config.API{Listen: []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:9746")}, Advertise: "lb1.example.org:9746"}
	if got := a.AdvertiseAddr(); got != "lb1.example.org:9746" {
		t.Errorf("AdvertiseAddr = %q", got)
	}
	a.Advertise = ""
	if got := a.AdvertiseAddr(); got != "" {
		t.Errorf("AdvertiseAddr of 0.0.0.0 = %q, want empty (unspecified is not reachable)", got)
	}
}

func TestAPIErrors(t *testing.T) {
	f := writeAPIFiles(t)
	loose := filepath.Join(f.dir, "loose-token")
	if err := os.WriteFile(loose, []byte("0123456789abcdef0123456789abcdef\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(f.dir, "short-token")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(f.dir, "spaced-token")
	if err := os.WriteFile(spaced, []byte("0123456789 abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	looseKey := filepath.Join(f.dir, "loose.key")
	data, _ := os.ReadFile(f.key)
	if err := os.WriteFile(looseKey, data, 0o644); err != nil {
		t.Fatal(err)
	}
	notCA := filepath.Join(f.dir, "not-ca.pem")
	if err := os.WriteFile(notCA, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("CERT", f.cert, "KEYX", looseKey, "KEY2", f.otherKey, "KEY", f.key,
		"TOKENLOOSE", loose, "TOKENSHORT", short, "TOKENSPACED", spaced, "TOKEN", f.token, "NOTCA", notCA, "DIR", f.dir)
	tests := []struct {
		name, text string
		want       []string // regexps, one per expected error, in order
	}{
		{"remote listen without tls or token", "api:\n  listen:\n    - 127.0.0.1:9746\n    - 198.51.100.1:9746\n", []string{
			`^a.yaml:4: api.listen\[1\]: 198.51.100.1:9746 is not a loopback address: it needs tls \(cert and key\)$`,
			`^a.yaml:4: api.listen\[1\]: 198.51.100.1:9746 is not a loopback address: it needs token_file`,
		}},
		{"wildcard needs tls too", "api:\n  listen: [\"[::]:9746\"]\n  token_file: TOKEN\n", []string{
			`^a.yaml:2: api.listen\[0\]: \[::\]:9746 is not a loopback address: it needs tls`,
		}},
		{"bad listen entries", "api:\n  listen:\n    - localhost:9746\n    - 127.0.0.1\n    - 127.0.0.1:0\n    - 127.0.0.1:9746\n    - 127.0.0.1:9746\n", []string{
			`^a.yaml:3: api.listen\[0\]: "localhost:9746" is not an IP address and port`,
			`^a.yaml:4: api.listen\[1\]: "127.0.0.1" is not an IP address and port .*\(the port is required\)$`,
			`^a.yaml:5: api.listen\[2\]: "127.0.0.1:0": port 0 is out of range 1-65535$`,
			`^a.yaml:7: api.listen\[4\]: 127.0.0.1:9746 is already listed \(entry 0\)$`,
		}},
		{"relative socket, unknown key, wrong type", "api:\n  socket: vipd.sock\n  port: 1\n  public_read: yes please\n", []string{
			`^a.yaml:2: api.socket: "vipd.sock" must be an absolute path`,
			`^a.yaml:3: api.port: unknown key \(allowed: advertise, listen, public_read, read_token_file, socket, tls, token_file\)$`,
			`^a.yaml:4: api.public_read: "yes please" is not true or false$`,
		}},
		{"token file readable by the group", "api:\n  token_file: TOKENLOOSE\n", []string{
			`^a.yaml:2: api.token_file: token file .*loose-token has mode 0640: it must not be accessible by group or others \(chmod 600\)$`,
		}},
		{"token file missing", "api:\n  token_file: DIR/nope\n", []string{
			`^a.yaml:2: api.token_file: token file .*/nope: no such file or directory$`,
		}},
		{"token too short", "api:\n  token_file: TOKENSHORT\n", []string{
			`^a.yaml:2: api.token_file: token file .* holds 3 characters, at least 16`,
		}},
		{"read token file readable by the group", "api:\n  read_token_file: TOKENLOOSE\n", []string{
			`^a.yaml:2: api.read_token_file: token file .*loose-token has mode 0640: it must not be accessible by group or others \(chmod 600\)$`,
		}},
		{"read token equal to the full token", "api:\n  token_file: TOKEN\n  read_token_file: TOKEN\n", []string{
			`^a.yaml:3: api.read_token_file: .*/token holds the same token as token_file .*/token: a read-only token must differ from the command token$`,
		}},
		{"token with a space", "api:\n  token_file: TOKENSPACED\n", []string{
			`^a.yaml:2: api.token_file: token file .*: the token must be one line of visible ASCII characters \(byte 11 is not\)$`,
		}},
		{"tls without key", "api:\n  tls:\n    cert: CERT\n", []string{
			`^a.yaml:2: api.tls.key: is required with tls$`, // not written: the tls line
		}},
		{"tls key of another certificate", "api:\n  tls:\n    cert: CERT\n    key: KEY2\n", []string{
			`^a.yaml:3: api.tls.cert: .*api.crt and .*other.key do not make a certificate and key pair`,
		}},
		{"tls key readable by others", "api:\n  tls:\n    cert: CERT\n    key: KEYX\n", []string{
			`^a.yaml:4: api.tls.key: .*loose.key has mode 0644: a private key must not be readable by others`,
		}},
		{"client ca that is no certificate", "api:\n  tls: {cert: CERT, key: KEY, client_ca: NOTCA}\n", []string{
			`^a.yaml:2: api.tls.client_ca: CA file .*not-ca.pem: text that is not a PEM block after 0 certificates$`,
		}},
		{"relative tls paths", "api:\n  tls:\n    cert: a.crt\n    key: KEY\n", []string{
			`^a.yaml:3: api.tls.cert: "a.crt" must be an absolute path$`,
		}},
		{"advertise loopback or unreachable", "api:\n  advertise: 127.0.0.1:9746\n", []string{
			`^a.yaml:2: api.advertise: "127.0.0.1:9746" is not an address other nodes can reach$`,
		}},
		{"advertise without a remote listener", "api:\n  advertise: lb1.example.org:9746\n", []string{
			`^a.yaml:2: api.advertise: "lb1.example.org:9746": no listen address other nodes can reach \(all are loopback\)$`,
		}},
		{"advertise without port", "api:\n  advertise: lb1.example.org\n", []string{
			`^a.yaml:2: api.advertise: "lb1.example.org" is not host:port`,
		}},
		{"not a mapping", "api: [1]\n", []string{
			`^a.yaml:1: api: it must be a mapping of keys to values, not a list$`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("a.yaml", []byte(r.Replace(tc.text)), config.LoadOptions{Hostname: "h"})
			ds := configtest.DiagnosticsOf(t, cfg, err)
			var got []string
			for _, d := range ds {
				got = append(got, d.String())
			}
			if err == nil {
				t.Fatalf("loaded without errors; diagnostics:\n%s", configtest.Render(ds))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(tc.want), configtest.Render(ds))
			}
			for i, re := range tc.want {
				if !regexp.MustCompile(re).MatchString(got[i]) {
					t.Errorf("diagnostic %d:\n  %s\ndoes not match\n  %s", i, got[i], re)
				}
			}
		})
	}
}

// A section built in code is held to the same rules, with the section's
// position where no line is known.
func TestValidateAPIInCode(t *testing.T) {
	f := writeAPIFiles(t)
	c := config.DefaultConfig()
	c.API.Pos = config.Pos{File: "code", Line: 9}
	c.API.Listen = append(c.API.Listen, netip.MustParseAddrPort("198.51.100.1:9746"))
	var got []string
	for _, d := range c.Validate(nil) {
		got = append(got, d.String())
	}
	want := []string{
		"code:9: api.listen[1]: 198.51.100.1:9746 is not a loopback address: it needs tls (cert and key)",
		"code:9: api.listen[1]: 198.51.100.1:9746 is not a loopback address: it needs token_file (commands over it must carry the token)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	c.API.TLS = &config.APITLS{Cert: f.cert, Key: f.key}
	c.API.TokenFile = f.token
	if ds := c.Validate(nil); len(ds) != 0 {
		t.Errorf("valid section: %s", configtest.Render(ds))
	}
	other := c.API
	other.PublicRead = true
	if c.API.SameSettings(&other) {
		t.Error("SameSettings ignores public_read")
	}
}

// Reads over TCP are open exactly when no token could be asked for or
// public_read says so; the read-only token is loaded beside the full one,
// and public_read: false without any token is a warning (it cannot act).
func TestAPIReadAccess(t *testing.T) {
	f := writeAPIFiles(t)
	r := strings.NewReplacer("READTOKEN", f.readToken, "TOKEN", f.token)
	for _, tc := range []struct {
		name, api string
		open      bool
		warning   string
	}{
		{"defaults", "", true, ""},
		{"full token", "api: {token_file: TOKEN}\n", false, ""},
		{"read token only", "api: {read_token_file: READTOKEN}\n", false, ""},
		{"both tokens", "api: {token_file: TOKEN, read_token_file: READTOKEN}\n", false, ""},
		{"both tokens, public read", "api: {token_file: TOKEN, read_token_file: READTOKEN, public_read: true}\n", true, ""},
		{"public_read false without token", "api:\n  public_read: false\n", true,
			"a.yaml:3: warning: api.public_read: false has no effect without token_file or read_token_file: reads over TCP are open when there is no token to ask for (commands over TCP are refused)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("a.yaml", []byte("node: {name: a}\n"+r.Replace(tc.api)), config.LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.API.ReadsOpen() != tc.open {
				t.Errorf("ReadsOpen = %v, want %v (%+v)", cfg.API.ReadsOpen(), tc.open, cfg.API)
			}
			var warnings []string
			for _, w := range cfg.Warnings {
				warnings = append(warnings, w.String())
			}
			if tc.warning == "" && len(warnings) != 0 || tc.warning != "" && !slices.Equal(warnings, []string{tc.warning}) {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
			if strings.Contains(tc.api, "READTOKEN") && cfg.API.ReadTokenFile != f.readToken {
				t.Errorf("read_token_file = %q, want %q", cfg.API.ReadTokenFile, f.readToken)
			}
			// config print writes public_read as it acts.
			out, err := config.EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("\n  public_read: %v\n", tc.open); !strings.Contains(string(out), want) {
				t.Errorf("encoded api section lacks %q:\n%s", want, out)
			}
		})
	}
	// The effective rule is what compares: an unset public_read without
	// tokens is the same setting as public_read: true.
	a, b := config.DefaultAPI(), config.DefaultAPI()
	b.PublicRead = true
	if !a.SameSettings(&b) {
		t.Error("public_read true and unset differ without any token")
	}
	b.ReadTokenFile = f.readToken
	if a.SameSettings(&b) {
		t.Error("SameSettings ignores read_token_file")
	}
}
