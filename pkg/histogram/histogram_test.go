package histogram

import (
	"sync"
	"testing"
)

func TestObserve(t *testing.T) {
	h := New(1, 2, 5)
	for _, v := range []float64{0.5, 1, 1.5, 2, 4, 6, 100} {
		h.Observe(v)
	}
	s := h.Snapshot()
	want := []uint64{2, 4, 5} // <=1: 0.5,1; <=2: +1.5,2; <=5: +4
	for i, w := range want {
		if s.Cumulative[i] != w {
			t.Errorf("bucket <=%v: %d, want %d", s.Bounds[i], s.Cumulative[i], w)
		}
	}
	if s.Count != 7 || s.Sum != 115 {
		t.Errorf("count %d sum %v, want 7 115", s.Count, s.Sum)
	}
}

func TestConcurrent(t *testing.T) {
	h := NewLatency()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				h.Observe(0.001)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Count != 8000 {
		t.Fatalf("count %d, want 8000", s.Count)
	}
	if s.Sum < 7.99 || s.Sum > 8.01 {
		t.Fatalf("sum %v, want 8", s.Sum)
	}
}

func TestNewPanics(t *testing.T) {
	for _, bounds := range [][]float64{nil, {1, 1}, {2, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", bounds)
				}
			}()
			New(bounds...)
		}()
	}
}
