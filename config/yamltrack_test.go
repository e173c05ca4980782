package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

func TestYAMLTracking(t *testing.T) {
	in := `checks:
  - name: web
    interval: 2s
    fall: 3
    weight: -30
    http: { url: "https://127.0.0.1:8443/health", expect_status: [200, 204], body_regexp: "^ok", insecure_skip_verify: true }
  - name: dns
    dns: { server: 127.0.0.1, name: cam.ac.uk, type: txt, expect_answer: "v=spf1" }
  - name: proc
    process: { name: dnsmasq }
  - name: port
    timeout: 500ms
    tcp: { address: "[2001:db8::1]:53" }
  - name: file
    weight: 2
    file: { path: /run/prio, init_value: -4, init_overwrite: true }
  - name: link
    interface: { name: eth1 }
  - name: script
    rise: 2
    init_fail: true
    exec: { command: "sh -c 'exit 0'", user: nobody, group: nogroup }
instances:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips: [192.0.2.1]
    track: [web, { check: dns, weight: 10, weight_reverse: true }, { check: link, weight: 0 }]
    order: { file: order.txt, reverse: true, priorities: [200, 100], unhealthy: fault }
    notify:
      any: /n.sh
      stop: [/n.sh, stop, "two words"]
      master: { command: "/n.sh master", user: bob }
      timeout: 3s
  - name: VI_2
    interface: eth0
    vrid: 2
    vips: [192.0.2.2]
    order: { nodes: [a, b, c] }
sync_groups:
  - name: G
    instances: [VI_1, VI_2]
    notify: { fault: /g.sh }
`
	cfg, err := config.ParseYAML("/etc/vipd/vipd.yaml", []byte(in), config.LoadOptions{Hostname: "h", System: newFakeSys(1000, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.FastTakeover || !cfg.Scripts.Enforce {
		t.Errorf("defaults: fast takeover %v scripts %+v", cfg.FastTakeover, cfg.Scripts)
	}
	if len(cfg.Checks) != 7 {
		t.Fatalf("%d checks", len(cfg.Checks))
	}
	web := cfg.Check("web")
	if web.Kind != checks.KindHTTP || web.Interval != 2*time.Second || web.Timeout != 2*time.Second || web.Fall != 3 || web.Rise != 1 ||
		web.Weight != -30 || !slices.Equal(web.HTTP.ExpectStatus, []int{200, 204}) || !web.HTTP.InsecureSkipVerify || web.Pos.Line != 2 {
		t.Errorf("web: %+v %+v", web, web.HTTP)
	}
	if d := cfg.Check("dns").DNS; *d != (checks.DNSConfig{Server: "127.0.0.1", Name: "cam.ac.uk", Type: "TXT", Class: "IN", Protocol: "udp", ExpectRcode: "NOERROR", ExpectAnswer: "v=spf1"}) {
		t.Errorf("dns defaults: %+v", d)
	}
	if p := cfg.Check("port"); p.Timeout != 500*time.Millisecond || p.Interval != time.Second {
		t.Errorf("port: %+v", p)
	}
	if f := cfg.Check("file").File; *f.InitValue != -4 || !f.InitOverwrite {
		t.Errorf("file: %+v", f)
	}
	if s := cfg.Check("script"); !slices.Equal(s.Exec.Command, []string{"sh", "-c", "exit 0"}) || s.Exec.User != "nobody" || !s.InitFail || s.Rise != 2 {
		t.Errorf("script: %+v %+v", s, s.Exec)
	}
	i := cfg.Instances[0]
	if len(i.Track) != 3 || i.Track[0].Weight != nil || *i.Track[1].Weight != 10 || !i.Track[1].WeightReverse || *i.Track[2].Weight != 0 {
		t.Errorf("tracks %+v", i.Track)
	}
	if o := i.Order; o.File != "/etc/vipd/order.txt" || !o.Reverse || !slices.Equal(o.Priorities, []uint8{200, 100}) || o.Unhealthy != priority.UnhealthyFault || config.OrderPos(i).Line != 29 {
		t.Errorf("order %+v", o)
	}
	if o := cfg.Instances[1].Order; !slices.Equal(o.Nodes, []string{"a", "b", "c"}) || !slices.Equal(o.Priorities, priority.DefaultPriorities()) || o.Unhealthy != priority.UnhealthyLowest {
		t.Errorf("default order %+v", o)
	}
	n := i.Notify
	if !slices.Equal(n.Any, []string{"/n.sh"}) || !slices.Equal(n.Stop, []string{"/n.sh", "stop", "two words"}) ||
		!slices.Equal(n.Master, []string{"/n.sh", "master"}) || n.User(notify.ScriptMaster).User != "bob" || n.Timeout != 3*time.Second {
		t.Errorf("notify %+v", n)
	}
	if cfg.Instances[1].Notify.Timeout != notify.DefaultTimeout {
		t.Errorf("default notify timeout %v", cfg.Instances[1].Notify.Timeout)
	}
	g := cfg.SyncGroups[0]
	if g.Name != "G" || !slices.Equal(g.Instances, []string{"VI_1", "VI_2"}) || len(g.Notify.Fault) != 1 || g.Notify.Timeout != notify.DefaultTimeout {
		t.Errorf("group %+v", g)
	}
}

func TestYAMLGlobalTrackingSettings(t *testing.T) {
	in := "vrrp: { fast_takeover: false }\nscripts: { security: false, user: nobody, group: nogroup }\n"
	cfg, err := config.ParseYAML("g.yaml", []byte(in), config.LoadOptions{Hostname: "h", System: newFakeSys(1000, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FastTakeover || cfg.Scripts != (config.ScriptSecurity{User: "nobody", Group: "nogroup"}) {
		t.Errorf("fast takeover %v scripts %+v", cfg.FastTakeover, cfg.Scripts)
	}
}

func TestYAMLTrackingErrors(t *testing.T) {
	const f = "/etc/vipd.yaml"
	// inst is an instance whose extra lines start at line 6.
	inst := func(extra ...string) string {
		return "instances:\n- name: VI_1\n  interface: veth0\n  vrid: 1\n  vips: [198.51.100.100]\n" + strings.Join(extra, "\n") + "\n"
	}
	check := func(lines ...string) string { return "checks:\n- name: c\n" + strings.Join(lines, "\n") + "\n" } // lines from 3
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"check without kind", check("  interval: 1s"), f + ":2: checks[0]: needs one kind: exec, process, tcp, http, dns, file, interface"},
		{"check with two kinds", check("  exec: {command: /bin/true}", "  tcp: {address: \"h:1\"}"), f + ":4: checks[0].tcp: a check has exactly one kind, and this one is already exec"},
		{"check without name", "checks:\n- tcp: {address: \"h:1\"}\n", f + ":2: checks[0].name: is required"},
		{"duplicate check name", check("  tcp: {address: \"h:1\"}", "- name: c", "  tcp: {address: \"h:2\"}"), f + ":4: checks[1].name: check name \"c\" is already used by the check at " + f + ":2"},
		{"zero interval", check("  interval: 0s", "  tcp: {address: \"h:1\"}"), f + ":3: checks[0].interval: 0s must be greater than 0"},
		{"zero timeout", check("  timeout: 0s", "  tcp: {address: \"h:1\"}"), f + ":3: checks[0].timeout: 0s must be greater than 0"},
		{"fall 0", check("  fall: 0", "  tcp: {address: \"h:1\"}"), f + ":3: checks[0].fall: 0 is out of range 1-2147483647"},
		{"rise not a number", check("  rise: often", "  tcp: {address: \"h:1\"}"), f + `:3: checks[0].rise: "often" is not an integer`},
		{"weight out of range", check("  weight: -254", "  tcp: {address: \"h:1\"}"), f + ":3: checks[0].weight: -254 is out of range -253..253"},
		{"file weight out of range", check("  weight: 255", "  file: {path: /x}"), f + ":3: checks[0].weight: 255 is out of range -254..254"},
		{"exec without command", check("  exec: {user: nobody}"), f + ":3: checks[0].exec.command: is required"},
		{"exec empty command list", check("  exec: {command: []}"), f + ":3: checks[0].exec.command: must not be empty"},
		{"exec command with a bad quote", check("  exec: {command: \"sh -c 'x\"}"), f + ":3: checks[0].exec.command: missing terminating '"},
		{"exec group without user", check("  exec: {command: /bin/true, group: nogroup}"), f + ":3: checks[0].exec.group: needs user"},
		{"process without name or pidfile", check("  process: {}"), f + ":3: checks[0].process: needs name or pidfile"},
		{"process name with a slash", check("  process: {name: /usr/sbin/dnsmasq}"), f + `:3: checks[0].process.name: "/usr/sbin/dnsmasq": a process name has no '/'`},
		{"tcp without port", check("  tcp: {address: 127.0.0.1}"), f + `:3: checks[0].tcp.address: "127.0.0.1" is not host:port`},
		{"tcp bad port", check("  tcp: {address: \"h:99999\"}"), f + `:3: checks[0].tcp.address: "h:99999": port "99999" is not a number in 1-65535`},
		{"tcp without address", check("  tcp: {}"), f + ":3: checks[0].tcp.address: is required (host:port)"},
		{"http bad scheme", check("  http: {url: \"ftp://h/\"}"), f + `:3: checks[0].http.url: "ftp://h/" is not an http:// or https:// URL`},
		{"http unparsable URL", check("  http: {url: \"http://h:x/\"}"), f + `:3: checks[0].http.url: "http://h:x/" is not a URL`},
		{"http no host", check("  http: {url: \"http:///x\"}"), f + `:3: checks[0].http.url: "http:///x" has no host`},
		{"http bad status", check("  http:", "    url: http://h/", "    expect_status: [200, 99]"), f + ":5: checks[0].http.expect_status[1]: 99 is out of range 100-599"},
		{"http bad regexp", check("  http: {url: \"http://h/\", body_regexp: \"(\"}"), f + `:3: checks[0].http.body_regexp: "(" does not compile`},
		{"dns bad type", check("  dns: {server: 127.0.0.1, name: x, type: TXTT}"), f + `:3: checks[0].dns.type: "TXTT" is not a DNS record type`},
		{"dns bad class", check("  dns: {server: 127.0.0.1, name: x, class: INN}"), f + `:3: checks[0].dns.class: "INN" is not a DNS class`},
		{"dns bad rcode", check("  dns: {server: 127.0.0.1, name: x, expect_rcode: FINE}"), f + `:3: checks[0].dns.expect_rcode: "FINE" is not a DNS response code`},
		{"dns bad protocol", check("  dns: {server: 127.0.0.1, name: x, protocol: quic}"), f + `:3: checks[0].dns.protocol: "quic" is not udp or tcp`},
		{"dns bad name", check("  dns: {server: 127.0.0.1, name: \"a..b\"}"), f + `:3: checks[0].dns.name: "a..b" is not a domain name`},
		{"dns without server", check("  dns: {name: x}"), f + ":3: checks[0].dns.server: is required"},
		{"dns bad server port", check("  dns: {server: \"h:dns\", name: x}"), f + `:3: checks[0].dns.server: "h:dns": port "dns" is not a number in 1-65535`},
		{"dns bad answer regexp", check("  dns: {server: \"[::1]:53\", name: x, expect_answer: \"[\"}"), f + `:3: checks[0].dns.expect_answer: "[" does not compile`},
		{"file without path", check("  file: {init_value: 1}"), f + ":3: checks[0].file.path: is required"},
		{"interface bad name", check("  interface: {name: \"eth0:1\"}"), f + `:3: checks[0].interface.name: "eth0:1" contains a character`},
		{"unknown check key", check("  exec: {command: /bin/true, shell: true}"), f + ":3: checks[0].exec.shell: unknown key (allowed: command, group, user)"},
		{"track of an unknown check", inst("  track: [nope]"), f + `:6: instances[0].track[0]: check "nope" is not defined`},
		{"track twice", check("  tcp: {address: \"h:1\"}") + inst("  track:", "  - c", "  - {check: c, weight: 2}"), f + `:11: instances[0].track[1]: check "c" is tracked twice`},
		{"track weight out of range", check("  tcp: {address: \"h:1\"}") + inst("  track: [{check: c, weight: 300}]"), f + ":9: instances[0].track[0]: weight 300 is out of range -253..253"},
		{"track reverse without weight", check("  tcp: {address: \"h:1\"}") + inst("  track: [{check: c, weight_reverse: true}]"), f + ":9: instances[0].track[0].weight_reverse: needs weight"},
		{"track without check", inst("  track: [{weight: 3}]"), f + ":6: instances[0].track[0].check: is required"},
		{"weighted track on the address owner", check("  weight: -10", "  tcp: {address: \"h:1\"}") + inst("  priority: 255", "  track: [c]"),
			f + `:11: instances[0].track[0]: the address owner (priority 255) keeps its priority; track "c" with weight 0`},
		{"order with nodes and file", inst("  order: {nodes: [a], file: /o}"), f + ":6: instances[0].order.file: an order takes nodes or file, not both"},
		{"order with neither", inst("  order: {reverse: true}"), f + ":6: instances[0].order: needs nodes or file"},
		{"order with no nodes", inst("  order: {nodes: []}"), f + ":6: instances[0].order.nodes: must list at least one node"},
		{"order node twice", inst("  order:", "    nodes:", "    - a", "    - a"), f + `:9: instances[0].order.nodes[1]: node "a" is listed twice`},
		{"order node disabled", inst("  order: {nodes: [\"#a\"]}"), f + `:6: instances[0].order.nodes[0]: "#a": '#' disables a node in an order file only`},
		{"order priorities not decreasing", inst("  order:", "    nodes: [a]", "    priorities: [100, 150]"), f + ":8: instances[0].order.priorities: must decrease from first to last, but 150 follows 100"},
		{"order priority 255", inst("  order: {nodes: [a], priorities: [255]}"), f + ":6: instances[0].order.priorities[0]: 255 is out of range 2-254"},
		{"order priority 1", inst("  order: {nodes: [a], priorities: [9, 1]}"), f + ":6: instances[0].order.priorities[1]: 1 is out of range 2-254"},
		{"order unhealthy unknown", inst("  order: {nodes: [a], unhealthy: sleep}"), f + `:6: instances[0].order.unhealthy: "sleep" is not lowest or fault`},
		{"order and priority 255", inst("  priority: 255", "  order: {nodes: [a]}"), f + ":6: instances[0].priority: an instance with an order takes its priority from it and cannot be the address owner"},
		{"order and state master", inst("  state: master", "  order: {nodes: [a]}"), f + ":6: instances[0].state: an instance with an order takes its priority from it and cannot be the address owner"},
		{"order and a priority", inst("  priority: 120", "  order: {nodes: [a]}"), f + ":6: instances[0].priority: an instance with an order takes its priority from it; remove priority"},
		{"notify with a bad quote", inst("  notify: {master: \"/x 'y\"}"), f + ":6: instances[0].notify.master: missing terminating '"},
		{"notify empty list", inst("  notify: {master: []}"), f + ":6: instances[0].notify.master: must not be empty"},
		{"notify mapping without command", inst("  notify: {master: {user: bob}}"), f + ":6: instances[0].notify.master.command: is required"},
		{"notify zero timeout", inst("  notify: {stop: /x, timeout: 0s}"), f + ":6: instances[0].notify.timeout: 0s must be greater than 0"},
		{"notify unknown event", inst("  notify: {up: /x}"), f + ":6: instances[0].notify.up: unknown key (allowed: any, backup, fault, master, master_rx_lower_pri, stop, timeout)"},
		{"notify group without user", inst("  notify: {master: {command: /x, group: nogroup}}"), f + ":6: instances[0].notify.master.group: needs user"},
		{"sync group member unknown", inst() + "sync_groups:\n- name: G\n  instances: [VI_1, VI_9]\n", f + `:9: sync_groups[0].instances[1]: instance "VI_9" is not defined`},
		{"sync group member twice", inst() + "sync_groups:\n- name: G\n  instances: [VI_1, VI_1]\n", f + `:9: sync_groups[0].instances[1]: instance "VI_1" is listed twice`},
		{"instance in two sync groups", inst() + "sync_groups:\n- {name: G, instances: [VI_1]}\n- {name: H, instances: [VI_1]}\n",
			f + `:9: sync_groups[1].instances[0]: instance "VI_1" is already in sync group "G"; an instance is in one group at most`},
		{"sync group without members", inst() + "sync_groups:\n- {name: G}\n", f + ":8: sync_groups[0].instances: must list at least one instance"},
		{"sync group without name", inst() + "sync_groups:\n- {instances: [VI_1]}\n", f + ":8: sync_groups[0].name: is required"},
		{"sync group name twice", inst() + "sync_groups:\n- {name: G, instances: [VI_1]}\n- name: G\n  instances: [VI_1]\n", f + `:9: sync_groups[1].name: sync group name "G" is already used`},
		{"sync group master_rx_lower_pri", inst() + "sync_groups:\n- name: G\n  instances: [VI_1]\n  notify: {master_rx_lower_pri: /x}\n", f + ":10: sync_groups[0].notify.master_rx_lower_pri: sync groups have no master_rx_lower_pri script"},
		{"sync group mixing owners", inst() + "- {name: VI_2, interface: veth0, vrid: 2, priority: 255, vips: [198.51.100.2]}\nsync_groups:\n- name: G\n  instances: [VI_1, VI_2]\n",
			f + ":10: sync_groups[0].instances: some members are address owners (priority 255) and some are not"},
		{"fast_takeover not a bool", "vrrp: {fast_takeover: sometimes}\n", f + `:1: vrrp.fast_takeover: "sometimes" is not true or false`},
		{"unknown scripts key", "scripts: {enforce: true}\n", f + ":1: scripts.enforce: unknown key (allowed: group, security, user)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML(f, []byte(tc.yaml), config.LoadOptions{Hostname: "h", System: newFakeSys(1000, 1000)})
			if err == nil {
				t.Fatalf("no error; checks %v", cfg.Checks)
			}
			ds := configtest.DiagnosticsOf(t, cfg, err)
			configtest.RequireDiag(t, ds, config.SeverityError, tc.want)
			if len(ds.Warnings()) != 0 {
				t.Errorf("warnings in the native format:\n%s", configtest.Render(ds.Warnings()))
			}
		})
	}
}

// A value that fails to parse is reported once, not again by validation.
func TestYAMLTrackingBadValueReportedOnce(t *testing.T) {
	in := "checks:\n- name: c\n  interval: soon\n  tcp: {address: \"h:1\"}\ninstances:\n- {name: a, interface: e, vrid: 1, vips: [192.0.2.1], order: {nodes: [a], priorities: [300]}}\n"
	_, err := config.ParseYAML("x.yaml", []byte(in), config.LoadOptions{Hostname: "h", System: newFakeSys(1000, 1000)})
	ds := configtest.DiagnosticsOf(t, nil, err)
	for _, field := range []string{"checks[0].interval", "instances[0].order.priorities[0]"} {
		n := 0
		for _, d := range ds {
			if strings.HasPrefix(d.Field, field) || (field == "instances[0].order.priorities[0]" && d.Field == "instances[0].order.priorities") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s reported %d times, want once:\n%s", field, n, configtest.Render(ds))
		}
	}
}
