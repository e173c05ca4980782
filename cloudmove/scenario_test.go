package cloudmove_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/cloudmove/faultproxy"
	"github.com/vipd/vipd/cloudmove/mototest"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/metrics"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mototest.StopShared()
	os.Exit(code)
}

// lab is one VPC in moto behind a fault proxy.
type lab struct {
	t     *testing.T
	ctx   context.Context
	w     *mototest.World
	proxy *faultproxy.Proxy
	// metrics, when set, receives every node's cloud metrics.
	metrics *metrics.Metrics
}

func newLab(t *testing.T) *lab {
	t.Helper()
	moto := mototest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	w, err := mototest.NewWorld(ctx, moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.New(moto.URL, noFaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &lab{t: t, ctx: ctx, w: w, proxy: p}
}

// noFaults is the lab proxy's usual setting. moto makes CreateRoute and
// ReplaceRoute even with DryRun set: the proxy answers those DryRuns as
// EC2 would.
func noFaults() faultproxy.Config {
	return faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}}
}

func (l *lab) must(s string, err error) string {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
	return s
}

func (l *lab) node(subnet string, extra ...string) *mototest.Node {
	l.t.Helper()
	n, err := l.w.Instance(l.ctx, subnet, extra...)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(n.Close)
	return n
}

// owner parses a native configuration with one instance whose cloud
// section is given, pointed at the proxy.
func (l *lab) owner(cloud string) cloudmove.Owner {
	l.t.Helper()
	doc := fmt.Sprintf(`instances:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips: [198.51.100.50/26]
    cloud:
      endpoint: %s
      reconcile_interval: 2s
      retry_budget: 20s
      call_timeout: 2s
%s`, l.proxy.URL(), indent(cloud, "      "))
	cfg, err := config.ParseYAML("test.yaml", []byte(doc), config.LoadOptions{Hostname: "n"})
	if err != nil {
		l.t.Fatalf("config: %v\n%s", err, doc)
	}
	return cfg.CloudOwners()[0]
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

type tlog struct {
	t  *testing.T
	mu *sync.Mutex
	on *bool
}

func (w tlog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if *w.on {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

func testLogger(t *testing.T, name string) *slog.Logger {
	on := true
	mu := &sync.Mutex{}
	t.Cleanup(func() { mu.Lock(); on = false; mu.Unlock() })
	return slog.New(slog.NewTextHandler(tlog{t, mu, &on}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
}

// fakeMounter records mounts on one node. Its block device exists from
// the moment the volume is attached to the node, as with a real kernel
// (plus deviceDelay, like udev on a slow boot).
type fakeMounter struct {
	mu          sync.Mutex
	mounted     map[string]string // path → device
	log         []string
	mountedAt   time.Time
	deviceDelay time.Duration
	attachedAt  time.Time
}

func (f *fakeMounter) Mounted(path string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.mounted[path]
	return ok, nil
}

func (f *fakeMounter) Device(vol, dev string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deviceDelay > 0 {
		if f.attachedAt.IsZero() {
			f.attachedAt = time.Now()
		}
		if time.Since(f.attachedAt) < f.deviceDelay {
			return "", false
		}
	}
	return dev, true
}

func (f *fakeMounter) Mount(_ context.Context, dev, path, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mounted == nil {
		f.mounted = map[string]string{}
	}
	if _, ok := f.mounted[path]; ok {
		return fmt.Errorf("%s already mounted", path)
	}
	f.mounted[path] = dev
	f.mountedAt = time.Now()
	f.log = append(f.log, "mount "+dev+" "+path)
	return nil
}

func (f *fakeMounter) Unmount(_ context.Context, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.mounted[path]; !ok {
		return fmt.Errorf("umount %s: not mounted", path)
	}
	delete(f.mounted, path)
	f.log = append(f.log, "umount "+path)
	return nil
}

func (f *fakeMounter) mountTime() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mountedAt
}

func (f *fakeMounter) events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

type agent struct {
	set    *cloudmove.Set
	cancel context.CancelFunc
}

// start runs a node's Set, as the agent of that node would.
func (l *lab) start(name string, n *mototest.Node, o cloudmove.Owner, m cloudmove.Mounter) *agent {
	l.t.Helper()
	ctx, cancel := context.WithCancel(l.ctx)
	opts := cloudmove.Options{
		IMDSEndpoint: n.IMDS.URL,
		InterfaceMAC: n.MAC,
		Mounter:      m,
		Logger:       testLogger(l.t, name),
		BackoffMin:   20 * time.Millisecond,
		BackoffMax:   300 * time.Millisecond,
	}
	if l.metrics != nil {
		opts.Metrics = l.metrics.ObserveCloudAction
	}
	s, err := cloudmove.New(ctx, o, opts)
	if err != nil {
		cancel()
		l.t.Fatalf("New %s: %v", name, err)
	}
	l.t.Cleanup(func() { cancel(); s.Close() })
	return &agent{set: s, cancel: cancel}
}

// master makes the node master and waits for every action to verify.
func (l *lab) master(a *agent) {
	l.t.Helper()
	a.set.Master()
	ctx, cancel := context.WithTimeout(l.ctx, 30*time.Second)
	defer cancel()
	if err := a.set.Wait(ctx); err != nil {
		l.t.Fatalf("master: %v\nstatus: %+v", err, a.set.Status())
	}
	for _, st := range a.set.Status() {
		if st.State != cloudmove.StateDone {
			l.t.Fatalf("action %s is %s: %+v", st.Name, st.State, st)
		}
	}
}

// crash ends a node's Set without letting it give anything up.
func (a *agent) crash() {
	a.cancel()
	a.set.Close()
}

// again checks that a second run of the master actions on a node that
// holds everything makes no mutating call: a fresh Set (an agent
// restarted on the same node) becomes master.
func (l *lab) again(name string, n *mototest.Node, o cloudmove.Owner, m cloudmove.Mounter) *agent {
	l.t.Helper()
	return l.againBlind(name, n, o, m, "")
}

// againBlind is again for a restart whose start-up look fails (denied
// here, the describe call named; a timeout under load does the same):
// with no view of what it holds, the first master round must look before
// it acts, and so still make no mutating call. "" is again.
func (l *lab) againBlind(name string, n *mototest.Node, o cloudmove.Owner, m cloudmove.Mounter, describe string) *agent {
	l.t.Helper()
	before, calls := l.proxy.Count("", true), len(l.proxy.Calls())
	if describe != "" {
		f := noFaults()
		f.Deny = []string{describe}
		l.proxy.Set(f)
		name += "-blind"
	}
	a := l.start(name+"-again", n, o, m)
	if describe != "" {
		if !slices.ContainsFunc(l.proxy.Calls()[calls:], func(c faultproxy.Call) bool {
			return c.Action == describe && c.Fault == faultproxy.Denied
		}) {
			l.t.Fatalf("the restarted node's start-up look made no %s call that failed", describe)
		}
		l.proxy.Set(noFaults())
	}
	l.master(a)
	if after := l.proxy.Count("", true); after != before {
		l.t.Fatalf("second master run made %d mutating calls: %v", after-before, mutating(l.proxy.Calls()))
	}
	for _, st := range a.set.Status() {
		if st.Changed || st.Attempts != 0 {
			l.t.Errorf("second run of %s: changed=%v attempts=%d", st.Name, st.Changed, st.Attempts)
		}
	}
	return a
}

func mutating(calls []faultproxy.Call) []string {
	var out []string
	for _, c := range calls {
		if faultproxy.Mutating(c.Action) && !c.DryRun {
			out = append(out, fmt.Sprintf("%s(fwd=%v status=%d fault=%v)", c.Action, c.Forwarded, c.Status, c.Fault))
		}
	}
	return out
}

// --- what the cloud says (describe calls straight to moto) ---

func (l *lab) eniIPs(eni string) []string {
	l.t.Helper()
	out, err := l.w.EC2.DescribeNetworkInterfaces(l.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	if err != nil {
		l.t.Fatal(err)
	}
	var ips []string
	for _, p := range out.NetworkInterfaces[0].PrivateIpAddresses {
		ips = append(ips, aws.ToString(p.PrivateIpAddress))
	}
	return ips
}

func (l *lab) eipHolder(alloc string) (eni, private string) {
	l.t.Helper()
	out, err := l.w.EC2.DescribeAddresses(l.ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{alloc}})
	if err != nil {
		l.t.Fatal(err)
	}
	return aws.ToString(out.Addresses[0].NetworkInterfaceId), aws.ToString(out.Addresses[0].PrivateIpAddress)
}

func (l *lab) routeTarget(table, dest string) string {
	l.t.Helper()
	out, err := l.w.EC2.DescribeRouteTables(l.ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{table}})
	if err != nil {
		l.t.Fatal(err)
	}
	for _, r := range out.RouteTables[0].Routes {
		if aws.ToString(r.DestinationCidrBlock) == dest {
			return aws.ToString(r.NetworkInterfaceId)
		}
	}
	return ""
}

func (l *lab) volumeHolder(vol string) (string, string) {
	l.t.Helper()
	out, err := l.w.EC2.DescribeVolumes(l.ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
	if err != nil {
		l.t.Fatal(err)
	}
	v := out.Volumes[0]
	for _, at := range v.Attachments {
		if at.State != "detached" {
			return aws.ToString(at.InstanceId), string(at.State)
		}
	}
	return "", string(v.State)
}

// Scenario 1: DNS failover in one subnet: the VIP is a secondary private
// IP that moves between the nodes' ENIs.
func TestScenario1SecondaryIP(t *testing.T) {
	l := newLab(t)
	sub := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	na, nb := l.node(sub), l.node(sub)
	o := l.owner(`actions: [{secondary_ip: {}}]`) // the instance's VIP on eth0

	a := l.start("A", na, o, nil)
	b := l.start("B", nb, o, nil)
	l.master(a)
	if ips := l.eniIPs(na.ENIs[0].ENI); !slices.Contains(ips, "198.51.100.50") {
		t.Fatalf("A's ENI holds %v, want the VIP", ips)
	}
	if n := l.proxy.Count("AssignPrivateIpAddresses", true); n != 1 {
		t.Errorf("%d AssignPrivateIpAddresses calls, want 1", n)
	}
	a.crash()
	l.again("A", na, o, nil).crash()
	l.againBlind("A", na, o, nil, "DescribeNetworkInterfaces").crash()

	l.master(b)
	// moto keeps the address on the old ENI too; what matters is that
	// the new owner holds it.
	if ips := l.eniIPs(nb.ENIs[0].ENI); !slices.Contains(ips, "198.51.100.50") {
		t.Fatalf("B's ENI holds %v, want the VIP", ips)
	}
	if got := b.set.Status()[0]; !got.Changed || got.Took <= 0 {
		t.Errorf("B status %+v", got)
	}
	l.again("B", nb, o, nil)
}

// Scenario 2: HAProxy across AZs with an Elastic IP.
func TestScenario2ElasticIP(t *testing.T) {
	l := newLab(t)
	subA := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	subB := l.must(l.w.Subnet(l.ctx, "198.51.100.64/26", "eu-west-1b", nil))
	na, nb := l.node(subA), l.node(subB)
	alloc, public, err := l.w.ElasticIP(l.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A names the address by allocation id, B by its public IP.
	oa := l.owner(fmt.Sprintf(`actions: [{elastic_ip: {allocation_id: %s}}]`, alloc))
	ob := l.owner(fmt.Sprintf(`actions: [{elastic_ip: {public_ip: %s}}]`, public))

	a := l.start("A", na, oa, nil)
	b := l.start("B", nb, ob, nil)
	l.master(a)
	if eni, _ := l.eipHolder(alloc); eni != na.ENIs[0].ENI {
		t.Fatalf("EIP on %q, want A's %s", eni, na.ENIs[0].ENI)
	}
	a.crash()
	l.again("A", na, oa, nil).crash()

	l.master(b)
	if eni, _ := l.eipHolder(alloc); eni != nb.ENIs[0].ENI {
		t.Fatalf("EIP on %q, want B's %s", eni, nb.ENIs[0].ENI)
	}

	// Split brain: someone moves the address back to A; B re-asserts.
	if _, err := l.w.EC2.AssociateAddress(l.ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(alloc),
		NetworkInterfaceId: aws.String(na.ENIs[0].ENI), AllowReassociation: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	b.set.Reassert()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if eni, _ := l.eipHolder(alloc); eni == nb.ENIs[0].ENI {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B did not re-assert the Elastic IP")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Scenario 3: NAT pair across AZs: the EIP on each node's own secondary
// private IP of eth0, and a /32 outside the VPC routed to eth1 in the
// tables of the subnets tagged Network=private (not the main table).
func TestScenario3NAT(t *testing.T) {
	l := newLab(t)
	pubA := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	pubB := l.must(l.w.Subnet(l.ctx, "198.51.100.64/26", "eu-west-1b", nil))
	privA := l.must(l.w.Subnet(l.ctx, "198.51.100.128/26", "eu-west-1a", map[string]string{"Network": "private"}))
	privB := l.must(l.w.Subnet(l.ctx, "198.51.100.192/27", "eu-west-1b", map[string]string{"Network": "private"}))
	other := l.must(l.w.Subnet(l.ctx, "198.51.100.224/27", "eu-west-1b", map[string]string{"Network": "public"}))
	rtA := l.must(l.w.RouteTable(l.ctx, privA))
	rtB := l.must(l.w.RouteTable(l.ctx, privB))
	rtOther := l.must(l.w.RouteTable(l.ctx, other))
	mainRT := l.must(l.w.MainRouteTable(l.ctx))
	na, nb := l.node(pubA, privA), l.node(pubB, privB)
	alloc, _, err := l.w.ElasticIP(l.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The EIP maps to a private address of each node's own eth0. The
	// design puts it on a secondary address; moto ignores
	// AssociateAddress's PrivateIpAddress and reports the ENI's primary
	// address, so the test uses the primary one (and checks below that
	// the call names it).
	ipA, ipB := na.ENIs[0].LocalIPv4s[0], nb.ENIs[0].LocalIPv4s[0]
	const dest = "203.0.113.10/32"
	cloud := func(private string) cloudmove.Owner {
		return l.owner(fmt.Sprintf(`actions:
  - elastic_ip: {allocation_id: %s, private_ip: %s}
  - route: {destination: %s, subnet_tags: {Network: private}, interface: eth1}`, alloc, private, dest))
	}
	oa, ob := cloud(ipA), cloud(ipB)

	a := l.start("A", na, oa, nil)
	b := l.start("B", nb, ob, nil)
	if w := a.set.Status()[1].Warnings; len(w) == 0 || !strings.Contains(w[0], "source/dest check") {
		t.Errorf("no source/dest check warning: %v", w)
	}
	for _, pc := range a.set.Permissions() {
		if pc.Checked && !pc.Allowed {
			t.Errorf("permission %+v", pc)
		}
	}
	l.master(a)
	check := func(n *mototest.Node, private string) {
		t.Helper()
		if eni, priv := l.eipHolder(alloc); eni != n.ENIs[0].ENI || priv != private {
			t.Fatalf("EIP on %s at %s, want %s at %s", eni, priv, n.ENIs[0].ENI, private)
		}
		for _, rt := range []string{rtA, rtB} {
			if got := l.routeTarget(rt, dest); got != n.ENIs[1].ENI {
				t.Fatalf("route in %s → %q, want eth1 ENI %s", rt, got, n.ENIs[1].ENI)
			}
		}
		for _, rt := range []string{rtOther, mainRT} {
			if got := l.routeTarget(rt, dest); got != "" {
				t.Fatalf("route in untouched table %s → %q", rt, got)
			}
		}
	}
	check(na, ipA)
	for _, c := range l.proxy.Calls() {
		if c.Action == "AssociateAddress" && !c.DryRun && c.Params.Get("PrivateIpAddress") != ipA {
			t.Errorf("AssociateAddress with PrivateIpAddress %q, want %s", c.Params.Get("PrivateIpAddress"), ipA)
		}
	}
	if n := l.proxy.Count("CreateRoute", true); n != 2 {
		t.Errorf("%d CreateRoute calls, want 2 (one per table)", n)
	}
	a.crash()
	l.again("A", na, oa, nil).crash()

	l.master(b)
	check(nb, ipB)
	l.again("B", nb, ob, nil)
}

// Scenario 4: single writer with a data volume: the secondary IP and the
// volume (attached and mounted) follow the master. The EBS action is a
// sequence with its own timing goals, checked here against moto (whose
// attach and detach are instant: what remains is vipd's own waiting):
//   - crash: the new master forces the detachment at force_detach_after
//     from becoming master, and has the volume mounted within 2 s more;
//   - graceful handover: the old holder unmounts and detaches; the new
//     master has it mounted within 1 s of the detachment, without force;
//   - the node that steps down gives the volume up once.
func TestScenario4EBS(t *testing.T) {
	l := newLab(t)
	sub := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	na, nb := l.node(sub), l.node(sub)
	vol := l.must(l.w.Volume(l.ctx, "eu-west-1a"))
	const force = 3 * time.Second
	o := l.owner(fmt.Sprintf(`actions:
  - secondary_ip: {}
  - ebs: {volume_id: %s, device: /dev/xvdf, mount: /srv/data, force_detach_after: %v}`, vol, force))
	ma, mb := &fakeMounter{}, &fakeMounter{}

	a := l.start("A", na, o, ma)
	b := l.start("B", nb, o, mb)
	l.master(a)
	if h, st := l.volumeHolder(vol); h != na.InstanceID || st != "attached" {
		t.Fatalf("volume %s to %q, want attached to A", st, h)
	}
	if ok, _ := ma.Mounted("/srv/data"); !ok {
		t.Fatal("not mounted on A")
	}
	a.crash()
	l.again("A", na, o, ma).crash()

	// Crash path: A is dead with the volume attached and mounted.
	l.proxy.ClearCalls()
	became := time.Now()
	l.master(b)
	mounted := mb.mountTime()
	if h, st := l.volumeHolder(vol); h != nb.InstanceID || st != "attached" {
		t.Fatalf("volume %s to %q, want attached to B", st, h)
	}
	if ips := l.eniIPs(nb.ENIs[0].ENI); !slices.Contains(ips, "198.51.100.50") {
		t.Fatalf("B's ENI holds %v", ips)
	}
	var forcedAt time.Time
	forced := 0
	for _, c := range l.proxy.Calls() {
		if c.Action == "DetachVolume" && c.Forwarded && c.Params.Get("Force") == "true" {
			forced++
			forcedAt = c.Start
		}
	}
	if forced != 1 {
		t.Fatalf("%d forced detachments, want 1", forced)
	}
	t.Logf("crash path: force_detach_after %v; forced at +%v, mounted at +%v after becoming master",
		force, forcedAt.Sub(became).Round(time.Millisecond), mounted.Sub(became).Round(time.Millisecond))
	if d := forcedAt.Sub(became); d < force || d > force+500*time.Millisecond {
		t.Errorf("forced at +%v, want at force_detach_after (%v)", d, force)
	}
	if d := mounted.Sub(became); d > force+2*time.Second {
		t.Errorf("mounted at +%v after becoming master, want within force_detach_after + 2 s", d)
	}

	// Graceful handover: B steps down while A (restarted) becomes master
	// at the same moment, as VRRP makes them.
	ma2 := &fakeMounter{}
	a2 := l.start("A2", na, o, ma2)
	l.proxy.ClearCalls()
	b.set.Backup()
	a2.set.Master()
	ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
	defer cancel()
	if err := b.set.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a2.set.Wait(ctx); err != nil {
		t.Fatalf("A2: %v %+v", err, a2.set.Status())
	}
	if ok, _ := mb.Mounted("/srv/data"); ok {
		t.Fatal("still mounted on B after BACKUP")
	}
	if h, _ := l.volumeHolder(vol); h != na.InstanceID {
		t.Fatalf("volume to %q, want A", h)
	}
	var detached time.Time
	for _, c := range l.proxy.Calls() {
		if c.Action != "DetachVolume" || c.DryRun {
			continue
		}
		if c.Params.Get("InstanceId") != nb.InstanceID || c.Params.Get("Force") == "true" {
			t.Errorf("unexpected DetachVolume %v", c.Params)
		}
		detached = c.End
	}
	if detached.IsZero() {
		t.Fatal("B made no DetachVolume call")
	}
	gap := ma2.mountTime().Sub(detached)
	t.Logf("graceful handover: mounted on A %v after B's DetachVolume answered", gap.Round(time.Millisecond))
	if gap > time.Second {
		t.Errorf("mounted %v after the old holder's detachment, want within 1 s", gap)
	}
	if got := mb.events(); slices.Index(got, "umount /srv/data") != len(got)-1 || strings.Count(strings.Join(got, ";"), "umount") != 1 {
		t.Errorf("B's mount log %v, want one umount at the end", got)
	}
}

// TestEBSStopReleasesOnce: a graceful stop of a master (the agent first
// sees MASTER→STOP and calls Backup, then stops the Set) unmounts and
// detaches once, every time: the stop waits for the release the
// transition started.
func TestEBSStopReleasesOnce(t *testing.T) {
	l := newLab(t)
	sub := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	n := l.node(sub)
	vol := l.must(l.w.Volume(l.ctx, "eu-west-1a"))
	o := l.owner(fmt.Sprintf(`actions: [{ebs: {volume_id: %s, device: /dev/xvdf, mount: /srv/data}}]`, vol))
	for i := range 4 {
		m := &fakeMounter{}
		a := l.start(fmt.Sprintf("A%d", i), n, o, m)
		l.master(a)
		l.proxy.ClearCalls()
		a.set.Backup()
		ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
		err := a.set.Stop(ctx)
		cancel()
		if err != nil {
			t.Fatalf("run %d: stop: %v", i, err)
		}
		if got := m.events(); strings.Count(strings.Join(got, ";"), "umount") != 1 {
			t.Errorf("run %d: mount log %v, want one umount", i, got)
		}
		if got := l.proxy.Count("DetachVolume", false); got != 1 {
			t.Errorf("run %d: %d DetachVolume calls, want 1: %v", i, got, mutating(l.proxy.Calls()))
		}
		if h, st := l.volumeHolder(vol); h != "" || st != "available" {
			t.Fatalf("run %d: volume %s to %q after the stop", i, st, h)
		}
		if st := a.set.Status()[0]; st.State != cloudmove.StateReleased || st.Error != "" {
			t.Errorf("run %d: status %+v", i, st)
		}
	}
}

// TestEBSWaitsForDevice: after the attachment the sequence polls for the
// block device (udev may be slow) and mounts as soon as it appears, not a
// backoff later.
func TestEBSWaitsForDevice(t *testing.T) {
	l := newLab(t)
	sub := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	n := l.node(sub)
	vol := l.must(l.w.Volume(l.ctx, "eu-west-1a"))
	o := l.owner(fmt.Sprintf(`actions: [{ebs: {volume_id: %s, device: /dev/xvdf, mount: /srv/data}}]`, vol))
	m := &fakeMounter{deviceDelay: 1500 * time.Millisecond}
	a := l.start("A", n, o, m)
	l.master(a)
	m.mu.Lock()
	appeared := m.attachedAt.Add(m.deviceDelay)
	m.mu.Unlock()
	late := m.mountTime().Sub(appeared)
	t.Logf("mounted %v after the device appeared", late.Round(time.Millisecond))
	if late < 0 || late > 750*time.Millisecond {
		t.Errorf("mounted %v after the device appeared, want within two polls", late)
	}
	if got := l.proxy.Count("AttachVolume", true); got != 1 {
		t.Errorf("%d AttachVolume calls, want 1", got)
	}
}

// natLab is scenario 3 with five private subnets (five route tables):
// two NAT nodes, each with eth0 in its own public subnet and eth1 in a
// private one.
type natLab struct {
	*lab
	na, nb      *mototest.Node
	oa, ob      cloudmove.Owner
	alloc, dest string
	tables      []string
}

func newNATLab(t *testing.T) *natLab {
	l := newLab(t)
	pubA := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	pubB := l.must(l.w.Subnet(l.ctx, "198.51.100.64/26", "eu-west-1b", nil))
	priv := map[string]string{"Network": "private"}
	var privs, tables []string
	for i, c := range []string{"198.51.100.128/27", "198.51.100.160/27", "198.51.100.192/27", "198.51.100.224/28", "198.51.100.240/28"} {
		az := "eu-west-1a"
		if i%2 == 1 {
			az = "eu-west-1b"
		}
		sn := l.must(l.w.Subnet(l.ctx, c, az, priv))
		privs = append(privs, sn)
		tables = append(tables, l.must(l.w.RouteTable(l.ctx, sn)))
	}
	n := &natLab{lab: l, na: l.node(pubA, privs[0]), nb: l.node(pubB, privs[1]), dest: "203.0.113.10/32", tables: tables}
	var err error
	if n.alloc, _, err = l.w.ElasticIP(l.ctx); err != nil {
		t.Fatal(err)
	}
	cloud := func(nd *mototest.Node) cloudmove.Owner {
		return l.owner(fmt.Sprintf(`actions:
  - elastic_ip: {allocation_id: %s, private_ip: %s}
  - route: {destination: %s, subnet_tags: {Network: private}, interface: eth1}`, n.alloc, nd.ENIs[0].LocalIPv4s[0], n.dest))
	}
	n.oa, n.ob = cloud(n.na), cloud(n.nb)
	return n
}

// waitView waits until the node's last look at the route saw it in every
// table, pointing at eni.
func (n *natLab) waitView(a *agent, eni string) {
	n.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := a.set.Status()[1].Detail
		if strings.Count(d, eni) == len(n.tables) && !strings.Contains(d, "no route") {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("the backup's view never caught up: %q", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mutatingSince returns the mutating calls (DryRun aside) the proxy
// forwarded, by action.
func (n *natLab) mutatingCalls() map[string]int {
	out := map[string]int{}
	for _, c := range n.proxy.Calls() {
		if faultproxy.Mutating(c.Action) && !c.DryRun {
			out[c.Action]++
		}
	}
	return out
}

// TestNATFirstFailoverFreshView: the backup follows the master's first
// round (gossip tells it the other node is master: PeerMaster), so a
// failover within the first refresh_interval replaces the routes the
// master created, one call per table: 6 mutating calls for the EIP and
// five tables, no refused CreateRoute. Every metric label the two nodes
// produce comes from the fixed set.
func TestNATFirstFailoverFreshView(t *testing.T) {
	n := newNATLab(t)
	n.proxy.Set(faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}, RefuseExistingRoutes: true})
	n.metrics = metrics.New(metrics.BuildInfo{})
	a := n.start("A", n.na, n.oa, nil)
	b := n.start("B", n.nb, n.ob, nil)
	ctx, cancel := context.WithTimeout(n.ctx, 20*time.Second)
	defer cancel()
	b.set.Backup() // B enters BACKUP: it refreshes its view (Wait includes the refresh)
	if err := b.set.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d := b.set.Status()[1].Detail; strings.Count(d, "no route") != len(n.tables) {
		t.Fatalf("B's view before A's round: %q, want no route anywhere", d)
	}
	a.set.Master()
	b.set.PeerMaster() // gossip shows A as master as soon as it is
	if err := a.set.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	n.waitView(b, n.na.ENIs[1].ENI)
	a.crash()

	n.proxy.ClearCalls()
	became := time.Now()
	n.master(b)
	took := time.Since(became)
	got := n.mutatingCalls()
	total := 0
	for _, c := range got {
		total += c
	}
	t.Logf("B: became master → verified in %v with %d mutating calls %v", took.Round(time.Millisecond), total, got)
	if want := len(n.tables) + 1; total != want || got["CreateRoute"] != 0 || got["ReplaceRoute"] != len(n.tables) {
		t.Errorf("failover made %v (%d mutating calls), want %d: one AssociateAddress and one ReplaceRoute per table", got, total, want)
	}
	for _, rt := range n.tables {
		if tg := n.routeTarget(rt, n.dest); tg != n.nb.ENIs[1].ENI {
			t.Errorf("route in %s → %q, want B's eth1", rt, tg)
		}
	}
	checkMetricLabels(t, n.metrics)
}

// TestNATStaleViewOneRound: a backup whose view predates the master's
// routes (no follow) meets RouteAlreadyExists on CreateRoute and replaces
// the route at once, in the same attempt: one round, no refusal left
// unanswered.
func TestNATStaleViewOneRound(t *testing.T) {
	n := newNATLab(t)
	n.proxy.Set(faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}, RefuseExistingRoutes: true})
	a := n.start("A", n.na, n.oa, nil)
	b := n.start("B", n.nb, n.ob, nil) // its view: no route anywhere
	n.master(a)
	a.crash()
	n.proxy.ClearCalls()
	n.master(b)
	got := n.mutatingCalls()
	if got["CreateRoute"] != len(n.tables) || got["ReplaceRoute"] != len(n.tables) {
		t.Errorf("calls %v, want %d refused CreateRoute then %d ReplaceRoute", got, len(n.tables), len(n.tables))
	}
	if st := b.set.Status()[1]; st.Attempts != 1 || st.State != cloudmove.StateDone {
		t.Errorf("route status %+v, want done after 1 attempt", st)
	}
	for _, rt := range n.tables {
		if tg := n.routeTarget(rt, n.dest); tg != n.nb.ENIs[1].ENI {
			t.Errorf("route in %s → %q, want B's eth1", rt, tg)
		}
	}
}

// checkMetricLabels: the cloud series carry only the owner and an
// operation from the fixed set (cloudmove's and the metrics package's
// lists agree), never an action's name with its resource ids.
func checkMetricLabels(t *testing.T, m *metrics.Metrics) {
	t.Helper()
	if !slices.Equal(cloudmove.Operations(), metrics.CloudActions) {
		t.Fatalf("cloudmove.Operations %v != metrics.CloudActions %v", cloudmove.Operations(), metrics.CloudActions)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "vipd_cloud_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			series++
			for _, lp := range mt.GetLabel() {
				switch lp.GetName() {
				case "action":
					if !slices.Contains(metrics.CloudActions, lp.GetValue()) {
						t.Errorf("%s{action=%q}: not an operation", mf.GetName(), lp.GetValue())
					}
				case "owner":
					if lp.GetValue() != "instance:VI_1" {
						t.Errorf("%s{owner=%q}", mf.GetName(), lp.GetValue())
					}
				default:
					t.Errorf("%s has label %s", mf.GetName(), lp.GetName())
				}
			}
		}
	}
	if series == 0 {
		t.Error("no cloud series recorded")
	}
}

// TestSkipDryRun: with skip_dry_run (for endpoints that ignore DryRun and
// would make the calls) the start-up makes no DryRun call and reports no
// permission; without it, it checks every mutating call.
func TestSkipDryRun(t *testing.T) {
	l := newLab(t)
	sub := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	n := l.node(sub)
	rtb := l.must(l.w.RouteTable(l.ctx, sub))
	for _, skip := range []bool{true, false} {
		l.proxy.ClearCalls()
		o := l.owner(fmt.Sprintf("skip_dry_run: %v\nactions: [{route: {destination: 203.0.113.10/32, route_tables: [%s]}}]", skip, rtb))
		a := l.start(fmt.Sprintf("skip=%v", skip), n, o, nil)
		dry := 0
		for _, c := range l.proxy.Calls() {
			if c.DryRun {
				dry++
			}
		}
		switch {
		case skip && (dry != 0 || len(a.set.Permissions()) != 0):
			t.Errorf("skip_dry_run: %d DryRun calls, permissions %+v", dry, a.set.Permissions())
		case !skip && (dry != 2 || len(a.set.Permissions()) != 2):
			t.Errorf("checked: %d DryRun calls, permissions %+v, want ReplaceRoute and CreateRoute", dry, a.set.Permissions())
		}
		if got := l.routeTarget(rtb, "203.0.113.10/32"); got != "" {
			t.Errorf("start-up made a route (%s)", got)
		}
		a.crash()
	}
}
