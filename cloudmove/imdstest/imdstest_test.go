package imdstest_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/cloudmove/imdstest"
)

func TestIMDSv2(t *testing.T) {
	s := imdstest.New(imdstest.Instance{InstanceID: "i-0123456789abcdef0", Region: "eu-west-1", AZ: "eu-west-1b",
		Interfaces: []imdstest.Interface{
			{MAC: "02:00:00:00:00:01", ENI: "eni-01", SubnetID: "subnet-1", VPCID: "vpc-1", LocalIPv4s: []string{"198.51.100.4", "198.51.100.50"}},
			{MAC: "02:00:00:00:00:02", ENI: "eni-02", DeviceNumber: 1, LocalIPv4s: []string{"198.51.100.70"}},
		}})
	defer s.Close()
	get := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		if token != "" {
			req.Header.Set("X-aws-ec2-metadata-token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("latest/meta-data/instance-id", ""); c != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", c)
	}
	put := func(ttl string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPut, s.URL+"latest/api/token", nil)
		if ttl != "" {
			req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", ttl)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := put(""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token without TTL: %d, want 400", resp.StatusCode)
	}
	resp, tok := put("300")
	if resp.StatusCode != 200 || resp.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "300" || tok == "" {
		t.Fatalf("token: %d %q ttl header %q", resp.StatusCode, tok, resp.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
	}
	if c := get("latest/meta-data/instance-id", "forged"); c != http.StatusUnauthorized {
		t.Errorf("forged token: %d", c)
	}
	if c := get("latest/meta-data/instance-id", tok); c != 200 {
		t.Errorf("with a token: %d", c)
	}

	// The SDK's IMDSv2 client, as cloudmove uses it, reads the identity.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	id, err := cloudmove.DiscoverIdentity(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("identity took %v: the SDK retried", time.Since(start))
	}
	if id.InstanceID != "i-0123456789abcdef0" || id.Region != "eu-west-1" || id.AZ != "eu-west-1b" || len(id.Interfaces) != 2 {
		t.Fatalf("identity %+v", id)
	}
	ni := id.Interfaces["02:00:00:00:00:01"]
	if ni.ENI != "eni-01" || ni.VPCID != "vpc-1" || len(ni.LocalIPv4s) != 2 || ni.LocalIPv4s[1].String() != "198.51.100.50" {
		t.Errorf("eth0 %+v", ni)
	}
	// No local interface has these MACs: ethN falls back to device N.
	if got, err := id.ENIFor("eth1", func(string) (string, error) { return "02:ff:ff:ff:ff:ff", nil }); err != nil || got.ENI != "eni-02" {
		t.Errorf("ENIFor(eth1) = %+v, %v", got, err)
	}
	if got, err := id.ENIFor("eth0", func(string) (string, error) { return "02:00:00:00:00:01", nil }); err != nil || got.ENI != "eni-01" {
		t.Errorf("ENIFor by MAC = %+v, %v", got, err)
	}
	if _, err := id.ENIFor("ens5", func(string) (string, error) { return "02:ff:ff:ff:ff:ff", nil }); err == nil {
		t.Error("unknown MAC on a non-ethN name found an ENI")
	}
	if s.Rejected.Load() != 2 {
		t.Errorf("%d rejected requests, want 2", s.Rejected.Load())
	}
}
