package fsm

import (
	"testing"
	"time"
)

// BenchmarkReceive measures the per-advert cost. The backup case is the
// steady-state hot path of every backup in a healthy cluster; the master
// case is a master answering a lower-priority one.
func BenchmarkReceive(b *testing.B) {
	cases := []struct {
		name  string
		setup func(m *Machine)
		adv   Advert
	}{
		{"backup/from-master", func(m *Machine) { m.Start(t0) }, Advert{Priority: 150, Interval: time.Second, Src: higher}},
		{"backup/lower-discarded", func(m *Machine) { m.Start(t0) }, Advert{Priority: 50, Interval: time.Second, Src: lower}},
		{"master/lower-reassert", func(m *Machine) { m.Start(t0); m.Tick(t0.Add(down100)) }, Advert{Priority: 50, Interval: time.Second, Src: lower}},
		{"master/priority-0", func(m *Machine) { m.Start(t0); m.Tick(t0.Add(down100)) }, Advert{Priority: 0, Interval: time.Second, Src: lower}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m, err := New(v3(100))
			if err != nil {
				b.Fatal(err)
			}
			c.setup(m)
			now := t0.Add(down100)
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Millisecond)
				_ = m.Receive(c.adv, now)
			}
		})
	}
}

// BenchmarkTick measures the master's advert timer path.
func BenchmarkTick(b *testing.B) {
	m, err := New(v3(100))
	if err != nil {
		b.Fatal(err)
	}
	m.Start(t0)
	now := t0.Add(down100)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Tick(now)
		now = now.Add(time.Second)
	}
}
