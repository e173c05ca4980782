package cloudmove

import (
	"net/netip"
	"testing"
)

func TestRouteConfigValidate(t *testing.T) {
	checkFields(t, []fieldCase{
		{"route host bits", func(o *Owner) {
			o.Cloud.Actions[2].Route.Destination = netip.MustParsePrefix("203.0.113.10/24")
		},
			"actions[2].route.destination", "203.0.113.10/24 has host bits set; the network is 203.0.113.0/24"},
		{"route table id", func(o *Owner) { o.Cloud.Actions[2].Route.RouteTables = []string{"rtb-01234567", "rtb-xyz"} },
			"actions[2].route.route_tables[1]", `"rtb-xyz" is not an id such as rtb-0123456789abcdef0`},
		{"include_main without tags", func(o *Owner) { o.Cloud.Actions[2].Route.IncludeMain = true },
			"actions[2].route.include_main", "only applies to subnet_tags (list the main table in route_tables instead)"},
		{"empty tag name", func(o *Owner) {
			o.Cloud.Actions[2].Route.RouteTables, o.Cloud.Actions[2].Route.SubnetTags = nil, map[string]string{"": "x"}
		}, "actions[2].route.subnet_tags", "a tag name must not be empty"},
	})
}
