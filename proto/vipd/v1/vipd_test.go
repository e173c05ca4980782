package vipdv1_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

const serviceName = "vipd.v1.VipdService"

// rpcs is the API contract: every RPC with its messages and whether the
// server streams, and its HTTP route.
var rpcs = []struct {
	method    string
	input     string
	output    string
	streaming bool
	verb      string
	path      string
	body      string
}{
	{"GetStatus", "GetStatusRequest", "GetStatusResponse", false, "get", "/v1/status", ""},
	{"ListMembers", "ListMembersRequest", "ListMembersResponse", false, "get", "/v1/members", ""},
	{"GetCluster", "GetClusterRequest", "GetClusterResponse", false, "get", "/v1/cluster", ""},
	{"Watch", "WatchRequest", "WatchResponse", true, "get", "/v1/watch", ""},
	{"Failover", "FailoverRequest", "FailoverResponse", false, "post", "/v1/instances/{instance}:failover", "*"},
	{"SetMaintenance", "SetMaintenanceRequest", "SetMaintenanceResponse", false, "post", "/v1/nodes/{node}:maintenance", "*"},
	{"SetOrder", "SetOrderRequest", "SetOrderResponse", false, "put", "/v1/instances/{instance}/order", "*"},
	{"Reload", "ReloadRequest", "ReloadResponse", false, "post", "/v1/reload", "*"},
	{"ListEvents", "ListEventsRequest", "ListEventsResponse", false, "get", "/v1/events", ""},
	{"Why", "WhyRequest", "WhyResponse", false, "get", "/v1/instances/{instance}/why", ""},
}

func service(t *testing.T) protoreflect.ServiceDescriptor {
	t.Helper()
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(serviceName)
	if err != nil {
		t.Fatalf("%s not registered: %v", serviceName, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		t.Fatalf("%s is a %T, not a service", serviceName, d)
	}
	return sd
}

// TestServiceDescriptor checks that the registered file descriptor and the
// generated gRPC service description both carry exactly the RPCs above.
func TestServiceDescriptor(t *testing.T) {
	sd := service(t)
	if got := sd.Methods().Len(); got != len(rpcs) {
		t.Errorf("service has %d methods, the contract lists %d", got, len(rpcs))
	}
	grpcMethods := map[string]bool{}
	for _, m := range vipdv1.VipdService_ServiceDesc.Methods {
		grpcMethods[m.MethodName] = false
	}
	for _, s := range vipdv1.VipdService_ServiceDesc.Streams {
		if s.ClientStreams {
			t.Errorf("gRPC stream %s streams from the client", s.StreamName)
		}
		grpcMethods[s.StreamName] = s.ServerStreams
	}
	for _, r := range rpcs {
		t.Run(r.method, func(t *testing.T) {
			m := sd.Methods().ByName(protoreflect.Name(r.method))
			if m == nil {
				t.Fatalf("no method %s", r.method)
			}
			if got, want := string(m.Input().FullName()), "vipd.v1."+r.input; got != want {
				t.Errorf("input = %s, want %s", got, want)
			}
			if got, want := string(m.Output().FullName()), "vipd.v1."+r.output; got != want {
				t.Errorf("output = %s, want %s", got, want)
			}
			if m.IsStreamingServer() != r.streaming || m.IsStreamingClient() {
				t.Errorf("streaming server=%v client=%v, want server=%v client=false",
					m.IsStreamingServer(), m.IsStreamingClient(), r.streaming)
			}
			streams, ok := grpcMethods[r.method]
			if !ok {
				t.Fatalf("VipdService_ServiceDesc lacks %s", r.method)
			}
			if streams != r.streaming {
				t.Errorf("VipdService_ServiceDesc: server streams = %v, want %v", streams, r.streaming)
			}
		})
	}
}

// httpRule mirrors one rule of vipd_http.yaml; unknown keys fail decoding.
type httpRule struct {
	Selector string `yaml:"selector"`
	Get      string `yaml:"get"`
	Post     string `yaml:"post"`
	Put      string `yaml:"put"`
	Patch    string `yaml:"patch"`
	Delete   string `yaml:"delete"`
	Body     string `yaml:"body"`
}

// verb returns the rule's only HTTP verb and path.
func (r httpRule) verb() (string, string, error) {
	var verb, path string
	n := 0
	for _, c := range []struct{ verb, path string }{
		{"get", r.Get}, {"post", r.Post}, {"put", r.Put}, {"patch", r.Patch}, {"delete", r.Delete},
	} {
		if c.path != "" {
			verb, path = c.verb, c.path
			n++
		}
	}
	if n != 1 {
		return "", "", errors.New("want exactly one of get, post, put, patch, delete")
	}
	return verb, path, nil
}

func loadRules(t *testing.T) map[string]httpRule {
	t.Helper()
	raw, err := os.ReadFile("vipd_http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Type          string `yaml:"type"`
		ConfigVersion int    `yaml:"config_version"`
		HTTP          struct {
			Rules []httpRule `yaml:"rules"`
		} `yaml:"http"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("vipd_http.yaml: %v", err)
	}
	if cfg.Type != "google.api.Service" || cfg.ConfigVersion != 3 {
		t.Errorf("vipd_http.yaml: type %q config_version %d, want google.api.Service 3", cfg.Type, cfg.ConfigVersion)
	}
	rules := map[string]httpRule{}
	for _, r := range cfg.HTTP.Rules {
		if _, dup := rules[r.Selector]; dup {
			t.Errorf("vipd_http.yaml: two rules for %s", r.Selector)
		}
		rules[r.Selector] = r
	}
	return rules
}

var pathVar = regexp.MustCompile(`\{([^}=]+)\}`)

// TestHTTPRules checks that every rule of vipd_http.yaml resolves to an RPC
// of the registered service, that its path variables name string fields of
// the request, and that the routes are the contracted ones.
func TestHTTPRules(t *testing.T) {
	sd := service(t)
	rules := loadRules(t)
	for sel, r := range rules {
		t.Run("resolves/"+sel, func(t *testing.T) {
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sel))
			if err != nil {
				t.Fatalf("selector does not resolve: %v", err)
			}
			m, ok := d.(protoreflect.MethodDescriptor)
			if !ok || m.Parent().FullName() != sd.FullName() {
				t.Fatalf("selector is not a method of %s", serviceName)
			}
			verb, path, err := r.verb()
			if err != nil {
				t.Fatal(err)
			}
			if (verb == "get") != (r.Body == "") {
				t.Errorf("%s with body %q: GET takes no body, other verbs take \"*\"", verb, r.Body)
			}
			if m.IsStreamingServer() && verb != "get" {
				t.Errorf("streaming RPC mapped to %s, want get", verb)
			}
			for _, v := range pathVar.FindAllStringSubmatch(path, -1) {
				f := m.Input().Fields().ByName(protoreflect.Name(v[1]))
				if f == nil {
					t.Errorf("path variable {%s} is not a field of %s", v[1], m.Input().FullName())
					continue
				}
				if f.Kind() != protoreflect.StringKind || f.IsList() {
					t.Errorf("path variable {%s} is %v, want a single string", v[1], f.Kind())
				}
			}
		})
	}
	for _, want := range rpcs {
		t.Run("route/"+want.method, func(t *testing.T) {
			r, ok := rules[serviceName+"."+want.method]
			if !ok {
				t.Fatal("no HTTP rule")
			}
			verb, path, err := r.verb()
			if err != nil {
				t.Fatal(err)
			}
			if verb != want.verb || path != want.path || r.Body != want.body {
				t.Errorf("got %s %s body %q, want %s %s body %q", verb, path, r.Body, want.verb, want.path, want.body)
			}
		})
	}
}

// fakeServer records the last request and answers with fixed responses.
type fakeServer struct {
	vipdv1.UnimplementedVipdServiceServer
	mu     sync.Mutex
	last   proto.Message
	events []*vipdv1.WatchResponse
}

func (f *fakeServer) record(m proto.Message) {
	f.mu.Lock()
	f.last = proto.Clone(m)
	f.mu.Unlock()
}

func (f *fakeServer) lastRequest() proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeServer) GetStatus(_ context.Context, r *vipdv1.GetStatusRequest) (*vipdv1.GetStatusResponse, error) {
	f.record(r)
	return &vipdv1.GetStatusResponse{Node: "n1", Instances: []*vipdv1.Instance{{
		Name: "VI_1", Vrid: 51, Family: vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4,
		State: vipdv1.InstanceState_INSTANCE_STATE_MASTER, Vips: []string{"198.51.100.10/24"},
	}}}, nil
}

func (f *fakeServer) ListMembers(_ context.Context, r *vipdv1.ListMembersRequest) (*vipdv1.ListMembersResponse, error) {
	f.record(r)
	return &vipdv1.ListMembersResponse{Members: []*vipdv1.Member{{Name: "n1", Status: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE}}}, nil
}

func (f *fakeServer) GetCluster(_ context.Context, r *vipdv1.GetClusterRequest) (*vipdv1.GetClusterResponse, error) {
	f.record(r)
	return &vipdv1.GetClusterResponse{Cluster: "lab", Node: "n1"}, nil
}

func (f *fakeServer) Watch(r *vipdv1.WatchRequest, s grpc.ServerStreamingServer[vipdv1.WatchResponse]) error {
	f.record(r)
	for _, e := range f.events {
		if err := s.Send(e); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeServer) Failover(_ context.Context, r *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	f.record(r)
	if r.GetInstance() == "missing" {
		return nil, status.Error(codes.NotFound, "no instance missing")
	}
	return &vipdv1.FailoverResponse{Node: "n2", Forwarded: true}, nil
}

func (f *fakeServer) SetMaintenance(_ context.Context, r *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	f.record(r)
	return &vipdv1.SetMaintenanceResponse{Node: r.GetNode(), Enabled: r.GetEnabled()}, nil
}

func (f *fakeServer) SetOrder(_ context.Context, r *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	f.record(r)
	return &vipdv1.SetOrderResponse{Order: &vipdv1.Order{Instance: r.GetInstance(), Nodes: r.GetNodes(), Version: 4, Origin: "n1"}}, nil
}

func (f *fakeServer) Reload(_ context.Context, r *vipdv1.ReloadRequest) (*vipdv1.ReloadResponse, error) {
	f.record(r)
	return &vipdv1.ReloadResponse{Changed: []string{"VI_1"}}, nil
}

// gateway serves the fake over an in-memory gRPC connection and returns the
// gateway in front of it, connected through a client as the agent will be
// (the only way Watch works over HTTP).
func gateway(t *testing.T, f *fakeServer) http.Handler {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	vipdv1.RegisterVipdServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	mux := runtime.NewServeMux()
	if err := vipdv1.RegisterVipdServiceHandlerClient(context.Background(), mux, vipdv1.NewVipdServiceClient(conn)); err != nil {
		t.Fatal(err)
	}
	return mux
}

// TestGateway sends HTTP requests through the generated gateway and checks
// the gRPC request the server receives (path variables, body, query) and
// the HTTP answer.
func TestGateway(t *testing.T) {
	events := []*vipdv1.WatchResponse{
		{Node: "n1", Event: &vipdv1.WatchResponse_Instance{Instance: &vipdv1.InstanceEvent{
			Name: "VI_1", From: vipdv1.InstanceState_INSTANCE_STATE_BACKUP,
			To: vipdv1.InstanceState_INSTANCE_STATE_MASTER, Reason: "master down", Priority: 100,
		}}},
		{Node: "n2", Event: &vipdv1.WatchResponse_Member{Member: &vipdv1.MemberEvent{
			Member:         &vipdv1.Member{Name: "n2", Status: vipdv1.MemberStatus_MEMBER_STATUS_DEAD},
			PreviousStatus: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE,
		}}},
	}
	order := []*vipdv1.OrderNode{{Name: "cnh"}, {Name: "sby", Disabled: true}, {Name: "wcdc"}}
	cases := []struct {
		name     string
		method   string
		url      string
		body     string
		wantCode int
		wantReq  proto.Message
		// wantResp, if set, is the expected JSON answer of a unary call.
		wantResp proto.Message
		// wantEvents, if set, are the expected streamed results.
		wantEvents []*vipdv1.WatchResponse
	}{
		{name: "status", method: http.MethodGet, url: "/v1/status", wantCode: http.StatusOK,
			wantReq: &vipdv1.GetStatusRequest{},
			wantResp: &vipdv1.GetStatusResponse{Node: "n1", Instances: []*vipdv1.Instance{{
				Name: "VI_1", Vrid: 51, Family: vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4,
				State: vipdv1.InstanceState_INSTANCE_STATE_MASTER, Vips: []string{"198.51.100.10/24"},
			}}}},
		{name: "members", method: http.MethodGet, url: "/v1/members", wantCode: http.StatusOK,
			wantReq:  &vipdv1.ListMembersRequest{},
			wantResp: &vipdv1.ListMembersResponse{Members: []*vipdv1.Member{{Name: "n1", Status: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE}}}},
		{name: "cluster", method: http.MethodGet, url: "/v1/cluster", wantCode: http.StatusOK,
			wantReq: &vipdv1.GetClusterRequest{}, wantResp: &vipdv1.GetClusterResponse{Cluster: "lab", Node: "n1"}},
		{name: "watch with filters", method: http.MethodGet,
			url:      "/v1/watch?types=EVENT_TYPE_INSTANCE&types=EVENT_TYPE_MEMBER&instance=VI_1&cluster=true",
			wantCode: http.StatusOK,
			wantReq: &vipdv1.WatchRequest{Instance: "VI_1", Cluster: true,
				Types: []vipdv1.EventType{vipdv1.EventType_EVENT_TYPE_INSTANCE, vipdv1.EventType_EVENT_TYPE_MEMBER}},
			wantEvents: events},
		{name: "failover to a node", method: http.MethodPost, url: "/v1/instances/VI_1:failover",
			body: `{"targetNode":"n2"}`, wantCode: http.StatusOK,
			wantReq:  &vipdv1.FailoverRequest{Instance: "VI_1", TargetNode: "n2"},
			wantResp: &vipdv1.FailoverResponse{Node: "n2", Forwarded: true}},
		{name: "failover away", method: http.MethodPost, url: "/v1/instances/VI_2:failover",
			body: `{}`, wantCode: http.StatusOK,
			wantReq: &vipdv1.FailoverRequest{Instance: "VI_2"}},
		{name: "failover unknown instance is 404", method: http.MethodPost, url: "/v1/instances/missing:failover",
			body: `{}`, wantCode: http.StatusNotFound,
			wantReq: &vipdv1.FailoverRequest{Instance: "missing"}},
		{name: "maintenance on", method: http.MethodPost, url: "/v1/nodes/n2:maintenance",
			body: `{"enabled":true}`, wantCode: http.StatusOK,
			wantReq:  &vipdv1.SetMaintenanceRequest{Node: "n2", Enabled: true},
			wantResp: &vipdv1.SetMaintenanceResponse{Node: "n2", Enabled: true}},
		{name: "set order", method: http.MethodPut, url: "/v1/instances/testdns0/order",
			body:     `{"nodes":[{"name":"cnh"},{"name":"sby","disabled":true},{"name":"wcdc"}],"expectedVersion":"3"}`,
			wantCode: http.StatusOK,
			wantReq:  &vipdv1.SetOrderRequest{Instance: "testdns0", Nodes: order, ExpectedVersion: 3},
			wantResp: &vipdv1.SetOrderResponse{Order: &vipdv1.Order{Instance: "testdns0", Nodes: order, Version: 4, Origin: "n1"}}},
		{name: "reload", method: http.MethodPost, url: "/v1/reload", body: `{}`, wantCode: http.StatusOK,
			wantReq: &vipdv1.ReloadRequest{}, wantResp: &vipdv1.ReloadResponse{Changed: []string{"VI_1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeServer{events: events}
			h := gateway(t, f)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, tc.url, body)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("HTTP %d, want %d; body: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if got := f.lastRequest(); !proto.Equal(got, tc.wantReq) {
				t.Errorf("server got %v, want %v", got, tc.wantReq)
			}
			if tc.wantResp != nil {
				got := tc.wantResp.ProtoReflect().New().Interface()
				if err := protojson.Unmarshal(rec.Body.Bytes(), got); err != nil {
					t.Fatalf("answer %s: %v", rec.Body, err)
				}
				if !proto.Equal(got, tc.wantResp) {
					t.Errorf("answer %v, want %v", got, tc.wantResp)
				}
			}
			if tc.wantEvents != nil {
				// The gateway streams one {"result": ...} object per message.
				dec := json.NewDecoder(rec.Body)
				var got []*vipdv1.WatchResponse
				for dec.More() {
					var line struct {
						Result json.RawMessage `json:"result"`
						Error  json.RawMessage `json:"error"`
					}
					if err := dec.Decode(&line); err != nil {
						t.Fatalf("stream: %v", err)
					}
					if line.Error != nil {
						t.Fatalf("stream error: %s", line.Error)
					}
					ev := &vipdv1.WatchResponse{}
					if err := protojson.Unmarshal(line.Result, ev); err != nil {
						t.Fatalf("event %s: %v", line.Result, err)
					}
					got = append(got, ev)
				}
				if len(got) != len(tc.wantEvents) {
					t.Fatalf("got %d events, want %d", len(got), len(tc.wantEvents))
				}
				for i := range got {
					if !proto.Equal(got[i], tc.wantEvents[i]) {
						t.Errorf("event %d = %v, want %v", i, got[i], tc.wantEvents[i])
					}
				}
			}
		})
	}
}
