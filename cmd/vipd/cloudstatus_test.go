package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestStatusCloudActions: `vipd status` lists the cloud actions with their
// last error and its age, also for an action released after the failure
// (an owner in FAULT), and none of that when there are no actions.
func TestStatusCloudActions(t *testing.T) {
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	resp := &vipdv1.GetStatusResponse{Node: "nat1", Version: "1.0",
		CloudActions: []*vipdv1.CloudAction{
			{Owner: "instance:VI_NAT", Name: "elastic_ip eipalloc-0123", Kind: "elastic_ip", State: "released",
				Error:   "missing IAM permission ec2:AssociateAddress (UnauthorizedOperation)",
				ErrorAt: timestamppb.New(now.Add(-42 * time.Second)), Since: timestamppb.New(now.Add(-41 * time.Second)),
				Took: durationpb.New(120 * time.Millisecond), Attempts: 1},
			{Owner: "instance:VI_NAT", Name: "route 203.0.113.10/32 in subnets Network=private", Kind: "route", State: "done",
				Detail: "203.0.113.10/32 → eni-1 in 5 tables", Since: timestamppb.New(now.Add(-time.Minute))},
		}}
	var b bytes.Buffer
	if err := printStatus(&b, resp, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"CLOUD ACTION", "LAST ERROR",
		"missing IAM permission ec2:AssociateAddress (UnauthorizedOperation) (42s ago)", "released", "120ms",
		"203.0.113.10/32 → eni-1 in 5 tables"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "route ") && !strings.HasSuffix(strings.TrimSpace(l), "-") {
			t.Errorf("an action without error shows one: %q", l)
		}
	}
	b.Reset()
	resp.CloudActions = nil
	if err := printStatus(&b, resp, now); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "CLOUD ACTION") {
		t.Errorf("cloud table without actions:\n%s", b.String())
	}
}
