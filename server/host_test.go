package server

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/vipd/vipd/internal/lab"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestHostCheck(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:9746", true},
		{"127.0.0.1", true},
		{"[::1]:9746", true},
		{"::1", true},
		{"198.51.100.7:9746", true}, // an address: nothing was resolved
		{"localhost:9746", true},
		{"LOCALHOST.:9746", true},
		{"vipd.localhost:9746", true},
		{"", true},
		{"attacker.example:9746", false},
		{"attacker.example", false},
		{"localhost.attacker.example:9746", false},
		{"127.0.0.1.nip.example:9746", false},
	} {
		err := hostCheck(tc.host)
		if got := err == nil; got != tc.ok {
			t.Errorf("hostCheck(%q) = %v, want ok %v", tc.host, err, tc.ok)
		}
		if err != nil && status.Code(err) != codes.PermissionDenied {
			t.Errorf("hostCheck(%q): code %v, want PermissionDenied", tc.host, status.Code(err))
		}
	}
}

// TestDNSRebindingRefused: a page that rebinds its own name to 127.0.0.1
// sends requests with that name as Host; the loopback listener refuses
// them on every route (open reads included), while the clients that name
// it by address or as localhost, and the unix socket, are served.
func TestDNSRebindingRefused(t *testing.T) {
	r := start(t, localAPI(t), newFake(), Options{})
	get := func(c *http.Client, url, host string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	port := r.tcp[strings.LastIndex(r.tcp, ":"):]
	for _, path := range []string{"/v1/status", "/metrics", "/healthz", "/ui/"} {
		code, body := get(plainHTTP, "http://"+r.tcp+path, "rebound.example"+port)
		if code != http.StatusForbidden || !strings.Contains(body, "DNS rebinding") {
			t.Errorf("GET %s with Host rebound.example: %d %s, want 403 naming DNS rebinding", path, code, body)
		}
	}
	for _, host := range []string{"", "localhost" + port} {
		if code, body := get(plainHTTP, "http://"+r.tcp+"/v1/status", host); code != http.StatusOK {
			t.Errorf("GET /v1/status with Host %q: %d %s, want 200", host, code, body)
		}
	}
	// The socket is not a browser's to reach: any Host passes there.
	if code, body := get(unixHTTP(r.socket), "http://rebound.example/v1/status", ""); code != http.StatusOK {
		t.Errorf("GET /v1/status on the socket with Host rebound.example: %d %s, want 200", code, body)
	}

	lab.RequireProgram(t, "curl")
	out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
		"-H", "Host: rebound.example"+port, "http://"+r.tcp+"/v1/status").Output()
	if err != nil || string(out) != "403" {
		t.Errorf("curl with Host rebound.example: %q %v, want 403", out, err)
	}
	out, err = exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://"+r.tcp+"/v1/status").Output()
	if err != nil || string(out) != "200" {
		t.Errorf("curl by address: %q %v, want 200", out, err)
	}
}
