package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVRIDSharingOncePerInstance: instances sharing a VRID, family and
// interface are each reported once, against the first earlier one they
// clash with, an error before a warning.
func TestVRIDSharingOncePerInstance(t *testing.T) {
	inst := func(name string, lines ...string) string {
		return "vrrp_instance " + name + " {\n  interface eth0\n  virtual_router_id 51\n" + strings.Join(lines, "\n") + "\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n"
	}
	peer := func(src, p string) []string {
		out := []string{"  unicast_peer {", "    " + p, "  }"}
		if src != "" {
			out = append(out, "  unicast_src_ip "+src)
		}
		return out
	}
	cases := []struct {
		name string
		conf string
		want []string // every diagnostic, rendered without the path
	}{
		{"three multicast: each later one against the first",
			inst("A") + inst("B") + inst("C"),
			[]string{"vrrp_instance[B].virtual_router_id: A and B both use VRID 51 with IPv4 on interface eth0 (keepalived refuses to start)",
				"vrrp_instance[C].virtual_router_id: A and C both use VRID 51 with IPv4 on interface eth0 (keepalived refuses to start)"}},
		{"unicast after a multicast and a unicast with its peer: the error wins",
			inst("A") + inst("B", peer("192.0.2.10", "192.0.2.2")...) + inst("C", peer("192.0.2.10", "192.0.2.2")...),
			[]string{"warning: vrrp_instance[B].virtual_router_id: A and B both use VRID 51 with IPv4 on interface eth0, one unicast and one multicast; keepalived accepts this",
				"vrrp_instance[C].virtual_router_id: B and C both use VRID 51 with IPv4 on interface eth0 with a common unicast peer (keepalived refuses to start)"}},
		{"different sources are separate routers, one without a source meets both",
			inst("A", peer("192.0.2.10", "192.0.2.2")...) + inst("B", peer("192.0.2.11", "192.0.2.2")...) + inst("C", peer("", "192.0.2.2")...),
			[]string{"vrrp_instance[C].virtual_router_id: A and C both use VRID 51 with IPv4 on interface eth0 with a common unicast peer (keepalived refuses to start)"}},
		{"same source, different peers: one warning each",
			inst("A", peer("192.0.2.10", "192.0.2.2")...) + inst("B", peer("192.0.2.10", "192.0.2.3")...) + inst("C", peer("192.0.2.10", "192.0.2.4")...),
			[]string{"warning: vrrp_instance[B].virtual_router_id: A and B both use VRID 51 with IPv4 on interface eth0 with different unicast peers; keepalived accepts this",
				"warning: vrrp_instance[C].virtual_router_id: A and C both use VRID 51 with IPv4 on interface eth0 with different unicast peers; keepalived accepts this"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseKeepalived(kc, []byte(c.conf), LoadOptions{Hostname: "h"})
			var got []string
			for _, d := range diagnosticsOf(t, cfg, err) {
				if strings.Contains(d.Message, "VRID 51") {
					_, rest, _ := strings.Cut(d.String(), ": ")
					got = append(got, rest)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

// TestDiagnosticsCapped: a file of many problems reports MaxDiagnostics of
// them, errors first, and one line counting the rest; it still fails.
func TestDiagnosticsCapped(t *testing.T) {
	var b strings.Builder
	for range 150 {
		b.WriteString("bogus_keyword\n") // a warning each
	}
	for range 120 {
		b.WriteString("vrrp_instance VI_1 {\n}\n") // the first an error, the rest duplicates (warnings)
	}
	b.WriteString("vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 300\n}\n")
	_, err := ParseKeepalived(kc, []byte(b.String()), LoadOptions{Hostname: "h"})
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error %v, want Diagnostics", err)
	}
	if len(ds) != MaxDiagnostics+1 {
		t.Fatalf("%d diagnostics, want %d", len(ds), MaxDiagnostics+1)
	}
	errs := ds.Errors()
	last := ds[len(ds)-1]
	if len(errs) < 3 || last.Severity != SeverityWarning || !strings.HasSuffix(last.String(), "more warnings not shown (at most 100 are)") ||
		!strings.Contains(last.String(), "0 more errors and ") {
		t.Errorf("errors %d, last %q", len(errs), last)
	}
	// Only warnings beyond the cap: the load still succeeds, capped.
	cfg, err := ParseKeepalived(kc, []byte(strings.Repeat("bogus_keyword\n", 300)), LoadOptions{Hostname: "h"})
	if err != nil || len(cfg.Warnings) != MaxDiagnostics+1 || !strings.Contains(cfg.Warnings[MaxDiagnostics].String(), "0 more errors and 200 more warnings not shown") {
		t.Fatalf("err %v; %d warnings, last %v", err, len(cfg.Warnings), cfg.Warnings[len(cfg.Warnings)-1])
	}
}

// TestDiagnosticEscapesControlBytes: what a file says is printed with its
// control bytes escaped, so a diagnostic cannot drive a terminal.
func TestDiagnosticEscapesControlBytes(t *testing.T) {
	conf := "\x1b]0;owned\x07\x1b[2J\x9b1m\u009b2m\xff bogus\n" + "vrrp_instance VI_\x1b[31m {\n}\n"
	cfg, err := ParseKeepalived(kc, []byte(conf), LoadOptions{Hostname: "h"})
	ds := diagnosticsOf(t, cfg, err)
	if len(ds) == 0 {
		t.Fatal("no diagnostics")
	}
	all := render(ds)
	for _, c := range all {
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 && c < 0xa0 || c == 0xfffd {
			t.Fatalf("control character %U in:\n%s", c, all)
		}
	}
	for _, want := range []string{`\x1b]0;owned\x07\x1b[2J\x9b1m\xc2\x9b2m\xff`, `vrrp_instance[VI_\x1b[31m]`} {
		if !strings.Contains(all, want) {
			t.Errorf("%q not in:\n%s", want, all)
		}
	}
}

// TestLoadRefusesFIFO: a FIFO as the configuration, or included from it,
// is refused at once (opening it would wait for a writer forever).
func TestLoadRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "vipd.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	kfifo := filepath.Join(dir, "inc.conf")
	if err := syscall.Mkfifo(kfifo, 0o600); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(main, []byte("include inc.conf\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, fifo + ": " + fifo + " is not a regular file: a named pipe (FIFO)"},
		{main, `inc.conf" is not a regular non-executable file - skipping`},
		{dir, dir + ": " + dir + " is not a regular file: a directory"},
	} {
		done := make(chan string, 1)
		go func() {
			cfg, err := Load(c.path, LoadOptions{Hostname: "h"})
			done <- render(diagnosticsOf(t, cfg, err))
		}()
		select {
		case got := <-done:
			if !strings.Contains(got, c.want) {
				t.Errorf("%s: %q not in:\n%s", c.path, c.want, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Load(%s) still blocked after 10 s", c.path)
		}
	}
	// The open itself does not block: a FIFO swapped in after the type
	// check is refused on the open file.
	if _, err := readFile(swapFS{fifo}, "x"); err == nil || !strings.Contains(err.Error(), "a named pipe (FIFO)") {
		t.Errorf("readFile of a FIFO swapped in: %v", err)
	}
}

// swapFS says every file is a regular one but opens a FIFO.
type swapFS struct{ fifo string }

func (s swapFS) Open(string) (fs.File, error)          { return osFS{}.Open(s.fifo) }
func (s swapFS) Stat(string) (os.FileInfo, error)      { return os.Stat(os.Args[0]) }
func (s swapFS) Glob(pattern string) ([]string, error) { return nil, nil }

// TestCountYAMLInstances: the count made before parsing agrees with the
// parser on block and flow lists, quoted commas and brackets, comments
// and nested lists.
func TestCountYAMLInstances(t *testing.T) {
	inst := func(name string, vrid int) string {
		return "{name: " + name + ", interface: eth0, vrid: " + strconv.Itoa(vrid) + ", vips: [198.51.100.1, 198.51.100.2]}"
	}
	cases := []struct {
		name, text string
		want       int
	}{
		{"block list", "node: {name: a}\ninstances:\n  - name: a\n    interface: eth0\n    vrid: 1\n    vips: [198.51.100.1]\n  # - name: commented\n  - name: b\n    interface: eth0\n    vrid: 2\n    vips:\n      - 198.51.100.2\n", 2},
		{"block list at column 0", "instances:\n- name: a\n  interface: eth0\n  vrid: 1\n  vips: [198.51.100.1]\nnode: {name: a}\n", 1},
		{"flow list on one line", "instances: [" + inst("a", 1) + ", " + inst("b", 2) + "]\n", 2},
		{"flow list over lines with comments and quotes", "instances: [   # a list, of two\n  " + inst("\"a,[b]\"", 1) + ",\n  # , [ ] {\n  " + inst("'it''s, ]'", 2) + ",\n]\nnode: {name: a}\n", 2},
		{"empty flow list", "instances: []\n", 0},
		{"no instances", "node: {name: a}\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, _ := countYAMLInstances([]byte(c.text))
			cfg, err := ParseYAML("c.yaml", []byte(c.text), LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("the file does not load: %v", err)
			}
			if n != c.want || len(cfg.Instances) != c.want {
				t.Fatalf("counted %d, parsed %d, want %d", n, len(cfg.Instances), c.want)
			}
		})
	}
	// A flow list of 100 000 over many lines is refused before parsing,
	// at the line of item 10 001.
	var b strings.Builder
	b.WriteString("instances: [\n")
	for i := range 100000 {
		b.WriteString(inst("v"+strconv.Itoa(i), i%255+1) + ",\n")
	}
	b.WriteString("]\n")
	start := time.Now()
	_, err := ParseYAML("flow.yaml", []byte(b.String()), LoadOptions{Hostname: "h"})
	if took := time.Since(start); err == nil || err.Error() != "flow.yaml:10002: instances: the configuration has 100000 instances; vipd supports at most 10000 (MaxInstances)" || took > 5*time.Second {
		t.Fatalf("flow list of 100 000: %v after %v", err, took)
	}
}
