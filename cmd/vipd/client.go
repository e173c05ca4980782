package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/config"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// This file is the API client shared by the status, members, watch,
// failover, maintenance and order commands: how to reach an agent (its
// unix socket by default, --addr for TCP) and how to print answers.

// clientFlags are the connection and output flags of the client commands.
type clientFlags struct {
	socket, addr, tokenFile      string
	tlsCA, tlsCert, tlsKey       string
	insecureSkipVerify           bool
	output                       string
	timeout                      time.Duration
	conn                         *grpc.ClientConn
	client                       vipdv1.VipdServiceClient
	stdout                       io.Writer
	jsonOut                      bool
	usedTLS, sentToken, usedUnix bool
}

// addClientFlags registers the flags on cmd.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	fl := cmd.Flags()
	fl.StringVar(&f.socket, "socket", config.DefaultAPISocket, "the agent's unix socket (used unless --addr is given)")
	fl.StringVar(&f.addr, "addr", "", "HOST:PORT of an agent's API over TCP instead of the socket (TLS unless HOST is a loopback address)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file with the bearer token (mode 0600), for agents that require one")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of the CA that signed the agent's certificate (default: the system's CAs); implies TLS")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "client certificate (PEM) for agents that require one (api.tls.client_ca); implies TLS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the client certificate's private key (PEM)")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "do not verify the agent's certificate (testing only: anyone in between can read the token)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for an answer (not for watch)")
	return f
}

// connect checks the flags and prepares the connection (gRPC connects on
// the first call). The connection is closed when cmd's context ends, or by
// close.
func (f *clientFlags) connect(cmd *cobra.Command) error {
	switch f.output {
	case "table":
	case "json":
		f.jsonOut = true
	default:
		return fmt.Errorf("--output %q: want table or json", f.output)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	f.stdout = cmd.OutOrStdout()

	var opts []grpc.DialOption
	target := ""
	if f.addr == "" {
		if f.socket == "" {
			return errors.New("give --socket PATH or --addr HOST:PORT")
		}
		if f.tlsCA != "" || f.tlsCert != "" || f.insecureSkipVerify {
			return errors.New("TLS flags need --addr: the unix socket is not encrypted")
		}
		// gRPC reads "unix://a/b" as authority "a", path "/b": a relative
		// path must become absolute first.
		abs, err := filepath.Abs(f.socket)
		if err != nil {
			return fmt.Errorf("--socket %q: %w", f.socket, err)
		}
		target, f.usedUnix = "unix://"+abs, true
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		host, _, err := net.SplitHostPort(f.addr)
		if err != nil {
			return fmt.Errorf("--addr %q: want HOST:PORT ([IPv6]:PORT)", f.addr)
		}
		target = f.addr
		loopback := host == "localhost"
		if a, err := netip.ParseAddr(host); err == nil {
			loopback = a.Unmap().IsLoopback()
		}
		if !loopback || f.tlsCA != "" || f.tlsCert != "" || f.insecureSkipVerify {
			c, err := f.tlsConfig(host)
			if err != nil {
				return err
			}
			f.usedTLS = true
			opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(c)))
		} else {
			opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
		}
	}
	if f.tokenFile != "" {
		tok, err := config.ReadAPIToken(f.tokenFile)
		if err != nil {
			return err
		}
		f.sentToken = true
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(tok)))
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", f.where(), err)
	}
	f.conn, f.client = conn, vipdv1.NewVipdServiceClient(conn)
	return nil
}

func (f *clientFlags) tlsConfig(host string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: f.insecureSkipVerify}
	if f.tlsCA != "" {
		pool, err := config.LoadCertPool(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		c.RootCAs = pool
	}
	if f.tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

func (f *clientFlags) close() {
	if f.conn != nil {
		f.conn.Close()
	}
}

// where names the agent, for messages.
func (f *clientFlags) where() string {
	if f.addr != "" {
		return f.addr
	}
	return f.socket
}

// callContext bounds a unary call by --timeout.
func (f *clientFlags) callContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), f.timeout)
}

// explain turns a call's error into a message that says what to do.
func (f *clientFlags) explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := fmt.Sprintf("%s: %s", st.Code(), st.Message())
	switch st.Code() {
	case codes.Unavailable:
		if f.usedUnix {
			msg += fmt.Sprintf(" (is the agent running, and may you use its socket %s? try sudo, or --addr)", f.socket)
		} else {
			msg += fmt.Sprintf(" (is the agent's API listening on %s?)", f.addr)
		}
	case codes.Unauthenticated:
		if !f.sentToken {
			msg += " (give --token-file)"
		}
	case codes.PermissionDenied:
		if f.sentToken {
			msg += " (check --token-file)"
		}
	case codes.DeadlineExceeded:
		msg += fmt.Sprintf(" (no answer from %s within --timeout %v)", f.where(), f.timeout)
	}
	return errors.New(msg)
}

// printJSON writes m as JSON (protojson's field names and values),
// indented, or on one line for streams. protojson varies its spacing on
// purpose; re-formatting with encoding/json makes the output stable for
// scripts and diffs.
func (f *clientFlags) printJSON(m proto.Message, oneLine bool) error {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if oneLine {
		err = json.Compact(&out, b)
	} else {
		err = json.Indent(&out, b, "", "  ")
	}
	if err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = f.stdout.Write(out.Bytes())
	return err
}

// bearer sends the token with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false: over the socket and loopback TCP the
// API has no TLS; connect uses TLS for every other address.
func (bearer) RequireTransportSecurity() bool { return false }

// enumName shortens a protobuf enum value's name: INSTANCE_STATE_MASTER
// → MASTER (or "master" with lower).
func enumName(full, prefix string, lower bool) string {
	s := strings.TrimPrefix(full, prefix)
	if s == "UNSPECIFIED" {
		s = "-"
	}
	if lower {
		return strings.ToLower(s)
	}
	return s
}
