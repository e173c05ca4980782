package sockwatch

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestParseIPv4(t *testing.T) {
	pkt := make([]byte, 20+8+4) // header, payload, trailing bytes beyond total length
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:4], 28)
	copy(pkt[12:16], []byte{198, 51, 100, 1})
	copy(pkt[16:20], []byte{224, 0, 0, 18})
	copy(pkt[20:28], "payload!")
	src, dst, payload, ok := ParseIPv4(pkt)
	if !ok || src != netip.MustParseAddr("198.51.100.1") || dst != netip.MustParseAddr("224.0.0.18") || string(payload) != "payload!" {
		t.Fatalf("ParseIPv4 = %v %v %q %v", src, dst, payload, ok)
	}
	for name, b := range map[string][]byte{
		"short":     pkt[:19],
		"IPv6":      append([]byte{0x65}, pkt[1:]...),
		"small IHL": append([]byte{0x44}, pkt[1:]...),
		"truncated": pkt[:27],
		"total < IHL": func() []byte {
			c := append([]byte(nil), pkt...)
			binary.BigEndian.PutUint16(c[2:4], 19)
			return c
		}(),
	} {
		if _, _, _, ok := ParseIPv4(b); ok {
			t.Errorf("%s: ParseIPv4 accepted it", name)
		}
	}
}

func TestRxTime(t *testing.T) {
	want := time.Unix(1700000000, 123456789)
	ts := unix.Timespec{Sec: want.Unix(), Nsec: int64(want.Nanosecond())}
	data := unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))
	oob := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SO_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(len(data)))
	copy(oob[unix.CmsgLen(0):], data)
	if got, ok := rxTime(oob); !ok || !got.Equal(want) {
		t.Fatalf("rxTime = %v %v, want %v", got, ok, want)
	}
	if _, ok := rxTime(nil); ok {
		t.Fatal("rxTime found a timestamp in no control message")
	}
}
