package agent

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/cloudmove/imdstest"
	"github.com/vipd/vipd/config"
)

// `az: imds` takes the zone from instance metadata (an IMDSv2 server
// that insists on its token); a configured zone is used as it is; no
// metadata service is a clear error.
func TestZoneOf(t *testing.T) {
	md := imdstest.New(imdstest.Instance{InstanceID: "i-0123456789abcdef0", Region: "eu-west-1", AZ: "eu-west-1b",
		Interfaces: []imdstest.Interface{{MAC: "02:00:00:00:00:01", ENI: "eni-0123456789abcdef0", LocalIPv4s: []string{"198.51.100.1"}}}})
	defer md.Close()
	t.Setenv(imdsEndpointEnv, md.URL)
	if az, err := zoneOf(&config.Gossip{AZ: config.GossipAZFromIMDS}); err != nil || az != "eu-west-1b" {
		t.Fatalf("zoneOf(imds) = %q, %v; want eu-west-1b", az, err)
	}
	if md.Requests.Load() == 0 {
		t.Error("the metadata server saw no request with a token")
	}
	if az, err := zoneOf(&config.Gossip{AZ: "az-1"}); err != nil || az != "az-1" {
		t.Errorf("zoneOf(az-1) = %q, %v", az, err)
	}
	md.Close()
	if _, err := zoneOf(&config.Gossip{AZ: config.GossipAZFromIMDS}); err == nil || !strings.Contains(err.Error(), "gossip.az: imds") {
		t.Errorf("without metadata: %v, want an error naming gossip.az", err)
	}
}
