package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/history"
)

// registerHistory adds the metrics of the event history: when each
// instance last changed state, and why instances change state, by the
// fixed set of causes history.Causes (never the free-text reason, which
// would make a series per wording).
func (m *Metrics) registerHistory(f func(prometheus.Collector)) {
	m.lastTransition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vipd_instance_last_transition_timestamp_seconds",
		Help: "When this node's instance last changed VRRP state (Unix time).",
	}, []string{"vrrp_instance"})
	f(m.lastTransition)
	m.causes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vipd_instance_transitions_by_cause_total",
		Help: "VRRP state transitions of this node's instances by cause (startup, master_down, resigned, preempted, higher_priority, fault, shutdown, sync_group, failover, maintenance, guard, other).",
	}, []string{"vrrp_instance", "cause"})
	f(m.causes)
}

// ObserveTransitionCause records a transition of instance at the given
// time; cause should be one of history.Causes, anything else counts as
// "other".
func (m *Metrics) ObserveTransitionCause(instance, cause string, at time.Time) {
	if !slices.Contains(history.Causes, cause) {
		cause = history.CauseOther
	}
	m.lastTransition.WithLabelValues(instance).Set(float64(at.UnixNano()) / 1e9)
	m.causes.WithLabelValues(instance, cause).Inc()
}

// ForgetTransitions drops an instance's history series (it was removed).
func (m *Metrics) ForgetTransitions(instance string) {
	m.lastTransition.DeleteLabelValues(instance)
	m.causes.DeletePartialMatch(prometheus.Labels{"vrrp_instance": instance})
}
