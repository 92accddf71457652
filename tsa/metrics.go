package tsa

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the TSA's Prometheus metrics:
//
//	sigil_tsa_requests_total{format="der|json|unknown", outcome="granted|bad_alg|bad_data_format|unaccepted_policy|unaccepted_extension|unsupported_media_type|system_failure"}
//	sigil_tsa_sign_duration_seconds  histogram of the time to issue a granted token
type metrics struct {
	requests *prometheus.CounterVec
	signing  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_tsa_requests_total",
			Help: "Timestamp requests by request format and outcome (granted, or why they were refused).",
		}, []string{"format", "outcome"}),
		signing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sigil_tsa_sign_duration_seconds",
			Help:    "Time to issue a granted timestamp token.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 14), // 50 µs to 0.4 s
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.signing} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("couldn't register TSA metrics (one TSA per registry): %w", err)
		}
	}
	return m, nil
}

func (m *metrics) request(format, outcome string) {
	m.requests.WithLabelValues(format, outcome).Inc()
}

func (m *metrics) signed(d time.Duration) {
	m.signing.Observe(d.Seconds())
}
