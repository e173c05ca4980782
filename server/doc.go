// Package server will hold vipd's gRPC and HTTP/JSON API and its Prometheus
// metrics endpoint.
//
// It is empty until the API issue lands; nothing depends on it yet.
package server
