package server

import (
	"context"
	"crypto/x509"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/vipd/vipd/agent"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// service is vipdv1.VipdServiceServer over the agent's API: each call
// reads its request into the agent's types, calls the agent and converts
// the answer and the error (convert.go). It adds no behaviour of its own.
type service struct {
	vipdv1.UnimplementedVipdServiceServer
	a *agent.Service
}

// NewService returns the gRPC service that serves the agent's API (give
// it to New).
func NewService(a *agent.Service) vipdv1.VipdServiceServer { return &service{a: a} }

func (s *service) GetStatus(ctx context.Context, _ *vipdv1.GetStatusRequest) (*vipdv1.GetStatusResponse, error) {
	st, err := s.a.Status(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	return statusResponse(st), nil
}

func (s *service) ListMembers(context.Context, *vipdv1.ListMembersRequest) (*vipdv1.ListMembersResponse, error) {
	return membersResponse(s.a.Members()), nil
}

func (s *service) GetCluster(context.Context, *vipdv1.GetClusterRequest) (*vipdv1.GetClusterResponse, error) {
	return clusterResponse(s.a.Cluster()), nil
}

func (s *service) Watch(req *vipdv1.WatchRequest, stream vipdv1.VipdService_WatchServer) error {
	f, err := watchFilter(req)
	if err != nil {
		return grpcError(err)
	}
	return grpcError(s.a.Watch(stream.Context(), f, func(ev agent.Event) error { return stream.Send(watchResponse(ev)) }))
}

func (s *service) Failover(ctx context.Context, req *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	res, err := s.a.Failover(ctx, agent.FailoverRequest{Instance: req.GetInstance(), Target: req.GetTargetNode(), Caller: callerOf(ctx)})
	if err != nil {
		return nil, grpcError(err)
	}
	return &vipdv1.FailoverResponse{Node: res.Node, PreviousMaster: res.PreviousMaster, Forwarded: res.Forwarded}, nil
}

func (s *service) SetMaintenance(ctx context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	res, err := s.a.SetMaintenance(ctx, agent.MaintenanceRequest{Node: req.GetNode(), Enabled: req.GetEnabled(), Caller: callerOf(ctx)})
	if err != nil {
		return nil, grpcError(err)
	}
	return &vipdv1.SetMaintenanceResponse{Node: res.Node, Enabled: res.Enabled, Forwarded: res.Forwarded, HandedOver: res.HandedOver}, nil
}

func (s *service) SetOrder(_ context.Context, req *vipdv1.SetOrderRequest) (*vipdv1.SetOrderResponse, error) {
	o, err := s.a.SetOrder(orderRequest(req))
	if err != nil {
		return nil, grpcError(err)
	}
	return &vipdv1.SetOrderResponse{Order: order(o)}, nil
}

func (s *service) Reload(ctx context.Context, _ *vipdv1.ReloadRequest) (*vipdv1.ReloadResponse, error) {
	rep, err := s.a.ReloadFile(ctx, callerOf(ctx))
	if err != nil {
		return nil, grpcError(err)
	}
	return &vipdv1.ReloadResponse{Added: rep.Added, Removed: rep.Removed, Changed: rep.Changed, Warnings: rep.Warnings}, nil
}

func (s *service) ListEvents(ctx context.Context, req *vipdv1.ListEventsRequest) (*vipdv1.ListEventsResponse, error) {
	q, err := eventQuery(req)
	if err != nil {
		return nil, grpcError(err)
	}
	l, err := s.a.ListEvents(ctx, q)
	if err != nil {
		return nil, grpcError(err)
	}
	return &vipdv1.ListEventsResponse{Events: historyEvents(l.Events), Sources: eventSources(l.Sources)}, nil
}

func (s *service) Why(ctx context.Context, req *vipdv1.WhyRequest) (*vipdv1.WhyResponse, error) {
	w, err := s.a.Why(ctx, req.GetInstance())
	if err != nil {
		return nil, grpcError(err)
	}
	return whyResponse(w), nil
}

// callerOf says how a call arrived (grpc, http, unix) and who made it, as
// far as the connection tells: a TLS client certificate's name, else the
// peer's address (for HTTP, the address the gateway forwarded).
func callerOf(ctx context.Context) agent.Caller {
	c := agent.Caller{Via: "grpc", Name: "unknown"}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return c
	}
	switch addr := p.Addr.String(); {
	case p.Addr.Network() == "unix" || addr == "@" || addr == "":
		// The socket is served through net/http, whose peer address for
		// a unix socket is "@".
		c = agent.Caller{Via: "unix", Name: "local user (unix socket)"}
	case p.Addr.Network() == "bufconn":
		c.Via = "http"
		md, _ := metadata.FromIncomingContext(ctx)
		if f := md.Get("x-forwarded-for"); len(f) > 0 && f[0] != "@" {
			c.Name = f[0]
		} else {
			c.Name = "local user (unix socket)"
		}
	default:
		c.Name = p.Addr.String()
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		c.Name = certName(ti.State.PeerCertificates[0]) + " (" + c.Name + ")"
	}
	return c
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.String()
}
