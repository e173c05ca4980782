package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"github.com/vipd/vipd/server"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// apiFake answers the client commands with fixed data and records the
// commands it gets.
type apiFake struct {
	vipdv1.UnimplementedVipdServiceServer
	mu   sync.Mutex
	got  []string
	seen chan struct{} // closed when a Watch has sent its events
	once sync.Once
}

func (f *apiFake) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, s)
}

func (f *apiFake) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

var since = timestamppb.New(time.Now().Add(-90 * time.Second))

func (f *apiFake) GetStatus(context.Context, *vipdv1.GetStatusRequest) (*vipdv1.GetStatusResponse, error) {
	return &vipdv1.GetStatusResponse{
		Node: "lb1", Version: "0.9.0", Uptime: durationpb.New(3*time.Hour + 2*time.Minute),
		Instances: []*vipdv1.Instance{
			{Name: "VI_1", Vrid: 51, Family: vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4, Interface: "eth0",
				State: vipdv1.InstanceState_INSTANCE_STATE_MASTER, BasePriority: 150, EffectivePriority: 130,
				MasterAddress: "198.51.100.1", Vips: []string{"198.51.100.100/24"}, Since: since, Reason: "check dns failed"},
			{Name: "VI_6", Vrid: 52, Family: vipdv1.AddressFamily_ADDRESS_FAMILY_IPV6, Interface: "eth0",
				State: vipdv1.InstanceState_INSTANCE_STATE_BACKUP, BasePriority: 100, EffectivePriority: 100, Guarded: true,
				Vips: []string{"2001:db8::100/64"}},
		},
		Checks: []*vipdv1.Check{{Name: "dns", Kind: vipdv1.CheckKind_CHECK_KIND_DNS, State: vipdv1.CheckState_CHECK_STATE_FAILED,
			Runs: 40, Failures: 3, LastError: "timeout\nafter 1s", Since: since}},
		Drops: []*vipdv1.DropCount{{Reason: "bad_checksum", Count: 2}},
	}, nil
}

func (f *apiFake) ListMembers(context.Context, *vipdv1.ListMembersRequest) (*vipdv1.ListMembersResponse, error) {
	return &vipdv1.ListMembersResponse{Members: []*vipdv1.Member{
		{Name: "lb1", Address: "198.51.100.1:7946", Status: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE, AvailabilityZone: "az-a", ApiAddress: "198.51.100.1:9746"},
		{Name: "lb2-with-a-long-name", Address: "198.51.100.2:7946", Status: vipdv1.MemberStatus_MEMBER_STATUS_DEAD},
	}}, nil
}

func (f *apiFake) GetCluster(context.Context, *vipdv1.GetClusterRequest) (*vipdv1.GetClusterResponse, error) {
	return &vipdv1.GetClusterResponse{Cluster: "prod", Node: "lb1",
		Nodes: []*vipdv1.ClusterNode{{Member: &vipdv1.Member{Name: "lb1", Status: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE},
			Instances: []*vipdv1.InstanceSummary{{Name: "testdns0", Vrid: 60, State: vipdv1.InstanceState_INSTANCE_STATE_MASTER, Priority: 250}}}},
		Orders: []*vipdv1.Order{{Instance: "testdns0", Version: 7, Origin: "lb2",
			Nodes: []*vipdv1.OrderNode{{Name: "cnh"}, {Name: "sby", Disabled: true}, {Name: "wcdc"}}}},
	}, nil
}

func (f *apiFake) Watch(req *vipdv1.WatchRequest, st vipdv1.VipdService_WatchServer) error {
	f.record("watch " + req.GetInstance())
	for _, ev := range []*vipdv1.WatchResponse{
		{Node: "lb1", Time: since, Event: &vipdv1.WatchResponse_Instance{Instance: &vipdv1.InstanceEvent{Name: "VI_1", Vrid: 51,
			Family: vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4, From: vipdv1.InstanceState_INSTANCE_STATE_BACKUP,
			To: vipdv1.InstanceState_INSTANCE_STATE_MASTER, Priority: 150, Reason: "preempted"}}},
		{Node: "lb2", Time: since, Event: &vipdv1.WatchResponse_Member{Member: &vipdv1.MemberEvent{
			Member: &vipdv1.Member{Name: "lb2", Status: vipdv1.MemberStatus_MEMBER_STATUS_DEAD}, PreviousStatus: vipdv1.MemberStatus_MEMBER_STATUS_SUSPECT}}},
	} {
		if err := st.Send(ev); err != nil {
			return err
		}
	}
	f.once.Do(func() { close(f.seen) })
	if req.GetInstance() == "end" {
		return nil
	}
	<-st.Context().Done()
	return nil
}

func (f *apiFake) Failover(_ context.Context, req *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	if req.GetInstance() != "VI_1" {
		return nil, status.Errorf(codes.NotFound, "no instance %q", req.GetInstance())
	}
	f.record("failover " + req.GetInstance() + " to " + req.GetTargetNode())
	return &vipdv1.FailoverResponse{Node: "lb2", Forwarded: true, PreviousMaster: "lb1"}, nil
}

func (f *apiFake) SetMaintenance(_ context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	f.record("maintenance " + req.GetNode() + " " + map[bool]string{true: "on", false: "off"}[req.GetEnabled()])
	var h []string
	if req.GetEnabled() {
		h = []string{"VI_1", "VI_6"}
	}
	return &vipdv1.SetMaintenanceResponse{Node: req.GetNode(), Enabled: req.GetEnabled(), HandedOver: h}, nil
}

func (f *apiFake) SetOrder(_ context.Context, req *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	var names []string
	for _, n := range req.GetNodes() {
		s := n.GetName()
		if n.GetDisabled() {
			s = "#" + s
		}
		names = append(names, s)
	}
	f.record("order " + req.GetInstance() + " " + strings.Join(names, ",") + " expect " + itoa(req.GetExpectedVersion()))
	if v := req.GetExpectedVersion(); v != 0 && v != 7 {
		return nil, status.Errorf(codes.FailedPrecondition, "order of %s is at version 7, not %d", req.GetInstance(), v)
	}
	return &vipdv1.SetOrderResponse{Order: &vipdv1.Order{Instance: req.GetInstance(), Nodes: req.GetNodes(), Version: 8, Origin: "lb1"}}, nil
}

func itoa(v uint64) string { return big.NewInt(int64(v)).String() }

// apiServer runs the real API server with fake as its service on a unix
// socket in a temporary directory (and on loopback TCP with a token when
// tcp is set) until the test ends.
func apiServer(t *testing.T, fake *apiFake, cfg config.API) *server.Server {
	t.Helper()
	s, err := server.New(cfg, fake, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return s
}

func socketAPI(t *testing.T) config.API {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vipd.sock")
	if len(p) > 100 {
		t.Fatalf("socket path too long for a unix socket: %s", p)
	}
	return config.API{Socket: p}
}

func newFakeAPI() *apiFake { return &apiFake{seen: make(chan struct{})} }

// matchLines checks that each regexp matches some line of out.
func matchLines(t *testing.T, out string, res ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, re := range res {
		r := regexp.MustCompile(re)
		found := false
		for _, l := range lines {
			if r.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line matches %s in:\n%s", re, out)
		}
	}
}

func TestStatusAndMembers(t *testing.T) {
	fake := newFakeAPI()
	cfg := socketAPI(t)
	apiServer(t, fake, cfg)
	sock := "--socket=" + cfg.Socket

	out, err := run(t, "status", sock)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	matchLines(t, out,
		`^node lb1, vipd 0\.9\.0, up 3h2m0s, maintenance: no$`,
		`^INSTANCE\s+VRID\s+FAMILY\s+INTERFACE\s+STATE\s+SINCE\s+PRIORITY\s+MASTER\s+VIPS\s+REASON$`,
		`^VI_1\s+51\s+IPv4\s+eth0\s+MASTER\s+1m3\ds ago\s+130 \(base 150\)\s+198\.51\.100\.1\s+198\.51\.100\.100/24\s+check dns failed$`,
		`^VI_6\s+52\s+IPv6\s+eth0\s+BACKUP \(guarded\)\s+-\s+100\s+-\s+2001:db8::100/64\s+-$`,
		`^dns\s+dns\s+FAILED\s+1m3\ds ago\s+-\s+-\s+40\s+3\s+timeout \| after 1s$`,
		`^dropped adverts: bad_checksum=2$`,
	)
	// Columns line up: VRID starts at the same offset on every row.
	lines := strings.Split(out, "\n")
	if a, b := strings.Index(lines[2], "VRID"), strings.Index(lines[3], "51"); a != b {
		t.Errorf("columns not aligned (%d vs %d):\n%s", a, b, out)
	}

	out, err = run(t, "status", sock, "-o", "json")
	var js struct {
		Node      string
		Instances []struct {
			Name              string
			EffectivePriority int
			Held              bool
		}
	}
	if err != nil || json.Unmarshal([]byte(out), &js) != nil || js.Node != "lb1" || len(js.Instances) != 2 || js.Instances[0].EffectivePriority != 130 {
		t.Errorf("status -o json: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"held": false`) {
		t.Errorf("status -o json leaves out unset fields:\n%s", out)
	}

	out, err = run(t, "status", "--cluster", sock)
	if err != nil {
		t.Fatal(err)
	}
	matchLines(t, out, `^cluster prod, seen from lb1$`, `^lb1\s+alive\s+testdns0\s+60\s+-\s+MASTER\s+-\s+250\s+-\s+-$`,
		`^order testdns0: cnh, sby \(disabled\), wcdc \(version 7 by lb2\)$`)

	out, err = run(t, "members", sock)
	if err != nil {
		t.Fatal(err)
	}
	matchLines(t, out, `^NAME\s+ADDRESS\s+STATUS\s+SINCE\s+ZONE\s+VERSION\s+API$`,
		`^lb1\s+198\.51\.100\.1:7946\s+alive\s+-\s+az-a\s+-\s+198\.51\.100\.1:9746$`,
		`^lb2-with-a-long-name\s+198\.51\.100\.2:7946\s+dead\s+-\s+-\s+-\s+-$`)
	out, err = run(t, "members", sock, "-o", "json")
	if err != nil || !strings.Contains(out, `"status": "MEMBER_STATUS_DEAD"`) {
		t.Errorf("members -o json: %v\n%s", err, out)
	}
}

func TestCommands(t *testing.T) {
	fake := newFakeAPI()
	cfg := socketAPI(t)
	apiServer(t, fake, cfg)
	sock := "--socket=" + cfg.Socket
	tests := []struct {
		args   []string
		want   []string // regexps on lines
		call   string   // what the service must have been asked
		errMsg string
	}{
		{[]string{"failover", "VI_1", "--to", "lb2"}, []string{`^failover of VI_1 to lb2 accepted by lb2 \(forwarded\); master was lb1$`,
			`^follow it with: vipd watch --instance VI_1 --cluster$`}, "failover VI_1 to lb2", ""},
		{[]string{"failover", "VI_1"}, []string{`^failover of VI_1 to the best other node accepted by lb2`}, "failover VI_1 to ", ""},
		{[]string{"failover", "nope"}, nil, "", `NotFound: no instance "nope"`},
		{[]string{"maintenance", "lb1", "on"}, []string{`^lb1: maintenance on$`, `^handing over: VI_1, VI_6$`}, "maintenance lb1 on", ""},
		{[]string{"maintenance", "lb1", "OFF"}, []string{`^lb1: maintenance off$`}, "maintenance lb1 off", ""},
		{[]string{"maintenance", "lb1", "maybe"}, nil, "", `"maybe": want on or off`},
		{[]string{"order", "testdns0", "cnh", "sby", "wcdc", "--disabled", "sby", "--expected-version", "7"},
			[]string{`^testdns0: cnh, sby \(disabled\), wcdc \(version 8 by lb1\)$`}, "order testdns0 cnh,#sby,wcdc expect 7", ""},
		{[]string{"order", "testdns0", "cnh", "--expected-version", "3"}, nil, "order testdns0 cnh expect 3", "FailedPrecondition: order of testdns0 is at version 7, not 3"},
		{[]string{"order", "testdns0"}, []string{`^testdns0: cnh, sby \(disabled\), wcdc \(version 7 by lb2\)$`}, "", ""},
		{[]string{"order", "other"}, nil, "", `no order for instance "other"`},
		{[]string{"order", "testdns0", "a", "a"}, nil, "", `node "a" is listed twice`},
		{[]string{"order", "testdns0", "a", "--disabled", "b"}, nil, "", `--disabled "b" is not in the order`},
		{[]string{"status", "-o", "yaml"}, nil, "", `--output "yaml": want table or json`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := len(fake.calls())
			out, err := run(t, append(tc.args, sock)...)
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Errorf("error %v, want one with %q\n%s", err, tc.errMsg, out)
				}
			} else if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			matchLines(t, out, tc.want...)
			calls := fake.calls()[before:]
			if tc.call == "" && len(calls) != 0 || tc.call != "" && (len(calls) != 1 || calls[0] != tc.call) {
				t.Errorf("service got %q, want %q", calls, tc.call)
			}
		})
	}
	out, err := run(t, "failover", "VI_1", "-o", "json", sock)
	if err != nil || !strings.Contains(out, `"forwarded": true`) {
		t.Errorf("failover -o json: %v\n%s", err, out)
	}
}

func TestWatch(t *testing.T) {
	fake := newFakeAPI()
	cfg := socketAPI(t)
	apiServer(t, fake, cfg)
	out, err := run(t, "watch", "--instance", "end", "--socket", cfg.Socket)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	matchLines(t, out,
		`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}  lb1  instance VI_1 \(vrid 51 IPv4\): BACKUP -> MASTER, priority 150: preempted$`,
		`  lb2  member lb2 \(-\): suspect -> dead$`)

	out, err = run(t, "watch", "--instance", "end", "-o", "json", "--socket", cfg.Socket)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"time":`) || !strings.Contains(lines[1], `"previousStatus":"MEMBER_STATUS_SUSPECT"`) {
		t.Errorf("watch -o json: %v\n%s", err, out)
	}
	if _, err := run(t, "watch", "--type", "bogus", "--socket", cfg.Socket); err == nil || !strings.Contains(err.Error(), "want instance, check, member or order") {
		t.Errorf("watch --type bogus: %v", err)
	}

	// A stream that does not end stops when the command's context does.
	fake = newFakeAPI()
	cfg = socketAPI(t)
	apiServer(t, fake, cfg)
	root := newRootCmd()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetArgs([]string{"watch", "--socket", cfg.Socket, "--type", "instance"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	select {
	case <-fake.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not start")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("interrupted watch: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop when its context ended")
	}
}

// Over TCP: the token is sent from --token-file, errors say what to do,
// and TLS is used with --tls-ca.
func TestClientOverTCP(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("client-test-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("not-the-token-0123456789ab\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := selfSigned(t, dir)
	for _, useTLS := range []bool{false, true} {
		cfg := config.API{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, TokenFile: tok}
		extra := []string{}
		if useTLS {
			cfg.TLS = &config.APITLS{Cert: certFile, Key: keyFile}
			extra = []string{"--tls-ca", certFile}
		}
		s := apiServer(t, newFakeAPI(), cfg)
		addr := "--addr=" + s.Addrs()[0].String()
		args := func(a ...string) []string { return append(append(a, addr), extra...) }

		if out, err := run(t, args("status")...); err == nil || !strings.Contains(err.Error(), "Unauthenticated") || !strings.Contains(err.Error(), "give --token-file") {
			t.Errorf("tls=%v without token: %v\n%s", useTLS, err, out)
		}
		if out, err := run(t, args("failover", "VI_1", "--token-file", wrong)...); err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
			t.Errorf("tls=%v wrong token: %v\n%s", useTLS, err, out)
		}
		if out, err := run(t, args("members", "--token-file", tok)...); err != nil || !strings.Contains(out, "lb2-with-a-long-name") {
			t.Errorf("tls=%v with token: %v\n%s", useTLS, err, out)
		}
	}
	// Without --tls-ca the test CA is unknown: the handshake fails.
	cfg := config.API{Listen: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, TLS: &config.APITLS{Cert: certFile, Key: keyFile}}
	s := apiServer(t, newFakeAPI(), cfg)
	if out, err := run(t, "status", "--addr", s.Addrs()[0].String(), "--insecure-skip-verify=false", "--tls-cert", certFile, "--tls-key", keyFile, "--timeout", "3s"); err == nil {
		t.Errorf("unverified certificate accepted:\n%s", out)
	}
	if out, err := run(t, "status", "--addr", s.Addrs()[0].String(), "--insecure-skip-verify"); err != nil {
		t.Errorf("--insecure-skip-verify: %v\n%s", err, out)
	}
	// A socket that nobody serves: a hint, not just a gRPC code.
	if _, err := run(t, "status", "--socket", filepath.Join(dir, "none.sock"), "--timeout", "3s"); err == nil || !strings.Contains(err.Error(), "is the agent running") {
		t.Errorf("no agent: %v", err)
	}
	if _, err := run(t, "status", "--token-file", filepath.Join(dir, "missing"), "--socket", filepath.Join(dir, "none.sock")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing token file: %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vipd client test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// A relative --socket is taken from the working directory (gRPC would read
// its first element as a host name).
func TestClientRelativeSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "vipd-rel-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "run", "vipd.sock")
	fake := newFakeAPI()
	apiServer(t, fake, config.API{Socket: sock})
	t.Chdir(dir)
	for _, rel := range []string{"run/vipd.sock", "./run/vipd.sock", "run/../run/vipd.sock"} {
		if out, err := run(t, "members", "--socket", rel); err != nil || !strings.Contains(out, "lb2-with-a-long-name") {
			t.Errorf("members --socket %s: %v\n%s", rel, err, out)
		}
	}
	if out, err := run(t, "failover", "VI_1", "--socket", "run/vipd.sock"); err != nil {
		t.Errorf("failover --socket run/vipd.sock: %v\n%s", err, out)
	}
}

// An agent without a command token serves reads over loopback TCP and
// refuses commands there, saying to use the socket; its read-only token
// never runs a command.
func TestClientCommandsNeedSocketOrToken(t *testing.T) {
	dir := t.TempDir()
	readTok := filepath.Join(dir, "read")
	if err := os.WriteFile(readTok, []byte("read-only-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fullTok := filepath.Join(dir, "full")
	if err := os.WriteFile(fullTok, []byte("full-command-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	fake := newFakeAPI()
	s := apiServer(t, fake, config.API{Listen: loop})
	addr := "--addr=" + s.Addrs()[0].String()
	if out, err := run(t, "status", addr); err != nil || !strings.Contains(out, "VI_1") {
		t.Errorf("status over loopback without token: %v\n%s", err, out)
	}
	out, err := run(t, "failover", "VI_1", addr)
	if err == nil || !strings.Contains(err.Error(), "PermissionDenied") || !strings.Contains(err.Error(), "unix socket") {
		t.Errorf("failover over loopback without token: %v\n%s", err, out)
	}

	s = apiServer(t, fake, config.API{Listen: loop, TokenFile: fullTok, ReadTokenFile: readTok})
	addr = "--addr=" + s.Addrs()[0].String()
	if out, err := run(t, "members", addr, "--token-file", readTok); err != nil || !strings.Contains(out, "lb2-with-a-long-name") {
		t.Errorf("members with the read-only token: %v\n%s", err, out)
	}
	if out, err := run(t, "failover", "VI_1", addr, "--token-file", readTok); err == nil || !strings.Contains(err.Error(), "read-only token") {
		t.Errorf("failover with the read-only token: %v\n%s", err, out)
	}
	if out, err := run(t, "failover", "VI_1", addr, "--token-file", fullTok); err != nil {
		t.Errorf("failover with the command token: %v\n%s", err, out)
	}
	for _, c := range fake.calls() {
		if c != "failover VI_1 to " {
			t.Errorf("unexpected call %q", c)
		}
	}
	if n := len(fake.calls()); n != 1 {
		t.Errorf("the service saw %d commands, want the one with the command token", n)
	}
}
