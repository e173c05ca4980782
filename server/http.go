package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"github.com/vipd/vipd/server/ui"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxBody bounds an HTTP request body; API requests are a few hundred bytes.
const maxBody = 1 << 20

// handler is what one listener serves: gRPC requests go to the gRPC
// server, everything else to the HTTP routes. The listener's origin goes
// into the request context, where the gRPC interceptors find it.
//
// Before either, a command a browser sends for a page of another site is
// refused (CSRF: a page can make the browser POST to 127.0.0.1), and the
// request's body gets BodyTimeout to arrive, so that a client sending a
// byte at a time does not hold its connection for ever. With checkHost
// (a plain-text TCP listener: loopback), a request must name the host by
// an address or as localhost (hostCheck).
func (s *Server) handler(o origin, checkHost bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(withOrigin(r.Context(), o))
		if checkHost {
			if err := hostCheck(r.Host); err != nil {
				s.observe("http", status.Code(err), 0)
				s.httpError(w, r, err)
				return
			}
		}
		// For HTTP/2 the deadline is the stream's and ends only its body
		// (a Watch stream, whose body ended, is not cut); for HTTP/1 it is
		// the connection's, cleared by readBody once the body is in.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.limits.BodyTimeout))
		if err := s.browserCheck(r); err != nil {
			s.observe("http", status.Code(err), 0)
			s.httpError(w, r, err)
			return
		}
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.recovered("http", r.Method+" "+r.URL.Path, v, debug.Stack())
				s.httpError(w, r, status.Error(codes.Internal, "internal error (logged by the server)"))
			}
		}()
		s.httpMux.ServeHTTP(w, r)
	})
}

// crossOrigin decides, from Sec-Fetch-Site and Origin, whether a request
// that is not GET, HEAD or OPTIONS comes from a page of another origin.
var crossOrigin = http.NewCrossOriginProtection()

// browserCheck refuses a cross-origin command from a browser. Clients
// that are not browsers send neither header and pass.
func (s *Server) browserCheck(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return status.Error(codes.PermissionDenied, "cross-origin request refused: vipd takes no commands from web pages ("+err.Error()+")")
	}
	return nil
}

// hostCheck refuses a request to a loopback listener that names its host
// by a DNS name other than localhost. A web page can make the browser on
// this host send such a request by DNS rebinding: its own name, soon
// re-resolved to 127.0.0.1, makes the API the page's own origin, and its
// script could then read whatever reads are open (status, members,
// metrics). A browser sends the name the page used; curl, Prometheus,
// grpcurl and vipd's own client send the address they were given, or
// localhost, which no page can rebind (RFC 6761 keeps it on loopback).
// TLS listeners need no such check: a rebound name fails the handshake.
func hostCheck(host string) error {
	if host == "" { // HTTP/1.0 without Host: no browser sends that
		return nil
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if _, err := netip.ParseAddr(name); err == nil {
		return nil
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "host %q refused: this listener answers to an IP address or localhost only (a DNS name here is how a web page reaches a loopback API: DNS rebinding)", host)
}

// routes are the HTTP endpoints.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !s.getOnly(w, r) {
			return
		}
		if s.stopping.Load() {
			s.httpError(w, r, status.Error(codes.Unavailable, "shutting down"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.getOnly(w, r) {
			return
		}
		if s.stopping.Load() {
			s.httpError(w, r, status.Error(codes.Unavailable, "not ready: shutting down"))
			return
		}
		if s.opts.Ready != nil {
			if err := s.opts.Ready(); err != nil {
				s.httpError(w, r, status.Error(codes.Unavailable, "not ready: "+err.Error()))
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("/metrics", s.guard(func(w http.ResponseWriter, r *http.Request) {
		if !s.getOnly(w, r) {
			return
		}
		if s.opts.Metrics == nil {
			s.httpError(w, r, status.Error(codes.NotFound, "metrics are not enabled"))
			return
		}
		s.opts.Metrics.ServeHTTP(w, r)
	}))
	// The status page (server/ui): its files carry no data and are open
	// like /healthz, so that a browser, which cannot send a bearer token
	// with a page load, can show the page and ask for one; its event
	// stream is a read, and its calls go through the API's own routes.
	mux.HandleFunc(AccessPath, s.serveAccess)
	page := ui.New(func(ctx context.Context, req *vipdv1.WatchRequest) (vipdv1.VipdService_WatchClient, error) {
		return vipdv1.NewVipdServiceClient(s.gwConn).Watch(ctx, req)
	}, s.log)
	serveFiles := func(w http.ResponseWriter, r *http.Request) {
		if s.getOnly(w, r) {
			page.ServeFiles(w, r)
		}
	}
	mux.HandleFunc(ui.Prefix, serveFiles)
	mux.HandleFunc(ui.Prefix+"/", serveFiles)
	mux.Handle(ui.EventsPath, s.guard(func(w http.ResponseWriter, r *http.Request) {
		if s.getOnly(w, r) && s.readBody(w, r) {
			page.ServeEvents(w, r)
		}
	}))
	mux.Handle("/", s.guard(func(w http.ResponseWriter, r *http.Request) {
		if !s.readBody(w, r) {
			return
		}
		s.gateway.ServeHTTP(w, r)
	}))
	return mux
}

// getOnly answers 405 to anything but GET and HEAD on a read-only
// endpoint, and reports whether the request may go on.
func (s *Server) getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	s.httpError(w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusMethodNotAllowed,
		Err: status.Errorf(codes.Unimplemented, "method %s is not allowed on %s", r.Method, r.URL.Path)})
	return false
}

// guard applies the token rules to an HTTP request before it is served.
func (s *Server) guard(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.auth.check(originOf(r.Context()), httpAccess(r.Method), r.Header.Values("Authorization")); err != nil {
			s.observe("http", status.Code(err), 0)
			s.httpError(w, r, err)
			return
		}
		next(w, r)
	})
}

// jsonCommands is a gateway middleware (it runs once a route matched, so
// an unknown path or method still gets its 404 or 405): it holds commands
// to a JSON body. A browser may send text/plain, a form or no body to any
// address without asking first (CORS "simple requests"), but not
// application/json.
func (s *Server) jsonCommands(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if httpAccess(r.Method) == accessWrite {
			if err := jsonOnly(r); err != nil {
				s.observe("http", status.Code(err), 0)
				s.httpError(w, r, err)
				return
			}
		}
		next(w, r, params)
	}
}

// jsonOnly refuses a command whose Content-Type is not application/json
// (parameters such as charset allowed), with 415.
func jsonOnly(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return nil
	}
	if ct == "" {
		ct = "none"
	}
	return &runtime.HTTPStatusError{HTTPStatus: http.StatusUnsupportedMediaType,
		Err: status.Errorf(codes.InvalidArgument, "commands take Content-Type: application/json, not %q", ct)}
}

// readBody reads the request's body (at most maxBody bytes, within the
// read deadline set by handler), then clears the deadline so that a long
// answer (Watch over HTTP/1.1) is not cut, and gives the handler the body
// from memory. It answers the error itself and reports whether to go on.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.httpError(w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge,
				Err: status.Errorf(codes.InvalidArgument, "request body over %d bytes", maxBody)})
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.log.Debug("API request body not received in time: closing the connection", "remote", r.RemoteAddr, "timeout", s.limits.BodyTimeout)
			s.httpError(w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestTimeout,
				Err: status.Errorf(codes.DeadlineExceeded, "request body not received within %v", s.limits.BodyTimeout)})
		default:
			s.httpError(w, r, status.Errorf(codes.InvalidArgument, "reading the request body: %v", err))
		}
		return false
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// httpError answers with err's gRPC code mapped to an HTTP status and a
// JSON body {"code", "message", "details"}, as the gateway does.
func (s *Server) httpError(w http.ResponseWriter, r *http.Request, err error) {
	_, out := runtime.MarshalerForRequest(s.gateway, r)
	runtime.HTTPError(r.Context(), s.gateway, out, w, r, err)
}

// errorHandler is the gateway's error handler: the default one, with a
// proper WWW-Authenticate challenge on 401 (the default puts the message
// there).
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, challenge{w}, r, err)
}

// routingError answers a request no route matches: 404 (NOT_FOUND) for an
// unknown path, 405 (UNIMPLEMENTED) for a known path with another method.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		err = status.Errorf(codes.Unimplemented, "method %s is not allowed on %s", r.Method, r.URL.Path)
	case http.StatusBadRequest:
		err = status.Errorf(codes.InvalidArgument, "malformed request path %s", r.URL.Path)
	default:
		err = status.Errorf(codes.NotFound, "no route for %s %s", r.Method, r.URL.Path)
	}
	errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// challenge sets the WWW-Authenticate header of a 401 response.
type challenge struct{ http.ResponseWriter }

func (c challenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", `Bearer realm="vipd"`)
	}
	c.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
