package server

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/lab"
)

// These tests drive the API with the tools an operator uses: grpcurl (by
// reflection, no proto files) and curl. Without them they skip, except
// under CI=true, where they fail.

// run runs a tool and returns its combined output and whether it exited 0.
func run(t *testing.T, prog string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out\n%s", prog, strings.Join(args, " "), out)
	}
	return string(out), err == nil
}

func TestGrpcurl(t *testing.T) {
	grpcurl := lab.RequireProgram(t, "grpcurl", "/root/go/bin/grpcurl")
	cfg := localAPI(t)
	cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
	f := newFake()
	r := start(t, cfg, f, Options{})
	unix := []string{"-plaintext", "-unix", r.socket}
	tcp := []string{"-plaintext"}
	auth := []string{"-H", "authorization: Bearer " + testToken}
	args := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	out, ok := run(t, grpcurl, args(unix, []string{"list"})...)
	for _, svc := range []string{"vipd.v1.VipdService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !ok || !strings.Contains(out, svc+"\n") {
			t.Errorf("grpcurl list lacks %s:\n%s", svc, out)
		}
	}
	out, ok = run(t, grpcurl, args(unix, []string{"describe", "vipd.v1.VipdService"})...)
	if !ok || !strings.Contains(out, "rpc Watch ( .vipd.v1.WatchRequest ) returns ( stream .vipd.v1.WatchResponse );") ||
		!strings.Contains(out, "rpc Failover ( .vipd.v1.FailoverRequest ) returns ( .vipd.v1.FailoverResponse );") {
		t.Errorf("grpcurl describe:\n%s", out)
	}
	out, ok = run(t, grpcurl, args(unix, []string{"describe", "vipd.v1.Instance"})...)
	if !ok || !strings.Contains(out, "uint32 effective_priority = 8;") {
		t.Errorf("grpcurl describe vipd.v1.Instance:\n%s", out)
	}

	out, ok = run(t, grpcurl, args(unix, []string{"vipd.v1.VipdService/GetStatus"})...)
	var status struct{ Node string }
	if !ok || json.Unmarshal([]byte(out), &status) != nil || status.Node != "n1" {
		t.Errorf("grpcurl GetStatus:\n%s", out)
	}

	// A stream: the fake sends two events and ends for instance "end".
	out, ok = run(t, grpcurl, "-plaintext", "-unix", "-d", `{"instance":"end"}`, r.socket, "vipd.v1.VipdService/Watch")
	if !ok || strings.Count(out, `"name": "VI_1"`) != 2 || !strings.Contains(out, `"to": "INSTANCE_STATE_MASTER"`) {
		t.Errorf("grpcurl Watch:\n%s", out)
	}

	// Over TCP the token is needed, for reflection too (public_read off).
	out, ok = run(t, grpcurl, args(tcp, []string{r.tcp, "list"})...)
	if ok || !strings.Contains(out, "Unauthenticated") {
		t.Errorf("grpcurl list over TCP without token: ok=%v\n%s", ok, out)
	}
	out, ok = run(t, grpcurl, args(tcp, auth, []string{r.tcp, "list"})...)
	if !ok || !strings.Contains(out, "vipd.v1.VipdService") {
		t.Errorf("grpcurl list over TCP with token:\n%s", out)
	}
	failover := []string{"-d", `{"instance":"VI_1","target_node":"n2"}`, r.tcp, "vipd.v1.VipdService/Failover"}
	out, ok = run(t, grpcurl, args(tcp, []string{"-H", "authorization: Bearer wrong-token-0123456789"}, failover)...)
	if ok || !strings.Contains(out, "PermissionDenied") {
		t.Errorf("grpcurl Failover with a wrong token: ok=%v\n%s", ok, out)
	}
	out, ok = run(t, grpcurl, args(tcp, []string{"-H", "authorization: Token " + testToken}, failover)...)
	if ok || !strings.Contains(out, "InvalidArgument") {
		t.Errorf("grpcurl Failover with a malformed header: ok=%v\n%s", ok, out)
	}
	out, ok = run(t, grpcurl, args(tcp, auth, failover)...)
	if !ok || !strings.Contains(out, `"previousMaster": "n1"`) {
		t.Errorf("grpcurl Failover with the token:\n%s", out)
	}
	out, ok = run(t, grpcurl, args(tcp, auth, []string{"-d", `{"instance":"nope"}`, r.tcp, "vipd.v1.VipdService/Failover"})...)
	if ok || !strings.Contains(out, "NotFound") {
		t.Errorf("grpcurl Failover of an unknown instance: ok=%v\n%s", ok, out)
	}
	// Health needs no token: the token goes to the reflection calls only
	// (which grpcurl needs to learn the schema), not to the check.
	out, ok = run(t, grpcurl, args(tcp, []string{"-reflect-header", "authorization: Bearer " + testToken, r.tcp, "grpc.health.v1.Health/Check"})...)
	if !ok || !strings.Contains(out, `"status": "SERVING"`) {
		t.Errorf("grpcurl health check:\n%s", out)
	}
	if n := f.failoverCount(); n != 1 {
		t.Errorf("%d failovers reached the service, want 1", n)
	}
}

func TestCurl(t *testing.T) {
	curl := lab.RequireProgram(t, "curl", "/usr/bin/curl")
	cfg := localAPI(t)
	cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
	cfg.PublicRead = true
	r := start(t, cfg, newFake(), Options{})
	sock := []string{"-sS", "--unix-socket", r.socket}

	out, ok := run(t, curl, append(sock, "http://vipd/v1/status")...)
	if !ok || !strings.Contains(out, `"node":"n1"`) {
		t.Errorf("curl /v1/status:\n%s", out)
	}
	out, ok = run(t, curl, append(sock, "-N", "http://vipd/v1/watch?instance=end&types=EVENT_TYPE_INSTANCE")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !ok || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"result":{`) || !strings.Contains(lines[1], `"to":"INSTANCE_STATE_MASTER"`) {
		t.Errorf("curl /v1/watch:\n%s", out)
	}

	// status codes and JSON bodies over TCP
	code := func(extra ...string) (string, string) {
		args := append([]string{"-sS", "-o", "-", "-w", "\n%{http_code}"}, extra...)
		out, _ := run(t, curl, args...)
		i := strings.LastIndex(out, "\n")
		return out[i+1:], out[:i]
	}
	jsonCT := []string{"-H", "Content-Type: application/json"}
	withToken := append([]string{"-H", "Authorization: Bearer " + testToken}, jsonCT...)
	failover := []string{"-X", "POST", "-d", `{"targetNode":"n2"}`, "http://" + r.tcp + "/v1/instances/VI_1:failover"}
	cat := func(a ...[]string) []string { return slices.Concat(a...) }
	tests := []struct {
		name   string
		args   []string
		status string
		body   string
	}{
		{"read without token (public_read)", []string{"http://" + r.tcp + "/v1/members"}, "200", `"MEMBER_STATUS_SUSPECT"`},
		{"command without token", cat(jsonCT, failover), "401", `"code":16`},
		{"command with wrong token", cat([]string{"-H", "Authorization: Bearer nope-nope-nope-nope"}, jsonCT, failover), "403", `"code":7`},
		{"command with malformed header", cat([]string{"-H", "Authorization: " + testToken}, jsonCT, failover), "400", `"code":3`},
		{"command with token", cat(withToken, failover), "200", `"previousMaster":"n1"`},
		{"command with token as a form (curl -d's default)", cat([]string{"-H", "Authorization: Bearer " + testToken}, failover), "415", `application/x-www-form-urlencoded`},
		{"command with token as text/plain", cat([]string{"-H", "Authorization: Bearer " + testToken, "-H", "Content-Type: text/plain"}, failover), "415", `"code":3`},
		{"command with token from another site's page", cat(withToken, []string{"-H", "Sec-Fetch-Site: cross-site"}, failover), "403", `cross-origin`},
		{"command with token, Origin of another site", cat(withToken, []string{"-H", "Origin: http://evil.example"}, failover), "403", `cross-origin`},
		{"unknown instance", cat(withToken, []string{"-X", "POST", "-d", "{}", "http://" + r.tcp + "/v1/instances/nope:failover"}), "404", `"message":"no instance \"nope\""`},
		{"bad JSON", cat(withToken, []string{"-X", "PUT", "-d", "{nodes", "http://" + r.tcp + "/v1/instances/VI_1/order"}), "400", `"code":3`},
		{"maintenance", cat(withToken, []string{"-X", "POST", "-d", `{"enabled":true}`, "http://" + r.tcp + "/v1/nodes/n2:maintenance"}), "200", `"handedOver":["VI_1"]`},
		{"no route", []string{"http://" + r.tcp + "/v1/nothing"}, "404", `"code":5`},
		{"healthz", []string{"http://" + r.tcp + "/healthz"}, "200", `"alive"`},
	}
	for _, tc := range tests {
		status, body := code(tc.args...)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: curl %s\n  = %s %s\n  want %s with %s", tc.name, strings.Join(tc.args, " "), status, body, tc.status, tc.body)
		}
	}
}

// curl and grpcurl over TLS with a client certificate, the CA made by the
// test.
func TestToolsOverTLS(t *testing.T) {
	curl := lab.RequireProgram(t, "curl", "/usr/bin/curl")
	grpcurl := lab.RequireProgram(t, "grpcurl", "/root/go/bin/grpcurl")
	p := newPKI(t)
	cfg := localAPI(t)
	cfg.Socket = ""
	cfg.TLS = &config.APITLS{Cert: p.cert, Key: p.key, ClientCA: p.ca}
	cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
	r := start(t, cfg, newFake(), Options{})

	out, ok := run(t, curl, "-sS", "--cacert", p.ca, "--cert", p.clientCert, "--key", p.clientKey,
		"-H", "Authorization: Bearer "+testToken, "https://"+r.tcp+"/v1/status")
	if !ok || !strings.Contains(out, `"node":"n1"`) {
		t.Errorf("curl over TLS:\n%s", out)
	}
	out, ok = run(t, curl, "-sS", "--cacert", p.ca, "https://"+r.tcp+"/healthz")
	if ok {
		t.Errorf("curl over TLS without a client certificate succeeded:\n%s", out)
	}
	out, ok = run(t, grpcurl, "-cacert", p.ca, "-cert", p.clientCert, "-key", p.clientKey,
		"-H", "authorization: Bearer "+testToken, r.tcp, "vipd.v1.VipdService/ListMembers")
	if !ok || !strings.Contains(out, `"name": "n2"`) {
		t.Errorf("grpcurl over TLS:\n%s", out)
	}
	out, ok = run(t, grpcurl, "-cacert", p.ca, "-cert", p.clientCert, "-key", p.clientKey, r.tcp, "list")
	if ok || !strings.Contains(out, "Unauthenticated") {
		t.Errorf("grpcurl list over TLS without token: ok=%v\n%s", ok, out)
	}
}
