package config

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// API is how this node serves vipd's API (gRPC and its HTTP/JSON mapping,
// health, readiness and metrics) and how other nodes reach it. Both
// formats get it: keepalived.conf has no such section, so its input runs
// with DefaultAPI.
//
// The unix socket is trusted by its file permissions (mode 0660, owned by
// the user vipd runs as): every call is allowed there. Over TCP, commands
// (failover, maintenance, order, reload) always need the full token of
// TokenFile, so without one the TCP listeners are read-only: any local user
// can reach loopback, so loopback proves nothing about who is calling.
// Reads (status, members, watch, metrics) over TCP need a token — the full
// one or the read-only one of ReadTokenFile — unless ReadsOpen. Health
// checks are always open. TCP listeners on loopback addresses need no TLS;
// any other address needs TLS and a token file.
type API struct {
	// Pos is where the api section is; zero when there is none (defaults).
	Pos Pos
	// Socket is the unix socket's absolute path; "" serves no socket.
	Socket string
	// Listen are the TCP addresses (IP literal and port) that serve gRPC and
	// HTTP on the same port; empty serves no TCP.
	Listen []netip.AddrPort
	// Advertise is "host:port" where other nodes reach this node's API (it
	// is published through gossip and used to forward commands); empty
	// means AdvertiseAddr's default.
	Advertise string
	// TLS, when set, encrypts every TCP listener. Required when a listen
	// address is not a loopback address.
	TLS *APITLS
	// TokenFile is an absolute path to a file holding the bearer token (one
	// line of at least MinAPITokenLen visible ASCII characters), readable by
	// its owner only. It is the only credential for commands over TCP.
	// Required when a listen address is not loopback.
	TokenFile string
	// ReadTokenFile is a file like TokenFile holding a read-only token: it
	// opens status, members, watch and metrics over TCP, never a command, so
	// that a dashboard or a scraper does not hold a failover credential.
	ReadTokenFile string
	// PublicRead lets read-only calls through TCP listeners without a
	// token; commands still need the full token. Without any token file
	// reads are open whatever it says (ReadsOpen): no token could be asked
	// for.
	PublicRead bool

	// src records where each setting was written; nil for sections built
	// in code.
	src *Source
}

// APITLS holds the API's certificate files, all absolute paths to PEM files.
type APITLS struct {
	// Cert is the server certificate chain, Key its private key (not
	// readable by others).
	Cert, Key string
	// ClientCA, when set, makes clients present a certificate signed by one
	// of these CAs (mutual TLS).
	ClientCA string
}

// API defaults and limits.
const (
	// DefaultAPISocket is the default unix socket of the API.
	DefaultAPISocket = "/run/vipd/vipd.sock"
	// DefaultAPIPort is the default TCP port of the API (gRPC and HTTP on
	// the same port), on 127.0.0.1 unless configured otherwise.
	DefaultAPIPort = 9746
	// APISocketMode is the unix socket's permission bits: the owner and
	// its group may connect.
	APISocketMode = 0o660
	// MinAPITokenLen is the shortest bearer token accepted.
	MinAPITokenLen = 16
	// maxUnixPath is sun_path's size less its terminating NUL.
	maxUnixPath = 107
)

// DefaultAPI returns the API defaults: the unix socket DefaultAPISocket and
// 127.0.0.1:DefaultAPIPort, no TLS, no token. The TCP listener is thus
// read-only: commands go through the socket, whose mode decides who may
// send them, while probes, scrapers and read-only tools keep a TCP port.
func DefaultAPI() API {
	return API{
		Socket: DefaultAPISocket,
		Listen: []netip.AddrPort{netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), DefaultAPIPort)},
	}
}

// IsLoopback reports whether a listen address is a loopback address, where
// the API may run without TLS. An IPv4-mapped IPv6 address counts as its
// IPv4 address.
func IsLoopback(ap netip.AddrPort) bool { return ap.Addr().Unmap().IsLoopback() }

// Remote reports whether any listen address is not a loopback address.
func (a *API) Remote() bool {
	return slices.ContainsFunc(a.Listen, func(ap netip.AddrPort) bool { return !IsLoopback(ap) })
}

// AdvertiseAddr returns where other nodes reach this node's API: Advertise
// when set, otherwise the first listen address that is neither loopback
// nor unspecified, otherwise "" (other nodes cannot reach it).
func (a *API) AdvertiseAddr() string {
	if a.Advertise != "" {
		return a.Advertise
	}
	for _, ap := range a.Listen {
		if ad := ap.Addr().Unmap(); !ad.IsLoopback() && !ad.IsUnspecified() {
			return net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port())))
		}
	}
	return ""
}

// ReadsOpen reports whether read-only calls over TCP need no token: when
// PublicRead is set or no token file is configured at all.
func (a *API) ReadsOpen() bool {
	return a.PublicRead || a.TokenFile == "" && a.ReadTokenFile == ""
}

// SameSettings reports whether a and o configure the same API: every field
// equal except positions. A reload may keep the running server when they
// do (certificate and token files are re-read by the server when they
// change on disk).
func (a *API) SameSettings(o *API) bool {
	if a == nil || o == nil {
		return a == o
	}
	sameTLS := a.TLS == nil && o.TLS == nil || a.TLS != nil && o.TLS != nil && *a.TLS == *o.TLS
	return a.Socket == o.Socket && slices.Equal(a.Listen, o.Listen) && a.Advertise == o.Advertise &&
		sameTLS && a.TokenFile == o.TokenFile && a.ReadTokenFile == o.ReadTokenFile && a.ReadsOpen() == o.ReadsOpen()
}
