// Package vrrp encodes and decodes VRRP advertisements: version 2 (RFC 3768,
// IPv4 only, optional simple-text password) and version 3 (RFC 5798, IPv4 and
// IPv6), byte-compatible with keepalived 2.2.7.
//
// It handles only the VRRP message that follows the IP header: callers strip
// the IP header on receive and let the kernel build it on send, passing the
// header's source and destination addresses because the v3 checksum covers an
// IP pseudo-header.
//
// It also owns DropReason, the single set of reasons for which a received
// advert is discarded, so that the decoder and the runtime report drops with
// one metric label set.
//
// This package must stay a pure codec: standard library only, no sockets, no
// clock, no logging, and no imports of other vipd packages.
package vrrp
