package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// MaxHTTPBody bounds how much of a response body an HTTP check reads and
// matches BodyRegexp against: a health endpoint that answers more is cut
// there.
const MaxHTTPBody = 64 << 10

// httpProber GETs a URL. Each probe is a fresh connection (keep-alives
// off), so a check sees what a new client would, not a pooled connection to
// a backend that is already gone. No proxy from the environment is used.
//
// Redirects are not followed: a 3xx answer is judged by its own status, so
// the default 200-399 accepts it and an ExpectStatus without 3xx codes
// refuses it. Following them would let a health endpoint send the probe to
// any host; to check the final page, configure its URL.
type httpProber struct {
	url    string
	expect []int // empty: 200-399
	body   *regexp.Regexp
	client *http.Client
}

// HTTPConfig is healthy when a GET of URL answers with an expected status
// and, if set, a body matching BodyRegexp.
type HTTPConfig struct {
	// URL is the http:// or https:// address to GET.
	URL string `yaml:"url"`
	// ExpectStatus lists the acceptable status codes; empty means 200-399.
	ExpectStatus []int `yaml:"expect_status,omitempty" vipd:"range=100..599"`
	// BodyRegexp, when not empty, must match the (bounded) body.
	BodyRegexp string `yaml:"body_regexp,omitempty"`
	// InsecureSkipVerify disables TLS certificate checks (self-signed
	// health endpoints).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
}

var httpKind = kindDef{
	kind:     KindHTTP,
	settings: func(c *Config) bool { return c.HTTP != nil },
	validate: func(c *Config, fail func(field, msg string)) {
		h := c.HTTP
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			fail("http.url", "is required")
		case err != nil:
			fail("http.url", fmt.Sprintf("%q is not a URL: %v", h.URL, err))
		case u.Scheme != "http" && u.Scheme != "https":
			fail("http.url", fmt.Sprintf("%q is not an http:// or https:// URL", h.URL))
		case u.Host == "" || u.Hostname() == "":
			fail("http.url", fmt.Sprintf("%q has no host", h.URL))
		}
		for _, s := range h.ExpectStatus {
			if s < 100 || s > 599 {
				fail("http.expect_status", fmt.Sprintf("%d is not an HTTP status (100-599)", s))
			}
		}
		if _, err := regexp.Compile(h.BodyRegexp); err != nil {
			fail("http.body_regexp", fmt.Sprintf("%q does not compile: %v", h.BodyRegexp, err))
		}
	},
	same: func(a, b *Config) bool {
		x, y := a.HTTP, b.HTTP
		return x.URL == y.URL && slices.Equal(x.ExpectStatus, y.ExpectStatus) &&
			x.BodyRegexp == y.BodyRegexp && x.InsecureSkipVerify == y.InsecureSkipVerify
	},
	prober: func(c *Config, _ Options) (Prober, error) { return newHTTPProber(c), nil },
}

// newHTTPProber builds the prober of settings that passed validation.
func newHTTPProber(c *Config) *httpProber {
	h := c.HTTP
	u, _ := url.Parse(h.URL)
	p := &httpProber{url: u.String(), expect: slices.Clone(h.ExpectStatus)}
	if h.BodyRegexp != "" {
		p.body = regexp.MustCompile(h.BodyRegexp)
	}
	tr := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		// The probe's context bounds the whole exchange; these only stop
		// a misbehaving server from making the transport buffer much.
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      false,
	}
	if h.InsecureSkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	p.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return p
}

// Probe makes one GET.
func (p *httpProber) Probe(ctx context.Context) Result {
	start := time.Now()
	res := p.get(ctx)
	res.Duration = time.Since(start)
	return res
}

func (p *httpProber) get(ctx context.Context) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("User-Agent", "vipd-check")
	resp, err := p.client.Do(req)
	if err != nil {
		return Result{Err: probeErr(ctx, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHTTPBody))
	if err != nil {
		return Result{Output: resp.Status, Err: probeErr(ctx, fmt.Errorf("reading body: %w", err))}
	}
	res := Result{Output: boundHead(resp.Status + "\n" + string(body))}
	if !p.statusOK(resp.StatusCode) {
		res.Err = fmt.Errorf("status %s not expected", resp.Status)
		return res
	}
	if p.body != nil && !p.body.Match(body) {
		res.Err = fmt.Errorf("body does not match %q", p.body)
		return res
	}
	res.OK = true
	return res
}

func (p *httpProber) statusOK(code int) bool {
	if len(p.expect) == 0 {
		return code >= 200 && code <= 399
	}
	return slices.Contains(p.expect, code)
}
