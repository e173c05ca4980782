package vrrp

import (
	"net/netip"
	"testing"
)

var benchCases = []struct {
	name     string
	a        Advert
	src, dst netip.Addr
}{
	{"v2-ipv4-pass", v2Advert(), src4, dst4},
	{"v3-ipv4", v3Advert(vip4a, vip4b), src4, MulticastIPv4},
	{"v3-ipv6", v3Advert(vip6b, vip6a), src6, MulticastIPv6},
}

func BenchmarkMarshal(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, MaxLen)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.a.AppendMarshal(buf[:0], c.src, c.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, c := range benchCases {
		m, err := c.a.Marshal(c.src, c.dst)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Unmarshal(m, c.src, c.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"-into", func(b *testing.B) {
			var a Advert
			b.ReportAllocs()
			for b.Loop() {
				if err := UnmarshalInto(&a, m, c.src, c.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
