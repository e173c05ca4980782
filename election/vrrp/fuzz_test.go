package vrrp

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzUnmarshal checks that decoding never panics and that whatever decodes
// survives Marshal and a second decode unchanged. Random bytes rarely carry
// a valid checksum, so each input is also tried with its checksum fixed up,
// which lets the fuzzer reach the field checks behind it.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range goldenCases {
		pkts, err := readPcap(filepath.Join("testdata", tc.name+".pcap"))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range pkts {
			f.Add(p.payload, p.src.Is6(), false)
		}
	}
	seeds := []struct {
		a        Advert
		is6, mc  bool
		src, dst netip.Addr
	}{
		{v2Advert(), false, false, src4, dst4},
		{v3Advert(), false, true, src4, MulticastIPv4},
		{v3Advert(vip6a, vip6b), true, true, src6, MulticastIPv6},
		{Advert{Version: 2, VRID: 255, Priority: 255, Interval: MaxIntervalV2}, false, false, src4, dst4},
	}
	for _, s := range seeds {
		m, err := s.a.Marshal(s.src, s.dst)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m, s.is6, s.mc)
	}
	f.Add([]byte{}, false, false)
	f.Add([]byte{0x31, 0, 0, 0, 0xf0, 0, 0, 0}, true, false)
	f.Add([]byte{0x21, 1, 1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, false)

	f.Fuzz(func(t *testing.T, b []byte, is6, multicast bool) {
		src, dst := src4, dst4
		switch {
		case is6 && multicast:
			src, dst = vip6b, MulticastIPv6
		case is6:
			src, dst = src6, dst6
		case multicast:
			dst = MulticastIPv4
		}
		check(t, b, src, dst)
		if len(b) >= HeaderLen {
			fixed := slices.Clone(b)
			binary.BigEndian.PutUint16(fixed[6:], checksum(fixed[0]>>4, src, dst, fixed))
			check(t, fixed, src, dst)
		}
	})
}

func check(t *testing.T, b []byte, src, dst netip.Addr) {
	a, err := Unmarshal(b, src, dst)
	if err != nil {
		if _, ok := ReasonOf(err); !ok {
			t.Fatalf("error %v is not a *DecodeError", err)
		}
		return
	}
	m, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatalf("decoded %+v but cannot re-encode it: %v", a, err)
	}
	if len(m) != len(b) {
		t.Fatalf("re-encoded %d bytes from a %d-byte message", len(m), len(b))
	}
	a2, err := Unmarshal(m, src, dst)
	if err != nil {
		t.Fatalf("re-encoded message does not decode: %v\n% x", err, m)
	}
	if !a2.Equal(&a) {
		t.Fatalf("second decode\n %+v\ndiffers from first\n %+v", a2, a)
	}
}
