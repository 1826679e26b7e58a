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
	hist func(s S, ch chan<- prometheus.Metric) // histograms, instead of each
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

// HistogramSample is one histogram series of a snapshot: observations per
// bucket (upper bounds as given to HistogramVec, then +Inf; not
// cumulative), their count and their sum.
type HistogramSample struct {
	Buckets []uint64
	Count   uint64
	Sum     float64
}

// HistogramVec is a histogram with labels, read from a snapshot whose
// buckets have the upper bounds given; each calls emit once per series.
func HistogramVec[S any](name, help string, bounds []float64, labels []string, each func(s S, emit func(h HistogramSample, labelValues ...string))) Metric[S] {
	desc := prometheus.NewDesc(name, help, labels, nil)
	bounds = append([]float64(nil), bounds...)
	return Metric[S]{desc: desc, hist: func(s S, ch chan<- prometheus.Metric) {
		each(s, func(h HistogramSample, labelValues ...string) {
			cum := make(map[float64]uint64, len(bounds))
			var n uint64
			for i, b := range bounds {
				if i < len(h.Buckets) {
					n += h.Buckets[i]
				}
				cum[b] = n
			}
			pm, err := prometheus.NewConstHistogram(desc, h.Count, h.Sum, cum, labelValues...)
			if err != nil {
				pm = prometheus.NewInvalidMetric(desc, err)
			}
			ch <- pm
		})
	}}
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
			m.hist(s, ch)
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
