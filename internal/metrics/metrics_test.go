package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sockgate/sockgate/pkg/histogram"
)

type snap struct {
	Open, Opened uint64
	ByTransport  map[string]int
	Latency      histogram.Snapshot
}

func TestCollector(t *testing.T) {
	var scrapes atomic.Int64
	lat := histogram.New(0.1, 1)
	lat.Observe(0.05)
	lat.Observe(0.5)
	lat.Observe(3)
	c := NewCollector(func() snap {
		scrapes.Add(1)
		return snap{Open: 3, Opened: 10, ByTransport: map[string]int{"websocket": 2, "polling": 1}, Latency: lat.Snapshot()}
	},
		Histogram("test_latency_seconds", "Latency.", func(s snap) histogram.Snapshot { return s.Latency }),
		HistogramVec("test_latency_by_seconds", "Latency by kind.", []string{"kind"}, func(s snap, emit func(histogram.Snapshot, ...string)) {
			emit(s.Latency, "a")
		}),
		Gauge("test_open", "Open things.", func(s snap) float64 { return float64(s.Open) }),
		Counter("test_opened_total", "Opened things.", func(s snap) float64 { return float64(s.Opened) }),
		GaugeVec("test_by_transport", "Things by transport.", []string{"transport"}, func(s snap, emit func(float64, ...string)) {
			for k, v := range s.ByTransport {
				emit(float64(v), k)
			}
		}),
	)
	reg := NewRegistry()
	reg.MustRegister(c)
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, want := range []string{
		"# TYPE test_open gauge", "test_open 3",
		"# TYPE test_opened_total counter", "test_opened_total 10",
		`test_by_transport{transport="websocket"} 2`, `test_by_transport{transport="polling"} 1`,
		"# TYPE test_latency_seconds histogram", `test_latency_seconds_bucket{le="0.1"} 1`, `test_latency_seconds_bucket{le="1"} 2`,
		`test_latency_seconds_bucket{le="+Inf"} 3`, "test_latency_seconds_sum 3.55", "test_latency_seconds_count 3",
		`test_latency_by_seconds_bucket{kind="a",le="1"} 2`,
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
