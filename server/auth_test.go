package server

import (
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	testToken  = "s3cret-token-0123456789abcdef"
	otherToken = "another-token-0123456789abcdef"
	readToken  = "read-only-token-0123456789abcdef"
)

// writeToken writes a token file (mode 0600) and returns its path.
func writeToken(t *testing.T, dir, tok string) string {
	t.Helper()
	p := filepath.Join(dir, "token")
	writeFile(t, p, []byte(tok+"\n"), 0o600)
	return p
}

func TestTokenRules(t *testing.T) {
	for _, publicRead := range []bool{false, true} {
		name := "private"
		if publicRead {
			name = "public read"
		}
		t.Run(name, func(t *testing.T) {
			cfg := localAPI(t)
			cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
			cfg.ReadTokenFile = writeToken(t, t.TempDir(), readToken)
			cfg.PublicRead = publicRead
			f := newFake()
			r := start(t, cfg, f, Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte(`{"ok":true}`))
			})})
			client := vipdv1.NewVipdServiceClient(dialTCP(t, r.tcp))
			health := healthpb.NewHealthClient(dialTCP(t, r.tcp))
			base := "http://" + r.tcp
			readCode, readHTTP := codes.Unauthenticated, 401
			if publicRead {
				readCode, readHTTP = codes.OK, 200
			}

			tests := []struct {
				name   string
				authz  []string
				write  bool
				code   codes.Code
				status int
			}{
				{"command without token", nil, true, codes.Unauthenticated, 401},
				{"command with wrong token", []string{"Bearer " + otherToken}, true, codes.PermissionDenied, 403},
				{"command with a prefix of the token", []string{"Bearer " + testToken[:20]}, true, codes.PermissionDenied, 403},
				{"command with the read-only token", []string{"Bearer " + readToken}, true, codes.PermissionDenied, 403},
				{"command with basic auth", []string{"Basic dXNlcjpwYXNz"}, true, codes.InvalidArgument, 400},
				{"command with empty bearer", []string{"Bearer "}, true, codes.InvalidArgument, 400},
				{"command with two headers", []string{"Bearer " + testToken, "Bearer " + testToken}, true, codes.InvalidArgument, 400},
				{"command with token", []string{"Bearer " + testToken}, true, codes.OK, 200},
				{"scheme is case-insensitive", []string{"bearer " + testToken}, true, codes.OK, 200},
				{"read without token", nil, false, readCode, readHTTP},
				{"read with wrong token", []string{"Bearer " + otherToken}, false, map[bool]codes.Code{false: codes.PermissionDenied, true: codes.OK}[publicRead], map[bool]int{false: 403, true: 200}[publicRead]},
				{"read with token", []string{"Bearer " + testToken}, false, codes.OK, 200},
				{"read with the read-only token", []string{"Bearer " + readToken}, false, codes.OK, 200},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := t.Context()
					for _, a := range tc.authz {
						ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
					}
					var err error
					if tc.write {
						_, err = client.Failover(ctx, &vipdv1.FailoverRequest{Instance: "VI_1"})
					} else {
						_, err = client.GetStatus(ctx, &vipdv1.GetStatusRequest{})
					}
					if status.Code(err) != tc.code {
						t.Errorf("gRPC: %v, want %v", err, tc.code)
					}

					method, path, body := "GET", "/v1/status", ""
					if tc.write {
						method, path, body = "POST", "/v1/instances/VI_1:failover", "{}"
					}
					var hdr []string
					for _, a := range tc.authz {
						hdr = append(hdr, "Authorization", a)
					}
					code, resp := call(t, plainHTTP, method, base+path, body, hdr...)
					if code != tc.status {
						t.Errorf("HTTP %s %s: %d %v, want %d", method, path, code, resp, tc.status)
					}
					if tc.code != codes.OK && resp["code"] != float64(tc.code) {
						t.Errorf("HTTP body %v, want code %d", resp, tc.code)
					}
					if !tc.write {
						// /metrics is a read like any other.
						code, _ := call(t, plainHTTP, "GET", base+"/metrics", "", hdr...)
						if code != tc.status {
							t.Errorf("HTTP GET /metrics: %d, want %d", code, tc.status)
						}
					}
				})
			}

			// The token never leaks into an error, and 401 says how to
			// authenticate.
			req, _ := http.NewRequest("POST", base+"/v1/reload", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := plainHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || got != `Bearer realm="vipd"` {
				t.Errorf("POST /v1/reload without token: %d, WWW-Authenticate %q", resp.StatusCode, got)
			}

			// Health is always open; metrics are a read.
			if h, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("gRPC health without token: %v, %v", h, err)
			}
			for _, p := range []string{"/healthz", "/readyz"} {
				if code, _ := call(t, plainHTTP, "GET", base+p, ""); code != 200 {
					t.Errorf("GET %s without token: %d", p, code)
				}
			}
			if code, _ := call(t, plainHTTP, "GET", base+"/metrics", ""); code != readHTTP {
				t.Errorf("GET /metrics without token: %d, want %d", code, readHTTP)
			}

			// The unix socket is trusted by its mode: no token there.
			if _, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).Failover(t.Context(), &vipdv1.FailoverRequest{Instance: "VI_1"}); err != nil {
				t.Errorf("command over the socket without token: %v", err)
			}
			if code, _ := call(t, unixHTTP(r.socket), "POST", "http://vipd/v1/instances/VI_1:failover", "{}"); code != 200 {
				t.Errorf("HTTP command over the socket without token: %d", code)
			}
			// Two accepted commands over TCP per protocol (gRPC, HTTP), two
			// over the socket: nothing refused reached the service.
			if n := f.failoverCount(); n != 6 {
				t.Errorf("the service saw %d failovers, want 6", n)
			}
		})
	}
}

// Without any token (the defaults) the TCP listeners are read-only: reads
// and health need nothing, every command is refused with 403 whatever it
// carries, over gRPC and HTTP; the unix socket takes commands. With only a
// read-only token, reads need it and commands are still refused.
func TestTCPReadOnlyWithoutCommandToken(t *testing.T) {
	for _, withRead := range []bool{false, true} {
		t.Run(map[bool]string{false: "no token", true: "read token only"}[withRead], func(t *testing.T) {
			cfg := localAPI(t)
			if withRead {
				cfg.ReadTokenFile = writeToken(t, t.TempDir(), readToken)
			}
			f := newFake()
			r := start(t, cfg, f, Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte(`{"ok":true}`))
			})})
			base := "http://" + r.tcp
			var auth []string
			if withRead {
				auth = []string{"Authorization", "Bearer " + readToken}
				if code, _ := call(t, plainHTTP, "GET", base+"/v1/status", ""); code != 401 {
					t.Errorf("read without the read token: %d, want 401", code)
				}
			}
			for _, p := range []string{"/v1/status", "/v1/members", "/metrics", "/healthz", "/readyz"} {
				if code, body := call(t, plainHTTP, "GET", base+p, "", auth...); code != 200 {
					t.Errorf("GET %s over TCP: %d %v, want 200", p, code, body)
				}
			}
			ctx := t.Context()
			if withRead {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+readToken)
			}
			client := vipdv1.NewVipdServiceClient(dialTCP(t, r.tcp))
			if _, err := client.GetStatus(ctx, &vipdv1.GetStatusRequest{}); err != nil {
				t.Errorf("gRPC read over TCP: %v", err)
			}
			commands := map[string]func() error{
				"Failover": func() error {
					_, err := client.Failover(ctx, &vipdv1.FailoverRequest{Instance: "VI_1"})
					return err
				},
				"SetMaintenance": func() error {
					_, err := client.SetMaintenance(ctx, &vipdv1.SetMaintenanceRequest{Node: "n1", Enabled: true})
					return err
				},
				"SetOrder": func() error {
					_, err := client.SetOrder(ctx, &vipdv1.SetOrderRequest{Instance: "VI_1", Nodes: []*vipdv1.OrderNode{{Name: "a"}}})
					return err
				},
				"Reload": func() error { _, err := client.Reload(ctx, &vipdv1.ReloadRequest{}); return err },
			}
			for name, cmd := range commands {
				if err := cmd(); status.Code(err) != codes.PermissionDenied {
					t.Errorf("gRPC %s over TCP: %v, want PermissionDenied", name, err)
				}
			}
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/v1/instances/VI_1:failover", `{"targetNode":"n2"}`},
				{"POST", "/v1/nodes/n1:maintenance", `{"enabled":true}`},
				{"PUT", "/v1/instances/VI_1/order", `{"nodes":[{"name":"a"}]}`},
				{"POST", "/v1/reload", `{}`},
			} {
				for _, tok := range []string{"", testToken, readToken} {
					hdr := []string{}
					if tok != "" {
						hdr = []string{"Authorization", "Bearer " + tok}
					}
					code, body := call(t, plainHTTP, c.method, base+c.path, c.body, hdr...)
					if code != 403 || body["code"] != float64(codes.PermissionDenied) {
						t.Errorf("%s %s over TCP (token %q): %d %v, want 403", c.method, c.path, tok, code, body)
					}
				}
			}
			if n := len(f.orders) + f.failoverCount(); n != 0 {
				t.Errorf("%d refused commands reached the service", n)
			}
			if msg := status.Convert(commands["Reload"]()).Message(); !strings.Contains(msg, "unix socket") {
				t.Errorf("the refusal does not say where commands go: %q", msg)
			}
			// The socket's mode decides: commands pass there.
			if _, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).Failover(t.Context(), &vipdv1.FailoverRequest{Instance: "VI_1"}); err != nil {
				t.Errorf("command over the socket: %v", err)
			}
			if code, body := call(t, unixHTTP(r.socket), "POST", "http://vipd/v1/instances/VI_1:failover", "{}"); code != 200 {
				t.Errorf("HTTP command over the socket: %d %v", code, body)
			}
		})
	}
}

// A new token in the file is used from the next call on; a file that
// becomes unusable refuses everything (fails closed).
func TestTokenRotation(t *testing.T) {
	cfg := localAPI(t)
	dir := t.TempDir()
	cfg.TokenFile = writeToken(t, dir, testToken)
	r := start(t, cfg, newFake(), Options{})
	client := vipdv1.NewVipdServiceClient(dialTCP(t, r.tcp))
	with := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	if _, err := client.GetStatus(with(testToken), &vipdv1.GetStatusRequest{}); err != nil {
		t.Fatalf("first token: %v", err)
	}
	writeToken(t, dir, otherToken)
	// Same size, so make the change visible by its time too.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(cfg.TokenFile, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetStatus(with(testToken), &vipdv1.GetStatusRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("old token after rotation: %v, want PermissionDenied", err)
	}
	if _, err := client.GetStatus(with(otherToken), &vipdv1.GetStatusRequest{}); err != nil {
		t.Errorf("new token: %v", err)
	}
	if err := os.Chmod(cfg.TokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetStatus(with(otherToken), &vipdv1.GetStatusRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("token file readable by others: %v, want Unavailable", err)
	}
}

// New refuses what validation refuses, for configurations built in code;
// a bad token file stops it too.
func TestNewRefusesInsecureListeners(t *testing.T) {
	tok := writeToken(t, t.TempDir(), testToken)
	p := newPKI(t)
	remote := []netip.AddrPort{netip.MustParseAddrPort("198.51.100.1:9746")}
	for name, cfg := range map[string]config.API{
		"remote without TLS":   {Listen: remote, TokenFile: tok},
		"remote without token": {Listen: remote, TLS: &config.APITLS{Cert: p.cert, Key: p.key}},
		"wildcard without TLS": {Listen: []netip.AddrPort{netip.MustParseAddrPort("[::]:9746")}, TokenFile: tok},
	} {
		if _, err := New(cfg, newFake(), Options{}); err == nil || !strings.Contains(err.Error(), "needs TLS and a token file") {
			t.Errorf("%s: New = %v", name, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "loose")
	writeFile(t, bad, []byte(testToken), 0o640)
	if _, err := New(config.API{TokenFile: bad}, newFake(), Options{}); err == nil || !strings.Contains(err.Error(), "mode 0640") {
		t.Errorf("group-readable token file: New = %v", err)
	}
}
