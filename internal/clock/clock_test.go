package clock

import (
	"testing"
	"time"
)

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
