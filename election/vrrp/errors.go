package vrrp

import (
	"errors"
	"fmt"
)

// DropReason says why a received advert was discarded. The decoder returns
// the first group of reasons; the runtime uses the rest, so that every drop
// is counted under one label set. The zero value is not a valid reason.
type DropReason uint8

// Reasons reported by Unmarshal.
const (
	// DropShort: fewer bytes than the fixed 8-byte VRRP header.
	DropShort DropReason = iota + 1
	// DropBadVersion: the version nibble is neither 2 nor 3.
	DropBadVersion
	// DropBadType: the type nibble is not 1 (ADVERTISEMENT).
	DropBadType
	// DropBadChecksum: the checksum does not verify.
	DropBadChecksum
	// DropBadLength: the message length does not match the address count
	// (addresses missing, or trailing bytes, which keepalived also refuses).
	DropBadLength
	// DropBadFamily: the IP source and destination are not of one family, or
	// a version 2 advert arrived over IPv6.
	DropBadFamily
	// DropUnsupportedAuth: a version 2 auth type other than none or simple
	// password (IPsec AH, or an unassigned value).
	DropUnsupportedAuth
	// DropBadVRID: virtual router id 0.
	DropBadVRID
	// DropBadInterval: an advertisement interval of zero, which no sender may
	// use and which would make the master-down timer zero.
	DropBadInterval
)

// Reasons reported by the runtime after a successful decode.
const (
	// DropUnknownVRID: no local instance has this virtual router id.
	DropUnknownVRID DropReason = DropBadInterval + 1 + iota
	// DropAuthMismatch: auth type or password differs from the local one.
	DropAuthMismatch
	// DropIntervalMismatch: a version 2 interval differs from the local one
	// (RFC 3768 §7.1 requires them to match).
	DropIntervalMismatch
	// DropNotAPeer: a unicast advert from an address that is not a peer.
	DropNotAPeer
	// DropOwnPacket: our own advert looped back to us.
	DropOwnPacket
	// DropBadTTL: a TTL/hop limit other than 255 on a multicast advert, or
	// on any advert to a multicast instance (unicast ones may be routed).
	DropBadTTL
	// DropQueueFull: the instance was too far behind to take the advert,
	// the way a full socket buffer drops.
	DropQueueFull
)

var dropNames = [...]string{
	DropShort:            "short",
	DropBadVersion:       "bad_version",
	DropBadType:          "bad_type",
	DropBadChecksum:      "bad_checksum",
	DropBadLength:        "bad_length",
	DropBadFamily:        "bad_family",
	DropUnsupportedAuth:  "unsupported_auth",
	DropBadVRID:          "bad_vrid",
	DropBadInterval:      "bad_interval",
	DropUnknownVRID:      "unknown_vrid",
	DropAuthMismatch:     "auth_mismatch",
	DropIntervalMismatch: "interval_mismatch",
	DropNotAPeer:         "not_a_peer",
	DropOwnPacket:        "own_packet",
	DropBadTTL:           "bad_ttl",
	DropQueueFull:        "queue_full",
}

// AllDropReasons lists every DropReason, in declaration order, so that
// metrics can be registered for each label value before the first drop.
var AllDropReasons = []DropReason{
	DropShort, DropBadVersion, DropBadType, DropBadChecksum, DropBadLength,
	DropBadFamily, DropUnsupportedAuth, DropBadVRID, DropBadInterval,
	DropUnknownVRID, DropAuthMismatch, DropIntervalMismatch, DropNotAPeer,
	DropOwnPacket, DropBadTTL, DropQueueFull,
}

// String returns the snake_case name used as a metric label, or "unknown"
// for a value that is not a defined reason.
func (r DropReason) String() string {
	if r == 0 || int(r) >= len(dropNames) {
		return "unknown"
	}
	return dropNames[r]
}

// DecodeError is returned by Unmarshal for any advert it refuses. Use
// errors.As (or ReasonOf) to count drops by Reason.
type DecodeError struct {
	Reason DropReason
	Detail string // human-readable specifics, e.g. the offending value
}

// Error names the reason and the detail.
func (e *DecodeError) Error() string {
	return "vrrp: drop advert (" + e.Reason.String() + "): " + e.Detail
}

func decodeErr(r DropReason, format string, args ...any) error {
	return &DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the DropReason carried by err, if err is or wraps a
// *DecodeError.
func ReasonOf(err error) (DropReason, bool) {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason, true
	}
	return 0, false
}

// EncodeError is returned by Marshal when the Advert or the addresses cannot
// be put on the wire.
type EncodeError struct {
	Field  string // the Advert field or argument at fault, e.g. "Interval"
	Detail string
}

// Error names the field at fault and why.
func (e *EncodeError) Error() string {
	return "vrrp: cannot encode advert: " + e.Field + ": " + e.Detail
}

func encodeErr(field, format string, args ...any) error {
	return &EncodeError{Field: field, Detail: fmt.Sprintf(format, args...)}
}
