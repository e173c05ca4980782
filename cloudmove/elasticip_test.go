package cloudmove

import (
	"net/netip"
	"testing"
)

func TestElasticIPConfigValidate(t *testing.T) {
	checkFields(t, []fieldCase{
		{"eni id", func(o *Owner) { o.Cloud.Actions[1].ElasticIP.ENI = "vol-01234567" },
			"actions[1].elastic_ip.eni", `"vol-01234567" is not an id such as eni-0123456789abcdef0`},
		{"eip both", func(o *Owner) { o.Cloud.Actions[1].ElasticIP.PublicIP = netip.MustParseAddr("203.0.113.1") },
			"actions[1].elastic_ip.public_ip", "give allocation_id or public_ip, not both"},
		{"public ip is IPv6", func(o *Owner) {
			o.Cloud.Actions[1].ElasticIP.AllocationID, o.Cloud.Actions[1].ElasticIP.PublicIP = "", netip.MustParseAddr("2001:db8::1")
		}, "actions[1].elastic_ip.public_ip", "2001:db8::1: Elastic IPs are IPv4"},
		{"private ip is IPv6", func(o *Owner) { o.Cloud.Actions[1].ElasticIP.PrivateIP = netip.MustParseAddr("2001:db8::5") },
			"actions[1].elastic_ip.private_ip", "2001:db8::5 is not an IPv4 address"},
	})
}
