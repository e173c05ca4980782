package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	late := f.NewTimer(3 * time.Second)
	early := f.NewTimer(1 * time.Second)

	f.Advance(500 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("timer fired before its deadline")
	default:
	}

	f.Advance(time.Second)
	if got := <-early.C(); !got.Equal(start.Add(time.Second)) {
		t.Fatalf("early fired at %v, want %v", got, start.Add(time.Second))
	}
	if !f.Now().Equal(start.Add(1500 * time.Millisecond)) {
		t.Fatalf("Now = %v after advancing 1.5s", f.Now())
	}
	if f.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", f.Pending())
	}

	if !late.Reset(10 * time.Second) {
		t.Fatal("Reset of an armed timer reported inactive")
	}
	f.Advance(5 * time.Second)
	select {
	case <-late.C():
		t.Fatal("reset timer fired at its old deadline")
	default:
	}
	if !late.Stop() {
		t.Fatal("Stop of an armed timer reported inactive")
	}
	f.Advance(time.Hour)
	select {
	case <-late.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if late.Stop() {
		t.Fatal("second Stop reported active")
	}
}

func TestRealClockTimer(t *testing.T) {
	c := Real()
	tm := c.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("real timer did not fire")
	}
	if c.Now().IsZero() {
		t.Fatal("real Now is zero")
	}
}
