package ca

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	issued   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics creates the CA's collectors and registers them with reg (if
// not nil); collectors already registered by an earlier Service are reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_ca_signing_cert_requests_total",
			Help: "Signing certificate requests by API version and outcome (ok or the HTTP status).",
		}, []string{"api", "result"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_ca_certificates_issued_total",
			Help: "Certificates issued by API version and SCT mode (embedded, detached, none).",
		}, []string{"api", "sct"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sigil_ca_signing_cert_duration_seconds",
			Help:    "Time to issue a certificate, from request to response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"api"}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests)
		m.issued = register(reg, m.issued)
		m.latency = register(reg, m.latency)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
