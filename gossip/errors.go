package gossip

import (
	"errors"
	"fmt"
)

// Decoding errors; a DecodeError wraps one of them.
var (
	// ErrTruncated: the message ends before a field does.
	ErrTruncated = errors.New("truncated")
	// ErrVersion: a codec version this node does not speak.
	ErrVersion = errors.New("unsupported version")
	// ErrType: an unknown message type.
	ErrType = errors.New("unknown message type")
	// ErrTooLong: a string or list longer than its limit.
	ErrTooLong = errors.New("too long")
	// ErrTrailing: bytes left over after the message.
	ErrTrailing = errors.New("trailing bytes")
	// ErrBadValue: a field holds a value that cannot be (an address of a
	// bad length, a varint that overflows, invalid UTF-8 in a name).
	ErrBadValue = errors.New("bad value")
)

// DecodeError says where a received message or the node meta failed to
// decode.
type DecodeError struct {
	// What is the structure being decoded ("message", "meta").
	What string
	// Field is the field that failed.
	Field string
	// Offset is the byte offset where it failed.
	Offset int
	// Err is one of ErrTruncated, ErrVersion, ErrType, ErrTooLong,
	// ErrTrailing or ErrBadValue.
	Err error
}

// Error describes the problem.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("gossip: decode %s: %s at byte %d: %v", e.What, e.Field, e.Offset, e.Err)
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *DecodeError) Unwrap() error { return e.Err }

// Errors of the API.
var (
	// ErrMetaTooLarge: the encoded NodeMeta exceeds MetaMaxSize.
	ErrMetaTooLarge = errors.New("gossip: node meta too large")
	// ErrAlreadyStarted: Start was called twice.
	ErrAlreadyStarted = errors.New("gossip: already started")
	// ErrStopped: the cluster was stopped (Leave or its context ended).
	ErrStopped = errors.New("gossip: stopped")
	// ErrEncryptionOff: keys cannot be installed at run time on a node
	// started without encryption (its peers would drop its packets).
	ErrEncryptionOff = errors.New("gossip: encryption was not configured at start; restart with keys")
	// ErrNoKeys: an empty key list, which would switch encryption off.
	ErrNoKeys = errors.New("gossip: no keys")
	// ErrInvalid: a NodeState or order the wire format cannot carry.
	ErrInvalid = errors.New("gossip: invalid")
	// ErrPersist: the state file could not be written.
	ErrPersist = errors.New("gossip: cannot write state file")
)

// ConfigError is a problem with the gossip configuration.
type ConfigError struct {
	// Field is the config.Gossip field at fault.
	Field string
	// Err says what is wrong.
	Err error
}

// Error describes the problem.
func (e *ConfigError) Error() string { return "gossip: config: " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() error { return e.Err }

// KeyError is an unusable encryption key.
type KeyError struct {
	// Source is "keys" (config.Gossip.Keys) or the key file's path.
	Source string
	// Index is the key's position in Keys (0-based) or its line in the
	// key file (1-based).
	Index int
	// Err says what is wrong.
	Err error
}

// Error describes the problem.
func (e *KeyError) Error() string {
	if e.Source == "keys" {
		return fmt.Sprintf("gossip: key %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("gossip: %s:%d: %v", e.Source, e.Index, e.Err)
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *KeyError) Unwrap() error { return e.Err }

// StateFileError is a state file that cannot be read or is corrupt.
type StateFileError struct {
	// Path is the state file.
	Path string
	// Err says what is wrong.
	Err error
}

// Error describes the problem.
func (e *StateFileError) Error() string { return "gossip: state file " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *StateFileError) Unwrap() error { return e.Err }
