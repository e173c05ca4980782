package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/history"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// The agent's own refusals reach a client as the gRPC codes and over
// HTTP as the statuses they map to, with the agent's messages: a real
// agent (not started, without gossip or configuration file) behind a
// real server.
func TestAgentErrorsOnTheWire(t *testing.T) {
	a := agent.New(agent.Options{Log: slog.New(slog.DiscardHandler)})
	r := start(t, localAPI(t), NewService(a.Service()), Options{})
	c := vipdv1.NewVipdServiceClient(dialUnix(t, r.socket))
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"failover without instance", func() error { _, err := c.Failover(ctx, &vipdv1.FailoverRequest{}); return err },
			codes.InvalidArgument, "instance: required"},
		{"failover without gossip", func() error {
			_, err := c.Failover(ctx, &vipdv1.FailoverRequest{Instance: "web"})
			return err
		}, codes.FailedPrecondition, "failover needs the gossip cluster (a gossip section in the configuration)"},
		{"order naming a node twice", func() error {
			_, err := c.SetOrder(ctx, &vipdv1.SetOrderRequest{Instance: "web", Nodes: []*vipdv1.OrderNode{{Name: "a"}, {Name: "a"}}})
			return err
		}, codes.InvalidArgument, `nodes[1].name: "a" is already nodes[0]`},
		{"maintenance of an unknown node", func() error {
			_, err := c.SetMaintenance(ctx, &vipdv1.SetMaintenanceRequest{Node: "n9", Enabled: true})
			return err
		}, codes.NotFound, `node "n9": this node runs without gossip and knows no other node`},
		{"reload without a file", func() error { _, err := c.Reload(ctx, &vipdv1.ReloadRequest{}); return err },
			codes.Unimplemented, "this agent was started without a configuration file to reload"},
		{"events of an unknown kind", func() error {
			_, err := c.ListEvents(ctx, &vipdv1.ListEventsRequest{Kind: []string{"nope"}})
			return err
		}, codes.InvalidArgument, "kind: "},
		{"events over the limit", func() error {
			_, err := c.ListEvents(ctx, &vipdv1.ListEventsRequest{Limit: history.MaxLimit + 1})
			return err
		}, codes.InvalidArgument, fmt.Sprintf("limit: at most %d", history.MaxLimit)},
		{"why without instance", func() error { _, err := c.Why(ctx, &vipdv1.WhyRequest{}); return err },
			codes.InvalidArgument, "instance: required"},
		{"watch of no type", func() error {
			st, err := c.Watch(ctx, &vipdv1.WatchRequest{Types: []vipdv1.EventType{vipdv1.EventType_EVENT_TYPE_UNSPECIFIED}})
			if err == nil {
				_, err = st.Recv()
			}
			return err
		}, codes.InvalidArgument, "types: EVENT_TYPE_UNSPECIFIED is not an event type"},
	} {
		err := tc.call()
		if st := status.Convert(err); st.Code() != tc.code || !strings.HasPrefix(st.Message(), tc.msg) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.code, tc.msg)
		}
	}
	// Over HTTP the same refusal is its mapped status, with its code.
	code, body := call(t, unixHTTP(r.socket), "POST", "http://vipd/v1/instances/web:failover", `{}`)
	if code != 400 || body["code"] != float64(codes.FailedPrecondition) {
		t.Errorf("HTTP failover without gossip: %d %v, want 400 with code FailedPrecondition", code, body)
	}
	// Without gossip the members are this node alone, with no address.
	resp, err := c.ListMembers(ctx, &vipdv1.ListMembersRequest{})
	if err != nil || len(resp.Members) != 1 || resp.Members[0].Address != "" || resp.Members[0].Status != vipdv1.MemberStatus_MEMBER_STATUS_ALIVE {
		t.Errorf("ListMembers without gossip: %v, %v", resp, err)
	}
}

type fakeAddr struct{ network, s string }

func (a fakeAddr) Network() string { return a.network }
func (a fakeAddr) String() string  { return a.s }

// How a command arrived and who sent it, as the history records them.
func TestCallerOf(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "ops-laptop"}}
	for _, c := range []struct {
		name        string
		ctx         context.Context
		via, caller string
	}{
		{"no peer", context.Background(), "grpc", "unknown"},
		{"unix socket through net/http", peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"tcp", "@"}}), "unix", "local user (unix socket)"},
		{"tcp", peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"tcp", "127.0.0.1:40000"}}), "grpc", "127.0.0.1:40000"},
		{"tls client certificate", peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"tcp", "198.51.100.9:40000"},
			AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}}), "grpc", "ops-laptop (198.51.100.9:40000)"},
		{"http gateway", metadata.NewIncomingContext(peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"bufconn", "bufconn"}}),
			metadata.Pairs("x-forwarded-for", "203.0.113.7")), "http", "203.0.113.7"},
		{"http on the socket", metadata.NewIncomingContext(peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"bufconn", "bufconn"}}),
			metadata.Pairs("x-forwarded-for", "@")), "http", "local user (unix socket)"},
	} {
		if got := callerOf(c.ctx); got.Via != c.via || got.Name != c.caller {
			t.Errorf("%s: %q, %q; want %q, %q", c.name, got.Via, got.Name, c.via, c.caller)
		}
	}
}
