package tlog

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus metrics; every one has a "log" label
// ("v1" or "v2").
type metrics struct {
	appended   *prometheus.CounterVec   // sigil_tlog_entries_appended_total
	duplicates *prometheus.CounterVec   // sigil_tlog_duplicates_total
	rejected   *prometheus.CounterVec   // sigil_tlog_requests_rejected_total{reason}
	pushback   *prometheus.CounterVec   // sigil_tlog_pushback_total
	addLatency *prometheus.HistogramVec // sigil_tlog_add_duration_seconds
	stage      *prometheus.HistogramVec // sigil_tlog_add_stage_duration_seconds{stage}
	treeSize   *prometheus.GaugeVec     // sigil_tlog_tree_size
	inFlight   *prometheus.GaugeVec     // sigil_tlog_adds_in_flight
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_tlog_entries_appended_total",
			Help: "Entries appended and acknowledged (201) by each log.",
		}, []string{"log"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_tlog_duplicates_total",
			Help: "Write requests answered 409 because the entry is already in the log.",
		}, []string{"log"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_tlog_requests_rejected_total",
			Help: "Write requests refused, by reason (invalid, too_large, frozen, canceled: the client went away, error).",
		}, []string{"log", "reason"}),
		pushback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_tlog_pushback_total",
			Help: "Write requests answered 503 because the log was saturated or shutting down.",
		}, []string{"log"}),
		addLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sigil_tlog_add_duration_seconds",
			Help:    "Time from a write request to its 201 answer carrying an inclusion proof.",
			Buckets: []float64{.01, .025, .05, .075, .1, .15, .2, .25, .3, .4, .5, .75, 1, 1.5, 2, 3, 5, 10, 20},
		}, []string{"log"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sigil_tlog_add_stage_duration_seconds",
			Help:    "Time an add spends until its entry is durable, integrated and covered by a signed checkpoint (stage=durable), then waiting for a checkpoint (stage=published, for duplicates).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .3, .5, 1, 2, 5, 10},
		}, []string{"log", "stage"}),
		treeSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sigil_tlog_tree_size",
			Help: "Size of the newest published checkpoint.",
		}, []string{"log"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sigil_tlog_adds_in_flight",
			Help: "Write requests waiting for durability and a covering checkpoint.",
		}, []string{"log"}),
	}
	var err error
	if m.appended, err = register(reg, m.appended); err != nil {
		return nil, err
	}
	if m.duplicates, err = register(reg, m.duplicates); err != nil {
		return nil, err
	}
	if m.rejected, err = register(reg, m.rejected); err != nil {
		return nil, err
	}
	if m.pushback, err = register(reg, m.pushback); err != nil {
		return nil, err
	}
	if m.addLatency, err = register(reg, m.addLatency); err != nil {
		return nil, err
	}
	if m.stage, err = register(reg, m.stage); err != nil {
		return nil, err
	}
	if m.treeSize, err = register(reg, m.treeSize); err != nil {
		return nil, err
	}
	if m.inFlight, err = register(reg, m.inFlight); err != nil {
		return nil, err
	}
	// Zero-valued series from the start, so that dashboards and alerts
	// see the rates before the first event.
	for _, log := range []string{"v1", "v2"} {
		m.appended.WithLabelValues(log)
		m.pushback.WithLabelValues(log)
		m.duplicates.WithLabelValues(log)
		for _, reason := range []string{"invalid", "too_large", "frozen", "canceled", "error"} {
			m.rejected.WithLabelValues(log, reason)
		}
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered
// (two services sharing one registry share their metrics).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("couldn't register metrics: %w", err)
	}
	return c, nil
}
