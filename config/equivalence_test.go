package config

import "testing"

// The same cluster written in both formats must load to the same model.
func TestSameClusterInBothFormats(t *testing.T) {
	opts := LoadOptions{Hostname: "unused"}
	fromYAML, err := Load("testdata/cluster.yaml", opts)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	fromKA, err := Load("testdata/cluster.conf", opts)
	if err != nil {
		t.Fatalf("keepalived: %v", err)
	}
	if len(fromKA.Warnings) != 0 || len(fromYAML.Warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s%s", render(fromKA.Warnings), render(fromYAML.Warnings))
	}
	if fromYAML.Node != fromKA.Node {
		t.Errorf("node %+v vs %+v", fromYAML.Node, fromKA.Node)
	}
	if fromYAML.Format == fromKA.Format {
		t.Error("both report the same format")
	}
	sameInstances(t, fromKA.Instances, fromYAML.Instances)
	if len(fromYAML.Instances) != 3 {
		t.Fatalf("%d instances", len(fromYAML.Instances))
	}
	// Spot-check that the shared model is what was written, so that two
	// equally wrong parsers cannot pass.
	dns := fromKA.Instances[0]
	if dns.GARP.MasterDelay.Seconds() != 3 || dns.GARP.MasterRefresh.Seconds() != 60 || dns.GARP.Interval.Milliseconds() != 5 ||
		dns.AuthPass != "s3cret" || len(dns.AdvertisedVIPs()) != 2 || dns.VIPs[2].Interface != "eth0" {
		t.Errorf("VI_DNS: %s", dump(dns))
	}
	v6 := fromKA.Instances[1]
	if v6.Family != IPv6 || v6.Version != 3 || v6.InitialState != StateMaster || v6.AdvertInterval.Milliseconds() != 250 {
		t.Errorf("VI_V6: %s", dump(v6))
	}
	if fromKA.Instances[2].Preempt {
		t.Error("VI_NOPRE preempts")
	}
}
