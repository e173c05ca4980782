// Package mototest starts moto_server (a local EC2 API emulator) on a
// loopback port and builds VPCs, instances and their metadata servers in
// it, for the tests and the benchmark of package cloudmove.
package mototest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/vipd/vipd/cloudmove/imdstest"
	"github.com/vipd/vipd/internal/lab"
)

// Region is where every fixture lives.
const Region = "eu-west-1"

// Binary finds moto_server: $MOTO_SERVER, then PATH, then pyenv's shim.
func Binary() (string, error) {
	if p := os.Getenv("MOTO_SERVER"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{filepath.Join(home, ".pyenv/shims/moto_server"), "/root/.pyenv/shims/moto_server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("moto_server not found (pip install 'moto[server]==5.2.1', or set MOTO_SERVER)")
}

// Server is a running moto_server.
type Server struct {
	// URL is its endpoint.
	URL string
	cmd *exec.Cmd
	log *os.File
}

// Start runs moto_server on a free loopback port and waits until it
// answers.
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, log: logf}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Close()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("moto_server did not answer on %s within 30s: %v\n%s", s.URL, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close stops moto_server (its whole process group: the pyenv shim runs
// it as a child).
func (s *Server) Close() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
	s.log.Close()
	os.Remove(s.log.Name())
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// Require returns the process's shared moto_server, starting it on first
// use. Without moto_server the test is skipped, or fails when CI=true.
// Call StopShared from TestMain after m.Run.
func Require(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start()
	}
	if sharedErr != nil {
		lab.SkipOrFail(t, "moto_server unavailable: %v", sharedErr)
	}
	return shared
}

// StopShared stops the shared server if one was started.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Close()
		shared = nil
	}
}

// Client returns an EC2 client for endpoint with fixed test credentials
// and the SDK's retries off.
func Client(endpoint string) *ec2.Client { return ClientVia(endpoint, nil) }

// ClientVia is Client with the calls carried by hc (nil: the default), for
// a moto_server reached only through a network namespace.
func ClientVia(endpoint string, hc *http.Client) *ec2.Client {
	o := ec2.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIATEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
	}
	if hc != nil {
		o.HTTPClient = hc
	}
	return ec2.New(o)
}

// World is one VPC in moto, reached directly (not through a proxy): for
// building fixtures and for checking outcomes.
type World struct {
	EC2 *ec2.Client
	VPC string
	ami string
}

// NewWorld creates a VPC (198.51.100.0/24, the documentation range, so
// that no address in a test could be real).
func NewWorld(ctx context.Context, endpoint string) (*World, error) {
	return NewWorldWith(ctx, Client(endpoint))
}

// NewWorldWith is NewWorld through a given client.
func NewWorldWith(ctx context.Context, c *ec2.Client) (*World, error) {
	w := &World{EC2: c}
	vpc, err := w.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("198.51.100.0/24")})
	if err != nil {
		return nil, fmt.Errorf("CreateVpc: %w", err)
	}
	w.VPC = aws.ToString(vpc.Vpc.VpcId)
	imgs, err := w.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		return nil, fmt.Errorf("DescribeImages: %v (%d images)", err, len(imgs.Images))
	}
	w.ami = aws.ToString(imgs.Images[0].ImageId)
	return w, nil
}

// Subnet creates a subnet with tags.
func (w *World) Subnet(ctx context.Context, cidr, az string, tags map[string]string) (string, error) {
	out, err := w.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(w.VPC), CidrBlock: aws.String(cidr),
		AvailabilityZone: aws.String(az)})
	if err != nil {
		return "", fmt.Errorf("CreateSubnet %s: %w", cidr, err)
	}
	id := aws.ToString(out.Subnet.SubnetId)
	if len(tags) > 0 {
		if err := w.tag(ctx, id, tags); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (w *World) tag(ctx context.Context, id string, tags map[string]string) error {
	var ts []types.Tag
	for k, v := range tags {
		ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := w.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ts})
	return err
}

// RouteTable creates a route table associated with subnet ("" for none).
func (w *World) RouteTable(ctx context.Context, subnet string) (string, error) {
	out, err := w.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(w.VPC)})
	if err != nil {
		return "", fmt.Errorf("CreateRouteTable: %w", err)
	}
	id := aws.ToString(out.RouteTable.RouteTableId)
	if subnet != "" {
		if _, err := w.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), SubnetId: aws.String(subnet)}); err != nil {
			return "", fmt.Errorf("AssociateRouteTable: %w", err)
		}
	}
	return id, nil
}

// MainRouteTable returns the VPC's main route table.
func (w *World) MainRouteTable(ctx context.Context) (string, error) {
	out, err := w.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{w.VPC}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	if err != nil {
		return "", err
	}
	if len(out.RouteTables) != 1 {
		return "", fmt.Errorf("%d main route tables", len(out.RouteTables))
	}
	return aws.ToString(out.RouteTables[0].RouteTableId), nil
}

// ElasticIP allocates an Elastic IP; it returns its allocation id and
// address.
func (w *World) ElasticIP(ctx context.Context) (string, string, error) {
	out, err := w.EC2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
	if err != nil {
		return "", "", fmt.Errorf("AllocateAddress: %w", err)
	}
	return aws.ToString(out.AllocationId), aws.ToString(out.PublicIp), nil
}

// Volume creates a 1 GiB volume in az.
func (w *World) Volume(ctx context.Context, az string) (string, error) {
	out, err := w.EC2.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(az), Size: aws.Int32(1)})
	if err != nil {
		return "", fmt.Errorf("CreateVolume: %w", err)
	}
	return aws.ToString(out.VolumeId), nil
}

// Node is an instance with its own metadata server.
type Node struct {
	InstanceID, AZ string
	// ENIs are its interfaces, eth0 first.
	ENIs []imdstest.Interface
	// IMDS serves its metadata.
	IMDS *imdstest.Server
}

// Instance runs an instance with its primary ENI in subnet and one more
// ENI in each of extra (eth1, eth2...), and starts its metadata server
// (with an instance role).
func (w *World) Instance(ctx context.Context, subnet string, extra ...string) (*Node, error) {
	out, err := w.EC2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(w.ami), MinCount: aws.Int32(1),
		MaxCount: aws.Int32(1), SubnetId: aws.String(subnet), InstanceType: types.InstanceTypeT3Micro})
	if err != nil {
		return nil, fmt.Errorf("RunInstances: %w", err)
	}
	inst := out.Instances[0]
	n := &Node{InstanceID: aws.ToString(inst.InstanceId), AZ: aws.ToString(inst.Placement.AvailabilityZone)}
	eni := inst.NetworkInterfaces[0]
	n.ENIs = append(n.ENIs, imdstest.Interface{MAC: aws.ToString(eni.MacAddress), ENI: aws.ToString(eni.NetworkInterfaceId),
		SubnetID: subnet, VPCID: w.VPC, LocalIPv4s: []string{aws.ToString(eni.PrivateIpAddress)}})
	for i, sn := range extra {
		c, err := w.EC2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(sn)})
		if err != nil {
			return nil, fmt.Errorf("CreateNetworkInterface: %w", err)
		}
		ni := c.NetworkInterface
		if _, err := w.EC2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{DeviceIndex: aws.Int32(int32(i + 1)),
			InstanceId: inst.InstanceId, NetworkInterfaceId: ni.NetworkInterfaceId}); err != nil {
			return nil, fmt.Errorf("AttachNetworkInterface: %w", err)
		}
		n.ENIs = append(n.ENIs, imdstest.Interface{MAC: aws.ToString(ni.MacAddress), ENI: aws.ToString(ni.NetworkInterfaceId),
			SubnetID: sn, VPCID: w.VPC, DeviceNumber: i + 1, LocalIPv4s: []string{aws.ToString(ni.PrivateIpAddress)}})
	}
	n.IMDS = imdstest.New(imdstest.Instance{InstanceID: n.InstanceID, Region: Region, AZ: n.AZ,
		AccountID: "123456789012", Interfaces: n.ENIs, Role: "vipd-test"})
	return n, nil
}

// MAC returns the MAC address of the node's interface ethN, as the
// InterfaceMAC option of cloudmove wants.
func (n *Node) MAC(ifname string) (string, error) {
	var i int
	if _, err := fmt.Sscanf(ifname, "eth%d", &i); err != nil || i < 0 || i >= len(n.ENIs) {
		return "", fmt.Errorf("node %s has no interface %s", n.InstanceID, ifname)
	}
	return n.ENIs[i].MAC, nil
}

// Close stops the node's metadata server.
func (n *Node) Close() { n.IMDS.Close() }
