package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vipd/vipd/cloudmove/mototest"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// cloudEndpoint is where the cloud labs' moto_server listens: the "aws"
// node's address on the switch it shares with the agents.
const cloudEndpoint = "http://198.51.100.250:5000"

// cloudLab is a lab whose agents are EC2 instances of a moto_server, and
// the test's client to that moto_server.
type cloudLab struct {
	*lab.Lab
	ctx  context.Context
	moto string // moto_server's path
	// ec and w are set by start: the EC2 client and the world (VPC, AMI)
	// the instances live in.
	ec *ec2.Client
	w  *mototest.World
}

// newCloudLab skips or fails as lab.Require does, builds vipd, finds
// moto_server (failing the test without it) and creates an empty lab.
func newCloudLab(t *testing.T) *cloudLab {
	t.Helper()
	lab.Require(t)
	testbed.VipdBinary(t)
	moto, err := mototest.Binary()
	if err != nil {
		t.Fatalf("moto_server: %v", err)
	}
	return &cloudLab{Lab: lab.New(t), ctx: context.Background(), moto: moto}
}

// newVPC is a cloud lab of one subnet, 198.51.100.0/24 on switch "vpc":
// a node for each name at .1, .2..., and moto_server started (reached
// through the first node). It returns the nodes and moto's subnet.
func newVPC(t *testing.T, names ...string) (*cloudLab, []*lab.Node, string) {
	t.Helper()
	c := newCloudLab(t)
	sw := c.Switch("vpc")
	var nodes []*lab.Node
	for i, name := range names {
		n := c.Node(name)
		c.Connect(n, sw, "eth0", fmt.Sprintf("198.51.100.%d/24", i+1))
		nodes = append(nodes, n)
	}
	c.start(t, sw, nodes[0])
	subnet, err := c.w.Subnet(c.ctx, "198.51.100.0/24", mototest.Region+"a", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, nodes, subnet
}

// start runs moto_server on a node "aws" of its own, at 198.51.100.250
// on sw, with a client that reaches it through via's namespace (the
// test's own has no route into the lab), and returns once moto answers
// and the world is made.
func (c *cloudLab) start(t *testing.T, sw *lab.Switch, via *lab.Node) {
	t.Helper()
	cloud := c.Node("aws")
	c.Connect(cloud, sw, "eth0", "198.51.100.250/24")
	testbed.Start(t, cloud, "moto", c.moto, "-H", "198.51.100.250", "-p", "5000")
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := via.Do(func() error {
				var err error
				conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}}
	c.ec = mototest.ClientVia(cloudEndpoint, hc)
	waitFor(t, 15*time.Second, "moto_server to answer", func() bool {
		_, err := c.ec.DescribeRegions(c.ctx, &ec2.DescribeRegionsInput{})
		return err == nil
	})
	var err error
	if c.w, err = mototest.NewWorldWith(c.ctx, c.ec); err != nil {
		t.Fatal(err)
	}
}

// instance runs an EC2 instance with its primary ENI in subnet (and one
// more in each of extra) and makes n that instance: n's eth0, eth1...
// carry the MAC addresses of its ENIs, as on EC2, and its metadata is
// served inside n. It returns the instance and the environment that
// points an agent's SDK at that metadata server.
func (c *cloudLab) instance(t *testing.T, n *lab.Node, subnet string, extra ...string) (*mototest.Node, []string) {
	t.Helper()
	inst, err := c.w.Instance(c.ctx, subnet, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Close)
	for i, eni := range inst.ENIs {
		n.Run(t, "ip", "link", "set", "dev", fmt.Sprintf("eth%d", i), "address", eni.MAC)
	}
	var ln net.Listener
	if err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: inst.IMDS.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return inst, []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://" + ln.Addr().String() + "/"}
}

// TestCloudFailover: two vipd agents in namespaces, each an EC2 instance
// of a moto_server (running in a third namespace) with its own IMDSv2
// metadata server inside its namespace; each instance's eth0 carries its
// ENI's MAC address, as on EC2. The VIP's instance moves the VIP as a
// secondary private IP and points a /32 route at its ENI when it becomes
// master: a holds them, then a crashes and b takes them over — checked
// with describe calls against moto, and in b's API status.
func TestCloudFailover(t *testing.T) {
	t.Parallel()
	c, ns, subnet := newVPC(t, "a", "b")
	a, b := ns[0], ns[1]
	ec, ctx := c.ec, c.ctx
	rtb, err := c.w.RouteTable(ctx, subnet)
	if err != nil {
		t.Fatal(err)
	}

	const vip = "198.51.100.53"
	nodes := map[string]*lab.Node{"a": a, "b": b}
	enis := map[string]string{}
	daemons := map[string]*testbed.Daemon{}
	for i, name := range []string{"a", "b"} {
		n := nodes[name]
		inst, env := c.instance(t, n, subnet)
		enis[name] = inst.ENIs[0].ENI
		cfg := fmt.Sprintf(`node: {name: %s}
instances:
  - name: web
    interface: eth0
    vrid: 60
    version: 3
    advert_interval: 1s
    priority: %d
    unicast: {source: 198.51.100.%d, peers: [198.51.100.%d]}
    vips: [%s/24]
    cloud:
      endpoint: %s
      region: %s
      reconcile_interval: 5s
      actions:
        - secondary_ip: {}
        - route: {destination: %s/32, route_tables: [%s]}
`, name, 200-100*i, i+1, 2-i, vip, cloudEndpoint, mototest.Region, vip, rtb)
		daemons[name] = testbed.StartVipdEnv(t, n, cfg, ".yaml", env)
	}
	members := []testbed.Member{{Name: "a", Node: a, Iface: "eth0"}, {Name: "b", Node: b, Iface: "eth0"}}
	vipPrefix := netip.MustParsePrefix(vip + "/24")

	// holds reports whether the route and the secondary IP point at name.
	holds := func(name string) bool {
		rt, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rtb}})
		if err != nil || len(rt.RouteTables) != 1 {
			return false
		}
		routed := slices.ContainsFunc(rt.RouteTables[0].Routes, func(r types.Route) bool {
			return aws.ToString(r.DestinationCidrBlock) == vip+"/32" && aws.ToString(r.NetworkInterfaceId) == enis[name]
		})
		ni, err := ec.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{enis[name]}})
		if err != nil || len(ni.NetworkInterfaces) != 1 {
			return false
		}
		assigned := slices.ContainsFunc(ni.NetworkInterfaces[0].PrivateIpAddresses, func(p types.NetworkInterfacePrivateIpAddress) bool {
			return aws.ToString(p.PrivateIpAddress) == vip
		})
		return routed && assigned
	}

	start := time.Now()
	testbed.WaitSoleHolder(t, members, vipPrefix, "a", start, masterDown(time.Second, 200)+5*time.Second)
	waitFor(t, 10*time.Second, "the route and the secondary IP to point at a's ENI", func() bool { return holds("a") })
	t.Logf("a is master: route and secondary IP on %s after %v", enis["a"], time.Since(start))

	killed := time.Now()
	daemons["a"].Kill()
	testbed.WaitSoleHolder(t, members[1:], vipPrefix, "b", killed, masterDown(time.Second, 100)+slack)
	waitFor(t, 10*time.Second, "the route and the secondary IP to point at b's ENI", func() bool { return holds("b") })
	t.Logf("a crashed: route and secondary IP on b's ENI %s after %v", enis["b"], time.Since(killed))

	st := curlJSON(t, daemons["b"].Socket, "GET", "/v1/status", "")
	actions, _ := st["cloudActions"].([]any)
	if len(actions) != 2 {
		t.Fatalf("b's status lists %d cloud actions, want 2: %v", len(actions), st["cloudActions"])
	}
	for _, x := range actions {
		if ca, _ := x.(map[string]any); ca["state"] != "done" {
			t.Errorf("cloud action not done on b: %v", ca)
		}
	}
}

// TestCloudSyncGroupFailover: the sync-group form of the cloud section
// (deploy/examples/nat-gateway): two instances, PUBLIC on eth0 and
// PRIVATE on eth1, in one sync group that owns the actions — the public
// VIP as a secondary IP of eth0's ENI, the Elastic IP mapped to it (after
// it), and the private VIP's /32 routed to eth1's ENI in two tables
// (moto maps an Elastic IP to the ENI's primary address whatever
// PrivateIpAddress says, so here the Elastic IP names that address; the
// cloudmove tests cover the wait of an Elastic IP for a secondary IP). The
// group's master holds them all; after a kill -9 the other node's group
// takes them, and its API lists the group's actions done with no error.
// skip_dry_run keeps the start-up checks from making moto's route calls
// (moto ignores DryRun for them).
func TestCloudSyncGroupFailover(t *testing.T) {
	t.Parallel()
	c := newCloudLab(t)
	pub, priv := c.Switch("pub"), c.Switch("priv")
	a, b := c.Node("a"), c.Node("b")
	c.Connect(a, pub, "eth0", "198.51.100.1/24")
	c.Connect(b, pub, "eth0", "198.51.100.2/24")
	c.Connect(a, priv, "eth1", "203.0.113.1/24")
	c.Connect(b, priv, "eth1", "203.0.113.2/24")
	c.start(t, pub, a)
	ec, w, ctx := c.ec, c.w, c.ctx
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pubNet := must(w.Subnet(ctx, "198.51.100.0/25", mototest.Region+"a", nil))
	privA := must(w.Subnet(ctx, "198.51.100.128/26", mototest.Region+"a", map[string]string{"Network": "private"}))
	privB := must(w.Subnet(ctx, "198.51.100.192/26", mototest.Region+"a", map[string]string{"Network": "private"}))
	rtbs := []string{must(w.RouteTable(ctx, privA)), must(w.RouteTable(ctx, privB))}
	alloc, _, err := w.ElasticIP(ctx)
	if err != nil {
		t.Fatal(err)
	}

	const pubVIP, privVIP = "198.51.100.61", "203.0.113.200"
	nodes := map[string]*lab.Node{"a": a, "b": b}
	enis := map[string][2]string{}
	daemons := map[string]*testbed.Daemon{}
	for i, name := range []string{"a", "b"} {
		n := nodes[name]
		inst, env := c.instance(t, n, pubNet, privA)
		enis[name] = [2]string{inst.ENIs[0].ENI, inst.ENIs[1].ENI}
		cfg := fmt.Sprintf(`node: {name: %[1]s}
instances:
  - name: PUBLIC
    interface: eth0
    vrid: 61
    priority: %[2]d
    advert_interval: 1s
    unicast: {source: 198.51.100.%[3]d, peers: [198.51.100.%[4]d]}
    vips: [%[5]s/24]
  - name: PRIVATE
    interface: eth1
    vrid: 62
    priority: %[2]d
    advert_interval: 1s
    unicast: {source: 203.0.113.%[3]d, peers: [203.0.113.%[4]d]}
    vips: [%[6]s/32]
sync_groups:
  - name: NAT
    instances: [PUBLIC, PRIVATE]
    cloud:
      endpoint: %[7]s
      region: %[8]s
      skip_dry_run: true
      reconcile_interval: 5s
      actions:
        - secondary_ip: {interface: eth0, addresses: [%[5]s]}
        - elastic_ip: {allocation_id: %[9]s, private_ip: %[10]s}
        - route: {destination: %[6]s/32, subnet_tags: {Network: private}, interface: eth1}
`, name, 150-50*i, i+1, 2-i, pubVIP, privVIP, cloudEndpoint, mototest.Region, alloc, inst.ENIs[0].LocalIPv4s[0])
		daemons[name] = testbed.StartVipdEnv(t, n, cfg, ".yaml", env)
	}

	// holds reports whether every resource points at name's ENIs.
	holds := func(name string) bool {
		e := enis[name]
		ni, err := ec.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{e[0]}})
		if err != nil || len(ni.NetworkInterfaces) != 1 || !slices.ContainsFunc(ni.NetworkInterfaces[0].PrivateIpAddresses,
			func(p types.NetworkInterfacePrivateIpAddress) bool { return aws.ToString(p.PrivateIpAddress) == pubVIP }) {
			return false
		}
		ad, err := ec.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{alloc}})
		if err != nil || len(ad.Addresses) != 1 || aws.ToString(ad.Addresses[0].NetworkInterfaceId) != e[0] {
			return false
		}
		rt, err := ec.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: rtbs})
		if err != nil || len(rt.RouteTables) != len(rtbs) {
			return false
		}
		for _, tb := range rt.RouteTables {
			if !slices.ContainsFunc(tb.Routes, func(r types.Route) bool {
				return aws.ToString(r.DestinationCidrBlock) == privVIP+"/32" && aws.ToString(r.NetworkInterfaceId) == e[1]
			}) {
				return false
			}
		}
		return true
	}
	members := []testbed.Member{{Name: "a", Node: a, Iface: "eth1"}, {Name: "b", Node: b, Iface: "eth1"}}
	vipPrefix := netip.MustParsePrefix(privVIP + "/32")

	start := time.Now()
	testbed.WaitSoleHolder(t, members, vipPrefix, "a", start, masterDown(time.Second, 150)+5*time.Second)
	waitFor(t, 10*time.Second, "the secondary IP, the Elastic IP and both routes to point at a", func() bool { return holds("a") })
	t.Logf("a is the group's master: resources on a after %v", time.Since(start))

	killed := time.Now()
	daemons["a"].Kill()
	// As in TestSyncGroupNAT: the group's last advert may precede the
	// kill by up to a skew.
	testbed.WaitSoleHolder(t, members[1:], vipPrefix, "b", killed, masterDown(time.Second, 100)+skew(time.Second, 100)+slack)
	waitFor(t, 10*time.Second, "the secondary IP, the Elastic IP and both routes to point at b", func() bool { return holds("b") })
	t.Logf("a crashed: resources on b after %v", time.Since(killed))

	st := curlJSON(t, daemons["b"].Socket, "GET", "/v1/status", "")
	actions, _ := st["cloudActions"].([]any)
	if len(actions) != 3 {
		t.Fatalf("b's status lists %d cloud actions, want 3: %v", len(actions), st["cloudActions"])
	}
	for _, x := range actions {
		ca, _ := x.(map[string]any)
		if e, _ := ca["error"].(string); ca["owner"] != "sync_group:NAT" || ca["state"] != "done" || e != "" || ca["errorAt"] != nil {
			t.Errorf("cloud action on b: %v, want the group's, done, no error", ca)
		}
	}
}

// TestCloudFaultKeepsError: an agent whose cloud action cannot succeed
// (an Elastic IP allocation moto does not know: a permanent error) with
// on_failure: fault goes to FAULT and gives its resources up; the action's
// error and its time stay, through the release and the fault hold, in the
// API, in `vipd status` and in the metrics (operation and owner labels,
// no resource id).
func TestCloudFaultKeepsError(t *testing.T) {
	t.Parallel()
	c, ns, subnet := newVPC(t, "a")
	a := ns[0]
	bin := testbed.VipdBinary(t)
	curlBin := requireTool(t, "curl")
	_, env := c.instance(t, a, subnet)
	const alloc = "eipalloc-0123456789abcdef0" // unknown to moto
	cfg := fmt.Sprintf(`node: {name: a}
instances:
  - name: web
    interface: eth0
    vrid: 60
    advert_interval: 1s
    priority: 200
    unicast: {source: 198.51.100.1, peers: [198.51.100.2]}
    vips: [198.51.100.53/24]
    cloud:
      endpoint: %s
      region: %s
      on_failure: fault
      fault_hold: 10m
      skip_dry_run: true
      actions:
        - elastic_ip: {allocation_id: %s}
`, cloudEndpoint, mototest.Region, alloc)
	d := testbed.StartVipdEnv(t, a, cfg, ".yaml", env)
	d.WaitLog(t, "agent started", 15*time.Second)

	var ca map[string]any
	waitFor(t, masterDown(time.Second, 200)+10*time.Second, "the instance to go to FAULT and give its resources up", func() bool {
		st := curlJSON(t, d.Socket, "GET", "/v1/status", "")
		list, _ := st["cloudActions"].([]any)
		if len(list) != 1 || instanceState(t, st, "web") != "INSTANCE_STATE_FAULT" {
			return false
		}
		ca, _ = list[0].(map[string]any)
		return ca["state"] == "released"
	})
	msg, _ := ca["error"].(string)
	at, _ := ca["errorAt"].(string)
	if !strings.Contains(msg, "InvalidAllocationID.NotFound") || at == "" {
		t.Fatalf("released action %v: want the error and its time kept", ca)
	}
	errAt, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, bin, "status", "--socket", d.Socket)
	if !strings.Contains(out, "LAST ERROR") || !strings.Contains(out, "InvalidAllocationID.NotFound") || !strings.Contains(out, "released") {
		t.Errorf("vipd status does not show the kept error:\n%s", out)
	}
	expo := run(t, curlBin, "-sS", "--fail", "--unix-socket", d.Socket, "http://vipd/metrics")
	for _, want := range []string{
		`vipd_cloud_action_errors_total{action="associate_address",owner="instance:web"} 1`,
		fmt.Sprintf(`vipd_cloud_action_last_error_timestamp_seconds{action="associate_address",owner="instance:web"} %g`, float64(errAt.UnixNano())/1e9),
	} {
		if !strings.Contains(expo, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, line := range strings.Split(expo, "\n") {
		if strings.HasPrefix(line, "vipd_cloud_") && strings.Contains(line, alloc) {
			t.Errorf("a resource id in a metric: %s", line)
		}
	}
}
