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
				{"command with basic auth", []string{"Basic dXNlcjpwYXNz"}, true, codes.InvalidArgument, 400},
				{"command with empty bearer", []string{"Bearer "}, true, codes.InvalidArgument, 400},
				{"command with two headers", []string{"Bearer " + testToken, "Bearer " + testToken}, true, codes.InvalidArgument, 400},
				{"command with token", []string{"Bearer " + testToken}, true, codes.OK, 200},
				{"scheme is case-insensitive", []string{"bearer " + testToken}, true, codes.OK, 200},
				{"read without token", nil, false, readCode, readHTTP},
				{"read with wrong token", []string{"Bearer " + otherToken}, false, map[bool]codes.Code{false: codes.PermissionDenied, true: codes.OK}[publicRead], map[bool]int{false: 403, true: 200}[publicRead]},
				{"read with token", []string{"Bearer " + testToken}, false, codes.OK, 200},
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
				})
			}

			// The token never leaks into an error, and 401 says how to
			// authenticate.
			req, _ := http.NewRequest("POST", base+"/v1/reload", strings.NewReader("{}"))
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
