package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeService is a VipdServiceServer with canned answers that records the
// commands it gets. Watch sends the canned events, then ends if the
// request's instance is "end", sends one more when late is closed if it is
// "late", else waits for the call to be cancelled.
type fakeService struct {
	vipdv1.UnimplementedVipdServiceServer

	mu        sync.Mutex
	failovers []*vipdv1.FailoverRequest
	orders    []*vipdv1.SetOrderRequest
	watching  chan struct{} // closed (once) when a Watch call has sent its events
	once      sync.Once
	late      chan struct{} // closed by a test: "late" watches send their last event
}

func newFake() *fakeService {
	return &fakeService{watching: make(chan struct{}), late: make(chan struct{})}
}

var fakeTime = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func (f *fakeService) GetStatus(context.Context, *vipdv1.GetStatusRequest) (*vipdv1.GetStatusResponse, error) {
	return &vipdv1.GetStatusResponse{
		Node: "n1", Version: "test",
		Instances: []*vipdv1.Instance{{
			Name: "VI_1", Vrid: 51, Family: vipdv1.AddressFamily_ADDRESS_FAMILY_IPV4, Interface: "eth0",
			State: vipdv1.InstanceState_INSTANCE_STATE_MASTER, BasePriority: 150, EffectivePriority: 150,
			MasterAddress: "198.51.100.1", Vips: []string{"198.51.100.100/24"}, Since: timestamppb.New(fakeTime),
		}},
	}, nil
}

func (f *fakeService) ListMembers(context.Context, *vipdv1.ListMembersRequest) (*vipdv1.ListMembersResponse, error) {
	return &vipdv1.ListMembersResponse{Members: []*vipdv1.Member{
		{Name: "n1", Address: "198.51.100.1:7946", Status: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE},
		{Name: "n2", Address: "198.51.100.2:7946", Status: vipdv1.MemberStatus_MEMBER_STATUS_SUSPECT},
	}}, nil
}

func (f *fakeService) Watch(req *vipdv1.WatchRequest, st vipdv1.VipdService_WatchServer) error {
	for _, to := range []vipdv1.InstanceState{vipdv1.InstanceState_INSTANCE_STATE_BACKUP, vipdv1.InstanceState_INSTANCE_STATE_MASTER} {
		err := st.Send(&vipdv1.WatchResponse{
			Time: timestamppb.New(fakeTime), Node: "n1",
			Event: &vipdv1.WatchResponse_Instance{Instance: &vipdv1.InstanceEvent{Name: "VI_1", Vrid: 51, To: to}},
		})
		if err != nil {
			return err
		}
	}
	f.once.Do(func() { close(f.watching) })
	switch req.GetInstance() {
	case "end":
		return nil
	case "late":
		select {
		case <-f.late:
			return st.Send(&vipdv1.WatchResponse{
				Time: timestamppb.New(fakeTime), Node: "n1",
				Event: &vipdv1.WatchResponse_Instance{Instance: &vipdv1.InstanceEvent{Name: "late", Vrid: 51}},
			})
		case <-st.Context().Done():
			return st.Context().Err()
		}
	}
	<-st.Context().Done()
	return st.Context().Err()
}

func (f *fakeService) Failover(_ context.Context, req *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	switch req.GetInstance() {
	case "boom":
		panic("injected bug") // what recovery is for
	case "VI_1":
		f.mu.Lock()
		f.failovers = append(f.failovers, req)
		f.mu.Unlock()
		return &vipdv1.FailoverResponse{Node: "n1", PreviousMaster: "n1"}, nil
	}
	return nil, status.Errorf(codes.NotFound, "no instance %q", req.GetInstance())
}

func (f *fakeService) SetMaintenance(_ context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	return &vipdv1.SetMaintenanceResponse{Node: req.GetNode(), Enabled: req.GetEnabled(), HandedOver: []string{"VI_1"}}, nil
}

func (f *fakeService) SetOrder(_ context.Context, req *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	f.mu.Lock()
	f.orders = append(f.orders, req)
	f.mu.Unlock()
	if v := req.GetExpectedVersion(); v != 0 && v != 7 {
		return nil, status.Errorf(codes.FailedPrecondition, "order of %s is at version 7, not %d", req.GetInstance(), v)
	}
	return &vipdv1.SetOrderResponse{Order: &vipdv1.Order{Instance: req.GetInstance(), Nodes: req.GetNodes(), Version: 8, Origin: "n1"}}, nil
}

func (f *fakeService) failoverCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.failovers)
}

// pki is a test CA with a server certificate for 127.0.0.1, ::1 and
// localhost, and a client certificate, as PEM files in a directory.
type pki struct {
	dir, ca, cert, key, clientCert, clientKey string
	caIssued                                  *issued
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	p := pki{
		dir: dir, ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key"),
	}
	ca := issue(t, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "vipd test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	})
	p.caIssued = &ca
	writeFile(t, p.ca, ca.certPEM, 0o644)
	srv := issueServer(t, &ca)
	writeFile(t, p.cert, srv.certPEM, 0o644)
	writeFile(t, p.key, srv.keyPEM, 0o600)
	cli := issue(t, &ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: "vipd test client"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	writeFile(t, p.clientCert, cli.certPEM, 0o644)
	writeFile(t, p.clientKey, cli.keyPEM, 0o600)
	return p
}

// issueServer makes a server certificate for 127.0.0.1, ::1 and localhost.
func issueServer(t *testing.T, ca *issued) issued {
	return issue(t, ca, &x509.Certificate{
		Subject: pkix.Name{CommonName: "vipd test server"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, DNSNames: []string{"localhost"},
	})
}

// issued is a key and its certificate.
type issued struct {
	key             *ecdsa.PrivateKey
	cert            *x509.Certificate
	keyPEM, certPEM []byte
}

var serial atomic.Int64

// issue makes a key and a certificate from tmpl, signed by parent or self-
// signed when parent is nil.
func issue(t *testing.T, parent *issued, tmpl *x509.Certificate) issued {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signerCert, signerKey := tmpl, k
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &k.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return issued{key: k, cert: c,
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}
