package fielderr

import (
	"errors"
	"testing"
)

func TestList(t *testing.T) {
	var l List
	if l.Err() != nil {
		t.Fatal("an empty list is an error")
	}
	l.Add("dns.server", "is required")
	l.Add("timeout", "0s must be greater than 0")
	err := l.Err()
	if err == nil || err.Error() != "dns.server: is required\ntimeout: 0s must be greater than 0" {
		t.Fatalf("Err() = %v", err)
	}
	var got List
	if !errors.As(err, &got) || len(got) != 2 || got[1].Field != "timeout" {
		t.Fatalf("errors.As gives %v", got)
	}
	var one *Error
	if !errors.As(got[0], &one) || one.Field != "dns.server" || errors.Unwrap(one).Error() != "is required" {
		t.Fatalf("first problem %v", one)
	}
}
