package cloudmove

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/vipd/vipd/bench/internal/benchio"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/cloudmove/faultproxy"
	"github.com/vipd/vipd/cloudmove/mototest"
	"github.com/vipd/vipd/config"
)

const (
	latency = 50 * time.Millisecond
	tables  = 5
	dest    = "203.0.113.10/32"
)

// Sample is one failover measured both ways. Times in milliseconds.
type Sample struct {
	VipdMS    float64 `json:"vipd_ms"`
	ScriptMS  float64 `json:"script_ms"`
	VipdCalls int     `json:"vipd_calls"`
	// VipdDepth is the number of calls on vipd's critical path (the
	// longest chain of calls each made after the previous one ended);
	// the script's is all of its calls.
	VipdDepth   int `json:"vipd_depth"`
	ScriptCalls int `json:"script_calls"`
	// BurstMS is how long the endpoint took to answer vipd's mutating
	// calls once they had reached it (from the first one's arrival, after
	// the injected latency, to the last answer): moto serves calls one at
	// a time, so this is the sum of their service times, which no client
	// can shorten.
	BurstMS float64 `json:"burst_ms"`
	// VerifyServeMS is the endpoint's time (queueing included) for the
	// describe call that ended vipd's round, latency excluded.
	VerifyServeMS float64 `json:"verify_serve_ms"`
	// ScriptServeMS is the endpoint's mean time per call of the script,
	// latency excluded (each call meets an idle server).
	ScriptServeMS float64 `json:"script_serve_ms"`
}

// Result is written as a JSON line to $VIPD_BENCH_OUT for run.sh.
type Result struct {
	LatencyMS   float64  `json:"latency_ms"`
	Tables      int      `json:"tables"`
	VipdCalls   []string `json:"vipd_calls"`
	ScriptCalls []string `json:"script_calls"`
	Samples     []Sample `json:"samples"`
}

type fixture struct {
	w          *mototest.World
	proxy      *faultproxy.Proxy
	a, b       *mototest.Node
	alloc, eip string
	tables     []string
}

func setup(b *testing.B, ctx context.Context) *fixture {
	moto := mototest.Require(b)
	w, err := mototest.NewWorld(ctx, moto.URL)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{w: w}
	must := func(s string, err error) string {
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	pubA := must(w.Subnet(ctx, "198.51.100.0/28", "eu-west-1a", nil))
	pubB := must(w.Subnet(ctx, "198.51.100.16/28", "eu-west-1b", nil))
	var privs []string
	for i := range tables {
		sn := must(w.Subnet(ctx, fmt.Sprintf("198.51.100.%d/28", 32+16*i), []string{"eu-west-1a", "eu-west-1b"}[i%2],
			map[string]string{"Network": "private"}))
		privs = append(privs, sn)
		f.tables = append(f.tables, must(w.RouteTable(ctx, sn)))
	}
	if f.a, err = w.Instance(ctx, pubA, privs[0]); err != nil {
		b.Fatal(err)
	}
	if f.b, err = w.Instance(ctx, pubB, privs[1]); err != nil {
		b.Fatal(err)
	}
	f.alloc, f.eip, err = w.ElasticIP(ctx)
	if err != nil {
		b.Fatal(err)
	}
	f.proxy, err = faultproxy.New(moto.URL, faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// pointAt makes the EIP and every route point at node n (the old master),
// straight in moto.
func (f *fixture) pointAt(ctx context.Context, b *testing.B, n *mototest.Node) {
	if _, err := f.w.EC2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(f.alloc),
		NetworkInterfaceId: aws.String(n.ENIs[0].ENI), AllowReassociation: aws.Bool(true)}); err != nil {
		b.Fatal(err)
	}
	for _, t := range f.tables {
		_, err := f.w.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: aws.String(t),
			DestinationCidrBlock: aws.String(dest), NetworkInterfaceId: aws.String(n.ENIs[1].ENI)})
		if err != nil {
			if _, err := f.w.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(t),
				DestinationCidrBlock: aws.String(dest), NetworkInterfaceId: aws.String(n.ENIs[1].ENI)}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// pointsAt checks, straight in moto, that everything points at n.
func (f *fixture) pointsAt(ctx context.Context, b *testing.B, n *mototest.Node) {
	out, err := f.w.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{f.alloc}})
	if err != nil || aws.ToString(out.Addresses[0].NetworkInterfaceId) != n.ENIs[0].ENI {
		b.Fatalf("EIP not on the new master: %v", err)
	}
	rts, err := f.w.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: f.tables})
	if err != nil {
		b.Fatal(err)
	}
	for _, rt := range rts.RouteTables {
		ok := false
		for _, r := range rt.Routes {
			ok = ok || (aws.ToString(r.DestinationCidrBlock) == dest && aws.ToString(r.NetworkInterfaceId) == n.ENIs[1].ENI)
		}
		if !ok {
			b.Fatalf("route in %s not on the new master", aws.ToString(rt.RouteTableId))
		}
	}
}

func (f *fixture) owner(b *testing.B) cloudmove.Owner {
	doc := fmt.Sprintf(`instances:
  - name: NAT
    interface: eth0
    vrid: 1
    vips: [198.51.100.5/28]
    cloud:
      endpoint: %s
      actions:
        - elastic_ip: {public_ip: %s}
        - route: {destination: %s, subnet_tags: {Network: private}, interface: eth1}
`, f.proxy.URL(), f.eip, dest)
	cfg, err := config.ParseYAML("bench.yaml", []byte(doc), config.LoadOptions{Hostname: "b"})
	if err != nil {
		b.Fatal(err)
	}
	return cfg.CloudOwners()[0]
}

// script re-enacts the notify_master script: each step is one `aws ec2`
// command (a process of its own, hence a fresh connection), one after the
// other, as written in the scripts: find this instance's ENIs, the
// address's allocation, the private subnets and their route tables, then
// replace (or create) the route in each table and move the address. It
// reads instance metadata first, as the script does with curl.
func script(ctx context.Context, endpoint string, n *mototest.Node, eip string) error {
	cli := func() *ec2.Client {
		return ec2.New(ec2.Options{Region: mototest.Region, BaseEndpoint: aws.String(endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("AKIATEST", "secret", ""), Retryer: aws.NopRetryer{},
			HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	}
	id, err := cloudmove.DiscoverIdentity(ctx, n.IMDS.URL) // curl http://169.254.169.254/...
	if err != nil {
		return err
	}
	// aws ec2 describe-instances --instance-ids $ID
	di, err := cli().DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id.InstanceID}})
	if err != nil {
		return err
	}
	var eth0, eth1, vpc string
	for _, ni := range di.Reservations[0].Instances[0].NetworkInterfaces {
		switch aws.ToInt32(ni.Attachment.DeviceIndex) {
		case 0:
			eth0, vpc = aws.ToString(ni.NetworkInterfaceId), aws.ToString(ni.VpcId)
		case 1:
			eth1 = aws.ToString(ni.NetworkInterfaceId)
		}
	}
	// aws ec2 describe-addresses --public-ips $EIP
	da, err := cli().DescribeAddresses(ctx, &ec2.DescribeAddressesInput{PublicIps: []string{eip}})
	if err != nil {
		return err
	}
	alloc := aws.ToString(da.Addresses[0].AllocationId)
	// aws ec2 describe-subnets --filters Name=vpc-id,... Name=tag:Network,Values=private
	ds, err := cli().DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("tag:Network"), Values: []string{"private"}}}})
	if err != nil {
		return err
	}
	var subnets []string
	for _, s := range ds.Subnets {
		subnets = append(subnets, aws.ToString(s.SubnetId))
	}
	// aws ec2 describe-route-tables --filters Name=association.subnet-id,...
	drt, err := cli().DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
		{Name: aws.String("association.subnet-id"), Values: subnets}}})
	if err != nil {
		return err
	}
	// for rt in ...; do aws ec2 replace-route ... || aws ec2 create-route ...; done
	for _, rt := range drt.RouteTables {
		_, err := cli().ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: rt.RouteTableId,
			DestinationCidrBlock: aws.String(dest), NetworkInterfaceId: aws.String(eth1)})
		if err != nil {
			if _, err := cli().CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTableId,
				DestinationCidrBlock: aws.String(dest), NetworkInterfaceId: aws.String(eth1)}); err != nil {
				return err
			}
		}
	}
	// aws ec2 associate-address --allocation-id $ALLOC --network-interface-id $ENI --allow-reassociation
	_, err = cli().AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(alloc),
		NetworkInterfaceId: aws.String(eth0), AllowReassociation: aws.Bool(true)})
	return err
}

// depth is the number of calls on the critical path: the longest chain
// of calls each of which starts after the previous one has ended.
func depth(calls []faultproxy.Call) int {
	slices.SortFunc(calls, func(a, b faultproxy.Call) int { return a.Start.Compare(b.Start) })
	d := make([]int, len(calls))
	best := 0
	for i, c := range calls {
		d[i] = 1
		for j := range i {
			if !calls[j].End.After(c.Start) {
				d[i] = max(d[i], d[j]+1)
			}
		}
		best = max(best, d[i])
	}
	return best
}

// serving splits vipd's round as the proxy saw it: the burst of mutating
// calls and the endpoint time of the describe that ended the round.
func serving(calls []faultproxy.Call) (burst, verify time.Duration) {
	var first, lastMut, lastEnd time.Time
	var lastDescribe faultproxy.Call
	for _, c := range calls {
		if faultproxy.Mutating(c.Action) {
			if first.IsZero() || c.Start.Before(first) {
				first = c.Start
			}
			if c.End.After(lastMut) {
				lastMut = c.End
			}
		} else if c.End.After(lastEnd) {
			lastEnd, lastDescribe = c.End, c
		}
	}
	if !first.IsZero() {
		burst = lastMut.Sub(first.Add(latency))
	}
	if !lastEnd.IsZero() {
		verify = lastDescribe.End.Sub(lastDescribe.Start.Add(latency))
	}
	return burst, verify
}

// serveMean is the endpoint's mean time per call, latency excluded.
func serveMean(calls []faultproxy.Call) time.Duration {
	if len(calls) == 0 {
		return 0
	}
	var sum time.Duration
	for _, c := range calls {
		sum += c.End.Sub(c.Start) - latency
	}
	return sum / time.Duration(len(calls))
}

func names(calls []faultproxy.Call) []string {
	slices.SortFunc(calls, func(a, b faultproxy.Call) int { return a.Start.Compare(b.Start) })
	var out []string
	for _, c := range calls {
		out = append(out, c.Action)
	}
	return out
}

func BenchmarkCloudmove(b *testing.B) {
	defer mototest.StopShared()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	f := setup(b, ctx)
	defer f.proxy.Close()
	defer f.a.Close()
	defer f.b.Close()
	o := f.owner(b)
	res := Result{LatencyMS: float64(latency) / 1e6, Tables: tables}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var s Sample
		// vipd: node B runs as backup (its Set resolved everything and
		// looked at the resources when it started), A holds everything;
		// then B becomes master.
		f.pointAt(ctx, b, f.a)
		f.proxy.Set(faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}})
		sctx, scancel := context.WithCancel(ctx)
		set, err := cloudmove.New(sctx, o, cloudmove.Options{IMDSEndpoint: f.b.IMDS.URL, InterfaceMAC: f.b.MAC, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		f.proxy.Set(faultproxy.Config{Latency: latency, EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}})
		f.proxy.ClearCalls()
		b.StartTimer()
		t0 := time.Now()
		set.Master()
		if err := set.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		s.VipdMS = float64(time.Since(t0)) / 1e6
		b.StopTimer()
		calls := f.proxy.Calls()
		s.VipdCalls, s.VipdDepth = len(calls), depth(calls)
		burst, verify := serving(calls)
		s.BurstMS, s.VerifyServeMS = float64(burst)/1e6, float64(verify)/1e6
		if os.Getenv("VIPD_BENCH_TRACE") != "" {
			for _, c := range calls {
				b.Logf("  %-22s %6.1f → %6.1f ms", c.Action, float64(c.Start.Sub(t0))/1e6, float64(c.End.Sub(t0))/1e6)
			}
		}
		res.VipdCalls = names(calls)
		scancel()
		set.Close()
		f.pointsAt(ctx, b, f.b)

		// The script on node B, same starting point.
		f.pointAt(ctx, b, f.a)
		f.proxy.ClearCalls()
		b.StartTimer()
		t0 = time.Now()
		if err := script(ctx, f.proxy.URL(), f.b, f.eip); err != nil {
			b.Fatal(err)
		}
		s.ScriptMS = float64(time.Since(t0)) / 1e6
		b.StopTimer()
		calls = f.proxy.Calls()
		s.ScriptCalls = len(calls)
		s.ScriptServeMS = float64(serveMean(calls)) / 1e6
		if os.Getenv("VIPD_BENCH_TRACE") != "" {
			for _, c := range calls {
				b.Logf("  script %-22s %6.1f → %6.1f ms", c.Action, float64(c.Start.Sub(t0))/1e6, float64(c.End.Sub(t0))/1e6)
			}
		}
		res.ScriptCalls = names(calls)
		f.pointsAt(ctx, b, f.b)
		res.Samples = append(res.Samples, s)
		b.Logf("round %d: vipd %.1f ms (%d calls, %d on the critical path; mutations served in %.1f ms, last describe in %.1f ms), script %.1f ms (%d calls, %.1f ms served per call)",
			i, s.VipdMS, s.VipdCalls, s.VipdDepth, s.BurstMS, s.VerifyServeMS, s.ScriptMS, s.ScriptCalls, s.ScriptServeMS)
		b.StartTimer()
	}
	b.StopTimer()
	benchio.Append(b, res)
}
