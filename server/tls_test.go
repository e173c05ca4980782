package server

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

func tlsClientConfig(t *testing.T, p pki, withCert bool) *tls.Config {
	t.Helper()
	pool, err := config.LoadCertPool(p.ca)
	if err != nil {
		t.Fatal(err)
	}
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if withCert {
		pair, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

// TLS with client certificates: gRPC (h2 by ALPN) and HTTP/1.1 and HTTP/2
// on one port; a client without a certificate is refused in the
// handshake; a renewed certificate is served without a restart.
func TestTLS(t *testing.T) {
	p := newPKI(t)
	cfg := localAPI(t)
	cfg.TLS = &config.APITLS{Cert: p.cert, Key: p.key, ClientCA: p.ca}
	cfg.TokenFile = writeToken(t, t.TempDir(), testToken)
	r := start(t, cfg, newFake(), Options{})

	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+testToken)
	conn := dialTCP(t, r.tcp, grpc.WithTransportCredentials(credentials.NewTLS(tlsClientConfig(t, p, true))))
	if _, err := vipdv1.NewVipdServiceClient(conn).Failover(ctx, &vipdv1.FailoverRequest{Instance: "VI_1"}); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}

	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: tlsClientConfig(t, p, true), ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
		}
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		req, _ := http.NewRequest("GET", "https://"+r.tcp+"/v1/members", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("HTTPS (h2 %v): %v", h2, err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: 1, true: 2}[h2]; resp.StatusCode != 200 || resp.ProtoMajor != want {
			t.Errorf("HTTPS (h2 %v): %s over %s", h2, resp.Status, resp.Proto)
		}
		tr.CloseIdleConnections()
	}

	// Without a client certificate the handshake fails.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsClientConfig(t, p, false)}, Timeout: 20 * time.Second}
	if resp, err := noCert.Get("https://" + r.tcp + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("HTTPS without a client certificate: %s", resp.Status)
	}
	// Plain HTTP to the TLS port is refused too.
	if resp, err := plainHTTP.Get("http://" + r.tcp + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP to the TLS port: %s", resp.Status)
		}
		resp.Body.Close()
	}

	// Renew the server certificate in place: the next handshake shows it.
	ca, err := os.ReadFile(p.ca)
	if err != nil {
		t.Fatal(err)
	}
	renewed := renew(t, p)
	later := time.Now().Add(time.Minute)
	for _, f := range []string{p.cert, p.key} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	cc := tlsClientConfig(t, p, true)
	cc.RootCAs = x509.NewCertPool()
	cc.RootCAs.AppendCertsFromPEM(ca)
	c, err := tls.Dial("tcp", r.tcp, cc)
	if err != nil {
		t.Fatalf("handshake after renewal: %v", err)
	}
	got := c.ConnectionState().PeerCertificates[0].SerialNumber
	c.Close()
	if got.Cmp(renewed) != 0 {
		t.Errorf("served certificate serial %v after renewal, want %v", got, renewed)
	}
}

// renew writes a new server certificate and key from the test CA over the
// old files and returns the new serial number.
func renew(t *testing.T, p pki) *big.Int {
	t.Helper()
	srv := issueServer(t, p.caIssued)
	writeFile(t, p.cert, srv.certPEM, 0o644)
	writeFile(t, p.key, srv.keyPEM, 0o600)
	return srv.cert.SerialNumber
}
