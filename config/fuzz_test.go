package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The parsers must never panic, whatever the input, and must either return
// a Config or a non-empty error list.
func FuzzParseKeepalived(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	golden, _ := filepath.Glob("testdata/golden/*.conf")
	for _, name := range append(seeds, golden...) {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("$A=x$A\nk $A\n"))
	f.Add([]byte("vrrp_instance a { interface e virtual_router_id 1 virtual_ipaddress { 1.2.3.4/99 label x dev } }"))
	f.Add([]byte("@^x include {a,b{c,d}}/*.conf\n$M=a \\\n$M\n~SEQ(i,0,1)\n\"unterminated"))
	f.Add([]byte("vrrp_script s { script \"sh -c 'x \\\"y\\\"'\" a\n weight 254 reverse\n user bob staff }\n" +
		"track_file f { file /x\n init_file -3 overwrite }\nvrrp_script interface:e {\n script /usr/bin/true\n}\n" +
		"vrrp_instance a { interface e virtual_router_id 1 priority 255 track_script { s weight -254 noreverse }\n" +
		"track_file { f weight 2 }\ntrack_interface { e weight x reverse }\nnotify_master \"/x \\x41\" bob\n virtual_ipaddress { 1.2.3.4 } }\n" +
		"vrrp_sync_group g { group { a a b }\n track_script { s }\n notify \"'\" }\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseKeepalived("f.conf", data, LoadOptions{Hostname: "h", fs: noFS{}, sys: rootSys()})
		checkResult(t, cfg, err)
	})
}

func FuzzParseYAML(f *testing.F) {
	for _, name := range []string{"testdata/good.yaml", "testdata/cluster.yaml", "testdata/gossip.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("instances:\n- {name: a, vrid: 99999999999999999999999, advert_interval: 9999999999h, vips: [{address: x}]}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("vrrp: {garp: {master_repeat: -1}}\ninstances: [~, [], {unicast: {peers: {}}}]\n"))
	f.Add([]byte("checks: [{name: c, dns: {server: \"[::1]:53\", name: x., type: txt}, exec: {command: []}}, {name: d, http: {url: \"http://h/\", body_regexp: \"(\"}}]\n" +
		"instances: [{name: a, track: [c, {check: d, weight: 999}], order: {nodes: [a, a], file: o, priorities: [3, 5]}, notify: {master: \"'\", timeout: 0s}}]\n" +
		"sync_groups: [{name: g, instances: [a, a, b], notify: {master_rx_lower_pri: x}}]\nscripts: {user: nobody, group: nope}\n"))
	f.Add([]byte("gossip: {cluster_name: \"a\\tb\", bind: {port: 0}, join: [\"[::1]\", \"h:\", x, x], keys: [\"MDEyMzQ1Njc4OWFiY2RlZg==\", \"MDEyMzQ1Njc4OWFiY2RlZg==\", \"!\"],\n" +
		"  key_file: k, profile: WAN, timings: {probe_interval: 1s, probe_timeout: 0s}, state_file: k}\n" +
		"instances: [{name: a, interface: e, vrid: 1, peers: gossip, unicast: {source: \"::1\"}, vips: [192.0.2.1]}]\n"))
	f.Add([]byte("gossip: [x]\ninstances: [{name: a, interface: e, vrid: 1, peers: Gossip, vips: [192.0.2.1]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseYAML("f.yaml", data, LoadOptions{Hostname: "h", sys: rootSys()})
		checkResult(t, cfg, err)
	})
}

func checkResult(t *testing.T, cfg *Config, err error) {
	if err == nil {
		if cfg == nil {
			t.Fatal("nil Config without an error")
		}
		// What loads must also pass validation on its own.
		if ds := cfg.Validate(nil); ds.HasErrors() {
			t.Fatalf("loaded config fails Validate:\n%s", render(ds))
		}
		checkRoundTrip(t, cfg)
		return
	}
	if cfg != nil {
		t.Fatal("Config returned with an error")
	}
	ds, ok := err.(Diagnostics)
	if !ok || !ds.HasErrors() {
		t.Fatalf("error %T %v holds no error diagnostics", err, err)
	}
}

// checkRoundTrip asserts EncodeYAML's contract on a loaded configuration:
// the YAML it writes loads back to the same settings (Config.Differences
// finds nothing). The one documented exception is keepalived input that
// loaded thanks to keepalived's leniency: the native format refuses what
// keepalived.conf only gets a warning for (validator.problem), so the
// output may fail to load, but then every error must be one of the
// input's warnings: the same words up to the first "; ", where the
// warning goes on with what keepalived does and the error with why it is
// refused. Any other error is a bug of the encoder or of a parser.
func checkRoundTrip(t *testing.T, cfg *Config) {
	t.Helper()
	out, err := EncodeYAML(cfg)
	if err != nil {
		t.Fatalf("EncodeYAML: %v", err)
	}
	again, err := ParseYAML("converted.yaml", out, LoadOptions{Hostname: "h", sys: rootSys()})
	if err != nil {
		ds, ok := err.(Diagnostics)
		if !ok || cfg.Format != FormatKeepalived {
			t.Fatalf("the encoding of a loaded %v configuration does not load: %v\n%s", cfg.Format, err, out)
		}
		for _, e := range ds.Errors() {
			if !warned(cfg.Warnings, e.Message) {
				t.Fatalf("the encoding does not load, for a reason the keepalived input was not warned about: %v\n"+
					"input warnings:\n%s\nencoding:\n%s", e, render(cfg.Warnings), out)
			}
		}
		return
	}
	if d := cfg.Differences(again); len(d) > 0 {
		t.Fatalf("the encoding loads to different settings:\n%s\nencoding:\n%s", strings.Join(d, "\n"), out)
	}
}

// warned reports whether ws holds a warning about the problem msg names.
func warned(ws Diagnostics, msg string) bool {
	problem, _, _ := strings.Cut(msg, "; ")
	for _, w := range ws {
		if p, _, _ := strings.Cut(w.Message, "; "); w.Severity == SeverityWarning && p == problem {
			return true
		}
	}
	return false
}
