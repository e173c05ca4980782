// Package metrics holds vipd's Prometheus metrics: a private registry with
// the Go and process collectors, counters and histograms the agent feeds
// with events (Observe* methods), and gauges and counters read from a
// Snapshot of the agent at scrape time (SetSource). docs/metrics.md lists
// every metric; deploy/prometheus/alerts.yml and
// deploy/grafana/vipd-dashboard.json use them.
//
// Names follow the Prometheus conventions with the vipd_ prefix. The VRRP
// instance's name is the label vrrp_instance, never instance: Prometheus
// gives every scraped series an instance label (the target), which would
// clash.
//
// The package depends on client_golang only; the agent fills Snapshot from
// its own state, and the API server reports calls through ObserveAPIRequest
// and ObserveAPIPanic (server.Observer).
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

// BuildInfo describes the running binary, for vipd_build_info.
type BuildInfo struct {
	Version   string
	Commit    string
	GoVersion string
}

// Metrics is vipd's metrics registry. Its methods are safe for concurrent
// use and do not block (beyond a mutex inside client_golang).
type Metrics struct {
	reg    *prometheus.Registry
	source atomic.Pointer[func() Snapshot]

	transitions   *prometheus.CounterVec
	masterChanges *prometheus.CounterVec
	checkDuration *prometheus.HistogramVec
	checkFailures *prometheus.CounterVec
	notifyDur     *prometheus.HistogramVec
	notifyFail    *prometheus.CounterVec
	cloudDur      *prometheus.HistogramVec
	cloudErrors   *prometheus.CounterVec
	splitBrain    *prometheus.CounterVec
	apiRequests   *prometheus.CounterVec
	apiPanics     *prometheus.CounterVec
	// history.go
	lastTransition *prometheus.GaugeVec
	causes         *prometheus.CounterVec
}

// Buckets, in seconds. Checks and notify scripts are expected to take
// milliseconds to seconds (timeouts are seconds); cloud calls take up to
// minutes (an EBS detach).
var (
	scriptBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	cloudBuckets  = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}
)

// New returns a registry with every vipd metric, the Go and process
// collectors, and vipd_build_info set from b.
func New(b BuildInfo) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vipd_build_info",
		Help: "Always 1; the labels say which vipd build runs.",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	f(info)

	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		f(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		f(h)
		return h
	}
	m.transitions = counter("vipd_instance_transitions_total",
		"VRRP state transitions of this node's instances, by state left and entered.", "vrrp_instance", "from", "to")
	m.masterChanges = counter("vipd_instance_master_changes_total",
		"Times this node became or stopped being the master of an instance.", "vrrp_instance")
	m.checkDuration = histogram("vipd_check_duration_seconds",
		"Duration of health check runs; _count is the number of runs.", scriptBuckets, "check", "kind")
	m.checkFailures = counter("vipd_check_failures_total",
		"Health check runs that failed (before rise/fall counting).", "check", "kind")
	m.notifyDur = histogram("vipd_notify_duration_seconds",
		"Duration of notify script runs, by event; _count is the number of runs.", scriptBuckets, "event")
	m.notifyFail = counter("vipd_notify_failures_total",
		"Notify script runs that failed (exit status not 0, timeout, could not start).", "event")
	m.cloudDur = histogram("vipd_cloud_action_duration_seconds",
		"Duration of cloud actions (each with its retries, from becoming master or from the start of a release), by owner and operation; _count is the number of actions.", cloudBuckets, "owner", "action")
	m.cloudErrors = counter("vipd_cloud_action_errors_total",
		"Cloud actions that failed (a permanent error, or retryable errors past the retry budget), by owner and operation.", "owner", "action")
	m.splitBrain = counter("vipd_split_brain_events_total",
		"Times the split-brain guard held an instance back because gossip showed a better master whose adverts did not arrive.", "vrrp_instance")
	m.apiRequests = counter("vipd_api_requests_total",
		"API calls by method and gRPC status code (HTTP/JSON calls included; method \"http\" for HTTP requests refused before reaching gRPC).", "method", "code")
	m.apiPanics = counter("vipd_api_panics_total",
		"API handler panics recovered (each answered INTERNAL and logged).", "method")

	m.registerHistory(f)
	f(&snapshotCollector{m: m})
	return m
}

// Handler serves the metrics in the Prometheus exposition formats. A
// collector that fails is reported in the log of the scrape and the rest
// is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetSource sets the function read at every scrape for the state metrics
// (see Snapshot). It must be safe for concurrent use and should be quick.
// nil removes it (those metrics are then absent).
func (m *Metrics) SetSource(f func() Snapshot) {
	if f == nil {
		m.source.Store(nil)
		return
	}
	m.source.Store(&f)
}

// ObserveTransition counts a VRRP state transition of instance; the
// labels are the states' words (see States).
func (m *Metrics) ObserveTransition(instance string, from, to fsm.State) {
	m.transitions.WithLabelValues(instance, stateLabel(from), stateLabel(to)).Inc()
}

// ObserveMasterChange counts a change of the master of instance.
func (m *Metrics) ObserveMasterChange(instance string) {
	m.masterChanges.WithLabelValues(instance).Inc()
}

// ObserveCheck records a finished run of a health check: its kind (exec,
// process, tcp, http, dns, file, interface), its duration and whether the
// run passed.
func (m *Metrics) ObserveCheck(check, kind string, d time.Duration, healthy bool) {
	m.checkDuration.WithLabelValues(check, kind).Observe(d.Seconds())
	c := m.checkFailures.WithLabelValues(check, kind)
	if !healthy {
		c.Inc()
	}
}

// ObserveNotify records a finished notify script run for an event
// (master, backup, fault, stop, any, master_rx_lower_pri...); err is nil
// when it succeeded.
func (m *Metrics) ObserveNotify(event string, d time.Duration, err error) {
	m.notifyDur.WithLabelValues(event).Observe(d.Seconds())
	c := m.notifyFail.WithLabelValues(event)
	if err != nil {
		c.Inc()
	}
}

// ObserveCloudAction records a settled cloud action of owner
// ("instance:NAME" or "sync_group:NAME", from the configuration) doing
// action, one of CloudActions (anything else is counted as "unknown", so
// that a bug cannot put resource ids or free text in a label); err is nil
// when it succeeded.
func (m *Metrics) ObserveCloudAction(owner, action string, d time.Duration, err error) {
	action = CloudActionLabel(action)
	m.cloudDur.WithLabelValues(owner, action).Observe(d.Seconds())
	c := m.cloudErrors.WithLabelValues(owner, action)
	if err != nil {
		c.Inc()
	}
}

// CloudActions are the values of the cloud metrics' action label: what an
// action does on MASTER, one per kind (secondary_ip, elastic_ip, route,
// ebs), and detach_volume for the release of a volume. They match
// cloudmove.Operations (a test checks).
var CloudActions = []string{"assign_private_ip", "associate_address", "replace_route", "attach_volume", "detach_volume"}

// CloudActionLabel returns action if it is one of CloudActions, else
// "unknown".
func CloudActionLabel(action string) string {
	for _, a := range CloudActions {
		if a == action {
			return a
		}
	}
	return "unknown"
}

// ObserveSplitBrain counts the split-brain guard acting on instance.
func (m *Metrics) ObserveSplitBrain(instance string) {
	m.splitBrain.WithLabelValues(instance).Inc()
}

// ObserveAPIRequest counts a finished API call (server.Observer).
func (m *Metrics) ObserveAPIRequest(method, code string, _ time.Duration) {
	m.apiRequests.WithLabelValues(method, code).Inc()
}

// ObserveAPIPanic counts a recovered API handler panic (server.Observer).
func (m *Metrics) ObserveAPIPanic(method string) {
	m.apiPanics.WithLabelValues(method).Inc()
}

// States are the values of the state, from and to labels: fsm's words
// for the states, lower case. Any other state is reported as "unknown",
// so that a bug cannot grow the number of series.
var States = []string{"init", "backup", "master", "fault", "stop"}

// stateLabels and familyLabels spell out each label value, so that
// renaming a state or a family (or its String) elsewhere cannot change a
// series' name (metrics_test.go pins them).
var (
	stateLabels  = map[fsm.State]string{fsm.Init: "init", fsm.Backup: "backup", fsm.Master: "master", fsm.Fault: "fault", fsm.Stopped: "stop"}
	familyLabels = map[inet.Family]string{inet.IPv4: "ipv4", inet.IPv6: "ipv6"}
)

func stateLabel(s fsm.State) string {
	if l, ok := stateLabels[s]; ok {
		return l
	}
	return "unknown"
}

// familyLabel is the family label; the configuration allows no other
// family than the two, which keep their words.
func familyLabel(f inet.Family) string {
	if l, ok := familyLabels[f]; ok {
		return l
	}
	return f.Label()
}
