package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// Commands take JSON only (415 otherwise) and none comes from a web page
// of another origin (403), on every listener, the trusted socket included;
// reads from a page are not refused (the browser keeps their answer from
// the page: vipd sends no CORS header).
func TestCommandsRefuseBrowsersAndOtherTypes(t *testing.T) {
	f := newFake()
	r := start(t, localAPI(t), f, Options{})
	sock, base := unixHTTP(r.socket), "http://vipd"
	const path = "/v1/instances/VI_1:failover"
	tests := []struct {
		name   string
		header []string
		status int
		msg    string
	}{
		{"text/plain", []string{"Content-Type", "text/plain"}, 415, `not "text/plain"`},
		{"a form", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "x-www-form-urlencoded"},
		{"multipart", []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "multipart/form-data"},
		{"no type", []string{"Content-Type", ""}, 415, `not "none"`},
		{"JSON with a charset", []string{"Content-Type", "application/json; charset=utf-8"}, 200, ""},
		{"a page of another site", []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-origin request refused"},
		{"a page of a sibling site", []string{"Sec-Fetch-Site", "same-site"}, 403, "cross-origin request refused"},
		{"an old browser on another origin", []string{"Origin", "http://evil.example"}, 403, "cross-origin request refused"},
		{"Origin of another port", []string{"Origin", "http://vipd:8080"}, 403, "cross-origin request refused"},
		{"the same origin", []string{"Origin", "http://vipd", "Sec-Fetch-Site", "same-origin"}, 200, ""},
		{"typed by the user", []string{"Sec-Fetch-Site", "none"}, 200, ""},
	}
	accepted := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, sock, "POST", base+path, `{"targetNode":"n2"}`, tc.header...)
			msg, _ := body["message"].(string)
			if code != tc.status || !strings.Contains(msg, tc.msg) {
				t.Errorf("POST %s with %q = %d %v, want %d with %q", path, tc.header, code, body, tc.status, tc.msg)
			}
			if code == 200 {
				accepted++
			}
		})
	}
	if n := f.failoverCount(); n != accepted {
		t.Errorf("the service saw %d failovers, %d were accepted", n, accepted)
	}
	// Also with the empty body a browser sends without asking (reload takes
	// no field).
	if code, body := call(t, sock, "POST", base+"/v1/reload", "", "Content-Type", "text/plain"); code != 415 {
		t.Errorf("POST /v1/reload as text/plain = %d %v, want 415", code, body)
	}
	// Reads from a page are not commands.
	if code, body := call(t, plainHTTP, "GET", "http://"+r.tcp+"/v1/status", "", "Sec-Fetch-Site", "cross-site"); code != 200 {
		t.Errorf("cross-site GET = %d %v, want 200", code, body)
	}
	// gRPC requests are POSTs too: a browser's is refused before gRPC.
	req, _ := http.NewRequest("POST", base+"/vipd.v1.VipdService/Reload", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := sock.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("browser gRPC POST = %d, want 403", resp.StatusCode)
	}
}

// A client that sends its headers or its body a byte at a time is cut off
// after HeaderTimeout or BodyTimeout, and its command never runs; a Watch
// stream, whose request ended, lives on past both.
func TestSlowClientsCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	f := newFake()
	r := start(t, localAPI(t), f, Options{Limits: Limits{HeaderTimeout: timeout, BodyTimeout: timeout}})

	// trickle writes what, then a byte every 20 ms until the connection
	// breaks, and returns what the server sent and how long it took the
	// server to close.
	trickle := func(network, addr, what string) (string, time.Duration) {
		t.Helper()
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		begin := time.Now()
		if _, err := io.WriteString(c, what); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}
		}()
		// Bound the test, not the server: 10 s is far beyond the limit.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, err := io.ReadAll(c)
		took := time.Since(begin)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server kept a slow client for 10 s (read %q)", out)
		}
		return string(out), took
	}

	_, took := trickle("tcp", r.tcp, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
	// The server's clock starts a little before the test's: a tenth of
	// slack below.
	const least = timeout * 9 / 10
	if took < least || took > timeout+3*time.Second {
		t.Errorf("slow headers: connection closed after %v, want about %v", took, timeout)
	}
	out, took := trickle("unix", r.socket, "POST /v1/instances/VI_1:failover HTTP/1.1\r\nHost: vipd\r\n"+
		"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"targetNode\":\"")
	if took < least || took > timeout+3*time.Second || !strings.HasPrefix(out, "HTTP/1.1 408 ") {
		t.Errorf("slow body: connection closed after %v with %q, want a 408 after about %v", took, out, timeout)
	}
	// The same over HTTP/2 (h2c, as gRPC clients speak it): the stream's
	// body has BodyTimeout too.
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &p,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", r.socket)
		}}}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		for {
			if _, err := pw.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	req, _ := http.NewRequest("POST", "http://vipd/v1/instances/VI_1:failover", pr)
	req.Header.Set("Content-Type", "application/json")
	begin := time.Now()
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatalf("HTTP/2 slow body: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(begin); resp.ProtoMajor != 2 || resp.StatusCode != 408 || took < least || took > timeout+3*time.Second {
		t.Errorf("HTTP/2 slow body: HTTP/%d %d after %v, want HTTP/2 408 after about %v", resp.ProtoMajor, resp.StatusCode, took, timeout)
	}
	if n := f.failoverCount(); n != 0 {
		t.Errorf("a command whose body never came ran %d times", n)
	}

	// Watch over HTTP/1.1 and over gRPC (HTTP/2) outlives the timeouts:
	// the last event, sent well after them, arrives.
	resp, err = plainHTTP.Get("http://" + r.tcp + "/v1/watch?instance=late")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for i := 0; i < 2 && lines.Scan(); i++ {
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := vipdv1.NewVipdServiceClient(dialTCP(t, r.tcp)).Watch(ctx, &vipdv1.WatchRequest{Instance: "late"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("gRPC watch: %v", err)
		}
	}
	time.Sleep(3 * timeout) // past both timeouts; what follows must still work
	close(f.late)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"name":"late"`) {
		t.Errorf("HTTP/1.1 watch after %v: %q, %v", 3*timeout, lines.Text(), lines.Err())
	}
	if ev, err := stream.Recv(); err != nil || ev.GetInstance().GetName() != "late" {
		t.Errorf("gRPC watch after %v: %v, %v", 3*timeout, ev, err)
	}
}

// Each listener serves at most MaxConns connections: the next one waits
// (it is not refused) until one closes, and a full TCP port leaves the
// unix socket free for commands.
func TestConnectionLimit(t *testing.T) {
	const max = 2
	f := newFake()
	r := start(t, localAPI(t), f, Options{Limits: Limits{MaxConns: max}})

	// max Watch streams hold max connections.
	var cancels []context.CancelFunc
	for i := 0; i < max; i++ {
		ctx, cancel := context.WithCancel(t.Context())
		cancels = append(cancels, cancel)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+r.tcp+"/v1/watch", nil)
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		defer resp.Body.Close()
		if !bufio.NewScanner(resp.Body).Scan() {
			t.Fatalf("watch %d sent nothing", i)
		}
	}

	// One more: the kernel completes the handshake, vipd does not accept.
	c, err := net.Dial("tcp", r.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server is serving (a command over the socket, sent after the
	// request above, is answered) while the extra connection waits.
	if _, err := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket)).Failover(t.Context(), &vipdv1.FailoverRequest{Instance: "VI_1"}); err != nil {
		t.Fatalf("command over the socket while TCP is full: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("connection %d was served while %d were open (read %d bytes, %v)", max+1, max, n, err)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("connection %d: %v, want it to wait", max+1, err)
	}

	// A watcher leaves: the waiting connection is served.
	cancels[0]()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Errorf("connection %d after one closed: %q, %v", max+1, line, err)
	}
}
