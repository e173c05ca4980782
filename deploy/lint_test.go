// Package deploy holds no code: its tests check the deployment material
// (the Dockerfile, the systemd unit, the Kubernetes DaemonSet and the
// example configurations) so that CI catches a regression in any of them.
// scripts/check-deploy.sh runs them together with `systemd-analyze verify`
// and `vipd config check` on every example.
package deploy

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
	"github.com/vipd/vipd/internal/testbed"
	"go.yaml.in/yaml/v3"
)

// --- Dockerfile ---
//
// hadolint is neither in Debian nor on npm (the npm package of that name is
// a wrapper that downloads a binary), so the Dockerfile is checked here,
// against the rules below (hadolint's numbers where it has one):
//
//	pinned     every FROM is "scratch", an earlier stage, an image@sha256
//	           digest or a tag holding a version number, never "latest" or
//	           no tag (DL3006, DL3007)
//	stages     at least two stages; the last one is FROM scratch or a
//	           distroless image (a static binary on a minimal base)
//	static     a RUN of the build stage builds with CGO_ENABLED=0 and
//	           -tags grpcnotrace (testbed.BuildTags: the binary every test
//	           and benchmark runs)
//	user       the last stage sets USER to a non-root user (DL3002)
//	add        no ADD: COPY for files, no fetching of URLs (DL3020)
//	copyfrom   COPY --from names an earlier stage (DL3022)
//	workdir    WORKDIR is absolute (DL3000)
//	apt        apt-get install uses -y and --no-install-recommends and the
//	           lists are removed in the same RUN (DL3014, DL3015, DL3009);
//	           no apt-get upgrade, no sudo (DL3005, DL3004)
//	exec       ENTRYPOINT and CMD in exec (JSON) form (DL3025)
//	caps       the file documents the NET_ADMIN and NET_RAW capabilities

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur *instruction
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cont := strings.HasSuffix(l, "\\")
		l = strings.TrimSuffix(l, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(l, " ")
			cur = &instruction{line: n, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else {
			cur.args += " " + strings.TrimSpace(l)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

var versionTag = regexp.MustCompile(`^[^:@/]+(/[^:@]+)*:[^:@]*\d[^:@]*$`)

// lintDockerfile returns every rule the text breaks, as "LINE: rule: ...".
func lintDockerfile(text string) []string {
	var problems []string
	bad := func(line int, rule, msg string) {
		problems = append(problems, fmt.Sprintf("%d: %s: %s", line, rule, msg))
	}
	ins := parseDockerfile(text)
	var stages []string
	lastFrom, lastUser := -1, -1
	for i, in := range ins {
		f := strings.Fields(in.args)
		switch in.cmd {
		case "FROM":
			var image, alias string
			for j := 0; j < len(f); j++ {
				switch {
				case strings.HasPrefix(f[j], "--"):
				case image == "":
					image = f[j]
				case strings.EqualFold(f[j], "AS") && j+1 < len(f):
					alias = f[j+1]
					j++
				}
			}
			switch {
			case image == "":
				bad(in.line, "pinned", "FROM without an image")
			case image == "scratch", slices.Contains(stages, image), strings.Contains(image, "@sha256:"):
			case strings.HasSuffix(image, ":latest") || !versionTag.MatchString(image):
				bad(in.line, "pinned", fmt.Sprintf("%s is not pinned to a version or digest", image))
			}
			stages = append(stages, alias)
			lastFrom, lastUser = i, -1
		case "USER":
			lastUser = i
			if u, _, _ := strings.Cut(in.args, ":"); u == "0" || u == "root" || u == "" {
				bad(in.line, "user", "USER is root")
			}
		case "ADD":
			bad(in.line, "add", "use COPY (ADD fetches URLs and unpacks archives)")
		case "COPY":
			for _, w := range f {
				if from, ok := strings.CutPrefix(w, "--from="); ok && !slices.Contains(stages, from) {
					bad(in.line, "copyfrom", fmt.Sprintf("--from=%s is not an earlier stage", from))
				}
			}
		case "WORKDIR":
			if !strings.HasPrefix(in.args, "/") {
				bad(in.line, "workdir", "WORKDIR must be absolute")
			}
		case "RUN":
			a := in.args
			if strings.Contains(a, "apt-get install") {
				if !strings.Contains(a, "--no-install-recommends") || !regexp.MustCompile(`apt-get install[^&;|]*(-y|--yes)`).MatchString(a) {
					bad(in.line, "apt", "apt-get install needs -y and --no-install-recommends")
				}
				if !strings.Contains(a, "rm -rf /var/lib/apt/lists") {
					bad(in.line, "apt", "remove /var/lib/apt/lists in the same RUN")
				}
			}
			if strings.Contains(a, "apt-get upgrade") || strings.Contains(a, "apt-get dist-upgrade") || regexp.MustCompile(`(^|[\s;&|])sudo\s`).MatchString(a) {
				bad(in.line, "apt", "no upgrade or sudo in a Dockerfile")
			}
		case "ENTRYPOINT", "CMD":
			if !strings.HasPrefix(in.args, "[") {
				bad(in.line, "exec", in.cmd+" must use the exec (JSON) form")
			}
		}
	}
	if len(stages) < 2 {
		bad(0, "stages", "want a build stage and a minimal final stage")
	}
	if lastFrom >= 0 {
		last := strings.Fields(ins[lastFrom].args)[0]
		if last != "scratch" && !strings.Contains(last, "distroless") {
			bad(ins[lastFrom].line, "stages", fmt.Sprintf("final stage %s is not scratch or distroless", last))
		}
		if lastUser < 0 {
			bad(ins[lastFrom].line, "user", "the final stage sets no USER (it would run as root)")
		}
	}
	static := false
	for i, in := range ins {
		if in.cmd == "RUN" && i < lastFrom && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build") &&
			strings.Contains(in.args, "-tags "+testbed.BuildTags) {
			static = true
		}
	}
	if !static {
		bad(0, "static", "no RUN in a build stage runs go build with CGO_ENABLED=0 and -tags "+testbed.BuildTags)
	}
	if !strings.Contains(text, "NET_ADMIN") || !strings.Contains(text, "NET_RAW") {
		bad(0, "caps", "the Dockerfile does not document the NET_ADMIN and NET_RAW capabilities")
	}
	return problems
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("container/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if p := lintDockerfile(string(b)); len(p) > 0 {
		t.Errorf("deploy/container/Dockerfile:\n%s", strings.Join(p, "\n"))
	}
}

// Each rule must be able to fail.
func TestDockerfileLintRules(t *testing.T) {
	const good = "# NET_ADMIN NET_RAW\nFROM golang:1.26.8-bookworm AS build\nWORKDIR /src\nCOPY . .\n" +
		"RUN CGO_ENABLED=0 go build -tags grpcnotrace -o /out/vipd ./cmd/vipd\nFROM scratch\nCOPY --from=build /out/vipd /vipd\n" +
		"USER 65532:65532\nENTRYPOINT [\"/vipd\"]\n"
	if p := lintDockerfile(good); len(p) > 0 {
		t.Fatalf("a good Dockerfile fails: %v", p)
	}
	for _, c := range []struct{ rule, old, new string }{
		{"pinned", "golang:1.26.8-bookworm", "golang"},
		{"pinned", "golang:1.26.8-bookworm", "golang:latest"},
		{"pinned", "golang:1.26.8-bookworm", "golang:bookworm"},
		{"stages", "FROM scratch", "FROM debian:12.5"},
		{"user", "USER 65532:65532\n", ""},
		{"user", "USER 65532:65532", "USER root"},
		{"add", "COPY . .", "ADD https://example.org/x.tgz /src"},
		{"copyfrom", "--from=build", "--from=builder"},
		{"workdir", "WORKDIR /src", "WORKDIR src"},
		{"static", "CGO_ENABLED=0 ", ""},
		{"static", "-tags grpcnotrace ", ""},
		{"apt", "RUN CGO", "RUN apt-get update && apt-get install -y curl && CGO"},
		{"apt", "RUN CGO", "RUN apt-get upgrade && CGO"},
		{"exec", "ENTRYPOINT [\"/vipd\"]", "ENTRYPOINT /vipd"},
		{"caps", "# NET_ADMIN NET_RAW\n", ""},
	} {
		bad := strings.Replace(good, c.old, c.new, 1)
		p := strings.Join(lintDockerfile(bad), "\n")
		if !strings.Contains(p, ": "+c.rule+": ") {
			t.Errorf("rule %s did not fire for %q -> %q; got %q", c.rule, c.old, c.new, p)
		}
	}
	// Continuation lines belong to their instruction.
	in := parseDockerfile("RUN a \\\n  && b\nUSER x\n")
	if len(in) != 2 || in[0].args != "a && b" || in[1].line != 3 {
		t.Errorf("parse: %+v", in)
	}
}

// --- systemd unit ---

// unitSettings reads a unit file into key -> values (a key may repeat).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if ok {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// The hardening the issue asks for; systemd-analyze verify (in
// scripts/check-deploy.sh) checks the syntax, this the content.
func TestSystemdUnit(t *testing.T) {
	u := unitSettings(t, "systemd/vipd.service")
	one := func(k string) string {
		if len(u[k]) != 1 {
			t.Errorf("%s set %d times, want once", k, len(u[k]))
			return ""
		}
		return u[k][0]
	}
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "RuntimeDirectory": "vipd", "StateDirectory": "vipd",
		"Restart": "on-failure", "KillMode": "mixed", "SystemCallArchitectures": "native",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	caps := []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		got := strings.Fields(one(k))
		slices.Sort(got)
		if !slices.Equal(got, caps) {
			t.Errorf("%s=%v, want exactly %v", k, got, caps)
		}
	}
	fams := strings.Fields(one("RestrictAddressFamilies"))
	for _, f := range []string{"AF_NETLINK", "AF_PACKET", "AF_UNIX", "AF_INET", "AF_INET6"} {
		if !slices.Contains(fams, f) {
			t.Errorf("RestrictAddressFamilies lacks %s", f)
		}
	}
	if len(u["SystemCallFilter"]) == 0 {
		t.Error("no SystemCallFilter")
	}
	if !slices.ContainsFunc(u["ExecReload"], func(s string) bool { return strings.Contains(s, "kill -HUP $MAINPID") }) {
		t.Errorf("ExecReload %v does not send SIGHUP to the main process", u["ExecReload"])
	}
	if !strings.Contains(one("ExecStart"), " agent --config ") {
		t.Errorf("ExecStart %q does not run the agent", u["ExecStart"])
	}
}

// --- Kubernetes ---

func TestDaemonSet(t *testing.T) {
	b, err := os.ReadFile("kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			break
		}
		docs[fmt.Sprint(d["kind"])] = d
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				s, _ := v.([]any)
				if k >= len(s) {
					return nil
				}
				v = s[k]
			}
		}
		return v
	}
	ds, cm := docs["DaemonSet"], docs["ConfigMap"]
	if ds == nil || cm == nil {
		t.Fatalf("want a DaemonSet and a ConfigMap, got %v", slices.Collect(maps.Keys(docs)))
	}
	spec := get(ds, "spec", "template", "spec")
	if get(spec, "hostNetwork") != true {
		t.Error("hostNetwork is not true")
	}
	c := get(spec, "containers", 0)
	if add := fmt.Sprint(get(c, "securityContext", "capabilities", "add")); add != "[NET_ADMIN NET_RAW]" {
		t.Errorf("capabilities add %s, want exactly [NET_ADMIN NET_RAW]", add)
	}
	if drop := fmt.Sprint(get(c, "securityContext", "capabilities", "drop")); drop != "[ALL]" {
		t.Errorf("capabilities drop %s, want [ALL]", drop)
	}
	if get(spec, "securityContext", "runAsNonRoot") != true {
		t.Error("not runAsNonRoot")
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		h := get(c, probe, "httpGet")
		if get(h, "path") != path || get(h, "port") != 9746 || get(h, "host") != "127.0.0.1" {
			t.Errorf("%s is %v, want GET 127.0.0.1:9746%s", probe, h, path)
		}
	}
	if get(spec, "volumes", 0, "configMap", "name") != get(cm, "metadata", "name") {
		t.Error("the config volume is not the ConfigMap")
	}
	text, _ := get(cm, "data", "vipd.yaml").(string)
	if _, err := config.ParseYAML("daemonset.yaml:vipd.yaml", []byte(text), config.LoadOptions{}); err != nil {
		t.Errorf("the ConfigMap's vipd.yaml does not load: %v", err)
	}
}

// --- examples ---

// Every example loads, and where a scenario has both forms for a node
// (X.yaml and keepalived-X.conf) they configure the same thing.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("examples/*/*")
	if err != nil {
		t.Fatal(err)
	}
	scenarios := map[string]bool{}
	for _, f := range files {
		ext := filepath.Ext(f)
		if ext != ".yaml" && ext != ".conf" {
			continue
		}
		scenarios[filepath.Dir(f)] = true
		if _, err := load.File(f, config.LoadOptions{}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if ext != ".yaml" {
			continue
		}
		node := strings.TrimSuffix(filepath.Base(f), ext)
		ka := filepath.Join(filepath.Dir(f), "keepalived-"+node+".conf")
		if _, err := os.Stat(ka); err != nil {
			continue
		}
		a, err1 := load.File(f, config.LoadOptions{})
		b, err2 := load.File(ka, config.LoadOptions{})
		if err1 == nil && err2 == nil {
			// keepalived.conf has no cloud actions (keepalived users script
			// them): the native examples add them for AWS, so the two forms
			// are compared without them.
			for _, inst := range a.Instances {
				inst.Cloud = nil
			}
			for _, g := range a.SyncGroups {
				g.Cloud = nil
			}
			if d := a.Differences(b); len(d) > 0 {
				t.Errorf("%s and %s differ:\n%s", f, ka, strings.Join(d, "\n"))
			}
		}
	}
	// The five scenarios of the design, each in both forms.
	for _, s := range []string{"dns-failover", "haproxy-eip", "nat-gateway", "single-writer", "nway-dns"} {
		dir := filepath.Join("examples", s)
		y, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		k, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		if len(y) == 0 || len(k) == 0 {
			t.Errorf("%s: want native (.yaml) and keepalived (.conf) examples, have %v %v", dir, y, k)
		}
	}
}
