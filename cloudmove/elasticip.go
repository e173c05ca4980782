package cloudmove

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// ElasticIPConfig associates an Elastic IP with this node's ENI.
type ElasticIPConfig struct {
	// AllocationID (eipalloc-...) or PublicIP names the address; exactly
	// one is set.
	AllocationID string     `yaml:"allocation_id,omitempty"`
	PublicIP     netip.Addr `yaml:"public_ip,omitempty"`
	// PrivateIP, if set, is the private address of the ENI the Elastic IP
	// maps to; otherwise the ENI's primary address.
	PrivateIP netip.Addr `yaml:"private_ip,omitempty"`
	// Target is the ENI the Elastic IP is associated with.
	Target `yaml:",inline"`
}

var eipallocRE = awsIDRE("eipalloc")

func (e *ElasticIPConfig) kind() Kind { return KindElasticIP }

func (e *ElasticIPConfig) same(o kindConfig) bool {
	x, ok := o.(*ElasticIPConfig)
	return ok && *e == *x
}

func (e *ElasticIPConfig) grant(region string) grant {
	return grant{describe: []string{"ec2:DescribeAddresses"}, sid: "VipdElasticIP", actions: []string{"ec2:AssociateAddress"},
		resources: []string{ec2ARN(region, "elastic-ip", e.AllocationID), ec2ARN(region, "network-interface", e.ENI)}}
}

func (e *ElasticIPConfig) newAction(o Owner) action { return newElasticIP(e, o) }

func (e *ElasticIPConfig) validate(v *validation, o Owner, k string) {
	e.Target.validate(v, o, k)
	switch {
	case e.AllocationID == "" && !e.PublicIP.IsValid():
		v.fail(k+".allocation_id", "is required (or public_ip)")
	case e.AllocationID != "" && e.PublicIP.IsValid():
		v.fail(k+".public_ip", "give allocation_id or public_ip, not both")
	case e.AllocationID != "":
		if v.id(k+".allocation_id", e.AllocationID, eipallocRE, "eipalloc-0123456789abcdef0") {
			v.claim(k+".allocation_id", "Elastic IP "+e.AllocationID)
		}
	case !e.PublicIP.Is4():
		v.fail(k+".public_ip", fmt.Sprintf("%v: Elastic IPs are IPv4", e.PublicIP))
	default:
		v.claim(k+".public_ip", "Elastic IP "+e.PublicIP.String())
	}
	if e.PrivateIP.IsValid() && !e.PrivateIP.Is4() {
		v.fail(k+".private_ip", fmt.Sprintf("%v is not an IPv4 address", e.PrivateIP))
	}
}

// elasticIP associates an Elastic IP with this node's ENI
// (AssociateAddress with reassociation allowed).
type elasticIP struct {
	noRelease
	cfg    *ElasticIPConfig
	ifname string

	mu     sync.Mutex
	alloc  string
	eni    string
	last   observation
	holder string
}

func newElasticIP(c *ElasticIPConfig, o Owner) *elasticIP {
	a := &elasticIP{cfg: c, ifname: c.Interface, alloc: c.AllocationID}
	if a.ifname == "" {
		a.ifname = o.Interface
	}
	return a
}

func (a *elasticIP) kind() Kind { return KindElasticIP }

func (a *elasticIP) name() string {
	n := "elastic_ip "
	if a.cfg.AllocationID != "" {
		n += a.cfg.AllocationID
	} else {
		n += a.cfg.PublicIP.String()
	}
	if a.cfg.PrivateIP.IsValid() {
		n += " to " + a.cfg.PrivateIP.String()
	}
	return n
}

func (a *elasticIP) resolve(ctx context.Context, e *env) error {
	ni, err := e.eniOf(a.cfg.ENI, a.ifname)
	if err != nil {
		return err
	}
	alloc := a.cfg.AllocationID
	if alloc == "" {
		out, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeAddressesOutput, error) {
			return e.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{PublicIps: []string{a.cfg.PublicIP.String()}})
		})
		if err != nil {
			return err
		}
		if len(out.Addresses) != 1 || aws.ToString(out.Addresses[0].AllocationId) == "" {
			return fmt.Errorf("no VPC Elastic IP %v in this region", a.cfg.PublicIP)
		}
		alloc = aws.ToString(out.Addresses[0].AllocationId)
	}
	a.mu.Lock()
	a.eni, a.alloc = ni.ENI, alloc
	a.mu.Unlock()
	return nil
}

func (a *elasticIP) resolved() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eni != "" && a.alloc != ""
}

func (a *elasticIP) ids() (alloc, eni string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.alloc, a.eni
}

func (a *elasticIP) observe(ctx context.Context, e *env) (observation, string, error) {
	alloc, eni := a.ids()
	out, err := call(ctx, e, func(ctx context.Context) (*ec2.DescribeAddressesOutput, error) {
		return e.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{alloc}})
	})
	if err != nil {
		return notOurs, "", err
	}
	if len(out.Addresses) != 1 {
		return notOurs, "", fmt.Errorf("DescribeAddresses %s returned %d addresses", alloc, len(out.Addresses))
	}
	ad := out.Addresses[0]
	holder, priv := aws.ToString(ad.NetworkInterfaceId), aws.ToString(ad.PrivateIpAddress)
	obs := notOurs
	if holder == eni && (!a.cfg.PrivateIP.IsValid() || priv == a.cfg.PrivateIP.String()) {
		obs = ours
	}
	detail := fmt.Sprintf("%s (%s) is not associated", alloc, aws.ToString(ad.PublicIp))
	if holder != "" {
		detail = fmt.Sprintf("%s (%s) is on %s at %s", alloc, aws.ToString(ad.PublicIp), holder, priv)
	}
	a.mu.Lock()
	a.last, a.holder = obs, holder
	a.mu.Unlock()
	return obs, detail, nil
}

func (a *elasticIP) cached() observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func (a *elasticIP) change() string {
	if a.cached() == ours {
		return ""
	}
	alloc, eni := a.ids()
	s := fmt.Sprintf("AssociateAddress %s to %s", alloc, eni)
	if a.cfg.PrivateIP.IsValid() {
		s += " at " + a.cfg.PrivateIP.String()
	}
	return s + " (reassociation allowed)"
}

func (a *elasticIP) input(dry bool) *ec2.AssociateAddressInput {
	alloc, eni := a.ids()
	in := &ec2.AssociateAddressInput{
		AllocationId:       aws.String(alloc),
		NetworkInterfaceId: aws.String(eni),
		AllowReassociation: aws.Bool(true),
	}
	if a.cfg.PrivateIP.IsValid() {
		in.PrivateIpAddress = aws.String(a.cfg.PrivateIP.String())
	}
	if dry {
		in.DryRun = aws.Bool(true)
	}
	return in
}

func (a *elasticIP) apply(ctx context.Context, e *env) error {
	_, err := call(ctx, e, func(ctx context.Context) (*ec2.AssociateAddressOutput, error) {
		return e.ec2.AssociateAddress(ctx, a.input(false))
	})
	if err == nil {
		a.mu.Lock()
		a.last = ours
		a.mu.Unlock()
	}
	return err
}

func (a *elasticIP) permissions() []string {
	return []string{"ec2:AssociateAddress", "ec2:DescribeAddresses"}
}

func (a *elasticIP) dryRun(ctx context.Context, e *env) []PermissionCheck {
	_, err := call(ctx, e, func(ctx context.Context) (*ec2.AssociateAddressOutput, error) {
		return e.ec2.AssociateAddress(ctx, a.input(true))
	})
	return []PermissionCheck{dryRunResult("ec2:AssociateAddress", a.name(), err)}
}

func (a *elasticIP) warnings() []string { return nil }
