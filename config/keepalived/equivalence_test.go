package keepalived

import (
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

// The same cluster written in both formats must load to the same model,
// tracking, notify scripts and sync groups included.
func TestSameClusterInBothFormats(t *testing.T) {
	opts := config.LoadOptions{Hostname: "unused", System: rootSys()}
	fromYAML, err := loadFile("../testdata/cluster.yaml", opts)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	fromKA, err := loadFile("../testdata/cluster.conf", opts)
	if err != nil {
		t.Fatalf("keepalived: %v", err)
	}
	if len(fromKA.Warnings) != 0 || len(fromYAML.Warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s%s", configtest.Render(fromKA.Warnings), configtest.Render(fromYAML.Warnings))
	}
	if fromYAML.Node != fromKA.Node {
		t.Errorf("node %+v vs %+v", fromYAML.Node, fromKA.Node)
	}
	if fromYAML.Format == fromKA.Format {
		t.Error("both report the same format")
	}
	configtest.SameConfig(t, fromKA, fromYAML)
	if len(fromYAML.Instances) != 3 {
		t.Fatalf("%d instances", len(fromYAML.Instances))
	}
	// Spot-check that the shared model is what was written, so that two
	// equally wrong parsers cannot pass.
	dns := fromKA.Instances[0]
	if dns.GARP.MasterDelay.Seconds() != 3 || dns.GARP.MasterRefresh.Seconds() != 60 || dns.GARP.Interval.Milliseconds() != 5 ||
		dns.AuthPass != "s3cret" || len(dns.AdvertisedVIPs()) != 2 || dns.VIPs[2].Interface != "eth0" {
		t.Errorf("VI_DNS: %s", configtest.Dump(dns))
	}
	v6 := fromKA.Instances[1]
	if v6.Family != inet.IPv6 || v6.Version != 3 || v6.InitialState != fsm.Master || v6.AdvertInterval.Milliseconds() != 250 {
		t.Errorf("VI_V6: %s", configtest.Dump(v6))
	}
	if fromKA.Instances[2].Preempt {
		t.Error("VI_NOPRE preempts")
	}
	if fromKA.FastTakeover || !fromKA.Scripts.Enforce || fromKA.Scripts.User != "nobody" {
		t.Errorf("globals: fast takeover %v, scripts %+v", fromKA.FastTakeover, fromKA.Scripts)
	}
	if c := fromKA.Check("chk_dns"); c == nil || c.Interval != 2*time.Second || c.Timeout != time.Second ||
		c.Fall != 2 || c.Rise != 3 || c.Weight != -60 || len(c.Exec.Command) != 7 || c.Exec.Command[6] != "TXT" {
		t.Errorf("chk_dns: %+v", c)
	}
	if c := fromKA.Check("chk_proc"); c == nil || !slices.Equal(c.Exec.Command, []string{"sh", "-c", "killall -0 dnsmasq || exit 1"}) ||
		!c.InitFail || !c.WeightReverse || c.Exec.User != "root" || c.Timeout != time.Second {
		t.Errorf("chk_proc: %+v", c)
	}
	if tr := dns.Track[1]; tr.Check != "chk_proc" || *tr.Weight != 10 || !tr.WeightReverse {
		t.Errorf("VI_DNS tracks chk_proc with %+v; want weight 10 reverse (the script's)", tr)
	}
	if got := dns.Notify.Master; !slices.Equal(got, []string{"/etc/vipd/notify.sh", "master", "the DNS VIP"}) {
		t.Errorf("notify_master = %q", got)
	}
	if g := fromKA.SyncGroupOf("VI_NOPRE"); g == nil || g.Name != "G_DNS" || len(g.Notify.Fault) != 2 {
		t.Errorf("sync group %+v", g)
	}
}
