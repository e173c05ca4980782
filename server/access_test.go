package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// GET /access answers, on each listener and for each credential, what the
// same credential gets from a read and a command, without running either.
func TestAccess(t *testing.T) {
	type want struct{ read, write bool }
	cases := []struct {
		name       string
		fullToken  bool
		readToken  bool
		publicRead bool
		authz      string
		tcp, unix  want
	}{
		{"defaults, no token", false, false, false, "", want{true, false}, want{true, true}},
		{"defaults, a token sent anyway", false, false, false, "Bearer " + testToken, want{true, false}, want{true, true}},
		{"tokens, none sent", true, true, false, "", want{false, false}, want{true, true}},
		{"tokens, read-only token", true, true, false, "Bearer " + readToken, want{true, false}, want{true, true}},
		{"tokens, full token", true, true, false, "Bearer " + testToken, want{true, true}, want{true, true}},
		{"tokens, wrong token", true, true, false, "Bearer " + otherToken, want{false, false}, want{true, true}},
		{"tokens, malformed header", true, true, false, "Basic dXNlcjpwYXNz", want{false, false}, want{true, true}},
		{"public read, none sent", true, false, true, "", want{true, false}, want{true, true}},
		{"public read, full token", true, false, true, "Bearer " + testToken, want{true, true}, want{true, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := localAPI(t)
			if tc.fullToken {
				cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
			}
			if tc.readToken {
				cfg.ReadTokenFile = writeToken(t, t.TempDir(), readToken)
			}
			cfg.PublicRead = tc.publicRead
			r := start(t, cfg, newFake(), Options{})
			var hdr []string
			if tc.authz != "" {
				hdr = []string{"Authorization", tc.authz}
			}
			for _, l := range []struct {
				name string
				c    *http.Client
				base string
				want want
			}{{"tcp", plainHTTP, "http://" + r.tcp, tc.tcp}, {"unix", unixHTTP(r.socket), "http://vipd", tc.unix}} {
				code, got := call(t, l.c, "GET", l.base+AccessPath, "", hdr...)
				if code != 200 || got["read"] != l.want.read || got["write"] != l.want.write {
					t.Errorf("%s: GET %s = %d %v, want read %v write %v", l.name, AccessPath, code, got, l.want.read, l.want.write)
				}
				if !l.want.write && got["writeError"] == nil || !l.want.read && got["readError"] == nil {
					t.Errorf("%s: a refusal without its reason: %v", l.name, got)
				}
				// What it says is what the calls get.
				readCode, _ := call(t, l.c, "GET", l.base+"/v1/status", "", hdr...)
				writeCode, _ := call(t, l.c, "POST", l.base+"/v1/instances/VI_1:failover", "{}", hdr...)
				if (readCode == 200) != l.want.read || (writeCode == 200) != l.want.write {
					t.Errorf("%s: /v1/status %d, failover %d; /access said read %v write %v", l.name, readCode, writeCode, got["read"], got["write"])
				}
				if code, _ := call(t, l.c, "POST", l.base+AccessPath, "{}", hdr...); code != http.StatusMethodNotAllowed {
					t.Errorf("%s: POST %s = %d, want 405", l.name, AccessPath, code)
				}
			}
		})
	}
}

// The status page's files are served to anyone who reaches the port (they
// hold no data) with headers that keep the page to its own origin; its
// event stream is a read under the token rules, outlives the body read
// timeout, and ends with an "end" event at shutdown.
func TestStatusPage(t *testing.T) {
	cfg := localAPI(t)
	cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
	r := start(t, cfg, newFake(), Options{Limits: Limits{BodyTimeout: 300 * time.Millisecond}})
	base := "http://" + r.tcp

	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := plainHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, f := range []struct{ path, ctype, contains string }{
		{"/ui", "text/html", `src="/ui/ui.js"`},
		{"/ui/", "text/html", `id="nodes"`},
		{"/ui/ui.js", "text/javascript", "/ui/events"},
		{"/ui/ui.css", "text/css", ".timeline"},
	} {
		resp, body := get(f.path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), f.ctype) || !strings.Contains(body, f.contains) {
			t.Errorf("GET %s: %d %s, body has %q: %v", f.path, resp.StatusCode, resp.Header.Get("Content-Type"), f.contains, strings.Contains(body, f.contains))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: CSP %q, X-Frame-Options %q", f.path, csp, resp.Header.Get("X-Frame-Options"))
		}
	}
	for _, p := range []string{"/ui/nope.js", "/ui/static/ui.js", "/ui/ui.go", "/ui/a/b.css"} {
		if resp, _ := get(p); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if code, _ := call(t, plainHTTP, "POST", base+"/ui/ui.js", "{}"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/ui.js: %d, want 405", code)
	}

	// Reads are private here: the stream needs a token.
	if resp, _ := get("/ui/events"); resp.StatusCode != 401 {
		t.Errorf("GET /ui/events without token: %d, want 401", resp.StatusCode)
	}
	head, _ := http.NewRequest("HEAD", base+"/ui/events", nil)
	head.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := plainHTTP.Do(head); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD /ui/events: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", base+"/ui/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := plainHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /ui/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := bufio.NewReader(resp.Body)
	next := func() (string, map[string]any) {
		t.Helper()
		var event, data string
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("event stream: %v (after event %q data %q)", err, event, data)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					t.Fatalf("event %s: data %q: %v", event, data, err)
				}
				return event, m
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data += strings.TrimPrefix(line, "data: ")
			}
		}
	}
	if ev, _ := next(); ev != "open" {
		t.Fatalf("first event %q, want open", ev)
	}
	for _, want := range []string{"INSTANCE_STATE_BACKUP", "INSTANCE_STATE_MASTER"} {
		ev, m := next()
		inst, _ := m["instance"].(map[string]any)
		if ev != "watch" || m["node"] != "n1" || inst["to"] != want {
			t.Fatalf("event %s %v, want a watch event of n1 to %s", ev, m, want)
		}
	}
	// Past the body timeout (which bounds a request's body, not a stream),
	// the stream is still open: at shutdown it says why it ends.
	time.Sleep(3 * 300 * time.Millisecond)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if ev, m := next(); ev != "end" || m["error"] == nil {
		t.Errorf("last event %s %v, want end with an error", ev, m)
	}
}
