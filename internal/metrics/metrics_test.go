package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type snap struct {
	Open, Opened uint64
	ByTransport  map[string]int
}

func TestCollector(t *testing.T) {
	var scrapes atomic.Int64
	c := NewCollector(func() snap {
		scrapes.Add(1)
		return snap{Open: 3, Opened: 10, ByTransport: map[string]int{"websocket": 2, "polling": 1}}
	},
		Gauge("test_open", "Open things.", func(s snap) float64 { return float64(s.Open) }),
		Counter("test_opened_total", "Opened things.", func(s snap) float64 { return float64(s.Opened) }),
		GaugeVec("test_by_transport", "Things by transport.", []string{"transport"}, func(s snap, emit func(float64, ...string)) {
			for k, v := range s.ByTransport {
				emit(float64(v), k)
			}
		}),
	)
	body := scrape(c)
	for _, want := range []string{
		"# TYPE test_open gauge", "test_open 3",
		"# TYPE test_opened_total counter", "test_opened_total 10",
		`test_by_transport{transport="websocket"} 2`, `test_by_transport{transport="polling"} 1`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if n := scrapes.Load(); n != 1 {
		t.Errorf("%d snapshots for one scrape, want 1", n)
	}
}

func TestHistogramVec(t *testing.T) {
	type hs struct{ h HistogramSample }
	c := NewCollector(func() hs { return hs{HistogramSample{Buckets: []uint64{1, 0, 2, 4}, Count: 7, Sum: 12.5}} },
		HistogramVec("test_seconds", "Durations.", []float64{0.1, 1, 10}, []string{"kind"}, func(s hs, emit func(HistogramSample, ...string)) {
			emit(s.h, "a")
		}),
	)
	body := scrape(c)
	for _, want := range []string{
		"# TYPE test_seconds histogram",
		`test_seconds_bucket{kind="a",le="0.1"} 1`, `test_seconds_bucket{kind="a",le="1"} 1`,
		`test_seconds_bucket{kind="a",le="10"} 3`, `test_seconds_bucket{kind="a",le="+Inf"} 7`,
		`test_seconds_sum{kind="a"} 12.5`, `test_seconds_count{kind="a"} 7`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// scrape returns the exposition text of a registry holding c.
func scrape(c prometheus.Collector) []byte {
	reg := NewRegistry()
	reg.MustRegister(c)
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return body
}
