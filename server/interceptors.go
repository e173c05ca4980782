package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// callOrigin is where a gRPC call came from: the listener recorded in its
// context (calls served through ServeHTTP), or the in-process gateway
// connection, whose HTTP request was already checked by guard.
func callOrigin(ctx context.Context) origin {
	if o, ok := ctx.Value(originKey{}).(origin); ok {
		return o
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.Network() == "bufconn" {
		return originLocal
	}
	return originTCP
}

// admit checks a call before its handler runs.
func (s *Server) admit(ctx context.Context, method string) error {
	acc := methodAccess(method)
	if s.stopping.Load() && acc != accessOpen {
		return status.Error(codes.Unavailable, "vipd is shutting down")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return s.auth.check(callOrigin(ctx), acc, md.Get("authorization"))
}

// unaryInterceptor admits, recovers and observes a unary call.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			s.recovered(info.FullMethod, "", v, debug.Stack())
			resp, err = nil, status.Error(codes.Internal, "internal error (logged by the server)")
		}
		s.observe(info.FullMethod, status.Code(err), time.Since(start))
	}()
	if err := s.admit(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// streamInterceptor admits, recovers and observes a streaming call, and
// ends it when the server shuts down.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			s.recovered(info.FullMethod, "", v, debug.Stack())
			err = status.Error(codes.Internal, "internal error (logged by the server)")
		}
		s.observe(info.FullMethod, status.Code(err), time.Since(start))
	}()
	if err := s.admit(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()
	err = handler(srv, &stream{ServerStream: ss, ctx: ctx})
	if s.streams.Err() != nil && (err == nil || status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled)) {
		return status.Error(codes.Unavailable, "vipd is shutting down")
	}
	return err
}

// stream is a ServerStream with the server's own context.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (st *stream) Context() context.Context { return st.ctx }

// recovered logs and counts a panic; method is the gRPC method, or "http"
// with the request in detail.
func (s *Server) recovered(method, detail string, v any, stack []byte) {
	s.panics.Add(1)
	s.log.Error("API handler panicked", "method", method, "request", detail, "panic", fmt.Sprint(v), "stack", string(stack))
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveAPIPanic(strings.TrimPrefix(method, "/"))
	}
}

func (s *Server) observe(method string, code codes.Code, d time.Duration) {
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveAPIRequest(strings.TrimPrefix(method, "/"), code.String(), d)
	}
}
