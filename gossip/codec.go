package gossip

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unicode/utf8"
)

// The wire format is a small hand-written binary codec: unsigned varints,
// strings as a varint length then bytes, addresses as a length byte (0, 4
// or 16) then bytes, times as a presence byte then a varint of Unix
// nanoseconds. It is compact (a node state must usually fit one UDP
// gossip packet) and canonical (equal values encode to equal bytes, which
// SetLocal uses to detect a change).

// Limits on what a decoder accepts, so that a hostile or corrupt message
// cannot make it allocate much.
const (
	maxName    = 255  // node, instance, check, cluster names
	maxText    = 1024 // state words, reasons, versions, addresses
	maxItems   = 1024 // instances or checks per node, nodes per order
	maxEntries = 4096 // states or orders in one push/pull
)

// encoder appends to a byte slice; it never fails (limits are checked
// before encoding, by validate).
type encoder struct{ b []byte }

func (e *encoder) byte(v byte) { e.b = append(e.b, v) }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) addr(a netip.Addr) {
	switch {
	case !a.IsValid():
		e.byte(0)
	case a.Is4():
		e.byte(4)
		v := a.As4()
		e.b = append(e.b, v[:]...)
	default:
		// A zone cannot cross the wire: it names a local interface.
		e.byte(16)
		v := a.As16()
		e.b = append(e.b, v[:]...)
	}
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.byte(0)
		return
	}
	e.byte(1)
	e.b = binary.AppendVarint(e.b, t.UnixNano())
}

// decoder reads what encoder wrote. The first error sticks: later reads
// return zero values, so callers check err once at the end.
type decoder struct {
	what string
	b    []byte
	off  int
	err  *DecodeError
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &DecodeError{What: d.what, Field: field, Offset: d.off, Err: err}
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(field, ErrTruncated)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, ErrTruncated)
		return 0
	case n < 0 || !minimalVarint(d.b[d.off:d.off+n]):
		d.fail(field, ErrBadValue)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) bool(field string) bool {
	switch v := d.byte(field); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail(field, ErrBadValue)
		return false
	}
}

// str reads a string of at most max bytes; it must be valid UTF-8 so that
// names print and compare sanely everywhere.
func (d *decoder) str(field string, max int) string {
	n := d.uvarint(field)
	if d.err != nil {
		return ""
	}
	if n > uint64(max) {
		d.fail(field, ErrTooLong)
		return ""
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(field, ErrTruncated)
		return ""
	}
	s := d.b[d.off : d.off+int(n)]
	if !utf8.Valid(s) {
		d.fail(field, ErrBadValue)
		return ""
	}
	d.off += int(n)
	return string(s) // copies: the caller's buffer may be reused
}

func (d *decoder) addr(field string) netip.Addr {
	n := d.byte(field)
	if d.err != nil {
		return netip.Addr{}
	}
	if n != 0 && n != 4 && n != 16 {
		d.fail(field, ErrBadValue)
		return netip.Addr{}
	}
	if int(n) > len(d.b)-d.off {
		d.fail(field, ErrTruncated)
		return netip.Addr{}
	}
	raw := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	switch n {
	case 4:
		return netip.AddrFrom4([4]byte(raw))
	case 16:
		return netip.AddrFrom16([16]byte(raw))
	}
	return netip.Addr{}
}

func (d *decoder) time(field string) time.Time {
	if !d.bool(field) {
		return time.Time{}
	}
	v, n := binary.Varint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, ErrTruncated)
		return time.Time{}
	case n < 0 || !minimalVarint(d.b[d.off:d.off+n]):
		d.fail(field, ErrBadValue)
		return time.Time{}
	}
	d.off += n
	return time.Unix(0, v).UTC()
}

// minimalVarint reports whether a varint uses no more bytes than needed
// (a final 0x00 byte after a continuation is padding). Accepting padding
// would give one value two encodings, and SetLocal's change detection and
// the fuzz target rely on one.
func minimalVarint(b []byte) bool {
	return len(b) == 1 || b[len(b)-1] != 0
}

// count reads a list length of at most max whose elements take at least
// minSize bytes each, so a short message cannot announce a huge list.
func (d *decoder) count(field string, max, minSize int) int {
	n := d.uvarint(field)
	if d.err != nil {
		return 0
	}
	if n > uint64(max) {
		d.fail(field, ErrTooLong)
		return 0
	}
	if n*uint64(minSize) > uint64(len(d.b)-d.off) {
		d.fail(field, ErrTruncated)
		return 0
	}
	return int(n)
}

// end fails if bytes are left over.
func (d *decoder) end() {
	if d.err == nil && d.off != len(d.b) {
		d.fail("end", ErrTrailing)
	}
}

// error returns the first failure as an error (nil if none); returning
// d.err directly would give a non-nil interface holding a nil pointer.
func (d *decoder) error() error {
	if d.err == nil {
		return nil
	}
	return d.err
}
