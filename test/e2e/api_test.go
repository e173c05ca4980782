package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// requireTool returns the path of an operator's tool the API tests drive
// (curl, grpcurl): installed by scripts/install-deps.sh, so missing is a
// failure in CI.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	return lab.RequireProgram(t, name, filepath.Join("/root/go/bin", name))
}

// run runs a tool in the root namespace (the API's unix socket is a file,
// reachable from there) and returns its stdout; a failure fails the test.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// vipdJSON runs the real CLI against a daemon's API socket, `vipd ARGS
// --socket SOCK -o json`, the way an operator or a monitoring script reads
// a node, and decodes its answer into v.
func vipdJSON(t *testing.T, sock string, v any, args ...string) {
	t.Helper()
	out := run(t, testbed.VipdBinary(t), append(slices.Clone(args), "--socket", sock, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("vipd %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// grpcurl calls method on a node's unix socket with a JSON request.
func grpcurl(t *testing.T, sock, method, req string) map[string]any {
	t.Helper()
	out := run(t, requireTool(t, "grpcurl"), "-plaintext", "-unix", "-d", req, sock, "vipd.v1.VipdService/"+method)
	return decodeJSON(t, out)
}

// curlJSON sends an HTTP request to a node's unix socket.
func curlJSON(t *testing.T, sock, method, path, body string) map[string]any {
	t.Helper()
	args := []string{"-sS", "--fail-with-body", "--unix-socket", sock, "-X", method, "http://vipd" + path}
	if body != "" {
		args = append(args, "-H", "Content-Type: application/json", "-d", body)
	}
	return decodeJSON(t, run(t, requireTool(t, "curl"), args...))
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	return m
}

// instanceState digs the state of an instance out of a GetStatus answer.
func instanceState(t *testing.T, status map[string]any, name string) string {
	t.Helper()
	list, _ := status["instances"].([]any)
	for _, x := range list {
		in, _ := x.(map[string]any)
		if in["name"] == name {
			s, _ := in["state"].(string)
			return s
		}
	}
	t.Fatalf("no instance %s in %v", name, status)
	return ""
}

// TestAPI drives a 3-node cluster through its API as an operator would,
// with grpcurl and curl on the nodes' unix sockets: reflection, status,
// a forced failover to a named node accepted by a third node, maintenance
// of a node accepted by another, an order change seen on every node, and
// a watch stream that reports the transitions.
func TestAPI(t *testing.T) {
	t.Parallel()
	grpcurlBin, curlBin := requireTool(t, "grpcurl"), requireTool(t, "curl")
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 2, 150}, gossipSpec{"n3", 1, 100})
	members := startWithMaster(t, nodes)
	sock := func(i int) string { return nodes[i].d.Socket }

	// Reflection and health: grpcurl needs no proto files.
	list := run(t, grpcurlBin, "-plaintext", "-unix", sock(0), "list")
	for _, want := range []string{"vipd.v1.VipdService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(list, want) {
			t.Errorf("grpcurl list lacks %s:\n%s", want, list)
		}
	}
	if d := run(t, grpcurlBin, "-plaintext", "-unix", sock(0), "describe", "vipd.v1.VipdService.Failover"); !strings.Contains(d, "FailoverRequest") {
		t.Errorf("describe Failover:\n%s", d)
	}
	if h := run(t, grpcurlBin, "-plaintext", "-unix", sock(0), "grpc.health.v1.Health/Check"); !strings.Contains(h, "SERVING") {
		t.Errorf("health: %s", h)
	}
	if s := instanceState(t, grpcurl(t, sock(0), "GetStatus", "{}"), "web"); s != "INSTANCE_STATE_MASTER" {
		t.Fatalf("n1 GetStatus: web is %s", s)
	}
	if s := instanceState(t, curlJSON(t, sock(1), "GET", "/v1/status", ""), "web"); s != "INSTANCE_STATE_BACKUP" {
		t.Fatalf("n2 GET /v1/status: web is %s", s)
	}
	if ms, _ := curlJSON(t, sock(2), "GET", "/v1/members", "")["members"].([]any); len(ms) != 3 {
		t.Errorf("n3 GET /v1/members: %d members, want 3", len(ms))
	}

	// A watch on n2 while the failover happens.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	watch := exec.CommandContext(wctx, curlBin, "-sS", "-N", "--unix-socket", sock(1), "http://vipd/v1/watch?types=EVENT_TYPE_INSTANCE")
	watched := &lockedWriter{}
	watch.Stdout = watched
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the stream is open before the event

	// Failover to n2, asked on n3: forwarded, done without a master-down wait.
	asked := time.Now()
	resp := curlJSON(t, sock(2), "POST", "/v1/instances/web:failover", `{"targetNode": "n2"}`)
	if resp["node"] != "n2" || resp["previousMaster"] != "n1" || resp["forwarded"] != true {
		t.Errorf("failover answer: %v", resp)
	}
	bound := 2*gossipAdvert + 200*time.Millisecond
	took := testbed.WaitSoleHolder(t, members, gossipVIP, "n2", asked, bound)
	t.Logf("failover to n2 through n3's API: done after %v (bound %v)", took, bound)
	testbed.StaySoleHolder(t, members, gossipVIP, "n2", masterDown(gossipAdvert, 200)+slack)
	waitFor(t, 2*time.Second, "the watch on n2 to report n2's transition to MASTER", func() bool {
		return strings.Contains(watched.String(), `"to":"INSTANCE_STATE_MASTER"`)
	})

	// Unknown instance and node: proper errors.
	if out, err := exec.Command(curlBin, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock(0),
		"-X", "POST", "-H", "Content-Type: application/json", "-d", `{"targetNode": "n9"}`, "http://vipd/v1/instances/web:failover").Output(); err != nil || string(out) != "404" {
		t.Errorf("failover to an unknown node: HTTP %s (%v), want 404", out, err)
	}

	// Maintenance of n2, asked on n1 with grpcurl: n2 hands over to n1.
	asked = time.Now()
	m := grpcurl(t, sock(0), "SetMaintenance", `{"node": "n2", "enabled": true}`)
	if m["forwarded"] != true || fmt.Sprint(m["handedOver"]) != "[web]" {
		t.Errorf("maintenance answer: %v", m)
	}
	took = testbed.WaitSoleHolder(t, members, gossipVIP, "n1", asked, bound)
	t.Logf("maintenance of n2: n1 took over after %v", took)
	testbed.StaySoleHolder(t, members, gossipVIP, "n1", masterDown(gossipAdvert, 200)+slack)
	st := grpcurl(t, sock(1), "GetStatus", "{}")
	if st["maintenance"] != true {
		t.Errorf("n2's status does not show maintenance: %v", st)
	}
	// A crash and restart of n2 while drained: it stays drained.
	nodes[1].d.Kill()
	restarted := time.Now()
	nodes[1].start(t)
	waitConverged(t, nodes, 5*time.Second)
	nodes[1].d.WaitLog(t, "starting in maintenance", 5*time.Second)
	testbed.StaySoleHolder(t, members, gossipVIP, "n1", masterDown(gossipAdvert, 250)+slack)
	if st := grpcurl(t, sock(1), "GetStatus", "{}"); st["maintenance"] != true || instanceState(t, st, "web") != "INSTANCE_STATE_BACKUP" {
		t.Errorf("n2 restarted %v ago: maintenance %v, web %s", time.Since(restarted), st["maintenance"], instanceState(t, st, "web"))
	}
	// Released, n2 is first in the order again and takes the VIP back.
	grpcurl(t, sock(0), "SetMaintenance", `{"node": "n2", "enabled": false}`)
	testbed.WaitSoleHolder(t, members, gossipVIP, "n2", time.Now(), masterDown(gossipAdvert, 250)+slack)

	// An order written on n1 shows on every node and moves the VIP to n3.
	o := curlJSON(t, sock(0), "PUT", "/v1/instances/web/order", `{"nodes": [{"name": "n3"}, {"name": "n1"}, {"name": "n2"}]}`)
	order, _ := o["order"].(map[string]any)
	version := fmt.Sprint(order["version"])
	written := time.Now()
	for i := range nodes {
		waitFor(t, 2*time.Second, nodes[i].name+" to show order version "+version, func() bool {
			c := grpcurl(t, sock(i), "GetCluster", "{}")
			os, _ := c["orders"].([]any)
			for _, x := range os {
				if e, _ := x.(map[string]any); e["instance"] == "web" && fmt.Sprint(e["version"]) == version {
					return true
				}
			}
			return false
		})
	}
	t.Logf("order version %s on every node after %v", version, time.Since(written))
	testbed.WaitSoleHolder(t, members, gossipVIP, "n3", written, bound)
	// A conditional write on a stale version is refused.
	if out, _ := exec.Command(curlBin, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock(1),
		"-X", "PUT", "-H", "Content-Type: application/json", "-d", `{"nodes": [{"name": "n1"}], "expectedVersion": "1"}`, "http://vipd/v1/instances/web/order").Output(); string(out) != "400" && string(out) != "412" {
		t.Errorf("stale conditional order write: HTTP %s, want 400 (FAILED_PRECONDITION)", out)
	}

	// The vipd client commands against the real agents.
	bin := testbed.VipdBinary(t)
	if s := instanceState(t, decodeJSON(t, run(t, bin, "status", "--socket", sock(2), "-o", "json")), "web"); s != "INSTANCE_STATE_MASTER" {
		t.Errorf("vipd status -o json on n3: web is %s", s)
	}
	tbl := run(t, bin, "members", "--socket", sock(0))
	for _, want := range []string{"NAME", "n1", "n2", "n3", "alive"} {
		if !strings.Contains(tbl, want) {
			t.Errorf("vipd members lacks %q:\n%s", want, tbl)
		}
	}
	asked = time.Now()
	run(t, bin, "failover", "web", "--to", "n1", "--socket", sock(1))
	took = testbed.WaitSoleHolder(t, members, gossipVIP, "n1", asked, bound)
	t.Logf("vipd failover web --to n1 (asked on n2): done after %v", took)

	// A reload through the API with the configuration unchanged changes
	// nothing and keeps the master.
	reloaded := time.Now().Truncate(time.Millisecond)
	rl := curlJSON(t, sock(0), "POST", "/v1/reload", "{}")
	for _, k := range []string{"added", "removed", "changed"} {
		if l, _ := rl[k].([]any); len(l) != 0 {
			t.Errorf("reload of an unchanged configuration: %s %v", k, l)
		}
	}
	testbed.StaySoleHolder(t, members, gossipVIP, "n1", 2*gossipAdvert)
	// Logged like a SIGHUP's: an operator finds who changed what.
	nodes[0].d.WaitLog(t, "configuration reloaded (API request)", 5*time.Second)
	for _, at := range nodes[0].d.LogTimes("state change", "from=MASTER") {
		if !at.Before(reloaded) {
			t.Errorf("n1 left MASTER at %v, after the reload", at)
		}
	}
}

// lockedWriter collects what a child process writes, for the test to
// read while it runs.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("within %v: %s did not happen", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAPIRemoteAuth: an API listening on a node's own address needs TLS
// and a token for writes: without a token a write is 401, with a wrong one
// 403, with the right one it is carried out; reads need the token too
// unless opened with public_read.
func TestAPIRemoteAuth(t *testing.T) {
	t.Parallel()
	curlBin := requireTool(t, "curl")
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 1, 150})
	dir := t.TempDir()
	ca, cert, key := writeTestPKI(t, dir, nodes[0].addr)
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret-token-of-32-characters!!!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes[0].extra = fmt.Sprintf("api:\n  listen: [\"127.0.0.1:9746\", \"%s:9746\"]\n  tls: {cert: %s, key: %s}\n  token_file: %s\n", nodes[0].addr, cert, key, token)
	start := time.Now()
	for _, g := range nodes {
		g.start(t)
	}
	members := gmembers(nodes...)
	testbed.WaitSoleHolder(t, members, gossipVIP, "n1", start, masterDown(gossipAdvert, 200)+2*time.Second)

	url := fmt.Sprintf("https://%s:9746", nodes[0].addr)
	code := func(method, path, auth string) string {
		args := []string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "-X", method}
		if auth != "" {
			args = append(args, "-H", "Authorization: Bearer "+auth)
		}
		if method == "POST" {
			args = append(args, "-H", "Content-Type: application/json", "-d", `{"targetNode": "n2"}`)
		}
		// From n2: a remote client on the network.
		return strings.TrimSpace(runIn(t, nodes[1].node, curlBin, append(args, url+path)...))
	}
	const good = "s3cret-token-of-32-characters!!!"
	if c := code("GET", "/v1/status", ""); c != "401" {
		t.Errorf("remote read without token: HTTP %s, want 401", c)
	}
	if c := code("POST", "/v1/instances/web:failover", ""); c != "401" {
		t.Errorf("remote write without token: HTTP %s, want 401", c)
	}
	if c := code("POST", "/v1/instances/web:failover", "wrong-token-wrong-token"); c != "403" {
		t.Errorf("remote write with a wrong token: HTTP %s, want 403", c)
	}
	if c := code("GET", "/v1/status", good); c != "200" {
		t.Errorf("remote read with the token: HTTP %s, want 200", c)
	}
	asked := time.Now()
	if c := code("POST", "/v1/instances/web:failover", good); c != "200" {
		t.Fatalf("remote write with the token: HTTP %s, want 200", c)
	}
	testbed.WaitSoleHolder(t, members, gossipVIP, "n2", asked, 2*gossipAdvert+200*time.Millisecond)
	// Plain HTTP on the TLS port is refused, not served.
	if c := strings.TrimSpace(runIn(t, nodes[1].node, curlBin, "-s", "-o", "/dev/null", "-w", "%{http_code}",
		fmt.Sprintf("http://%s:9746/v1/status", nodes[0].addr))); c == "200" {
		t.Errorf("plain HTTP to the TLS listener answered 200")
	}
	// The unix socket needs no token: local root is trusted.
	if s := instanceState(t, curlJSON(t, nodes[0].d.Socket, "GET", "/v1/status", ""), "web"); s != "INSTANCE_STATE_BACKUP" {
		t.Errorf("n1 after failover: web is %s", s)
	}
}

// runIn runs a command in a lab node's namespace and returns its stdout
// (the exit status is not checked: curl's -w output is what counts).
func runIn(t *testing.T, n *lab.Node, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := n.Command(ctx, bin, args...).Output()
	return string(out)
}

// writeTestPKI writes a CA and a server certificate for addr, returning
// the CA's, the certificate's and the key's paths.
func writeTestPKI(t *testing.T, dir string, addr netip.Addr) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vipd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: addr.String()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{addr.AsSlice()}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", srvDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// TestAPIMetrics: the exposition of a running agent passes `promtool check
// metrics`, and a real Prometheus run with deploy/prometheus/scrape.yml
// (its interval shortened; in the agent's own namespace, so on its
// loopback API port, which needs no token by default) answers a PromQL
// query for the master's state and loads the alert rules.
func TestAPIMetrics(t *testing.T) {
	t.Parallel()
	curlBin, promtool, prom := requireTool(t, "curl"), requireTool(t, "promtool"), requireTool(t, "prometheus")
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 1, 150})
	start := time.Now()
	for _, g := range nodes {
		g.start(t)
	}
	testbed.WaitSoleHolder(t, gmembers(nodes...), gossipVIP, "n1", start, masterDown(gossipAdvert, 200)+2*time.Second)

	curlJSON(t, nodes[0].d.Socket, "GET", "/v1/status", "") // one API call to count
	expo := run(t, curlBin, "-sS", "--fail", "--unix-socket", nodes[0].d.Socket, "http://vipd/metrics")
	for _, want := range []string{
		`vipd_instance_state{family="ipv4",state="master",vrid="70",vrrp_instance="web"} 1`,
		`vipd_instance_master_changes_total{vrrp_instance="web"} 1`,
		`vipd_instance_transitions_total{from="backup",to="master",vrrp_instance="web"} 1`,
		`vipd_check_duration_seconds_count{check="interface:eth0",kind="interface"}`,
		`vipd_gossip_members{state="alive"} 2`,
		"vipd_build_info{", `vipd_api_requests_total{code="OK",method="vipd.v1.VipdService/GetStatus"} 1`,
	} {
		if !strings.Contains(expo, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(expo)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	deployed, err := os.ReadFile(filepath.Join(repoDir(t), "deploy", "prometheus", "scrape.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(deployed), "scrape_interval: 15s") {
		t.Fatalf("deploy/prometheus/scrape.yml has no scrape_interval: 15s to shorten:\n%s", deployed)
	}
	fast := strings.Replace(string(deployed), "scrape_interval: 15s", "scrape_interval: 1s", 1)
	if err := os.WriteFile(conf, []byte(fast), 0o644); err != nil {
		t.Fatal(err)
	}
	alerts, err := os.ReadFile(filepath.Join(repoDir(t), "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), alerts, 0o644); err != nil {
		t.Fatal(err)
	}
	testbed.Start(t, nodes[0].node, "prometheus", prom, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:9090")
	query := `http://127.0.0.1:9090/api/v1/query?query=vipd_instance_state%7Bstate%3D%22master%22%2Cvrrp_instance%3D%22web%22%7D`
	var last string
	waitFor(t, 30*time.Second, "Prometheus to answer the query with n1's master state 1", func() bool {
		last = runIn(t, nodes[0].node, curlBin, "-sS", query)
		return strings.Contains(last, `"value":[`) && strings.Contains(last, `,"1"]`)
	})
	t.Logf("PromQL answer: %s", last)
	if rules := runIn(t, nodes[0].node, curlBin, "-sS", "http://127.0.0.1:9090/api/v1/rules"); !strings.Contains(rules, `"name":"VipdDown"`) {
		t.Errorf("Prometheus did not load deploy/prometheus/alerts.yml through scrape.yml: %.300s", rules)
	}
}

// repoDir is the repository's root, for files of deploy/.
func repoDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}
