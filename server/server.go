package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
)

// Options are the optional parts of a Server.
type Options struct {
	// Metrics serves /metrics; nil answers 404 there.
	Metrics http.Handler
	// Ready says whether the agent is ready (configuration applied, first
	// election under way); /readyz answers 503 with its error. nil means
	// always ready.
	Ready func() error
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Observer, if set, is told about every finished call and every
	// recovered panic (the metrics package implements it).
	Observer Observer
	// ShutdownTimeout bounds how long Run waits for calls in flight when
	// its context ends; 0 means 5 s. Streams (Watch) are ended at once.
	ShutdownTimeout time.Duration
	// Limits bound what a client may hold; zero fields take the defaults.
	Limits Limits
}

// Limits bound the time and the connections a client may hold, so that
// slow or many clients cannot keep the API from others. Each listener
// counts its connections apart: a full loopback port leaves the unix
// socket (and its commands) free.
type Limits struct {
	// HeaderTimeout bounds the TLS handshake and the reading of a
	// request's headers; 0 means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// BodyTimeout bounds the reading of a request's body, counted from
	// the end of its headers; 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// IdleTimeout closes a connection with no request in flight; 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxConns is how many connections one listener serves at once; the
	// next ones wait in the kernel's queue until one closes. 0 means
	// DefaultMaxConns.
	MaxConns int
}

// Default limits: API calls are small and quick; Watch streams and
// scrapers are the long-lived connections, a few per node.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout   = 10 * time.Second
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultMaxConns      = 64
)

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = DefaultBodyTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// Observer receives API events. Implementations must be safe for
// concurrent use and must not block.
type Observer interface {
	// ObserveAPIRequest is called when a gRPC call ends (HTTP/JSON calls
	// included, they pass through gRPC; "http" for HTTP requests refused
	// before reaching it): method is the full method name without its
	// leading slash, code the gRPC code's name ("OK", "PermissionDenied").
	ObserveAPIRequest(method, code string, d time.Duration)
	// ObserveAPIPanic is called when a handler panicked.
	ObserveAPIPanic(method string)
}

// Server serves the API on the listeners of a config.API.
type Server struct {
	cfg      config.API
	svc      vipdv1.VipdServiceServer
	opts     Options
	limits   Limits
	log      *slog.Logger
	auth     authorizer
	tlsConf  *tls.Config
	grpc     *grpc.Server
	health   *health.Server
	gateway  *runtime.ServeMux
	httpMux  *http.ServeMux
	inproc   *bufconn.Listener
	gwConn   *grpc.ClientConn
	panics   atomic.Uint64
	stopping atomic.Bool

	// streams is cancelled at shutdown: it ends every stream at once.
	streams      context.Context
	cancelStream context.CancelFunc

	mu        sync.Mutex
	listening bool
	ran       bool
	listeners []listener
}

// listener is one socket with its HTTP server.
type listener struct {
	l      net.Listener
	origin origin
	srv    *http.Server
}

// New prepares a server for svc on the listeners of cfg. It reads the
// token and certificate files (errors here mean the API cannot start) but
// opens no socket: Listen or Run does. It refuses a non-loopback listener
// without TLS or without a token, whatever validation said.
func New(cfg config.API, svc vipdv1.VipdServiceServer, opts Options) (*Server, error) {
	if svc == nil {
		return nil, errors.New("server: no service")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	for _, ap := range cfg.Listen {
		if !config.IsLoopback(ap) && (cfg.TLS == nil || cfg.TokenFile == "") {
			return nil, fmt.Errorf("API listen address %v is not loopback: it needs TLS and a token file", ap)
		}
	}
	s := &Server{cfg: cfg, svc: svc, opts: opts, limits: opts.Limits.withDefaults(), log: log}
	s.streams, s.cancelStream = context.WithCancel(context.Background())
	s.auth.readsOpen = cfg.ReadsOpen()
	for _, tf := range []struct {
		path string
		dst  **tokenFile
	}{{cfg.TokenFile, &s.auth.full}, {cfg.ReadTokenFile, &s.auth.read}} {
		if tf.path == "" {
			continue
		}
		t, err := newTokenFile(tf.path, log.Warn)
		if err != nil {
			return nil, err
		}
		*tf.dst = t
	}
	if cfg.TLS != nil {
		c, err := serverTLS(cfg.TLS, log.Warn)
		if err != nil {
			return nil, err
		}
		s.tlsConf = c
	}

	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	vipdv1.RegisterVipdServiceServer(s.grpc, svc)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)

	// The gateway is a gRPC client of this server over an in-memory
	// connection: the only way it can serve the streaming Watch, and its
	// calls pass the same interceptors.
	s.inproc = bufconn.Listen(1 << 20)
	conn, err := grpc.NewClient("passthrough:///vipd-inproc",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.inproc.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		return nil, fmt.Errorf("server: gateway connection: %w", err)
	}
	s.gwConn = conn
	s.gateway = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, strictJSON{&runtime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
			// Unknown fields are a client's mistake worth a 400, not
			// something to drop silently.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithMiddlewares(s.jsonCommands),
	)
	if err := vipdv1.RegisterVipdServiceHandler(context.Background(), s.gateway, conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("server: gateway: %w", err)
	}
	s.httpMux = s.routes()
	return s, nil
}

// Panics returns how many handler panics were recovered.
func (s *Server) Panics() uint64 { return s.panics.Load() }

// Listen opens the unix socket and the TCP listeners. Run calls it when it
// has not been called; calling it first lets the caller learn the bound
// addresses (Addrs) before serving. After a successful Listen, Run must be
// called to serve and release the sockets.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listening {
		return nil
	}
	var ls []listener
	closeAll := func() {
		for _, l := range ls {
			l.l.Close()
		}
	}
	if s.cfg.Socket != "" {
		l, err := listenUnix(s.cfg.Socket)
		if err != nil {
			return err
		}
		ls = append(ls, listener{l: l, origin: originLocal})
	}
	for _, ap := range s.cfg.Listen {
		l, err := net.Listen("tcp", ap.String())
		if err != nil {
			closeAll()
			return fmt.Errorf("API listen %v: %w", ap, err)
		}
		ls = append(ls, listener{l: l, origin: originTCP})
	}
	for i := range ls {
		ls[i].srv = s.httpServer(ls[i].origin, s.tlsConf != nil && ls[i].origin == originTCP)
		// Addr stays the socket's; Accept waits while MaxConns are open.
		ls[i].l = netutil.LimitListener(ls[i].l, s.limits.MaxConns)
	}
	s.listeners, s.listening = ls, true
	return nil
}

// Addrs returns the bound addresses (the socket's and each TCP listener's,
// in configuration order) once Listen has succeeded.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.l.Addr()
	}
	return out
}

// Run serves until ctx ends, then shuts down: health turns NOT_SERVING,
// streams end with UNAVAILABLE, calls in flight get Options.ShutdownTimeout
// to finish, and every socket is closed (the unix socket file removed). It
// returns nil after a shutdown asked for by ctx, or the error that stopped
// a listener. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("server: Run called twice")
	}
	s.ran = true
	s.mu.Unlock()
	if err := s.Listen(); err != nil {
		s.gwConn.Close()
		return err
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(vipdv1.VipdService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	var wg sync.WaitGroup
	errc := make(chan error, len(s.listeners)+1)
	wg.Go(func() {
		if err := s.grpc.Serve(s.inproc); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errc <- fmt.Errorf("API in-process gRPC: %w", err)
		}
	})
	for _, l := range s.listeners {
		s.log.Info("API listening", "addr", l.l.Addr().String(), "network", l.l.Addr().Network(), "tls", l.srv.TLSConfig != nil)
		wg.Go(func() {
			var err error
			if l.srv.TLSConfig != nil {
				err = l.srv.ServeTLS(l.l, "", "")
			} else {
				err = l.srv.Serve(l.l)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("API %s: %w", l.l.Addr(), err)
			}
		})
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		s.log.Error("API stopped", "err", err)
	}
	s.shutdown()
	wg.Wait()
	return err
}

// shutdown stops serving: see Run.
func (s *Server) shutdown() {
	s.stopping.Store(true)
	s.health.Shutdown()
	s.cancelStream()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		wg.Go(func() {
			if err := l.srv.Shutdown(ctx); err != nil {
				s.log.Warn("API calls still running at shutdown: closing them", "addr", l.l.Addr().String(), "err", err)
				l.srv.Close()
			}
		})
	}
	wg.Wait()
	s.grpc.Stop()
	s.gwConn.Close()
}

// httpServer makes the HTTP server of one listener.
func (s *Server) httpServer(o origin, useTLS bool) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	if useTLS {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           s.handler(o, o == originTCP && !useTLS),
		Protocols:         &p,
		ReadHeaderTimeout: s.limits.HeaderTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// No ReadTimeout: for HTTP/1.1 it would also end a Watch stream
		// (the connection's read deadline cancels the request); handler
		// bounds each body by BodyTimeout instead. No write timeout:
		// Watch streams last as long as the client wants.
	}
	if useTLS {
		srv.TLSConfig = s.tlsConf.Clone()
	}
	return srv
}

// strictJSON is grpc-gateway's JSON marshaler refusing anything after the
// body's JSON value: `{"targetNode":"n2"} {"targetNode":"n3"}` is a
// malformed request (400), not a failover to n2 with the rest ignored.
type strictJSON struct{ *runtime.JSONPb }

// NewDecoder decodes one JSON value and fails if more input follows.
func (j strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	jd := json.NewDecoder(r)
	d := runtime.DecoderWrapper{Decoder: jd, UnmarshalOptions: j.UnmarshalOptions}
	return runtime.DecoderFunc(func(v any) error {
		if err := d.Decode(v); err != nil {
			return err
		}
		// Only JSON's white space may follow (the body's size is bounded
		// before it gets here). bytes.TrimSpace would also pass \f and \v,
		// which no JSON parser accepts.
		rest, err := io.ReadAll(io.MultiReader(jd.Buffered(), r))
		if err != nil {
			return err
		}
		if len(bytes.TrimLeft(rest, jsonSpace)) > 0 {
			return errors.New("unexpected data after the JSON body")
		}
		return nil
	})
}

// jsonSpace is the white space JSON allows between tokens (RFC 8259 §2).
const jsonSpace = " \t\n\r"
