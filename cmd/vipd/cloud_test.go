package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/cloudmove/faultproxy"
	"github.com/vipd/vipd/cloudmove/mototest"
)

func TestCloudIAMPolicy(t *testing.T) {
	path := write(t, "c.yaml", `instances:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips: [198.51.100.10/24]
    cloud:
      region: eu-west-1
      actions:
        - secondary_ip: {}
        - elastic_ip: {allocation_id: eipalloc-0123456789abcdef0}
        - route: {destination: 203.0.113.10/32, route_tables: [rtb-0123456789abcdef0, rtb-01234567]}
        - route: {destination: 203.0.113.11/32, subnet_tags: {Network: private}}
        - ebs: {volume_id: vol-0123456789abcdef0, device: /dev/xvdf}
`)
	out, err := run(t, "cloud", "iam-policy", "--config", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var doc cloudmove.PolicyDocument
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 6 {
		t.Fatalf("policy:\n%s", out)
	}
	grants := map[string][]string{} // action → resources
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", s.Sid, s.Effect)
		}
		for _, a := range s.Action {
			grants[a] = append(grants[a], s.Resource...)
		}
	}
	want := map[string][]string{
		"ec2:DescribeAddresses":         {"*"},
		"ec2:DescribeNetworkInterfaces": {"*"},
		"ec2:DescribeRouteTables":       {"*"},
		"ec2:DescribeSubnets":           {"*"},
		"ec2:DescribeVolumes":           {"*"},
		"ec2:AssignPrivateIpAddresses":  {"arn:aws:ec2:eu-west-1:*:network-interface/*"},
		"ec2:AssociateAddress":          {"arn:aws:ec2:eu-west-1:*:elastic-ip/eipalloc-0123456789abcdef0", "arn:aws:ec2:eu-west-1:*:network-interface/*"},
		"ec2:ReplaceRoute": {"arn:aws:ec2:eu-west-1:*:route-table/rtb-01234567", "arn:aws:ec2:eu-west-1:*:route-table/rtb-0123456789abcdef0",
			"arn:aws:ec2:eu-west-1:*:route-table/*"},
		"ec2:AttachVolume": {"arn:aws:ec2:eu-west-1:*:instance/*", "arn:aws:ec2:eu-west-1:*:volume/vol-0123456789abcdef0"},
	}
	for a, res := range want {
		got := grants[a]
		slices.Sort(got)
		slices.Sort(res)
		if !slices.Equal(got, res) {
			t.Errorf("%s on %v, want %v", a, got, res)
		}
	}
	for a := range grants {
		if strings.Contains(a, "*") || a == "ec2:ModifyInstanceAttribute" {
			t.Errorf("over-broad grant %s", a)
		}
	}
	if _, ok := grants["ec2:CreateRoute"]; !ok {
		t.Error("no CreateRoute")
	}

	// A configuration without cloud actions is an error.
	plain := write(t, "p.yaml", "instances:\n  - name: VI_1\n    interface: eth0\n    vrid: 1\n    vips: [198.51.100.10/24]\n")
	if out, err := run(t, "cloud", "iam-policy", "--config", plain); exitStatus(err) != 1 || !strings.Contains(out, "no instance or sync group has a cloud section") {
		t.Errorf("status %d, output %q", exitStatus(err), out)
	}
	bad := write(t, "b.yaml", "instances:\n  - name: VI_1\n    interface: eth0\n    vrid: 1\n    vips: [198.51.100.10/24]\n    cloud:\n      actions: [{ebs: {volume_id: volume1, device: /dev/xvdf}}]\n")
	if out, err := run(t, "cloud", "iam-policy", "--config", bad); exitStatus(err) != 1 || !strings.Contains(out, ":7: instances[0].cloud.actions[0].ebs.volume_id") {
		t.Errorf("status %d, output %q", exitStatus(err), out)
	}
}

func TestCloudCheck(t *testing.T) {
	moto := mototest.Require(t)
	defer mototest.StopShared()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := mototest.NewWorld(ctx, moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := w.Subnet(ctx, "198.51.100.0/26", "eu-west-1a", nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := w.RouteTable(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.Instance(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	other, err := w.Instance(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	alloc, _, err := w.ElasticIP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The proxy answers the route DryRuns moto would execute, counts the
	// calls and denies one permission.
	p, err := faultproxy.New(moto.URL, faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"},
		Deny: []string{"AttachVolume"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	vol, err := w.Volume(ctx, n.AZ)
	if err != nil {
		t.Fatal(err)
	}
	// The check runs on the host, whose interfaces are not the node's:
	// name the ENIs.
	path := write(t, "c.yaml", fmt.Sprintf(`instances:
  - name: VI_1
    interface: eth0
    vrid: 1
    vips: [198.51.100.50/26]
    cloud:
      endpoint: %s
      actions:
        - secondary_ip: {eni: %s}
        - elastic_ip: {allocation_id: %s, eni: %s}
        - route: {destination: 203.0.113.10/32, route_tables: [%s], eni: %s}
        - ebs: {volume_id: %s, device: /dev/xvdf}
`, p.URL(), n.ENIs[0].ENI, alloc, n.ENIs[0].ENI, rt, n.ENIs[0].ENI, vol))
	out, err := run(t, "cloud", "check", "--config", path, "--imds-endpoint", n.IMDS.URL)
	if exitStatus(err) != 1 {
		t.Errorf("status %d (%v), want 1 for the denied permission", exitStatus(err), err)
	}
	for _, want := range []string{
		"instance VI_1:",
		"change: AssignPrivateIpAddresses 198.51.100.50 to " + n.ENIs[0].ENI,
		"change: AssociateAddress " + alloc + " to " + n.ENIs[0].ENI,
		"CreateRoute " + rt + " 203.0.113.10/32 → " + n.ENIs[0].ENI,
		"change: AttachVolume " + vol + " to " + n.InstanceID,
		"warning: source/dest check is on",
		"ec2:AssociateAddress           allowed (DryRun)",
		"ec2:ReplaceRoute               allowed (DryRun)",
		"ec2:AttachVolume               DENIED",
		"ec2:AssignPrivateIpAddresses   not checked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if m := p.Count("", true); m != 0 {
		t.Errorf("check made %d changes", m)
	}
	if n.IMDS.Requests.Load() == 0 {
		t.Error("instance metadata never asked")
	}

	// skip_dry_run in the section: the check makes no DryRun call (the
	// looks still run) and reports no permission.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	path = write(t, "skip.yaml", strings.Replace(string(data), "      actions:", "      skip_dry_run: true\n      actions:", 1))
	p.ClearCalls()
	out, err = run(t, "cloud", "check", "--config", path, "--imds-endpoint", n.IMDS.URL)
	if err != nil {
		t.Errorf("check with skip_dry_run: %v\n%s", err, out)
	}
	dry := 0
	for _, c := range p.Calls() {
		if c.DryRun {
			dry++
		}
	}
	if dry != 0 || strings.Contains(out, "DryRun") || !strings.Contains(out, "change: AttachVolume") {
		t.Errorf("skip_dry_run: %d DryRun calls; output:\n%s", dry, out)
	}
}
