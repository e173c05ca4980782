package server

import (
	"testing"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// The history reads (issue 17) are reads: a read-only token may call them.
func TestHistoryMethodsAreReads(t *testing.T) {
	for _, m := range []string{vipdv1.VipdService_ListEvents_FullMethodName, vipdv1.VipdService_Why_FullMethodName} {
		if got := methodAccess(m); got != accessRead {
			t.Errorf("%s: access %v, want read", m, got)
		}
	}
}
