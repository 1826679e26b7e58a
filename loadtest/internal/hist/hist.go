// Package hist is a fixed-memory, log-linear latency histogram in the
// spirit of HdrHistogram: every value is kept with a relative error below
// 1/64 (about 1.6 %), whatever its magnitude, in 64 × 64 counters.
//
// Record may be called concurrently from any number of goroutines (it is one
// atomic add); Snapshot, Quantile and the other readers may run concurrently
// with Record and see a consistent-enough view for progress reports.
package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits    = 6 // sub-buckets per power of two: 1 << subBits
	subBuckets = 1 << subBits
	// Values below subBuckets are counted exactly in bucket 0; bucket e (e ≥ 1)
	// holds values with bit length subBits+e, so 64-subBits+1 buckets cover uint64.
	buckets = 64 - subBits + 1
)

// Histogram counts non-negative int64 values (durations in nanoseconds, by
// convention). The zero value is ready to use.
type Histogram struct {
	counts [buckets * subBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
	min    atomic.Int64 // stored as value+1 so that zero means "none yet"
}

// index maps v to its counter.
func index(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	n := bits.Len64(v)       // ≥ subBits+1
	shift := n - subBits - 1 // keep subBits bits after the leading one
	e := shift + 1           // bucket number ≥ 1
	sub := (v >> shift) & (subBuckets - 1)
	return e*subBuckets + int(sub)
}

// lowest returns the smallest value counted by counter i.
func lowest(i int) uint64 {
	e, sub := i/subBuckets, uint64(i%subBuckets)
	if e == 0 {
		return sub
	}
	shift := e - 1
	return (subBuckets | sub) << shift
}

// highest returns the largest value counted by counter i.
func highest(i int) uint64 {
	e := i / subBuckets
	if e == 0 {
		return lowest(i)
	}
	return lowest(i) + (uint64(1) << (e - 1)) - 1
}

// Record counts one value; negative values count as zero.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[index(uint64(v))].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	h.observeExtremes(v, v)
}

// observeExtremes widens the recorded minimum and maximum to lo and hi.
func (h *Histogram) observeExtremes(lo, hi int64) {
	for {
		m := h.max.Load()
		if hi <= m || h.max.CompareAndSwap(m, hi) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && lo+1 >= m) || h.min.CompareAndSwap(m, lo+1) {
			break
		}
	}
}

// RecordDuration counts d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest value recorded (0 when empty).
func (h *Histogram) Max() int64 { return h.max.Load() }

// Min returns the smallest value recorded (0 when empty).
func (h *Histogram) Min() int64 {
	if m := h.min.Load(); m > 0 {
		return m - 1
	}
	return 0
}

// Mean returns the mean of the values recorded (0 when empty).
func (h *Histogram) Mean() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value at quantile q (0 ≤ q ≤ 1): the highest value
// of the counter that holds the q-th value, clamped to the exact maximum, so
// a reported percentile never understates the latency.
func (h *Histogram) Quantile(q float64) int64 {
	var counts [buckets * subBuckets]uint64
	var n uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	if n == 0 {
		return 0
	}
	if q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(q*float64(n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			v := int64(highest(i))
			if m := h.Max(); v > m {
				v = m
			}
			if m := h.Min(); v < m {
				v = m
			}
			return v
		}
	}
	return h.Max()
}

// Merge adds every count of o into h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	if n := o.total.Load(); n > 0 {
		h.total.Add(n)
		h.sum.Add(o.sum.Load())
		h.observeExtremes(o.Min(), o.Max())
	}
}

// Summary is the usual latency digest, in milliseconds.
type Summary struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize returns the digest of h, reading its values as nanoseconds.
func (h *Histogram) Summarize() Summary {
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	return Summary{
		Count: h.Count(),
		Min:   ms(h.Min()),
		Mean:  h.Mean() / 1e6,
		P50:   ms(h.Quantile(0.50)),
		P90:   ms(h.Quantile(0.90)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(h.Max()),
	}
}
