package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

// The documentation, the alert rules and the dashboard are checked against
// the metrics the code registers, so that none of them names a metric that
// does not exist and the documentation misses none.

const (
	docsFile      = "../docs/metrics.md"
	alertsFile    = "../deploy/prometheus/alerts.yml"
	dashboardFile = "../deploy/grafana/vipd-dashboard.json"
)

// families returns every registered family with all events observed and
// a full snapshot, by name.
func families(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := fullMetrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// seriesNames are the names a query may use: each family, and a
// histogram's _bucket, _sum and _count.
func seriesNames(t *testing.T) map[string]bool {
	names := map[string]bool{}
	for name, mf := range families(t) {
		names[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
		}
	}
	return names
}

func labelNames(mf *dto.MetricFamily) []string {
	set := map[string]bool{}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			set[l.GetName()] = true
		}
	}
	var out []string
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func TestDocsListEveryMetric(t *testing.T) {
	data, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(vipd_[a-z0-9_]+)` \\| (gauge|counter|histogram) \\|([^|]*)\\|")
	label := regexp.MustCompile("`([a-z_]+)`")
	documented := map[string]bool{}
	fams := families(t)
	for _, line := range strings.Split(string(data), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name, typ := m[1], m[2]
		documented[name] = true
		mf, ok := fams[name]
		if !ok {
			t.Errorf("docs/metrics.md lists %s, which is not registered", name)
			continue
		}
		if got := strings.ToLower(mf.GetType().String()); got != typ {
			t.Errorf("docs/metrics.md: %s is a %s, not a %s", name, got, typ)
		}
		var docLabels []string
		for _, l := range label.FindAllStringSubmatch(m[3], -1) {
			docLabels = append(docLabels, l[1])
		}
		sort.Strings(docLabels)
		got := slices.DeleteFunc(labelNames(mf), func(l string) bool { return l == "le" })
		if !slices.Equal(got, docLabels) {
			t.Errorf("docs/metrics.md: %s has labels %v, documented %v", name, got, docLabels)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "vipd_") && !documented[name] {
			t.Errorf("%s is not in docs/metrics.md", name)
		}
	}
}

// metricRefs returns the metric names an expression uses (those of vipd
// and of the Go and process collectors, plus up).
var metricRef = regexp.MustCompile(`\b(?:vipd|go|process)_[a-z0-9_]+\b|\bup\b`)

func checkRefs(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	if len(refs) == 0 {
		t.Errorf("%s: %q uses no vipd metric", where, expr)
	}
	for _, r := range refs {
		if r != "up" && !known[r] {
			t.Errorf("%s: %q uses %s, which does not exist", where, expr, r)
		}
	}
}

// byClause finds the label lists of aggregations and of $labels in
// templates.
var (
	byClause    = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	labelsField = regexp.MustCompile(`\$labels\.([a-z_]+)`)
)

// labelsOf returns the labels a query (or an alert's text) may name: those
// of every vipd family it uses, and the target's instance and job.
func labelsOf(fams map[string]*dto.MetricFamily, expr string) (map[string]bool, bool) {
	ok := map[string]bool{"instance": true, "job": true, "le": true}
	for _, r := range metricRef.FindAllString(expr, -1) {
		if !strings.HasPrefix(r, "vipd_") {
			return nil, false // go_*, process_*, up: labels not checked
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if mf := fams[strings.TrimSuffix(r, suf)]; mf != nil && mf.GetType() == dto.MetricType_HISTOGRAM {
				r = strings.TrimSuffix(r, suf)
			}
		}
		if mf := fams[r]; mf != nil {
			for _, l := range labelNames(mf) {
				ok[l] = true
			}
		}
	}
	return ok, true
}

// checkLabels: every label an aggregation groups by, and every $labels
// field of the alert's annotations, exists on the metrics the query
// uses (an alert grouping by a label that is not there shows nothing).
func checkLabels(t *testing.T, fams map[string]*dto.MetricFamily, where, expr, text string) {
	t.Helper()
	ok, checked := labelsOf(fams, expr)
	if !checked {
		return
	}
	var names []string
	for _, m := range byClause.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				names = append(names, l)
			}
		}
	}
	for _, m := range labelsField.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	for _, l := range names {
		if !ok[l] {
			t.Errorf("%s: label %q is not a label of the metrics in %q", where, l, expr)
		}
	}
}

func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	known := seriesNames(t)
	fams := families(t)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			checkRefs(t, g.Name+"/"+r.Alert, r.Expr, known)
			var text []string
			for _, v := range r.Annotations {
				text = append(text, v)
			}
			checkLabels(t, fams, g.Name+"/"+r.Alert, r.Expr, strings.Join(text, "\n"))
			n++
		}
	}
	if n < 10 {
		t.Errorf("only %d rules", n)
	}

	promtool := findPromtool(t)
	out, err := exec.Command(promtool, "check", "rules", alertsFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}

	// The main alerts fire on the series they are about, and not on a
	// healthy cluster: promtool's rule unit tests.
	tests := `rule_files: [` + mustAbs(t, alertsFile) + `]
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'vipd_instance_state{job="vipd",instance="n1:9746",vrrp_instance="VI_1",vrid="51",family="ipv4",state="master"}'
        values: '1x10'
      - series: 'vipd_instance_state{job="vipd",instance="n2:9746",vrrp_instance="VI_1",vrid="51",family="ipv4",state="master"}'
        values: '0 0 1x8'
      - series: 'vipd_instance_state{job="vipd",instance="n1:9746",vrrp_instance="VI_2",vrid="52",family="ipv4",state="master"}'
        values: '0x10'
      - series: 'vipd_check_healthy{job="vipd",instance="n1:9746",check="dns",kind="dns"}'
        values: '1 1 0x12'
      - series: 'vipd_cloud_action_last_error_timestamp_seconds{job="vipd",instance="n1:9746",owner="instance:VI_1",action="associate_address"}'
        values: '0 1700000000x80'
      - series: 'vipd_cloud_action_last_error_timestamp_seconds{job="vipd",instance="n2:9746",owner="instance:VI_1",action="associate_address"}'
        values: '0x80'
    alert_rule_test:
      - eval_time: 2m
        alertname: VipdSplitBrain
        exp_alerts:
          - exp_labels: {severity: critical, vrrp_instance: VI_1, vrid: "51", family: ipv4}
            exp_annotations:
              summary: "2 nodes are master of VI_1"
              description: "More than one node holds the VIPs of VI_1: adverts are not getting through between them (network partition, firewall, VRID clash)."
      - eval_time: 2m
        alertname: VipdNoMaster
        exp_alerts:
          - exp_labels: {severity: critical, vrrp_instance: VI_2, vrid: "52", family: ipv4}
            exp_annotations:
              summary: "No node is master of VI_2"
              description: "Nobody holds the virtual addresses of VI_2 (VRID 52, ipv4): the service behind them is unreachable."
      - eval_time: 10m
        alertname: VipdCloudActionErrorUnresolved
        exp_alerts: []
      - eval_time: 17m
        alertname: VipdCloudActionErrorUnresolved
        exp_alerts:
          - exp_labels: {severity: warning, job: vipd, instance: "n1:9746", owner: "instance:VI_1", action: associate_address}
            exp_annotations:
              summary: "Cloud action associate_address of instance:VI_1 on n1:9746 has an error no success has followed"
              description: "Its last attempt (a failover, a reconcile, a release, or the start-up permission check) failed and nothing has succeeded since: the next failover to this node may fail the same way. The node's status (vipd status) shows the error."
      - eval_time: 1m
        alertname: VipdCheckFailing
        exp_alerts: []
      - eval_time: 3m
        alertname: VipdCheckFailing
        exp_alerts:
          - exp_labels: {severity: warning, job: vipd, instance: "n1:9746", check: dns, kind: dns}
            exp_annotations:
              summary: "Check dns fails on n1:9746"
              description: "The dns check has been unhealthy for 2 minutes; the instances tracking it run at lower priority or in FAULT."
`
	path := filepath.Join(t.TempDir(), "alerts_test.yml")
	if err := os.WriteFile(path, []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(promtool, "test", "rules", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID           string
		Title         string
		SchemaVersion int
		Templating    struct {
			List []struct {
				Name       string
				Type       string
				Definition string
			}
		}
		Annotations struct {
			List []struct{ Expr string }
		}
		Panels []struct {
			ID      int
			Type    string
			Title   string
			GridPos struct{ H, W, X, Y int }
			Targets []struct {
				Expr  string
				RefID string
			}
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion < 30 {
		t.Errorf("uid %q, title %q, schemaVersion %d", dash.UID, dash.Title, dash.SchemaVersion)
	}
	known := seriesNames(t)
	fams := families(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	exprs := 0
	for _, p := range dash.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: grid position %+v", p.Title, p.GridPos)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkRefs(t, "panel "+p.Title, tg.Expr, known)
			checkLabels(t, fams, "panel "+p.Title, tg.Expr, "")
			for _, r := range metricRef.FindAllString(tg.Expr, -1) {
				used[r] = true
			}
			exprs++
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type == "query" {
			checkRefs(t, "variable "+v.Name, v.Definition, known)
		}
	}
	for _, a := range dash.Annotations.List {
		checkRefs(t, "annotation", a.Expr, known)
	}
	if exprs < 20 {
		t.Errorf("only %d queries", exprs)
	}
	// Every state metric of the issue is on the dashboard.
	for _, name := range []string{"vipd_instance_state", "vipd_instance_effective_priority", "vipd_instance_master_changes_total",
		"vipd_check_healthy", "vipd_packets_dropped_total", "vipd_gossip_members", "vipd_gossip_health_score",
		"vipd_cloud_action_errors_total", "vipd_notify_failures_total", "vipd_split_brain_events_total"} {
		if !used[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}
