// Package metrics exports the gateway's counters to Prometheus.
//
// The core packages keep their own counters and expose Stats() snapshots;
// this package turns one snapshot per scrape into metrics (a Collector), on a
// registry of the gateway's own, never Prometheus's global default one.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockgate/sockgate/pkg/histogram"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors (memory, goroutines, CPU time, open file descriptors).
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the metrics of g in the Prometheus exposition formats.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// Metric is one metric read from a snapshot of type S.
type Metric[S any] struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	each func(s S, emit func(value float64, labelValues ...string))
	hist func(s S, emit func(h histogram.Snapshot, labelValues ...string)) // histograms instead of each
}

// Counter is a counter read from a snapshot.
func Counter[S any](name, help string, value func(S) float64) Metric[S] {
	return single(name, help, prometheus.CounterValue, value)
}

// Gauge is a gauge read from a snapshot.
func Gauge[S any](name, help string, value func(S) float64) Metric[S] {
	return single(name, help, prometheus.GaugeValue, value)
}

func single[S any](name, help string, kind prometheus.ValueType, value func(S) float64) Metric[S] {
	return Metric[S]{
		desc: prometheus.NewDesc(name, help, nil, nil),
		kind: kind,
		each: func(s S, emit func(float64, ...string)) { emit(value(s)) },
	}
}

// CounterVec is a counter with labels; each calls emit once per series.
func CounterVec[S any](name, help string, labels []string, each func(s S, emit func(value float64, labelValues ...string))) Metric[S] {
	return Metric[S]{desc: prometheus.NewDesc(name, help, labels, nil), kind: prometheus.CounterValue, each: each}
}

// GaugeVec is a gauge with labels; each calls emit once per series.
func GaugeVec[S any](name, help string, labels []string, each func(s S, emit func(value float64, labelValues ...string))) Metric[S] {
	return Metric[S]{desc: prometheus.NewDesc(name, help, labels, nil), kind: prometheus.GaugeValue, each: each}
}

// Collector is a prometheus.Collector that takes one snapshot per scrape and
// reports every metric from it, so the series of one scrape are consistent.
type Collector[S any] struct {
	snapshot func() S
	metrics  []Metric[S]
}

// NewCollector returns a collector of metrics read from snapshot().
func NewCollector[S any](snapshot func() S, metrics ...Metric[S]) *Collector[S] {
	return &Collector[S]{snapshot: snapshot, metrics: metrics}
}

// Describe implements prometheus.Collector.
func (c *Collector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (c *Collector[S]) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	for _, m := range c.metrics {
		if m.hist != nil {
			m.hist(s, func(h histogram.Snapshot, labelValues ...string) {
				buckets := make(map[float64]uint64, len(h.Bounds))
				for i, b := range h.Bounds {
					buckets[b] = h.Cumulative[i]
				}
				pm, err := prometheus.NewConstHistogram(m.desc, h.Count, h.Sum, buckets, labelValues...)
				if err != nil {
					pm = prometheus.NewInvalidMetric(m.desc, err)
				}
				ch <- pm
			})
			continue
		}
		m.each(s, func(v float64, labelValues ...string) {
			pm, err := prometheus.NewConstMetric(m.desc, m.kind, v, labelValues...)
			if err != nil {
				pm = prometheus.NewInvalidMetric(m.desc, err)
			}
			ch <- pm
		})
	}
}

// Histogram is a histogram read from a snapshot.
func Histogram[S any](name, help string, value func(S) histogram.Snapshot) Metric[S] {
	return HistogramVec(name, help, nil, func(s S, emit func(histogram.Snapshot, ...string)) { emit(value(s)) })
}

// HistogramVec is a histogram with labels; each calls emit once per series.
func HistogramVec[S any](name, help string, labels []string, each func(s S, emit func(h histogram.Snapshot, labelValues ...string))) Metric[S] {
	return Metric[S]{desc: prometheus.NewDesc(name, help, labels, nil), hist: each}
}
