package cloudmove

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// RouteConfig points a destination at this node's ENI in some route
// tables, replacing the route or creating it when missing.
type RouteConfig struct {
	// Destination is the routed prefix (a VIP outside every subnet, as a
	// /32, or any CIDR).
	Destination netip.Prefix `yaml:"destination"`
	// RouteTables lists tables by id (rtb-...). Exactly one of RouteTables
	// and SubnetTags is set: the front end sets either key's field, even
	// to an empty list or mapping, when its key is written.
	RouteTables []string `yaml:"route_tables,omitempty"`
	// SubnetTags selects the tables associated with the subnets of this
	// node's VPC that carry all these tags.
	SubnetTags map[string]string `yaml:"subnet_tags,omitempty" vipd:"keys=tag names"`
	// IncludeMain also changes the VPC's main route table (skipped by
	// default: it serves every subnet without its own table).
	IncludeMain bool `yaml:"include_main,omitempty"`
	// Target is the ENI the route points at.
	Target `yaml:",inline"`
}

var rtbRE = awsIDRE("rtb")

func (r *RouteConfig) kind() Kind { return KindRoute }

func (r *RouteConfig) same(o kindConfig) bool {
	x, ok := o.(*RouteConfig)
	return ok && r.Destination == x.Destination && slices.Equal(r.RouteTables, x.RouteTables) &&
		maps.Equal(r.SubnetTags, x.SubnetTags) && r.IncludeMain == x.IncludeMain && r.Target == x.Target
}

func (r *RouteConfig) grant(region string) grant {
	g := grant{describe: []string{"ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces"}, sid: "VipdRoute",
		actions: []string{"ec2:CreateRoute", "ec2:ReplaceRoute"}}
	for _, t := range r.RouteTables {
		g.resources = append(g.resources, ec2ARN(region, "route-table", t))
	}
	if r.RouteTables == nil {
		// Tables found by subnet tags are known only at run time.
		g.describe = append(g.describe, "ec2:DescribeSubnets")
		g.resources = append(g.resources, ec2ARN(region, "route-table", ""))
	}
	return g
}

func (r *RouteConfig) newAction(o Owner) action { return newRoute(r, o) }

func (r *RouteConfig) validate(v *validation, o Owner, k string) {
	r.Target.validate(v, o, k)
	d := r.Destination
	switch {
	case !d.IsValid():
		v.fail(k+".destination", "is required (a CIDR such as 203.0.113.10/32)")
	case d.Masked() != d:
		v.fail(k+".destination", fmt.Sprintf("%v has host bits set; the network is %v", d, d.Masked()))
	}
	switch {
	case r.RouteTables == nil && r.SubnetTags == nil:
		v.fail(k+".route_tables", "is required (or subnet_tags)")
	case r.RouteTables != nil && r.SubnetTags != nil:
		v.fail(k+".subnet_tags", "give route_tables or subnet_tags, not both")
	case r.RouteTables != nil && len(r.RouteTables) == 0:
		v.fail(k+".route_tables", "must list at least one route table")
	case r.SubnetTags != nil && len(r.SubnetTags) == 0:
		v.fail(k+".subnet_tags", "must name at least one tag")
	}
	if r.IncludeMain && r.SubnetTags == nil {
		v.fail(k+".include_main", "only applies to subnet_tags (list the main table in route_tables instead)")
	}
	seen := map[string]bool{}
	for j, t := range r.RouteTables {
		tk := k + ".route_tables[" + strconv.Itoa(j) + "]"
		switch {
		case !rtbRE.MatchString(t):
			v.fail(tk, fmt.Sprintf("%q is not an id such as rtb-0123456789abcdef0", t))
		case seen[t]:
			v.fail(tk, fmt.Sprintf("%s is listed twice", t))
		default:
			seen[t] = true
			if d.IsValid() {
				v.claim(tk, fmt.Sprintf("the route to %v in %s", d, t))
			}
		}
	}
	if _, empty := r.SubnetTags[""]; empty {
		v.fail(k+".subnet_tags", "a tag name must not be empty")
	}
	if r.SubnetTags != nil && d.IsValid() {
		v.claim(k+".destination", fmt.Sprintf("the route to %v in the tables of subnets tagged %v", d, r.SubnetTags))
	}
}

// route points a destination at this node's ENI in a set of route tables,
// replacing the route, or creating it where it is missing. The tables are
// changed in parallel; each attempt only touches the tables the last look
// found pointing elsewhere.
type route struct {
	noRelease
	cfg    *RouteConfig
	ifname string

	mu      sync.Mutex
	eni     string
	tables  []string
	targets map[string]string // table → ENI (or other target) the route points at; "" = no route
	known   bool              // targets reflects a look at every table
	warns   []string
}

func newRoute(c *RouteConfig, o Owner) *route {
	a := &route{cfg: c, ifname: c.Interface}
	if a.ifname == "" {
		a.ifname = o.Interface
	}
	return a
}

func (a *route) kind() Kind { return KindRoute }

func (a *route) name() string {
	if len(a.cfg.RouteTables) > 0 {
		return "route " + a.cfg.Destination.String() + " in " + strings.Join(a.cfg.RouteTables, ",")
	}
	var tags []string
	for _, k := range slices.Sorted(maps.Keys(a.cfg.SubnetTags)) {
		tags = append(tags, k+"="+a.cfg.SubnetTags[k])
	}
	return "route " + a.cfg.Destination.String() + " in subnets " + strings.Join(tags, ",")
}

func (a *route) v6() bool { return a.cfg.Destination.Addr().Is6() }

func (a *route) resolve(ctx context.Context, e *env) error {
	ni, err := e.eniOf(a.cfg.ENI, a.ifname)
	if err != nil {
		return err
	}
	tables := a.cfg.RouteTables
	if tables == nil {
		if tables, err = a.tablesByTags(ctx, e, ni); err != nil {
			return err
		}
	}
	var warns []string
	if len(tables) == 0 {
		warns = append(warns, "no route table matches the subnet tags")
	}
	// A NAT or router ENI must forward packets not addressed to it.
	out, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeNetworkInterfacesOutput, error) {
		return e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{ni.ENI}})
	})
	if err != nil {
		return err
	}
	if len(out.NetworkInterfaces) == 1 && aws.ToBool(out.NetworkInterfaces[0].SourceDestCheck) {
		warns = append(warns, fmt.Sprintf("source/dest check is on for %s: it drops traffic routed through it (turn it off with ModifyNetworkInterfaceAttribute)", ni.ENI))
	}
	a.mu.Lock()
	a.eni, a.tables, a.warns = ni.ENI, tables, warns
	if a.targets == nil {
		a.targets = map[string]string{}
	}
	a.mu.Unlock()
	return nil
}

// tablesByTags finds the tables associated with the subnets of the ENI's
// VPC that carry every tag; the main table only if asked for.
func (a *route) tablesByTags(ctx context.Context, e *env, ni NetInterface) ([]string, error) {
	vpc := ni.VPCID
	if vpc == "" {
		return nil, fmt.Errorf("the VPC of %s is unknown to instance metadata", ni.ENI)
	}
	filters := []types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}
	for _, k := range slices.Sorted(maps.Keys(a.cfg.SubnetTags)) {
		filters = append(filters, types.Filter{Name: aws.String("tag:" + k), Values: []string{a.cfg.SubnetTags[k]}})
	}
	subnets, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeSubnetsOutput, error) {
		return e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: filters})
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range subnets.Subnets {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	var tables []string
	if len(ids) > 0 {
		rts, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeRouteTablesOutput, error) {
			return e.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
				{Name: aws.String("association.subnet-id"), Values: ids}}})
		})
		if err != nil {
			return nil, err
		}
		for _, rt := range rts.RouteTables {
			if isMain(rt) && !a.cfg.IncludeMain {
				continue
			}
			tables = append(tables, aws.ToString(rt.RouteTableId))
		}
	}
	if a.cfg.IncludeMain {
		rts, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeRouteTablesOutput, error) {
			return e.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
				{Name: aws.String("vpc-id"), Values: []string{vpc}},
				{Name: aws.String("association.main"), Values: []string{"true"}}}})
		})
		if err != nil {
			return nil, err
		}
		for _, rt := range rts.RouteTables {
			if isMain(rt) {
				tables = append(tables, aws.ToString(rt.RouteTableId))
			}
		}
	}
	slices.Sort(tables)
	return slices.Compact(tables), nil
}

func isMain(rt types.RouteTable) bool {
	for _, as := range rt.Associations {
		if aws.ToBool(as.Main) {
			return true
		}
	}
	return false
}

func (a *route) resolved() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eni != ""
}

func (a *route) state() (string, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eni, slices.Clone(a.tables)
}

// routeTarget names what a route points at.
func routeTarget(r types.Route) string {
	for _, s := range []*string{r.NetworkInterfaceId, r.InstanceId, r.GatewayId, r.NatGatewayId,
		r.TransitGatewayId, r.VpcPeeringConnectionId, r.LocalGatewayId, r.CarrierGatewayId, r.EgressOnlyInternetGatewayId} {
		if v := aws.ToString(s); v != "" {
			return v
		}
	}
	return "?"
}

func (a *route) observe(ctx context.Context, e *env) (observation, string, error) {
	eni, tables := a.state()
	if len(tables) == 0 {
		return ours, "no route table to change", nil
	}
	out, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeRouteTablesOutput, error) {
		return e.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: tables})
	})
	if err != nil {
		return notOurs, "", err
	}
	dest := a.cfg.Destination.String()
	targets := map[string]string{}
	for _, rt := range out.RouteTables {
		id := aws.ToString(rt.RouteTableId)
		targets[id] = ""
		for _, r := range rt.Routes {
			d := aws.ToString(r.DestinationCidrBlock)
			if a.v6() {
				d = aws.ToString(r.DestinationIpv6CidrBlock)
			}
			if d == dest {
				targets[id] = routeTarget(r)
				if r.State == types.RouteStateBlackhole && targets[id] != eni {
					targets[id] += " (blackhole)"
				}
			}
		}
	}
	obs := ours
	var parts []string
	for _, t := range tables {
		tg, seen := targets[t]
		switch {
		case !seen:
			return notOurs, "", fmt.Errorf("route table %s not found", t)
		case tg == "":
			parts = append(parts, t+": no route")
			obs = notOurs
		case tg != eni:
			parts = append(parts, t+": "+tg)
			obs = notOurs
		}
	}
	detail := fmt.Sprintf("%s → %s in %d tables", dest, eni, len(tables))
	if obs != ours {
		detail = dest + " elsewhere: " + strings.Join(parts, ", ")
	}
	a.mu.Lock()
	a.targets, a.known = targets, true
	a.mu.Unlock()
	return obs, detail, nil
}

func (a *route) cached() observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.known {
		return unknown
	}
	for _, t := range a.tables {
		if a.targets[t] != a.eni {
			return notOurs
		}
	}
	return ours
}

// settledElsewhere: every table had the route at the last look (whoever
// it points at), so a failover replaces it at once.
func (a *route) settledElsewhere() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.known {
		return false
	}
	for _, t := range a.tables {
		if a.targets[t] == "" {
			return false
		}
	}
	return true
}

// stale returns the tables apply must change: those the last look found
// pointing elsewhere (all of them before any look), and whether each
// has a route to replace.
func (a *route) stale() (string, map[string]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]bool{}
	for _, t := range a.tables {
		tg, seen := a.targets[t]
		if !a.known || !seen {
			out[t] = true // try to replace; fall back to create
			continue
		}
		if tg != a.eni {
			out[t] = tg != ""
		}
	}
	return a.eni, out
}

func (a *route) change() string {
	eni, stale := a.stale()
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(stale)) {
		op := "CreateRoute"
		if stale[t] {
			op = "ReplaceRoute"
		}
		parts = append(parts, fmt.Sprintf("%s %s %v → %s", op, t, a.cfg.Destination, eni))
	}
	return strings.Join(parts, "; ")
}

func (a *route) apply(ctx context.Context, e *env) error {
	eni, stale := a.stale()
	var wg sync.WaitGroup
	errs := make([]error, 0, len(stale))
	var mu sync.Mutex
	for t, replace := range stale {
		wg.Go(func() {
			err := a.set(ctx, e, t, eni, replace, false)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t, err))
				return
			}
			a.mu.Lock()
			a.targets[t] = eni
			a.mu.Unlock()
		})
	}
	wg.Wait()
	// A permanent error decides the class of the whole attempt.
	slices.SortFunc(errs, func(x, y error) int { return int(classify(y)) - int(classify(x)) })
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// set makes one table's route point at eni: ReplaceRoute when it has one,
// else CreateRoute, switching to the other call when the table says
// otherwise (someone added or removed the route since the last look).
func (a *route) set(ctx context.Context, e *env, table, eni string, replace, dry bool) error {
	for range 2 {
		var err error
		if replace {
			in := &ec2.ReplaceRouteInput{RouteTableId: aws.String(table), NetworkInterfaceId: aws.String(eni)}
			if a.v6() {
				in.DestinationIpv6CidrBlock = aws.String(a.cfg.Destination.String())
			} else {
				in.DestinationCidrBlock = aws.String(a.cfg.Destination.String())
			}
			if dry {
				in.DryRun = aws.Bool(true)
			}
			_, err = call(ctx, e, func(ctx context.Context) (*ec2.ReplaceRouteOutput, error) { return e.ec2.ReplaceRoute(ctx, in) })
		} else {
			in := &ec2.CreateRouteInput{RouteTableId: aws.String(table), NetworkInterfaceId: aws.String(eni)}
			if a.v6() {
				in.DestinationIpv6CidrBlock = aws.String(a.cfg.Destination.String())
			} else {
				in.DestinationCidrBlock = aws.String(a.cfg.Destination.String())
			}
			if dry {
				in.DryRun = aws.Bool(true)
			}
			_, err = call(ctx, e, func(ctx context.Context) (*ec2.CreateRouteOutput, error) { return e.ec2.CreateRoute(ctx, in) })
		}
		if dry || err == nil {
			return err
		}
		switch code := errorCode(err); {
		case replace && (code == "InvalidRoute.NotFound" || (code == "InvalidParameterValue" && strings.Contains(err.Error(), "CreateRoute"))):
			replace = false
		case !replace && code == "RouteAlreadyExists":
			replace = true
		default:
			return err
		}
	}
	return errors.New("the route keeps appearing and disappearing")
}

func (a *route) permissions() []string {
	return []string{"ec2:ReplaceRoute", "ec2:CreateRoute", "ec2:DescribeRouteTables", "ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces"}
}

func (a *route) dryRun(ctx context.Context, e *env) []PermissionCheck {
	eni, tables := a.state()
	if len(tables) == 0 {
		return []PermissionCheck{{Permission: "ec2:ReplaceRoute", Action: a.name(), Note: "no route table to check against"},
			{Permission: "ec2:CreateRoute", Action: a.name(), Note: "no route table to check against"}}
	}
	var out []PermissionCheck
	for _, replace := range []bool{true, false} {
		perm := "ec2:CreateRoute"
		if replace {
			perm = "ec2:ReplaceRoute"
		}
		out = append(out, dryRunResult(perm, a.name(), a.set(ctx, e, tables[0], eni, replace, true)))
	}
	return out
}

func (a *route) warnings() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.warns)
}
