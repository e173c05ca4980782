package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/vipd/vipd/cloudmove/mototest"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/internal/lab"
)

// TestCloudBackupFollowsPeerMaster: the agent's cloud owners follow the
// cluster's events. A backup's view of a route is from before the other
// node made it; when the event stream (gossip) says another node became
// MASTER of the instance, the backup looks again at once (its refresh
// interval is an hour here), so its next failover replaces the route
// instead of creating it.
func TestCloudBackupFollowsPeerMaster(t *testing.T) {
	if _, err := mototest.Binary(); err != nil {
		lab.SkipOrFail(t, "moto_server: %v", err)
	}
	moto, err := mototest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := mototest.NewWorld(ctx, moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := w.Subnet(ctx, "198.51.100.0/26", mototest.Region+"a", nil)
	if err != nil {
		t.Fatal(err)
	}
	rtb, err := w.RouteTable(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	na, err := w.Instance(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(na.Close)
	nb, err := w.Instance(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nb.Close)
	t.Setenv(imdsEndpointEnv, nb.IMDS.URL)
	cfg, err := config.ParseYAML("b.yaml", []byte(fmt.Sprintf(`node: {name: b}
instances:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips: [198.51.100.50/26]
    cloud:
      endpoint: %s
      region: %s
      refresh_interval: 1h
      skip_dry_run: true
      actions:
        - route: {destination: 203.0.113.10/32, route_tables: [%s], eni: %s}
`, moto.URL, mototest.Region, rtb, nb.ENIs[0].ENI)), config.LoadOptions{Hostname: "b"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClouds(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, func() {})
	if err := c.configure(cfg); err != nil {
		t.Fatal(err)
	}
	events := newHub()
	c.followPeers(events, "b")
	t.Cleanup(c.stop)
	detail := func() string { return c.status()["instance:VI_1"][0].Detail }
	c.transition("VI_1", fsm.Backup, false)
	waitUntil(t, "the backup's first look", func() bool { return strings.Contains(detail(), "no route") })

	// Node a becomes master and creates the route; the stream says so.
	if _, err := w.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rtb),
		DestinationCidrBlock: aws.String("203.0.113.10/32"), NetworkInterfaceId: aws.String(na.ENIs[0].ENI)}); err != nil {
		t.Fatal(err)
	}
	master := InstanceEvent{Name: "VI_1", From: fsm.Backup, To: fsm.Master}
	events.instance("b", time.Now(), master) // this node's own: not a peer
	events.instance("a", time.Now(), master)
	waitUntil(t, "the backup to see a's route", func() bool { return strings.Contains(detail(), na.ENIs[0].ENI) })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
