package histogram

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Histogram counts observations in buckets with fixed upper bounds.
type Histogram struct {
	bounds []float64       // ascending upper bounds (inclusive)
	counts []atomic.Uint64 // len(bounds)+1: the last one is +Inf
	sum    atomic.Uint64   // float64 bits
}

// New returns a histogram with the given ascending upper bounds. It panics
// on bounds that are empty or not strictly ascending (a programming error).
func New(bounds ...float64) *Histogram {
	if len(bounds) == 0 {
		panic("histogram: no bucket bounds")
	}
	for i := 1; i < len(bounds); i++ {
		if !(bounds[i] > bounds[i-1]) {
			panic("histogram: bucket bounds are not strictly ascending")
		}
	}
	return &Histogram{bounds: slices.Clone(bounds), counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// ObserveSince records the seconds elapsed since start.
func (h *Histogram) ObserveSince(start time.Time) { h.Observe(time.Since(start).Seconds()) }

// Snapshot is a histogram's state at one moment.
type Snapshot struct {
	Bounds     []float64 // upper bounds, ascending (shared, do not modify)
	Cumulative []uint64  // Cumulative[i]: observations <= Bounds[i]
	Count      uint64    // all observations, +Inf bucket included
	Sum        float64
}

// Snapshot reads the histogram. Count is the total of the buckets read, so
// a snapshot is consistent with itself even while others observe.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Bounds: h.bounds, Cumulative: make([]uint64, len(h.bounds))}
	var n uint64
	for i := range h.bounds {
		n += h.counts[i].Load()
		s.Cumulative[i] = n
	}
	s.Count = n + h.counts[len(h.bounds)].Load()
	s.Sum = math.Float64frombits(h.sum.Load())
	return s
}

// Bucket layouts shared by the core packages.
var (
	// latencyBounds suits round trips from 100µs to 10s, in seconds.
	latencyBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// sizeBounds suits counts from 0 to 100,000 (fan-out sizes).
	sizeBounds = []float64{0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000}
)

// NewLatency returns a histogram of durations in seconds, 100µs to 10s.
func NewLatency() *Histogram { return New(latencyBounds...) }

// NewSize returns a histogram of counts, 0 to 100,000.
func NewSize() *Histogram { return New(sizeBounds...) }
