package cloudmove

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/vipd/vipd/internal/clock"
)

// Identity is what instance metadata (IMDSv2) says about this node.
type Identity struct {
	// InstanceID is this instance (i-...).
	InstanceID string
	// Region and AZ are where it runs.
	Region, AZ string
	// Interfaces are its network interfaces by MAC address (lower case).
	Interfaces map[string]NetInterface
}

// NetInterface is one ENI of this node as instance metadata describes it.
type NetInterface struct {
	MAC, ENI, SubnetID, VPCID string
	// DeviceNumber is the attachment's index (0 for the primary ENI).
	DeviceNumber int
	// LocalIPv4s are its private addresses, primary first.
	LocalIPv4s []netip.Addr
}

// imdsTimeout bounds each metadata request: the service is link-local, so
// anything slower means it is not there (or a hop limit blocks it).
const imdsTimeout = 2 * time.Second

// newIMDS returns an IMDSv2-only client (no fallback to v1) with short
// timeouts; endpoint "" means the default address.
func newIMDS(endpoint string) *imds.Client {
	return imds.New(imds.Options{
		Endpoint:          endpoint,
		ClientEnableState: imds.ClientEnabled,
		EnableFallback:    aws.FalseTernary,
		Retryer:           aws.NopRetryer{},
	})
}

// metadata reads one meta-data path, retrying a few times within
// imdsTimeout each.
func metadata(ctx context.Context, c *imds.Client, path string) (string, error) {
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			// Real time: DiscoverIdentity runs before a Set, and its
			// clock, exists.
			if !clock.Sleep(ctx, clock.Real(), time.Duration(attempt)*100*time.Millisecond) {
				return "", ctx.Err()
			}
		}
		s, err := callWith(ctx, imdsTimeout, func(ctx context.Context) (string, error) {
			out, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
			if err != nil {
				return "", err
			}
			defer out.Content.Close()
			b, err := io.ReadAll(io.LimitReader(out.Content, 1<<16))
			return strings.TrimSpace(string(b)), err
		})
		if err == nil {
			return s, nil
		}
		last = err
		if strings.Contains(err.Error(), "StatusCode: 404") {
			break
		}
	}
	return "", fmt.Errorf("instance metadata %s: %w", path, last)
}

// DiscoverIdentity reads this node's identity from instance metadata
// (IMDSv2 at endpoint, "" for the default 169.254.169.254).
func DiscoverIdentity(ctx context.Context, endpoint string) (*Identity, error) {
	return discoverIdentity(ctx, newIMDS(endpoint))
}

func discoverIdentity(ctx context.Context, c *imds.Client) (*Identity, error) {
	id := &Identity{Interfaces: map[string]NetInterface{}}
	var err error
	if id.InstanceID, err = metadata(ctx, c, "instance-id"); err != nil {
		return nil, err
	}
	if id.AZ, err = metadata(ctx, c, "placement/availability-zone"); err != nil {
		return nil, err
	}
	if id.Region, err = metadata(ctx, c, "placement/region"); err != nil {
		// Older metadata versions have no placement/region: the AZ
		// without its letter is the region.
		id.Region = strings.TrimRight(id.AZ, "abcdefghijklmnopqrstuvwxyz")
	}
	macs, err := metadata(ctx, c, "network/interfaces/macs/")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Fields(macs) {
		mac := strings.ToLower(strings.TrimSuffix(line, "/"))
		if !macRE.MatchString(mac) {
			continue
		}
		ni, err := readInterface(ctx, c, mac)
		if err != nil {
			return nil, err
		}
		id.Interfaces[mac] = ni
	}
	if len(id.Interfaces) == 0 {
		return nil, fmt.Errorf("instance metadata lists no network interface")
	}
	return id, nil
}

var macRE = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

func readInterface(ctx context.Context, c *imds.Client, mac string) (NetInterface, error) {
	ni := NetInterface{MAC: mac}
	base := "network/interfaces/macs/" + mac + "/"
	var err error
	if ni.ENI, err = metadata(ctx, c, base+"interface-id"); err != nil {
		return ni, err
	}
	ni.SubnetID, _ = metadata(ctx, c, base+"subnet-id")
	ni.VPCID, _ = metadata(ctx, c, base+"vpc-id")
	if s, err := metadata(ctx, c, base+"device-number"); err == nil {
		ni.DeviceNumber, _ = strconv.Atoi(s)
	}
	if s, err := metadata(ctx, c, base+"local-ipv4s"); err == nil {
		for _, f := range strings.Fields(s) {
			if a, err := netip.ParseAddr(f); err == nil {
				ni.LocalIPv4s = append(ni.LocalIPv4s, a)
			}
		}
	}
	return ni, nil
}

// interfaceMAC returns the MAC address of a local interface.
func interfaceMAC(name string) (string, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return "", err
	}
	return strings.ToLower(ifi.HardwareAddr.String()), nil
}

// ethIndexRE matches names such as eth1, whose number is the EC2 device
// number on images that name interfaces that way.
var ethIndexRE = regexp.MustCompile(`^eth([0-9]+)$`)

// ENIFor finds the ENI behind the local interface ifname: the one whose
// MAC address the interface has (mac looks it up; nil means the host's
// interfaces). When no local interface of that name carries a MAC known
// to instance metadata, an ethN name falls back to device number N.
func (id *Identity) ENIFor(ifname string, mac func(string) (string, error)) (NetInterface, error) {
	if mac == nil {
		mac = interfaceMAC
	}
	m, err := mac(ifname)
	if err == nil {
		if ni, ok := id.Interfaces[strings.ToLower(m)]; ok {
			return ni, nil
		}
	}
	if sm := ethIndexRE.FindStringSubmatch(ifname); sm != nil {
		n, _ := strconv.Atoi(sm[1])
		for _, ni := range id.sortedInterfaces() {
			if ni.DeviceNumber == n {
				return ni, nil
			}
		}
	}
	if err != nil {
		return NetInterface{}, fmt.Errorf("interface %s: %w", ifname, err)
	}
	return NetInterface{}, fmt.Errorf("interface %s (MAC %s) is not an ENI of instance %s", ifname, m, id.InstanceID)
}

// ByENI returns the interface with the given ENI id.
func (id *Identity) ByENI(eni string) (NetInterface, bool) {
	for _, ni := range id.Interfaces {
		if ni.ENI == eni {
			return ni, true
		}
	}
	return NetInterface{}, false
}

func (id *Identity) sortedInterfaces() []NetInterface {
	out := make([]NetInterface, 0, len(id.Interfaces))
	for _, ni := range id.Interfaces {
		out = append(out, ni)
	}
	slices.SortFunc(out, func(a, b NetInterface) int { return a.DeviceNumber - b.DeviceNumber })
	return out
}
