package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// fuzzService answers every command (no injected panic, unlike the fake
// it embeds) and keeps the last request it decoded, so the fuzz target can
// compare the gateway's decoding with protojson's.
type fuzzService struct {
	*fakeService
	mu   sync.Mutex
	last proto.Message
}

func (f *fuzzService) keep(m proto.Message) {
	f.mu.Lock()
	f.last = proto.Clone(m)
	f.mu.Unlock()
}

// take returns and forgets the last request.
func (f *fuzzService) take() proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.last
	f.last = nil
	return m
}

func (f *fuzzService) Failover(_ context.Context, req *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	f.keep(req)
	return &vipdv1.FailoverResponse{Node: "n1"}, nil
}

func (f *fuzzService) SetOrder(_ context.Context, req *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	f.keep(req)
	return &vipdv1.SetOrderResponse{Order: &vipdv1.Order{Instance: req.GetInstance(), Nodes: req.GetNodes(), Version: 1, Origin: "n1"}}, nil
}

func (f *fuzzService) SetMaintenance(_ context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	f.keep(req)
	return &vipdv1.SetMaintenanceResponse{Node: req.GetNode(), Enabled: req.GetEnabled()}, nil
}

func (f *fuzzService) Reload(_ context.Context, req *vipdv1.ReloadRequest) (*vipdv1.ReloadResponse, error) {
	f.keep(req)
	return &vipdv1.ReloadResponse{}, nil
}

// fuzzRoute is one HTTP route that decodes a JSON body, with the request
// the service should get for a body (path parameters set afterwards).
type fuzzRoute struct {
	method, path string
	newReq       func() proto.Message
	setPath      func(proto.Message) // what the path's parameters say
}

var fuzzRoutes = []fuzzRoute{
	{"POST", "/v1/instances/VI_1:failover", func() proto.Message { return &vipdv1.FailoverRequest{} },
		func(m proto.Message) { m.(*vipdv1.FailoverRequest).Instance = "VI_1" }},
	{"PUT", "/v1/instances/VI_1/order", func() proto.Message { return &vipdv1.SetOrderRequest{} },
		func(m proto.Message) { m.(*vipdv1.SetOrderRequest).Instance = "VI_1" }},
	{"POST", "/v1/nodes/n2:maintenance", func() proto.Message { return &vipdv1.SetMaintenanceRequest{} },
		func(m proto.Message) { m.(*vipdv1.SetMaintenanceRequest).Node = "n2" }},
	{"POST", "/v1/reload", func() proto.Message { return &vipdv1.ReloadRequest{} }, func(proto.Message) {}},
}

// FuzzHTTPJSON sends arbitrary bodies to the commands' HTTP routes and
// arbitrary query strings to GET /v1/status, through the whole HTTP
// handler (guard, body limit, grpc-gateway, gRPC interceptors, service).
// The server must never panic (not even a recovered one) nor answer 5xx;
// every answer must be JSON; a refused body must be a 400 with
// INVALID_ARGUMENT; and a body that protojson refuses must never reach
// the service, while one that reaches it must decode to exactly what
// protojson makes of it, so nothing is silently dropped or changed.
func FuzzHTTPJSON(f *testing.F) {
	for _, body := range []string{
		`{"targetNode":"n2"}`, `{"target_node":"n2"}`, `{"target":"n2"}`, `{`, ``, `null`, `[]`, `{} {}`, `{}x`,
		`{"nodes":[{"name":"a"},{"name":"b","disabled":true}],"expectedVersion":"3"}`,
		`{"nodes":[{"name":"a","extra":1}]}`, `{"expectedVersion":-1}`, `{"expectedVersion":"18446744073709551616"}`,
		`{"enabled":true}`, `{"enabled":"yes"}`, `{"node":"other","enabled":true}`, `{"instance":"boom"}`,
		"{\"targetNode\":\"\xff\"}", `{"targetNode":"\ud800"}`, `{"nodes":null}`, `{"nodes":[null]}`,
	} {
		for r := range fuzzRoutes {
			f.Add(uint8(r), []byte(body))
		}
	}
	for _, q := range []string{"", "x=1", "instance=a&instance=b", "%zz", "types=EVENT_TYPE_NOPE"} {
		f.Add(uint8(255), []byte(q))
	}

	svc := &fuzzService{fakeService: newFake()}
	dir, err := os.MkdirTemp("", "vipd-fuzz-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	// The gateway reaches the gRPC server through Run's in-process
	// listener, so the server runs; requests are handed to its handler
	// directly (as the unix socket would, where no token applies) to keep
	// each execution short.
	s, err := New(config.API{Socket: filepath.Join(dir, "vipd.sock")}, svc, Options{})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				f.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			f.Error("Run did not return")
		}
	})
	h := s.handler(originLocal, false)

	f.Fuzz(func(t *testing.T, route uint8, data []byte) {
		var req *http.Request
		var r *fuzzRoute
		if int(route) < len(fuzzRoutes) {
			r = &fuzzRoutes[route]
			req = httptest.NewRequest(r.method, r.path, strings.NewReader(string(data)))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest("GET", "/v1/status", nil)
			req.URL.RawQuery = string(data)
		}
		svc.take()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		if n := s.Panics(); n != 0 {
			t.Fatalf("%d recovered panics", n)
		}
		code, body := w.Code, w.Body.Bytes()
		if code >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL, code, body)
		}
		var answer map[string]any
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("%s %s: %d, body is not a JSON object: %q", req.Method, req.URL, code, body)
		}
		if code != 200 {
			if c, ok := answer["code"].(float64); !ok || answer["message"] == nil || code == 400 && c != 3 {
				t.Fatalf("%s %s: %d with error body %v", req.Method, req.URL, code, answer)
			}
		}
		if r == nil {
			if code != 200 && code != 400 {
				t.Fatalf("GET /v1/status?%s: %d %v", url.PathEscape(string(data)), code, answer)
			}
			return
		}

		got := svc.take()
		want := r.newReq()
		perr := protojson.UnmarshalOptions{}.Unmarshal(data, want)
		if len(bytes.TrimSpace(data)) == 0 {
			// An empty body is an empty request, as in grpc-gateway.
			want, perr = r.newReq(), nil
		}
		switch {
		case got == nil && code == 200:
			t.Fatalf("%s %s: 200 without reaching the service", r.method, r.path)
		case got == nil && code != 400:
			t.Fatalf("%s %s %q: %d %v, want 400 for a refused body", r.method, r.path, data, code, answer)
		case got != nil && perr != nil:
			t.Fatalf("%s %s %q: the service got %v, but protojson refuses the body: %v", r.method, r.path, data, got, perr)
		case got != nil:
			r.setPath(want)
			if !proto.Equal(got, want) {
				t.Fatalf("%s %s %q: the service got %v, protojson decodes %v", r.method, r.path, data, got, want)
			}
		}
	})
}
