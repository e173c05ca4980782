// Package server serves vipd's API: the gRPC service vipd.v1.VipdService
// (with server reflection and the standard health service), its HTTP/JSON
// mapping (grpc-gateway v2), /healthz, /readyz and /metrics, the status
// page at /ui (package ui: embedded files and the watch as server-sent
// events) and /access, which says what the presented credentials may do
// (access.go).
//
// Every listener (the unix socket and each TCP address of config.API)
// serves gRPC and HTTP on the same socket: a request that is HTTP/2 with a
// gRPC content type goes to the gRPC server, anything else to the HTTP
// routes. Plain TCP and the socket speak HTTP/1.1 and unencrypted HTTP/2
// (h2c, prior knowledge, as grpcurl -plaintext sends it); TLS listeners
// negotiate h2 or http/1.1 by ALPN.
//
// The HTTP/JSON routes reach the gRPC server through an in-process client
// connection, so they see the same interceptors as gRPC clients and the
// streaming Watch works over HTTP (one JSON object per line).
//
// Access (auth.go): the unix socket is trusted by its file mode; over TCP
// a command always needs the full bearer token (config.API.TokenFile), so
// without one TCP is read-only; reads need the full or the read-only token
// unless config.API.ReadsOpen; health checks are always open. Commands
// over HTTP must be JSON (415 otherwise) and are refused when a browser
// sends them for a page of another origin (http.go). Errors are gRPC
// status codes, and over HTTP their mapped status with a JSON body.
//
// Limits (server.go): header and body read timeouts, an idle timeout and
// a connection cap per listener, so that slow or many clients on one
// listener cannot hold the API.
//
// The package serves whatever vipdv1.VipdServiceServer it is given. The
// agent's is NewService (service.go): it reads each request into the
// agent's types, calls agent.Service and converts the answer; convert.go
// is the one place where the agent's types become protobuf (enums by
// tables, value by value) and the agent's error kinds become gRPC codes.
// Nothing else here knows VRRP or gossip; the agent knows no protobuf.
package server
