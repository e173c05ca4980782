package checks

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func httpCheck(url string) *Config {
	return &Config{Name: "http-test", Kind: KindHTTP, HTTP: &HTTPConfig{URL: url}}
}

// healthServer serves the paths the HTTP tests probe and counts new
// connections and hits on the redirect target.
type healthServer struct {
	conns       atomic.Int64
	targetHits  atomic.Int64
	releaseHung chan struct{}
}

func (h *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ok":
		w.Write([]byte("status: all good\n"))
	case "/fail":
		http.Error(w, "backend down", http.StatusServiceUnavailable)
	case "/redirect":
		http.Redirect(w, r, "/target", http.StatusFound)
	case "/target":
		h.targetHits.Add(1)
		w.Write([]byte("target"))
	case "/created":
		w.WriteHeader(http.StatusCreated)
	case "/big":
		// The marker lies past MaxHTTPBody: a bounded read never sees it.
		w.Write([]byte(strings.Repeat("x", MaxHTTPBody+10) + "MARKER"))
	case "/hang":
		select {
		case <-r.Context().Done():
		case <-h.releaseHung:
		}
	default:
		http.NotFound(w, r)
	}
}

func newHealthServer(t *testing.T, tls bool) (*httptest.Server, *healthServer) {
	t.Helper()
	h := &healthServer{releaseHung: make(chan struct{})}
	s := httptest.NewUnstartedServer(h)
	// The client refusing the test certificate is expected; keep the log
	// quiet about it.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			h.conns.Add(1)
		}
	}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(func() {
		close(h.releaseHung)
		s.Close()
	})
	return s, h
}

func TestHTTPProbe(t *testing.T) {
	srv, h := newHealthServer(t, false)
	tlsSrv, _ := newHealthServer(t, true)
	tests := []struct {
		name     string
		url      string
		expect   []int
		body     string
		insecure bool
		ok       bool
		errHas   string
		outHave  string
	}{
		{name: "200", url: srv.URL + "/ok", ok: true, outHave: "200 OK\nstatus: all good"},
		{name: "503", url: srv.URL + "/fail", errHas: "503"},
		{name: "404", url: srv.URL + "/nothing", errHas: "404"},
		{name: "redirect accepted by default, not followed", url: srv.URL + "/redirect", ok: true, outHave: "302"},
		{name: "redirect refused when only 200 expected", url: srv.URL + "/redirect", expect: []int{200}, errHas: "302"},
		{name: "201 in an explicit list", url: srv.URL + "/created", expect: []int{200, 201}, ok: true},
		{name: "200 not in an explicit list", url: srv.URL + "/ok", expect: []int{204}, errHas: "200"},
		{name: "body matches", url: srv.URL + "/ok", body: `all\s+good`, ok: true},
		{name: "body does not match", url: srv.URL + "/ok", body: `^degraded`, errHas: "does not match"},
		{name: "body is bounded", url: srv.URL + "/big", body: "MARKER", errHas: "does not match"},
		{name: "unknown TLS certificate", url: tlsSrv.URL + "/ok", errHas: "certificate"},
		{name: "TLS without verification", url: tlsSrv.URL + "/ok", insecure: true, ok: true},
		{name: "nothing listening", url: "http://" + closedPort(t) + "/ok", errHas: "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := httpCheck(tc.url)
			c.HTTP.ExpectStatus, c.HTTP.BodyRegexp, c.HTTP.InsecureSkipVerify = tc.expect, tc.body, tc.insecure
			r := probe(t, c, 5*time.Second)
			wantResult(t, r, tc.ok, tc.errHas)
			if !strings.Contains(r.Output, tc.outHave) {
				t.Errorf("output %q, want it to contain %q", r.Output, tc.outHave)
			}
			if len(r.Output) > MaxOutput {
				t.Errorf("output of %d bytes exceeds MaxOutput", len(r.Output))
			}
		})
	}
	if n := h.targetHits.Load(); n != 0 {
		t.Errorf("the redirect target was fetched %d times: redirects must not be followed", n)
	}
}

func TestHTTPProbeFreshConnections(t *testing.T) {
	srv, h := newHealthServer(t, false)
	p, err := NewProber(httpCheck(srv.URL+"/ok"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const runs = 3
	for range runs {
		wantResult(t, p.Probe(t.Context()), true, "")
	}
	if n := h.conns.Load(); n != runs {
		t.Errorf("%d probes opened %d connections, want one each", runs, n)
	}
}

func TestHTTPProbeTimeout(t *testing.T) {
	srv, _ := newHealthServer(t, false)
	start := time.Now()
	r := probe(t, httpCheck(srv.URL+"/hang"), 300*time.Millisecond)
	wantResult(t, r, false, "timed out")
	if !errors.Is(r.Err, ErrTimeout) {
		t.Errorf("err %v does not wrap ErrTimeout", r.Err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("probe took %s, want about the 300ms timeout", el)
	}
}

func TestHTTPConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*HTTPConfig)
		field string
	}{
		{name: "empty URL", mod: func(h *HTTPConfig) { h.URL = "" }, field: "http.url"},
		{name: "other scheme", mod: func(h *HTTPConfig) { h.URL = "ftp://127.0.0.1/" }, field: "http.url"},
		{name: "no host", mod: func(h *HTTPConfig) { h.URL = "http:///health" }, field: "http.url"},
		{name: "unparsable URL", mod: func(h *HTTPConfig) { h.URL = "http://[::1/" }, field: "http.url"},
		{name: "status too low", mod: func(h *HTTPConfig) { h.ExpectStatus = []int{200, 99} }, field: "http.expect_status"},
		{name: "status too high", mod: func(h *HTTPConfig) { h.ExpectStatus = []int{600} }, field: "http.expect_status"},
		{name: "bad regexp", mod: func(h *HTTPConfig) { h.BodyRegexp = "(" }, field: "http.body_regexp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := httpCheck("http://127.0.0.1:8080/health")
			tc.mod(c.HTTP)
			wantConfigError(t, c, tc.field)
		})
	}
	wantConfigError(t, &Config{Name: "h", Kind: KindHTTP}, "http")
}
