package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/metrics"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// running is a started server and what a test needs to talk to it.
type running struct {
	srv    *Server
	socket string // unix socket path; "" if none
	tcp    string // first TCP address; "" if none
	stop   func() error
}

// localAPI is a config with a unix socket in a fresh directory and one
// loopback TCP listener on a free port.
func localAPI(t *testing.T) config.API {
	// t.TempDir can exceed the 107 bytes of a socket path; /tmp is short.
	dir, err := os.MkdirTemp("", "vipd-api-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return config.API{
		Socket: filepath.Join(dir, "vipd.sock"),
		Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")},
	}
}

// start runs a server on cfg until the test ends.
func start(t *testing.T, cfg config.API, svc vipdv1.VipdServiceServer, opts Options) *running {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, svc, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	r := &running{srv: s}
	for _, a := range s.Addrs() {
		switch a.Network() {
		case "unix":
			r.socket = a.String()
		case "tcp":
			if r.tcp == "" {
				r.tcp = a.String()
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				runErr = errors.New("Run did not return 15 s after its context ended")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// testWriter sends the server's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func dialUnix(t *testing.T, path string) *grpc.ClientConn {
	t.Helper()
	c, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialTCP(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	c, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// unixHTTP is an HTTP/1.1 client that reaches the server's socket.
func unixHTTP(path string) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// plainHTTP is an HTTP client that gives up rather than hang a test.
var plainHTTP = &http.Client{Timeout: 20 * time.Second}

// call makes an HTTP request and returns the status and the decoded JSON
// body.
func call(t *testing.T, c *http.Client, method, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		// What API clients send; a test of other types says so.
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		switch k := http.CanonicalHeaderKey(header[i]); {
		case k == "Content-Type" && header[i+1] == "":
			req.Header.Del(k)
		case k == "Content-Type":
			req.Header.Set(k, header[i+1])
		default:
			req.Header.Add(k, header[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s %s: %d, body is not a JSON object: %q", method, url, resp.StatusCode, data)
	}
	return resp.StatusCode, m
}

// Both protocols on both kinds of listener: gRPC and HTTP/JSON answer the
// same thing from the same service.
func TestGRPCAndHTTPOnEveryListener(t *testing.T) {
	r := start(t, localAPI(t), newFake(), Options{})
	if r.socket == "" || r.tcp == "" {
		t.Fatalf("listening on socket %q and tcp %q", r.socket, r.tcp)
	}
	st, err := os.Stat(r.socket)
	if err != nil || st.Mode().Perm() != config.APISocketMode {
		t.Errorf("socket mode %v (%v), want %o", st.Mode(), err, config.APISocketMode)
	}
	ctx := t.Context()
	for name, conn := range map[string]*grpc.ClientConn{"unix": dialUnix(t, r.socket), "tcp": dialTCP(t, r.tcp)} {
		resp, err := vipdv1.NewVipdServiceClient(conn).GetStatus(ctx, &vipdv1.GetStatusRequest{})
		if err != nil || resp.GetNode() != "n1" || resp.GetInstances()[0].GetName() != "VI_1" {
			t.Errorf("%s gRPC GetStatus = %v, %v", name, resp, err)
		}
		h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "vipd.v1.VipdService"})
		if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("%s health = %v, %v", name, h, err)
		}
	}
	for name, c := range map[string]struct {
		client *http.Client
		base   string
	}{"unix": {unixHTTP(r.socket), "http://vipd"}, "tcp": {plainHTTP, "http://" + r.tcp}} {
		code, body := call(t, c.client, "GET", c.base+"/v1/status", "")
		insts, _ := body["instances"].([]any)
		if code != 200 || body["node"] != "n1" || len(insts) != 1 {
			t.Errorf("%s GET /v1/status = %d %v", name, code, body)
		} else if inst := insts[0].(map[string]any); inst["state"] != "INSTANCE_STATE_MASTER" || inst["masterAddress"] != "198.51.100.1" ||
			inst["since"] != "2026-11-02T10:00:00Z" || inst["held"] != false {
			// camelCase names, enum names, RFC 3339 times and unset
			// fields present: the OpenAPI spec's JSON.
			t.Errorf("%s instance JSON = %v", name, inst)
		}
		if code, body := call(t, c.client, "GET", c.base+"/healthz", ""); code != 200 || body["status"] != "alive" {
			t.Errorf("%s /healthz = %d %v", name, code, body)
		}
		if code, body := call(t, c.client, "GET", c.base+"/readyz", ""); code != 200 || body["status"] != "ready" {
			t.Errorf("%s /readyz = %d %v", name, code, body)
		}
		// Without a token, commands pass the socket only.
		code, body = call(t, c.client, "POST", c.base+"/v1/instances/VI_1:failover", `{"targetNode":"n2"}`)
		if name == "unix" && (code != 200 || body["node"] != "n1" || body["previousMaster"] != "n1") ||
			name == "tcp" && code != 403 {
			t.Errorf("%s POST failover = %d %v", name, code, body)
		}
	}
}

// Errors keep their gRPC code and, over HTTP, get its status and a JSON
// body.
func TestErrors(t *testing.T) {
	f := newFake()
	r := start(t, localAPI(t), f, Options{})
	// The socket takes commands without a token; errors do not depend on
	// the listener.
	client, base := unixHTTP(r.socket), "http://vipd"
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     codes.Code
		message                  string
	}{
		{"unknown instance", "POST", "/v1/instances/nope:failover", `{}`, 404, codes.NotFound, `no instance "nope"`},
		{"condition failed", "PUT", "/v1/instances/VI_1/order", `{"nodes":[{"name":"a"}],"expectedVersion":"3"}`, 400, codes.FailedPrecondition, "at version 7, not 3"},
		{"unknown JSON field", "POST", "/v1/instances/VI_1:failover", `{"target":"n2"}`, 400, codes.InvalidArgument, "unknown field"},
		{"not JSON", "POST", "/v1/instances/VI_1:failover", `{`, 400, codes.InvalidArgument, ""},
		{"a second value after the body", "POST", "/v1/instances/VI_1:failover", `{"targetNode":"n2"} {"targetNode":"n3"}`, 400, codes.InvalidArgument, ""},
		{"bad enum in query", "GET", "/v1/watch?types=EVENT_TYPE_NOPE", "", 400, codes.InvalidArgument, "EVENT_TYPE_NOPE"},
		{"unimplemented", "GET", "/v1/cluster", "", 501, codes.Unimplemented, "not implemented"},
		{"no such route", "GET", "/v2/status", "", 404, codes.NotFound, ""},
		{"wrong method", "DELETE", "/v1/status", "", 405, codes.Unimplemented, "method DELETE is not allowed on /v1/status"},
		{"wrong method on healthz", "POST", "/healthz", "{}", 405, codes.Unimplemented, "not allowed"},
		{"body too large", "POST", "/v1/instances/VI_1:failover", `{"targetNode":"` + strings.Repeat("x", 2<<20) + `"}`, 413, codes.InvalidArgument, "over 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, client, tc.method, base+tc.path, tc.body)
			if code != tc.status || body["code"] != float64(tc.code) || !strings.Contains(body["message"].(string), tc.message) {
				t.Errorf("%s %s = %d %v; want %d, code %d (%v), message with %q", tc.method, tc.path, code, body, tc.status, tc.code, tc.code, tc.message)
			}
		})
	}
	_, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).Failover(t.Context(), &vipdv1.FailoverRequest{Instance: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("gRPC Failover(nope) = %v, want NotFound", err)
	}
	if n := f.failoverCount(); n != 0 {
		t.Errorf("%d failovers reached the service from refused requests", n)
	}
}

// A panicking handler is an INTERNAL error (500 over HTTP), logged and
// counted, and the server carries on.
func TestPanicRecovered(t *testing.T) {
	obs := &observer{}
	r := start(t, localAPI(t), newFake(), Options{Observer: obs})
	client := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket))
	_, err := client.Failover(t.Context(), &vipdv1.FailoverRequest{Instance: "boom"})
	if status.Code(err) != codes.Internal {
		t.Errorf("gRPC = %v, want Internal", err)
	}
	code, body := call(t, unixHTTP(r.socket), "POST", "http://vipd/v1/instances/boom:failover", `{}`)
	if code != 500 || body["code"] != float64(codes.Internal) {
		t.Errorf("HTTP = %d %v, want 500", code, body)
	}
	if n := r.srv.Panics(); n != 2 {
		t.Errorf("Panics() = %d, want 2", n)
	}
	if _, err := client.GetStatus(t.Context(), &vipdv1.GetStatusRequest{}); err != nil {
		t.Errorf("after the panics: %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.panics["vipd.v1.VipdService/Failover"] != 2 || obs.requests["vipd.v1.VipdService/Failover Internal"] != 2 ||
		obs.requests["vipd.v1.VipdService/GetStatus OK"] != 1 {
		t.Errorf("observed panics %v, requests %v", obs.panics, obs.requests)
	}
}

type observer struct {
	mu       sync.Mutex
	requests map[string]int
	panics   map[string]int
}

func (o *observer) ObserveAPIRequest(method, code string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.requests == nil {
		o.requests = map[string]int{}
	}
	o.requests[method+" "+code]++
}

func (o *observer) ObserveAPIPanic(method string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.panics == nil {
		o.panics = map[string]int{}
	}
	o.panics[method]++
}

// Watch streams over gRPC and over HTTP (one JSON object a line), and
// shutdown ends open streams with UNAVAILABLE.
func TestWatchStreamsAndShutdown(t *testing.T) {
	f := newFake()
	r := start(t, localAPI(t), f, Options{ShutdownTimeout: 10 * time.Second})
	ctx := t.Context()

	grpcStream, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).Watch(ctx, &vipdv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []vipdv1.InstanceState{vipdv1.InstanceState_INSTANCE_STATE_BACKUP, vipdv1.InstanceState_INSTANCE_STATE_MASTER} {
		ev, err := grpcStream.Recv()
		if err != nil || ev.GetInstance().GetTo() != want {
			t.Fatalf("gRPC event %d = %v, %v", i, ev, err)
		}
	}

	resp, err := plainHTTP.Get("http://" + r.tcp + "/v1/watch?cluster=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for i, want := range []string{"INSTANCE_STATE_BACKUP", "INSTANCE_STATE_MASTER"} {
		if !lines.Scan() {
			t.Fatalf("HTTP watch ended after %d lines: %v", i, lines.Err())
		}
		var m struct {
			Result struct {
				Node     string
				Instance struct{ To string }
			}
		}
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil || m.Result.Node != "n1" || m.Result.Instance.To != want {
			t.Fatalf("HTTP watch line %d = %s (%v)", i, lines.Bytes(), err)
		}
	}

	// Both streams are open and waiting; shutting down must end them at
	// once, well before the 10 s allowed for calls in flight.
	began := time.Now()
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("shutdown took %v with open streams", d)
	}
	if _, err := grpcStream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC stream after shutdown: %v, want Unavailable", err)
	}
	if lines.Scan() {
		var m struct{ Error struct{ Code int } }
		if err := json.Unmarshal(lines.Bytes(), &m); err != nil || m.Error.Code != int(codes.Unavailable) {
			t.Errorf("HTTP watch's last line %s, want an UNAVAILABLE error", lines.Bytes())
		}
	}
	if _, err := os.Stat(r.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after shutdown: %v", err)
	}
	h, err := r.srv.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after shutdown = %v, %v; want NOT_SERVING", h, err)
	}
}

func TestReadyz(t *testing.T) {
	var mu sync.Mutex
	reason := errors.New("configuration not applied yet")
	r := start(t, localAPI(t), newFake(), Options{Ready: func() error {
		mu.Lock()
		defer mu.Unlock()
		return reason
	}, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "{\"metrics\": 1}")
	})})
	code, body := call(t, plainHTTP, "GET", "http://"+r.tcp+"/readyz", "")
	if code != 503 || body["code"] != float64(codes.Unavailable) || body["message"] != "not ready: configuration not applied yet" {
		t.Errorf("/readyz = %d %v", code, body)
	}
	mu.Lock()
	reason = nil
	mu.Unlock()
	if code, _ := call(t, plainHTTP, "GET", "http://"+r.tcp+"/readyz", ""); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, body := call(t, plainHTTP, "GET", "http://"+r.tcp+"/metrics", ""); code != 200 || body["metrics"] != float64(1) {
		t.Errorf("/metrics = %d %v, want the handler's answer", code, body)
	}
}

// The socket file of a dead process is replaced; a live socket or a file
// that is not a socket is refused and left alone.
func TestStaleSocket(t *testing.T) {
	cfg := localAPI(t)
	cfg.Listen = nil

	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	r := start(t, cfg, newFake(), Options{})
	if _, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).GetStatus(t.Context(), &vipdv1.GetStatusRequest{}); err != nil {
		t.Fatalf("over the replaced socket: %v", err)
	}

	// r is live on the socket now: a second server must not take it.
	s2, err := New(cfg, newFake(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second server on a live socket: %v", err)
	}
	if _, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).GetStatus(t.Context(), &vipdv1.GetStatusRequest{}); err != nil {
		t.Errorf("first server lost its socket: %v", err)
	}

	cfg.Socket = filepath.Join(filepath.Dir(cfg.Socket), "plain")
	if err := os.WriteFile(cfg.Socket, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	s3, err := New(cfg, newFake(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file at the socket path: %v", err)
	}
	if data, _ := os.ReadFile(cfg.Socket); string(data) != "keep me" {
		t.Errorf("regular file changed to %q", data)
	}
}

// The metrics package plugs in: /metrics serves it and every call is
// counted by method and code.
func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New(metrics.BuildInfo{Version: "test", Commit: "c", GoVersion: "go"})
	r := start(t, localAPI(t), newFake(), Options{Metrics: m.Handler(), Observer: m})
	client := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket))
	if _, err := client.GetStatus(t.Context(), &vipdv1.GetStatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Failover(t.Context(), &vipdv1.FailoverRequest{Instance: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatal(err)
	}
	resp, err := plainHTTP.Get("http://" + r.tcp + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range []string{
		`vipd_api_requests_total{code="OK",method="vipd.v1.VipdService/GetStatus"} 1`,
		`vipd_api_requests_total{code="NotFound",method="vipd.v1.VipdService/Failover"} 1`,
		`vipd_build_info{commit="c",goversion="go",version="test"} 1`,
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
