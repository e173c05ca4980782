package cloudmove

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// SecondaryIPConfig assigns addresses as secondary private IPs of this
// node's network interface (ENI), taking them from whichever ENI has them.
// AWS only allows this within one subnet, hence one availability zone.
type SecondaryIPConfig struct {
	// Target is the ENI that gets the addresses.
	Target `yaml:",inline"`
	// Addresses are the IPv4 addresses; empty means the owner's IPv4 VIPs.
	Addresses []netip.Addr `yaml:"addresses,omitempty" vipd:"itempos"`
}

func (s *SecondaryIPConfig) kind() Kind { return KindSecondaryIP }

func (s *SecondaryIPConfig) same(o kindConfig) bool {
	x, ok := o.(*SecondaryIPConfig)
	return ok && s.Target == x.Target && slices.Equal(s.Addresses, x.Addresses)
}

func (s *SecondaryIPConfig) grant(region string) grant {
	return grant{describe: []string{"ec2:DescribeNetworkInterfaces"}, sid: "VipdSecondaryIP",
		actions: []string{"ec2:AssignPrivateIpAddresses"}, resources: []string{ec2ARN(region, "network-interface", s.ENI)}}
}

func (s *SecondaryIPConfig) newAction(o Owner) action { return newSecondaryIP(s, o) }

func (s *SecondaryIPConfig) validate(v *validation, o Owner, k string) {
	s.Target.validate(v, o, k)
	addrs := s.Addresses
	if len(addrs) == 0 {
		addrs = o.VIPs
		if len(addrs) == 0 {
			v.fail(k+".addresses", "is required: the "+strings.ReplaceAll(o.Kind, "_", " ")+" has no IPv4 VIP to default to")
		}
	}
	seen := map[netip.Addr]bool{}
	for j, ad := range addrs {
		ak := k + ".addresses"
		if len(s.Addresses) > 0 {
			ak += "[" + strconv.Itoa(j) + "]"
		}
		switch {
		case !ad.IsValid():
			v.fail(ak, "invalid address")
		case !ad.Is4():
			v.fail(ak, fmt.Sprintf("%v: only IPv4 addresses can be moved as secondary private IPs", ad))
		case seen[ad]:
			v.fail(ak, fmt.Sprintf("%v is listed twice", ad))
		default:
			seen[ad] = true
			v.claim(ak, "secondary IP "+ad.String())
		}
	}
}

// secondaryIP assigns addresses as secondary private IPs of this node's
// ENI (AssignPrivateIpAddresses with reassignment allowed).
type secondaryIP struct {
	noRelease
	cfg    *SecondaryIPConfig
	addrs  []netip.Addr
	ifname string

	mu      sync.Mutex
	eni     string
	mac     string
	last    observation
	missing []netip.Addr
}

func newSecondaryIP(c *SecondaryIPConfig, o Owner) *secondaryIP {
	a := &secondaryIP{cfg: c, addrs: c.Addresses, ifname: c.Interface}
	if len(a.addrs) == 0 {
		a.addrs = o.VIPs
	}
	if a.ifname == "" {
		a.ifname = o.Interface
	}
	return a
}

func (a *secondaryIP) kind() Kind { return KindSecondaryIP }

func (a *secondaryIP) name() string {
	where := a.ifname
	if a.cfg.ENI != "" {
		where = a.cfg.ENI
	}
	return "secondary_ip " + where + " " + strings.Join(addrStrings(a.addrs), ",")
}

func (a *secondaryIP) resolve(ctx context.Context, e *env) error {
	ni, err := e.eniOf(a.cfg.ENI, a.ifname)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.eni, a.mac = ni.ENI, ni.MAC
	a.mu.Unlock()
	return nil
}

func (a *secondaryIP) resolved() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eni != ""
}

func (a *secondaryIP) target() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eni
}

func (a *secondaryIP) observe(ctx context.Context, e *env) (observation, string, error) {
	eni := a.target()
	out, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeNetworkInterfacesOutput, error) {
		return e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	})
	if err != nil {
		return notOurs, "", err
	}
	if len(out.NetworkInterfaces) != 1 {
		return notOurs, "", fmt.Errorf("DescribeNetworkInterfaces %s returned %d interfaces", eni, len(out.NetworkInterfaces))
	}
	var have []netip.Addr
	for _, p := range out.NetworkInterfaces[0].PrivateIpAddresses {
		if ad, err := netip.ParseAddr(aws.ToString(p.PrivateIpAddress)); err == nil {
			have = append(have, ad)
		}
	}
	var missing []netip.Addr
	for _, ad := range a.addrs {
		if !slices.Contains(have, ad) {
			missing = append(missing, ad)
		}
	}
	obs, detail := ours, eni+" holds "+strings.Join(addrStrings(a.addrs), ",")
	if len(missing) > 0 {
		obs, detail = notOurs, eni+" lacks "+strings.Join(addrStrings(missing), ",")
	}
	a.mu.Lock()
	a.last, a.missing = obs, missing
	a.mu.Unlock()
	return obs, detail, nil
}

func (a *secondaryIP) cached() observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// toAssign is what apply assigns: the addresses the last look found
// missing, or all of them when it found none missing (a stale cache).
func (a *secondaryIP) toAssign() (string, []netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.missing) > 0 {
		return a.eni, slices.Clone(a.missing)
	}
	return a.eni, a.addrs
}

func (a *secondaryIP) change() string {
	if a.cached() == ours {
		return ""
	}
	eni, addrs := a.toAssign()
	return fmt.Sprintf("AssignPrivateIpAddresses %s to %s (reassignment allowed)", strings.Join(addrStrings(addrs), ","), eni)
}

func (a *secondaryIP) apply(ctx context.Context, e *env) error {
	eni, addrs := a.toAssign()
	_, err := call(ctx, e, func(ctx context.Context) (*ec2.AssignPrivateIpAddressesOutput, error) {
		return e.ec2.AssignPrivateIpAddresses(ctx, &ec2.AssignPrivateIpAddressesInput{
			NetworkInterfaceId: aws.String(eni),
			PrivateIpAddresses: addrStrings(addrs),
			AllowReassignment:  aws.Bool(true),
		})
	})
	if err == nil {
		a.mu.Lock()
		a.last, a.missing = ours, nil
		a.mu.Unlock()
	}
	return err
}

func (a *secondaryIP) permissions() []string {
	return []string{"ec2:AssignPrivateIpAddresses", "ec2:DescribeNetworkInterfaces"}
}

func (a *secondaryIP) dryRun(ctx context.Context, e *env) []PermissionCheck {
	return []PermissionCheck{{Permission: "ec2:AssignPrivateIpAddresses", Action: a.name(),
		Note: "AssignPrivateIpAddresses has no DryRun; a denial shows on the first failover"}}
}

func (a *secondaryIP) warnings() []string { return nil }
