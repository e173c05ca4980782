package cloudmove

import (
	"net/netip"
	"testing"
)

func TestSecondaryIPConfigValidate(t *testing.T) {
	checkFields(t, []fieldCase{
		{"no interface to default to", func(o *Owner) {
			o.Interface, o.Cloud.Actions[1].ElasticIP.Interface, o.Cloud.Actions[2].Route.Interface = "", "eth0", "eth0"
		},
			"actions[0].secondary_ip.interface", "is required (the owner has no interface to default to)"},
		{"secondary ipv6", func(o *Owner) {
			o.Cloud.Actions[0].SecondaryIP.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::1")}
		}, "actions[0].secondary_ip.addresses[0]", "2001:db8::1: only IPv4 addresses can be moved as secondary private IPs"},
		{"secondary no VIP", func(o *Owner) { o.VIPs = nil },
			"actions[0].secondary_ip.addresses", "is required: the instance has no IPv4 VIP to default to"},
	})
}
