package history

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
)

// A segment file is a sequence of records, each
//
//	magic (1 byte, 0xE7) | length (4 bytes, big endian) | CRC-32C of the payload (4 bytes) | payload
//
// where the payload is one Event as JSON. A record is written with a
// single write, so a crash leaves at most one torn record at the end of
// the newest segment: the reader stops at the first record whose framing,
// checksum or JSON is wrong, and Open cuts it off.

const (
	recordMagic  = 0xE7
	recordHeader = 9
	// maxRecord bounds a payload: a hostile length field cannot make the
	// reader allocate more (events are clipped far below it).
	maxRecord = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn: the bytes left do not hold a whole, intact record.
var errTorn = errors.New("torn or corrupt record")

// appendRecord appends e's record to b.
func appendRecord(b []byte, e *Event) ([]byte, error) {
	p, err := json.Marshal(e)
	if err != nil {
		return b, err
	}
	if len(p) > maxRecord {
		return b, errors.New("history: event too large")
	}
	b = append(b, recordMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(p, castagnoli))
	return append(b, p...), nil
}

// nextRecord decodes the record at the start of b and returns the event
// and the record's length. A record that frames and checksums correctly
// but holds no valid event returns ok=false with its length, so the
// reader skips it and goes on; errTorn means nothing after it can be
// trusted.
func nextRecord(b []byte) (e Event, n int, ok bool, err error) {
	if len(b) < recordHeader || b[0] != recordMagic {
		return Event{}, 0, false, errTorn
	}
	size := binary.BigEndian.Uint32(b[1:5])
	if size > maxRecord || uint64(len(b)-recordHeader) < uint64(size) {
		return Event{}, 0, false, errTorn
	}
	p := b[recordHeader : recordHeader+int(size)]
	if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(b[5:9]) {
		return Event{}, 0, false, errTorn
	}
	n = recordHeader + int(size)
	if err := json.Unmarshal(p, &e); err != nil || e.Seq == 0 || e.Node == "" {
		return Event{}, n, false, nil
	}
	if _, err := ParseKind(string(e.Kind)); err != nil {
		return Event{}, n, false, nil
	}
	e.clip()
	return e, n, true, nil
}
