package hist

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func TestIndexBounds(t *testing.T) {
	tests := []struct {
		name string
		v    uint64
	}{
		{"zero", 0},
		{"small", 63},
		{"first log bucket", 64},
		{"odd", 1000003},
		{"second", 1e9},
		{"max int64", math.MaxInt64},
		{"max uint64", math.MaxUint64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := index(tt.v)
			if i < 0 || i >= buckets*subBuckets {
				t.Fatalf("index(%d) = %d out of range", tt.v, i)
			}
			if lo, hi := lowest(i), highest(i); tt.v < lo || tt.v > hi {
				t.Fatalf("value %d outside its counter [%d, %d]", tt.v, lo, hi)
			}
			if lo := lowest(i); lo > 0 && float64(highest(i)-lo)/float64(lo) > 1.0/subBuckets {
				t.Fatalf("counter %d too wide: [%d, %d]", i, lo, highest(i))
			}
		})
	}
}

func TestQuantilesMatchExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(rng.ExpFloat64() * 2e6) // ~2 ms mean
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		t.Run("", func(t *testing.T) {
			exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
			got := h.Quantile(q)
			if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.02 {
				t.Fatalf("q%.3f = %d, exact %d (rel err %.3f)", q, got, exact, rel)
			}
		})
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
		t.Fatalf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
}

func TestConcurrentRecordAndMerge(t *testing.T) {
	var a, b Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				a.Record(int64(g*1000 + i))
			}
		}()
	}
	wg.Wait()
	b.Record(1 << 40)
	b.Merge(&a)
	if a.Count() != 4000 || b.Count() != 4001 {
		t.Fatalf("counts %d %d", a.Count(), b.Count())
	}
	if b.Max() != 1<<40 || b.Min() != 0 {
		t.Fatalf("merged min/max %d %d", b.Min(), b.Max())
	}
	var empty Histogram
	if s := empty.Summarize(); s.Count != 0 || s.Max != 0 || s.P99 != 0 {
		t.Fatalf("empty summary %+v", s)
	}
}
