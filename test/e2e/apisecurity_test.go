package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// nobody is the unprivileged local user of these tests (uid and gid 65534).
const nobody = "65534"

// userTools copies the programs the unprivileged user runs (grpcurl lives
// in root's home, the vipd test binary in a private directory) into a
// directory anyone may read, and returns their paths.
func userTools(t *testing.T) (curl, grpcurlBin, vipd string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "vipd-usertools-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cp := func(src string) string {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		dst := filepath.Join(dir, filepath.Base(src))
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	return requireTool(t, "curl"), cp(requireTool(t, "grpcurl")), cp(testbed.VipdBinary(t))
}

// openPath lets others traverse the directories above a daemon's socket
// (test directories are 0700), so that the socket's own mode is what
// decides who may connect, as under /run/vipd.
func openPath(t *testing.T, sock string) {
	t.Helper()
	for d := filepath.Dir(sock); d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// asUser runs a program in a node's namespace as uid/gid 65534 with the
// supplementary groups given ("" for none) and returns its combined output
// and whether it exited 0.
func asUser(t *testing.T, n *lab.Node, groups string, bin string, args ...string) (string, bool) {
	t.Helper()
	sp := []string{"--reuid=" + nobody, "--regid=" + nobody}
	if groups == "" {
		sp = append(sp, "--clear-groups")
	} else {
		sp = append(sp, "--groups="+groups)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := n.Command(ctx, requireTool(t, "setpriv"), append(append(sp, "--", bin), args...)...).CombinedOutput()
	return string(out), err == nil
}

// command is one mutating API call, in its HTTP and gRPC forms.
type command struct {
	name, method, path, body string // HTTP
	rpc, req                 string // gRPC
}

// commands are the four kinds of command, each one that would hurt: the
// master hands its VIP over, drains itself, is put last, reloads.
var commands = []command{
	{"failover", "POST", "/v1/instances/web:failover", `{"targetNode": "n2"}`, "Failover", `{"instance": "web", "targetNode": "n2"}`},
	{"maintenance", "POST", "/v1/nodes/n1:maintenance", `{"enabled": true}`, "SetMaintenance", `{"node": "n1", "enabled": true}`},
	{"order", "PUT", "/v1/instances/web/order", `{"nodes": [{"name": "n2"}, {"name": "n1"}]}`, "SetOrder", `{"instance": "web", "nodes": [{"name": "n2"}, {"name": "n1"}]}`},
	{"reload", "POST", "/v1/reload", `{}`, "Reload", `{}`},
}

// TestAPISecurity: a local user who is not root and not in the socket's
// group cannot command a node through any listener, over HTTP or gRPC:
// n1 has the default API (the socket and a loopback port, no token), n2
// a command token, a read-only token and a TLS listener on its address.
// With the right token, or in the socket's group, commands go through;
// reads and health stay as documented; commands must be JSON and not from
// a browser page; API reloads are logged, refused or not.
func TestAPISecurity(t *testing.T) {
	t.Parallel()
	curl, grpcurlBin, vipd := userTools(t)
	nodes := gossipLab(t, gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 1, 150})
	n1, n2 := nodes[0], nodes[1]
	dir := t.TempDir()
	ca, cert, key := writeTestPKI(t, dir, n2.addr)
	const fullTok, readTok = "full-command-token-0123456789abcdef", "read-only-token-0123456789abcdef"
	fullFile, readFile := filepath.Join(dir, "full.token"), filepath.Join(dir, "read.token")
	for p, tok := range map[string]string{fullFile: fullTok, readFile: readTok} {
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n2.extra = fmt.Sprintf("api:\n  listen: [\"127.0.0.1:9746\", \"%s:9746\"]\n  tls: {cert: %s, key: %s}\n  token_file: %s\n  read_token_file: %s\n",
		n2.addr, cert, key, fullFile, readFile)
	members := startWithMaster(t, nodes)
	for _, g := range nodes {
		openPath(t, g.d.Socket)
	}
	// The user's own copy of the read-only token, for vipd --token-file
	// (which wants a file only its owner reads) and for the CA.
	userDir, err := os.MkdirTemp("", "vipd-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(userDir) })
	userRead, userCA := filepath.Join(userDir, "read.token"), filepath.Join(userDir, "ca.pem")
	caPEM, _ := os.ReadFile(ca)
	for p, data := range map[string][]byte{userRead: []byte(readTok + "\n"), userCA: caPEM} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(userDir, 0o755); err != nil {
		t.Fatal(err)
	}

	// httpCode sends a command (or a read) with curl as the user and
	// returns the HTTP status ("000" when curl could not connect) and the
	// output.
	httpCode := func(n *gnode, groups, url string, c command, extra ...string) (string, string) {
		args := []string{"-sS", "-o", "-", "-w", "\n%{http_code}", "-X", c.method}
		if c.body != "" {
			args = append(args, "-H", "Content-Type: application/json", "-d", c.body)
		}
		args = append(args, extra...)
		if strings.HasPrefix(url, "unix:") {
			sock, path, _ := strings.Cut(strings.TrimPrefix(url, "unix:"), "#")
			args = append(args, "--unix-socket", sock, "http://vipd"+path)
		} else {
			args = append(args, url+c.path)
		}
		out, _ := asUser(t, n.node, groups, curl, args...)
		code := out
		if len(out) >= 3 {
			code = out[len(out)-3:]
		}
		return code, out
	}
	sock1 := "unix:" + n1.d.Socket + "#"
	loop, loop2 := "http://127.0.0.1:9746", "https://127.0.0.1:9746"
	remote := fmt.Sprintf("https://%s:9746", n2.addr)

	t.Run("no token: refused everywhere", func(t *testing.T) {
		for _, c := range commands {
			// The socket: its mode 0660 keeps the user out (curl cannot
			// connect; the same call in the socket's group passes below).
			if code, out := httpCode(n1, "", sock1+c.path, c); code != "000" || !strings.Contains(out, "Couldn't connect") {
				t.Errorf("%s over n1's socket as uid %s: HTTP %s\n%s", c.name, nobody, code, out)
			}
			// Loopback TCP without a command token: read-only.
			for _, tok := range []string{"", fullTok} {
				var hdr []string
				if tok != "" {
					hdr = []string{"-H", "Authorization: Bearer " + tok}
				}
				if code, out := httpCode(n1, "", loop, c, hdr...); code != "403" {
					t.Errorf("%s over n1's loopback as uid %s (token %v): HTTP %s, want 403\n%s", c.name, nobody, tok != "", code, out)
				}
			}
			if out, ok := grpcCall(t, n1, "", grpcurlBin, []string{"-plaintext", "127.0.0.1:9746"}, c.rpc, c.req); ok || !strings.Contains(out, "PermissionDenied") {
				t.Errorf("gRPC %s over n1's loopback as uid %s: ok=%v\n%s", c.rpc, nobody, ok, out)
			}
			// n2: its loopback and its TLS listener need the command token
			// (TLS covers both; the certificate names n2's address).
			for _, where := range []struct {
				name, url string
				n         *gnode
				tls       []string
			}{{"n2's loopback", loop2, n2, []string{"--insecure"}}, {"n2's TLS listener, from n1", remote, n1, []string{"--cacert", userCA}}} {
				tls := where.tls
				for _, tc := range []struct{ tok, want string }{{"", "401"}, {readTok, "403"}, {"wrong-token-0123456789abcdef", "403"}} {
					hdr := tls
					if tc.tok != "" {
						hdr = append(hdr, "-H", "Authorization: Bearer "+tc.tok)
					}
					if code, out := httpCode(where.n, "", where.url, c, hdr...); code != tc.want {
						t.Errorf("%s over %s as uid %s with token %q: HTTP %s, want %s\n%s", c.name, where.name, nobody, tc.tok, code, tc.want, out)
					}
				}
			}
			for _, tc := range []struct {
				hdr  []string
				want string
			}{
				{nil, "Unauthenticated"},
				{[]string{"-rpc-header", "authorization: Bearer " + readTok}, "PermissionDenied"},
			} {
				// Reflection with the read-only token, the call with tc's.
				args := append([]string{"-reflect-header", "authorization: Bearer " + readTok}, tc.hdr...)
				if out, ok := grpcCall(t, n2, "", grpcurlBin, append(args, "-insecure", "127.0.0.1:9746"), c.rpc, c.req); ok || !strings.Contains(out, tc.want) {
					t.Errorf("gRPC %s over n2's loopback as uid %s (%v): ok=%v, want %s\n%s", c.rpc, nobody, tc.hdr, ok, tc.want, out)
				}
				if out, ok := grpcCall(t, n1, "", grpcurlBin, append(args, "-cacert", userCA, n2.addr.String()+":9746"), c.rpc, c.req); ok || !strings.Contains(out, tc.want) {
					t.Errorf("gRPC %s over n2's TLS listener as uid %s (%v): ok=%v, want %s\n%s", c.rpc, nobody, tc.hdr, ok, tc.want, out)
				}
			}
		}
		// gRPC on the socket: connect() is refused, whatever the call.
		if out, ok := grpcCall(t, n1, "", grpcurlBin, []string{"-connect-timeout", "2", "-plaintext", "-unix", n1.d.Socket}, "Reload", "{}"); ok {
			t.Errorf("gRPC Reload over n1's socket as uid %s succeeded\n%s", nobody, out)
		}
		// The vipd client as the user: the socket by default, then TCP.
		for _, args := range [][]string{{"maintenance", "n1", "on"}, {"failover", "web", "--to", "n2"}, {"order", "web", "n2", "n1"}} {
			if out, ok := asUser(t, n1.node, "", vipd, append(args, "--socket", n1.d.Socket, "--timeout", "3s")...); ok || !strings.Contains(out, "permission denied") {
				t.Errorf("vipd %s over the socket as uid %s: ok=%v\n%s", args[0], nobody, ok, out)
			}
		}
		if out, ok := asUser(t, n1.node, "", vipd, "failover", "web", "--to", "n2", "--addr", "127.0.0.1:9746"); ok || !strings.Contains(out, "PermissionDenied") {
			t.Errorf("vipd failover over loopback as uid %s: ok=%v\n%s", nobody, ok, out)
		}
		if out, ok := asUser(t, n2.node, "", vipd, "failover", "web", "--to", "n2", "--addr", "127.0.0.1:9746", "--insecure-skip-verify", "--token-file", userRead); ok || !strings.Contains(out, "read-only token") {
			t.Errorf("vipd failover with the read-only token as uid %s: ok=%v\n%s", nobody, ok, out)
		}
		// Nothing of it reached the agents: n1 is master, not drained,
		// and nothing was reloaded.
		testbed.StaySoleHolder(t, members, gossipVIP, "n1", 2*gossipAdvert)
		for _, g := range nodes {
			if n := g.d.CountLog("API request") + g.d.CountLog("msg=maintenance") + g.d.CountLog("failover requested") + g.d.CountLog("order set through the API"); n != 0 {
				t.Errorf("%s acted on a refused command:\n%s", g.name, g.d.Output())
			}
		}
	})

	t.Run("reads as documented", func(t *testing.T) {
		get := command{name: "read", method: "GET"}
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/v1/status", "/v1/members"} {
			get.path = p
			if code, out := httpCode(n1, "", loop, get); code != "200" {
				t.Errorf("GET %s on n1's loopback without token as uid %s: HTTP %s\n%s", p, nobody, code, out)
			}
			want := "401" // n2 has tokens: reads need one, health does not
			if p == "/healthz" || p == "/readyz" {
				want = "200"
			}
			if code, out := httpCode(n2, "", loop2, get, "--insecure"); code != want {
				t.Errorf("GET %s on n2's loopback without token: HTTP %s, want %s\n%s", p, code, want, out)
			}
			if code, out := httpCode(n2, "", loop2, get, "--insecure", "-H", "Authorization: Bearer "+readTok); code != "200" {
				t.Errorf("GET %s on n2's loopback with the read-only token: HTTP %s\n%s", p, code, out)
			}
			if code, out := httpCode(n1, "", remote, get, "--cacert", userCA, "-H", "Authorization: Bearer "+readTok); code != "200" {
				t.Errorf("GET %s on n2's TLS listener with the read-only token: HTTP %s\n%s", p, code, out)
			}
		}
		if out, ok := asUser(t, n1.node, "", vipd, "status", "--addr", "127.0.0.1:9746"); !ok || !strings.Contains(out, "web") {
			t.Errorf("vipd status over n1's loopback as uid %s: ok=%v\n%s", nobody, ok, out)
		}
		if out, ok := asUser(t, n2.node, "", vipd, "members", "--addr", "127.0.0.1:9746", "--insecure-skip-verify", "--token-file", userRead); !ok || !strings.Contains(out, "n1") {
			t.Errorf("vipd members with the read-only token as uid %s: ok=%v\n%s", nobody, ok, out)
		}
	})

	t.Run("allowed with the token or the socket's group", func(t *testing.T) {
		reload := commands[3]
		if code, out := httpCode(n1, "", remote, reload, "--cacert", userCA, "-H", "Authorization: Bearer "+fullTok); code != "200" {
			t.Errorf("reload over n2's TLS listener with the command token: HTTP %s\n%s", code, out)
		}
		if out, ok := grpcCall(t, n2, "", grpcurlBin, []string{"-H", "authorization: Bearer " + fullTok, "-insecure", "127.0.0.1:9746"}, "SetMaintenance", `{"node": "n2", "enabled": false}`); !ok {
			t.Errorf("gRPC SetMaintenance over n2's loopback with the command token: %s", out)
		}
		// uid 65534 in the socket's group (the agent's, root here).
		if code, out := httpCode(n1, "0", sock1+reload.path, reload); code != "200" {
			t.Errorf("reload over n1's socket in its group: HTTP %s\n%s", code, out)
		}
		if out, ok := asUser(t, n1.node, "0", vipd, "maintenance", "n1", "off", "--socket", n1.d.Socket); !ok {
			t.Errorf("vipd maintenance n1 off over the socket in its group: %s", out)
		}
		if out, ok := grpcCall(t, n1, "0", grpcurlBin, []string{"-plaintext", "-unix", n1.d.Socket}, "GetStatus", "{}"); !ok || !strings.Contains(out, "INSTANCE_STATE_MASTER") {
			t.Errorf("gRPC GetStatus over n1's socket in its group: %s", out)
		}
		// Both reloads are in the agents' logs.
		n1.d.WaitLog(t, "configuration reloaded (API request)", 5*time.Second)
		n2.d.WaitLog(t, "configuration reloaded (API request)", 5*time.Second)
	})

	t.Run("JSON only, no browser", func(t *testing.T) {
		// As root over the socket, which otherwise takes every command.
		reload := commands[3]
		for _, tc := range []struct {
			name  string
			extra []string
			want  string
		}{
			{"text/plain", []string{"-H", "Content-Type: text/plain"}, "415"},
			{"form", []string{"-H", "Content-Type: application/x-www-form-urlencoded"}, "415"},
			{"cross-site page", []string{"-H", "Sec-Fetch-Site: cross-site"}, "403"},
			{"page of another origin", []string{"-H", "Origin: http://evil.example"}, "403"},
		} {
			args := append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", n1.d.Socket, "-X", "POST", "-d", "{}"}, tc.extra...)
			if tc.want == "403" {
				args = append(args, "-H", "Content-Type: application/json")
			}
			if code := strings.TrimSpace(runIn(t, n1.node, curl, append(args, "http://vipd"+reload.path)...)); code != tc.want {
				t.Errorf("reload as %s over the socket: HTTP %s, want %s", tc.name, code, tc.want)
			}
		}
	})

	t.Run("a refused reload is logged", func(t *testing.T) {
		good, err := os.ReadFile(n1.d.Config)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(n1.d.Config, append(good, []byte("bogus_key: 1\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(n1.d.Config, good, 0o600)
		code, body := curlReload(t, n1.d)
		if code != 400 {
			t.Errorf("reload of a bad file: HTTP %d %v, want 400", code, body)
		}
		n1.d.WaitLog(t, "configuration not reloaded (API request)", 5*time.Second)
	})
}

// grpcCall runs grpcurl as the user: flags (transport, headers) and the
// address last in target, then the method with its JSON request.
func grpcCall(t *testing.T, n *gnode, groups, bin string, target []string, method, req string) (string, bool) {
	t.Helper()
	args := append([]string{"-max-time", "10"}, target[:len(target)-1]...)
	args = append(args, "-d", req, target[len(target)-1], "vipd.v1.VipdService/"+method)
	return asUser(t, n.node, groups, bin, args...)
}
