package ctlog

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the log's Prometheus metrics; the zero value (no
// registerer) records nothing.
type metrics struct {
	submissions *prometheus.CounterVec   // kind, result
	duration    *prometheus.HistogramVec // kind
	batch       prometheus.Histogram
	index       prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		return &metrics{}, nil
	}
	m := &metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_ctlog_submissions_total",
			Help: "Chains submitted to the CT log, by kind (precert, cert) and result (ok, duplicate, refused, error).",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sigil_ctlog_add_duration_seconds",
			Help:    "Time from submission to SCT, including the durable sequencing of the entry.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"kind"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sigil_ctlog_batch_entries",
			Help:    "Entries per group-committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13),
		}),
		index: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sigil_ctlog_last_sct_index",
			Help: "Leaf index of the last new entry an SCT was issued for.",
		}),
	}
	for _, c := range []prometheus.Collector{m.submissions, m.duration, m.batch, m.index} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("couldn't register CT log metrics: %w", err)
		}
	}
	return m, nil
}

func kind(precert bool) string {
	if precert {
		return "precert"
	}
	return "cert"
}

func (m *metrics) observeAdd(precert bool, start time.Time, dup bool, err error) {
	if m.submissions == nil {
		return
	}
	result := "ok"
	if dup {
		result = "duplicate"
	}
	if err != nil {
		result = "error"
		if _, _, ok := classify(err); ok && !errors.Is(err, ErrShutdown) && !errors.Is(err, ErrPushback) {
			result = "refused"
		}
	}
	m.submissions.WithLabelValues(kind(precert), result).Inc()
	if err == nil {
		m.duration.WithLabelValues(kind(precert)).Observe(time.Since(start).Seconds())
	}
}

func (m *metrics) lastIndex(i uint64) {
	if m.index != nil {
		m.index.Set(float64(i))
	}
}

func (m *metrics) observeBatch(n int) {
	if m.batch != nil {
		m.batch.Observe(float64(n))
	}
}
