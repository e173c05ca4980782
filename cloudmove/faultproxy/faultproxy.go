// Package faultproxy is an HTTP proxy for the EC2 Query API that sits in
// front of an endpoint (moto_server in tests and benchmarks), counts the
// calls by action, and injects latency, 500s, RequestLimitExceeded and
// connection resets (before the call reaches the endpoint, or after it
// has been made and its answer is lost).
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy did to a call.
type Fault int

// The faults.
const (
	None        Fault = iota
	Error500          // answered 500 InternalError, not forwarded
	Throttle          // answered 503 RequestLimitExceeded, not forwarded
	ResetBefore       // connection reset, not forwarded
	ResetAfter        // forwarded, then the connection reset instead of the answer
	Denied            // answered 403 UnauthorizedOperation, not forwarded
	DryRun            // answered DryRunOperation for a DryRun the endpoint ignores
	Exists            // answered 400 RouteAlreadyExists (RefuseExistingRoutes), not forwarded
)

func (f Fault) String() string {
	return [...]string{"none", "500", "throttle", "reset-before", "reset-after", "denied", "dry-run", "exists"}[f]
}

// Config says what to inject. Probabilities apply to each call
// independently, in the order of the fields.
type Config struct {
	// Latency is added to every call before anything else happens.
	Latency time.Duration
	// P500, PThrottle, PResetBefore and PResetAfter are the chances of
	// each fault.
	P500, PThrottle, PResetBefore, PResetAfter float64
	// Seed seeds the draws (0: fixed seed 1).
	Seed uint64
	// Deny lists actions answered with UnauthorizedOperation.
	Deny []string
	// EmulateDryRun lists actions whose DryRun requests the proxy answers
	// itself with DryRunOperation, because the endpoint would make the
	// call (moto ignores DryRun for CreateRoute and ReplaceRoute).
	EmulateDryRun []string
	// OnlyMutating limits the random faults to mutating calls.
	OnlyMutating bool
	// RefuseExistingRoutes answers a CreateRoute whose destination the
	// table already has with 400 RouteAlreadyExists, as EC2 does (moto
	// overwrites the route when the target is a network interface). The
	// proxy looks at the table with DescribeRouteTables first.
	RefuseExistingRoutes bool
}

// Call is one request the proxy saw.
type Call struct {
	Action string
	Params url.Values
	// DryRun is the request's DryRun flag.
	DryRun bool
	// Fault is what the proxy did.
	Fault Fault
	// Forwarded says the endpoint got the call.
	Forwarded bool
	// Status is the HTTP status the endpoint answered (0 if none).
	Status int
	// Start and End bound the call as the proxy saw it.
	Start, End time.Time
}

// Mutating reports whether an EC2 action changes something.
func Mutating(action string) bool {
	for _, p := range []string{"Assign", "Unassign", "Associate", "Disassociate", "Replace", "Create", "Delete",
		"Attach", "Detach", "Modify", "Allocate", "Release", "Run", "Terminate", "Stop", "Start"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// Proxy is a running proxy.
type Proxy struct {
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	client *http.Client

	mu    sync.Mutex
	cfg   Config
	rnd   *rand.Rand
	calls []Call
}

// New starts a proxy on a loopback port in front of target.
func New(target string, cfg Config) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: u, ln: ln, client: &http.Client{Timeout: 60 * time.Second}}
	p.Set(cfg)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy's endpoint.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// Set replaces the configuration.
func (p *Proxy) Set(cfg Config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seed := cfg.Seed
	if seed == 0 {
		seed = 1
	}
	p.cfg, p.rnd = cfg, rand.New(rand.NewPCG(seed, seed+1))
}

// Calls returns the calls seen so far.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// ClearCalls forgets the calls seen so far.
func (p *Proxy) ClearCalls() {
	p.mu.Lock()
	p.calls = nil
	p.mu.Unlock()
}

// Count returns how many calls match: forwarded ones only if forwarded,
// DryRun calls never, of the given action or (action "") of any
// mutating action.
func (p *Proxy) Count(action string, forwarded bool) int {
	n := 0
	for _, c := range p.Calls() {
		if c.DryRun || (forwarded && !c.Forwarded) {
			continue
		}
		if (action == "" && Mutating(c.Action)) || c.Action == action {
			n++
		}
	}
	return n
}

func (p *Proxy) draw(action string, dry bool) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cfg
	if slices.Contains(c.Deny, action) {
		return Denied
	}
	if dry && slices.Contains(c.EmulateDryRun, action) {
		return DryRun
	}
	if c.OnlyMutating && !Mutating(action) {
		return None
	}
	x := p.rnd.Float64()
	for _, f := range []struct {
		p float64
		f Fault
	}{{c.P500, Error500}, {c.PThrottle, Throttle}, {c.PResetBefore, ResetBefore}, {c.PResetAfter, ResetAfter}} {
		if x < f.p {
			return f.f
		}
		x -= f.p
	}
	return None
}

func (p *Proxy) latency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Latency
}

// ServeHTTP handles one call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	c := Call{Action: form.Get("Action"), Params: form, DryRun: strings.EqualFold(form.Get("DryRun"), "true"), Start: start}
	defer func() {
		c.End = time.Now()
		p.mu.Lock()
		p.calls = append(p.calls, c)
		p.mu.Unlock()
	}()
	if d := p.latency(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	c.Fault = p.draw(c.Action, c.DryRun)
	if c.Fault == None && c.Action == "CreateRoute" && !c.DryRun && p.refuseRoutes() && p.routeExists(r, form) {
		c.Fault = Exists
	}
	switch c.Fault {
	case Exists:
		ec2Error(w, http.StatusBadRequest, "RouteAlreadyExists", "The route identified by "+form.Get("DestinationCidrBlock")+" already exists (emulated)")
		return
	case Error500:
		ec2Error(w, http.StatusInternalServerError, "InternalError", "An internal error has occurred (injected)")
		return
	case Throttle:
		ec2Error(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded (injected)")
		return
	case Denied:
		ec2Error(w, http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation (injected)")
		return
	case DryRun:
		ec2Error(w, http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set (emulated)")
		return
	case ResetBefore:
		reset(w)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target.JoinPath(r.URL.Path).String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.URL.RawQuery = r.URL.RawQuery
	for k, v := range r.Header {
		out.Header[k] = v
	}
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	c.Forwarded, c.Status = true, resp.StatusCode
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if c.Fault == ResetAfter {
		reset(w)
		return
	}
	for k, v := range resp.Header {
		if k != "Content-Length" && k != "Connection" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
}

func (p *Proxy) refuseRoutes() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.RefuseExistingRoutes
}

// routeExists asks the endpoint whether the table of a CreateRoute call
// already routes its destination.
func (p *Proxy) routeExists(r *http.Request, form url.Values) bool {
	dest := form.Get("DestinationCidrBlock")
	if dest == "" {
		dest = form.Get("DestinationIpv6CidrBlock")
	}
	q := url.Values{"Action": {"DescribeRouteTables"}, "Version": {form.Get("Version")}, "RouteTableId.1": {form.Get("RouteTableId")}}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.target.JoinPath(r.URL.Path).String(), strings.NewReader(q.Encode()))
	if err != nil {
		return false
	}
	for k, v := range r.Header {
		if k != "Content-Length" {
			req.Header[k] = v // moto takes the region from the credential scope
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	return strings.Contains(string(b), "CidrBlock>"+dest+"</")
}

// reset aborts the connection with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>faultproxy</RequestID></Response>`,
		code, msg)
}
